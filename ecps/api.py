"""REST API of the e-CPS: the caller's e-CPS (scoped like their cards: others answer 404), opposition
for a lost or stolen phone, the sign-in audit, and relying parties for ANS operators."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from oauth2_provider.models import get_application_model
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiErrorSerializer, ApiView, BooleanField, error_responses, int_param
from registry.scoping import professionals_visible_to

from . import relying_parties, services
from .models import ECps, SignInEvent
from .scoping import ecps_visible_to

# --- serializers -----------------------------------------------------------------------------------------


class ECpsSerializer(serializers.ModelSerializer):
    national_id = serializers.CharField(source="holder.national_id")
    profession = serializers.CharField(source="exercise.profession_id")
    profession_label = serializers.CharField(source="exercise.profession.label")

    class Meta:
        model = ECps
        fields = [
            "id",
            "national_id",
            "exercise",
            "profession",
            "profession_label",
            "state",
            "activation_method",
            "activated_with_card",
            "transports",
            "created_at",
            "last_used_at",
            "revoked_at",
            "revocation_reason",
        ]


class EcpsOppositionInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=[(ECps.Reason.LOST.value, "lost"), (ECps.Reason.STOLEN.value, "stolen")],
        default=ECps.Reason.LOST.value,
    )


class SignInEventSerializer(serializers.ModelSerializer):
    national_id = serializers.CharField(source="professional.national_id", allow_null=True, default=None)
    service = serializers.CharField(source="application.name", allow_null=True, default=None)

    class Meta:
        model = SignInEvent
        fields = ["id", "at", "ecps", "national_id", "client_id", "service", "result", "reason"]


class RelyingPartySerializer(serializers.ModelSerializer):
    redirect_uris = serializers.SerializerMethodField()
    post_logout_redirect_uris = serializers.SerializerMethodField()
    backchannel_logout_uri = serializers.SerializerMethodField()
    resource_server = serializers.SerializerMethodField()

    class Meta:
        model = get_application_model()
        fields = [
            "id",
            "name",
            "client_id",
            "redirect_uris",
            "post_logout_redirect_uris",
            "backchannel_logout_uri",
            "resource_server",
            "created",
        ]

    def get_redirect_uris(self, application: Any) -> list[str]:
        return str(application.redirect_uris).split()

    def get_post_logout_redirect_uris(self, application: Any) -> list[str]:
        return str(application.post_logout_redirect_uris).split()

    def get_backchannel_logout_uri(self, application: Any) -> str:
        profile = getattr(application, "ecps_profile", None)
        return profile.backchannel_logout_uri if profile else ""

    def get_resource_server(self, application: Any) -> bool:
        profile = getattr(application, "ecps_profile", None)
        return bool(profile and profile.is_resource_server)


class RelyingPartyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    redirect_uris = serializers.ListField(
        child=serializers.URLField(max_length=500), min_length=1, max_length=10
    )
    post_logout_redirect_uris = serializers.ListField(
        child=serializers.URLField(max_length=500),
        max_length=10,
        default=list,
        help_text="Where RP-initiated logout may send the browser back (matched exactly).",
    )
    backchannel_logout_uri = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Receives the signed logout tokens (OpenID Connect Back-Channel Logout 1.0).",
    )
    resource_server = BooleanField(
        default=False,
        help_text="An API receiving the relying parties' access tokens: may introspect any token (every "
        "other client introspects only its own).",
    )


class RelyingPartyCreatedSerializer(RelyingPartySerializer):
    client_secret = serializers.CharField(help_text="Shown this once; stored hashed.")

    class Meta(RelyingPartySerializer.Meta):
        fields = [*RelyingPartySerializer.Meta.fields, "client_secret"]


def _page(name: str, item: serializers.Serializer) -> Any:
    return inline_serializer(name, {"count": serializers.IntegerField(), "results": item})


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    own = {409: OpenApiResponse(ApiErrorSerializer, description="Conflict with the e-CPS's state.")}
    shared = error_responses(*[c for c in codes if c not in own])
    return {**shared, **{c: own[c] for c in codes if c in own}}


# --- views -----------------------------------------------------------------------------------------------


class EcpsAPIView(ApiView):
    def page(self, request: Request, rows: Any, serializer: type[serializers.Serializer]) -> Response:
        limit = int_param(request, "limit", 50, 1, 500)
        offset = int_param(request, "offset", 0, 0, 10**9)
        results = serializer(rows[offset : offset + limit], many=True).data
        return Response({"count": rows.count(), "results": results})


class EcpsListView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_list",
        summary="The e-CPS visible to the caller (a holder: their own), newest first",
        responses={200: _page("ECpsPage", ECpsSerializer(many=True)), **_errors(400, 401)},
        tags=["ecps"],
    )
    def get(self, request: Request) -> Response:
        rows = ecps_visible_to(request.user).select_related("holder", "exercise__profession")
        return self.page(request, rows.order_by("-created_at", "-pk"), ECpsSerializer)


class EcpsDetailView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_show",
        summary="One e-CPS with its state",
        responses={200: ECpsSerializer, **_errors(401, 404)},
        tags=["ecps"],
    )
    def get(self, request: Request, ecps_id: int) -> Response:
        ecps = services.ecps_for(actor=request.user, ecps_id=self.check_id(ecps_id))
        return Response(ECpsSerializer(ecps).data)


class EcpsOppositionView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_declare_opposition",
        summary="Declare the phone lost or stolen: the e-CPS is revoked at once",
        description=(
            "Final: the e-CPS can no longer sign in, and the tokens it obtained are refused at their next "
            "check (introspection answers inactive). A second declaration answers 409 `already_revoked`."
        ),
        request=EcpsOppositionInputSerializer,
        responses={200: ECpsSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["ecps"],
    )
    def post(self, request: Request, ecps_id: int) -> Response:
        data = self.validated(EcpsOppositionInputSerializer, request.data)
        ecps = services.ecps_for(actor=request.user, ecps_id=self.check_id(ecps_id))
        ecps = services.ecps_declare_opposition(ecps=ecps, actor=request.user, reason=data["reason"])
        return Response(ECpsSerializer(services.ecps_for(actor=request.user, ecps_id=ecps.pk)).data)


class EcpsSuspensionView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_suspend",
        summary="Suspend my e-CPS (phone misplaced): sign-in is refused until reinstated",
        request=None,
        responses={200: ECpsSerializer, **_errors(401, 403, 404, 409)},
        tags=["ecps"],
    )
    def post(self, request: Request, ecps_id: int) -> Response:
        ecps = services.ecps_for(actor=request.user, ecps_id=self.check_id(ecps_id))
        return Response(ECpsSerializer(services.ecps_suspend(ecps=ecps, actor=request.user)).data)

    @extend_schema(
        operation_id="ecps_reinstate",
        summary="Reinstate my suspended e-CPS (phone found)",
        request=None,
        responses={200: ECpsSerializer, **_errors(401, 403, 404, 409)},
        tags=["ecps"],
    )
    def delete(self, request: Request, ecps_id: int) -> Response:
        ecps = services.ecps_for(actor=request.user, ecps_id=self.check_id(ecps_id))
        return Response(ECpsSerializer(services.ecps_reinstate(ecps=ecps, actor=request.user)).data)


class SignInEventListView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_sign_in_list",
        summary="The audit of sign-ins with an e-CPS (who, which service, when, result), newest first",
        responses={200: _page("SignInEventPage", SignInEventSerializer(many=True)), **_errors(400, 401)},
        tags=["ecps"],
    )
    def get(self, request: Request) -> Response:
        people = professionals_visible_to(request.user).values("pk")
        rows = SignInEvent.objects.filter(professional__in=people).select_related(
            "professional", "application"
        )
        return self.page(request, rows.order_by("-at", "-pk"), SignInEventSerializer)


class RelyingPartyListView(EcpsAPIView):
    @extend_schema(
        operation_id="ecps_relying_party_list",
        summary="Health services registered as OpenID Connect clients (ANS operators, auditors)",
        responses={
            200: _page("RelyingPartyPage", RelyingPartySerializer(many=True)),
            **_errors(400, 401, 403),
        },
        tags=["ecps"],
    )
    def get(self, request: Request) -> Response:
        return self.page(
            request, relying_parties.relying_parties_for(actor=request.user), RelyingPartySerializer
        )

    @extend_schema(
        operation_id="ecps_relying_party_register",
        summary="Register a health service (authorization code with PKCE; ID tokens signed RS256)",
        request=RelyingPartyInputSerializer,
        responses={201: RelyingPartyCreatedSerializer, **_errors(400, 401, 403)},
        tags=["ecps"],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(RelyingPartyInputSerializer, request.data)
        application, secret = relying_parties.relying_party_register(
            actor=request.user,
            name=data["name"],
            redirect_uris=data["redirect_uris"],
            post_logout_redirect_uris=data["post_logout_redirect_uris"],
            backchannel_logout_uri=data["backchannel_logout_uri"],
            resource_server=data["resource_server"],
        )
        application.client_secret = secret
        return Response(RelyingPartyCreatedSerializer(application).data, status=status.HTTP_201_CREATED)
