"""REST API of the card lifecycle: opposition, activation, renewal links, shipping batches.

Views authenticate, validate, call one service and map domain errors to HTTP answers. Every error is JSON
``{"code", "message"}`` (plus ``fields`` for invalid input, as registry.api sets for every app); a card
the caller may not see is 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from cards.models import Card
from core.api import ApiErrorSerializer, ApiView, error_responses
from core.roles import role_of
from registry.models import Account

from . import errors, renewal, services
from .models import AutoRenewalPolicy, Opposition, Shipment, ShippingBatch

# --- serializers -----------------------------------------------------------------------------------------


class OppositionInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Opposition.Reason.choices)
    channel = serializers.ChoiceField(choices=Opposition.Channel.choices, default=Opposition.Channel.ONLINE)


class OppositionSerializer(serializers.ModelSerializer):
    card_state = serializers.CharField(source="card.state")
    card_number = serializers.CharField(source="card.display_number")

    class Meta:
        model = Opposition
        fields = [
            "id",
            "card",
            "card_number",
            "card_state",
            "reason",
            "channel",
            "declared_at",
            "declared_by_role",
            "replacement_order_id",
            "revoked_certificates",
        ]


class ActivationInputSerializer(serializers.Serializer):
    pin = serializers.RegexField(
        r"^[0-9]{4}$",
        required=False,
        help_text="The card's PIN, checked on the card by the platform; omit to confirm receipt explicitly.",
    )


class CardStateSerializer(serializers.ModelSerializer):
    card_number = serializers.CharField(source="display_number")

    class Meta:
        model = Card
        fields = ["id", "card_number", "card_type", "state", "valid_until"]


class RenewalLinkSerializer(serializers.Serializer):
    card_number = serializers.CharField()
    card_type = serializers.CharField()
    expires_on = serializers.DateField()
    threshold = serializers.IntegerField()
    used = serializers.BooleanField()
    renewal_order_id = serializers.IntegerField(allow_null=True)


class RenewalOrderSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    state = serializers.CharField()
    kind = serializers.CharField()


class ShipmentLineSerializer(serializers.Serializer):
    card = serializers.IntegerField(min_value=1)
    tracking_reference = serializers.CharField(max_length=60)


class ShippingBatchInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    reference = serializers.CharField(max_length=60)
    cards = ShipmentLineSerializer(many=True, allow_empty=False)


class ShipmentSerializer(serializers.ModelSerializer):
    card_number = serializers.CharField(source="card.display_number")

    class Meta:
        model = Shipment
        fields = ["card", "card_number", "tracking_reference", "pin_release_on", "pin_released_at"]


class ShippingBatchSerializer(serializers.ModelSerializer):
    shipments = ShipmentSerializer(many=True, read_only=True)

    class Meta:
        model = ShippingBatch
        fields = ["id", "carrier", "reference", "shipped_at", "shipments"]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The shared 400/401/403/404 answers, plus the lifecycle's own conflicts."""
    own = {
        409: OpenApiResponse(ApiErrorSerializer, description="Conflict with the card's or link's state."),
        410: OpenApiResponse(ApiErrorSerializer, description="The link has expired."),
    }
    shared = error_responses(*[c for c in codes if c not in own])
    return {**shared, **{c: own[c] for c in codes if c in own}}


# --- the error convention --------------------------------------------------------------------------------


class LifecycleAPIView(ApiView):
    # The shared API conventions (registry.api.ApiView), plus the lifecycle's domain errors. A comment, not a
    # docstring: OpenAPI would show it as the description of every endpoint without one of its own.

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, errors.LifecycleError):
            return Response({"code": exc.code, "message": exc.message}, status=exc.status)
        return super().handle_exception(exc)

    def validated(self, serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


# --- cards -----------------------------------------------------------------------------------------------


class CardOppositionView(LifecycleAPIView):
    @extend_schema(
        operation_id="card_declare_opposition",
        summary="Declare a card lost, stolen, damaged, defective or not received",
        description=(
            "Blocks the card at once: opposed (lost, stolen, not received) or revoked (damaged, defective), "
            "certificates revoked and a new CRL published, a replacement order created. Final: a second "
            "declaration answers 409 `already_opposed` and changes nothing. Holders and structure managers "
            "declare `online`; operators record `phone` calls and `form_501` letters."
        ),
        request=OppositionInputSerializer,
        responses={201: OppositionSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        data = self.validated(OppositionInputSerializer, request.data)
        card = services.card_for(actor=request.user, card_id=self.check_id(card_id))
        opposition = services.card_declare_opposition(
            card=card, reason=data["reason"], channel=data["channel"], actor=request.user
        )
        opposition.card.refresh_from_db()
        return Response(OppositionSerializer(opposition).data, status=status.HTTP_201_CREATED)


class CardActivationView(LifecycleAPIView):
    @extend_schema(
        operation_id="card_activate",
        summary="Activate a received card",
        description=(
            "By its first successful PIN check through the platform (three wrong PINs in a row block the "
            "card), or by an explicit confirmation of receipt (no PIN). The card's previous card for the "
            "same exercise is revoked."
        ),
        request=ActivationInputSerializer,
        responses={200: CardStateSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        data = self.validated(ActivationInputSerializer, request.data)
        card = services.card_for(actor=request.user, card_id=self.check_id(card_id))
        if "pin" in data:
            card = services.card_activate_with_pin(card=card, actor=request.user, pin=data["pin"])
        else:
            card = services.card_activate(card=card, actor=request.user)
        return Response(CardStateSerializer(card).data)


# --- renewal links ---------------------------------------------------------------------------------------


class RenewalLinkView(LifecycleAPIView):
    """The one-click link of a renewal reminder. The signed token is the credential: no sign-in needed
    (a signed-in holder is recorded as the order's creator)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="renewal_link_show",
        summary="What a renewal link would renew (no side effect)",
        responses={200: RenewalLinkSerializer, **_errors(400, 410)},
        tags=["lifecycle"],
    )
    def get(self, request: Request, token: str) -> Response:
        reminder = renewal.renewal_link_reminder(token=token)
        card = reminder.card
        return Response(
            RenewalLinkSerializer(
                {
                    "card_number": card.display_number,
                    "card_type": card.card_type,
                    "expires_on": card.valid_until,
                    "threshold": reminder.threshold,
                    "used": reminder.link_used_at is not None,
                    "renewal_order_id": reminder.renewal_order_id,
                }
            ).data
        )

    @extend_schema(
        operation_id="renewal_link_confirm",
        summary="Confirm the renewal: creates and submits the renewal order (once)",
        request=None,
        responses={201: RenewalOrderSerializer, **_errors(400, 409, 410)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, token: str) -> Response:
        order = renewal.renewal_link_confirm(token=token, actor=request.user)
        body = {"order_id": order.pk, "state": order.state, "kind": order.kind}
        return Response(RenewalOrderSerializer(body).data, status=status.HTTP_201_CREATED)


# --- shipping batches ------------------------------------------------------------------------------------

BATCH_READERS = {Account.Role.ANS_OPERATOR, Account.Role.SYSTEM, Account.Role.AUDITOR}


def _batches_for(user: Any) -> QuerySet[ShippingBatch]:
    if role_of(user) not in BATCH_READERS:
        raise errors.NotPermitted("Shipping batches are kept by ANS operators.")
    return ShippingBatch.objects.prefetch_related("shipments__card")


class ShippingBatchListView(LifecycleAPIView):
    @extend_schema(
        operation_id="shipping_batch_list",
        summary="Shipping batches, newest first (ANS operators, auditors)",
        responses={
            200: inline_serializer(
                "ShippingBatchPage",
                {
                    "count": serializers.IntegerField(),
                    "results": ShippingBatchSerializer(many=True),
                },
            ),
            **_errors(401, 403),
        },
        tags=["lifecycle"],
    )
    def get(self, request: Request) -> Response:
        batches = _batches_for(request.user)
        limit = _int_param(request, "limit", 50, 1, 500)
        offset = _int_param(request, "offset", 0, 0, 10**9)
        page = batches.order_by("-shipped_at", "-id")[offset : offset + limit]
        return Response({"count": batches.count(), "results": ShippingBatchSerializer(page, many=True).data})

    @extend_schema(
        operation_id="shipping_batch_create",
        summary="Record cards handed to the carrier",
        description="Each card → shipped (and its order), holder told; PIN mailers released a day later.",
        request=ShippingBatchInputSerializer,
        responses={201: ShippingBatchSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ShippingBatchInputSerializer, request.data)
        lines = [services.ShipmentLine(line["card"], line["tracking_reference"]) for line in data["cards"]]
        batch = services.shipping_batch_create(
            actor=request.user, carrier=data["carrier"], reference=data["reference"], lines=lines
        )
        batch = _batches_for(request.user).get(pk=batch.pk)
        return Response(ShippingBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class ShippingBatchDetailView(LifecycleAPIView):
    @extend_schema(
        operation_id="shipping_batch_show",
        summary="One shipping batch with its cards and tracking references",
        responses={200: ShippingBatchSerializer, **_errors(401, 403, 404)},
        tags=["lifecycle"],
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = _batches_for(request.user).filter(pk=self.check_id(batch_id)).first()
        if batch is None:
            raise errors.BatchNotFound()
        return Response(ShippingBatchSerializer(batch).data)


# --- automatic renewal ----------------------------------------------------------------------------------


class AutoRenewalPolicySerializer(serializers.ModelSerializer):
    authority = serializers.CharField(source="authority.code")
    profession = serializers.CharField(source="profession_id")
    profession_label = serializers.CharField(source="profession.label")

    class Meta:
        model = AutoRenewalPolicy
        fields = ["authority", "profession", "profession_label", "enabled", "created_at"]


class AutoRenewalInputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


POLICY_READERS = {Account.Role.AUTHORITY_OPERATOR, Account.Role.AUDITOR, Account.Role.SYSTEM}


class AutoRenewalPolicyListView(LifecycleAPIView):
    # One row per profession of an Ordre (a few dozen at most, all Ordres together): the whole list, as
    # clients read it, so the schema must not declare the shared limit/offset page either.
    pagination_class = None

    @extend_schema(
        operation_id="auto_renewal_policy_list",
        summary="The Ordre's automatic-renewal choices (an operator sees their own Ordre's)",
        responses={200: AutoRenewalPolicySerializer(many=True), **_errors(401, 403)},
        tags=["lifecycle"],
    )
    def get(self, request: Request) -> Response:
        account = getattr(request.user, "account", None)
        if account is None or account.role not in POLICY_READERS:
            raise errors.NotPermitted("Automatic renewal is an Ordre's choice.")
        policies = AutoRenewalPolicy.objects.select_related("authority", "profession")
        policies = policies.order_by("authority__code", "profession_id")
        if account.role == Account.Role.AUTHORITY_OPERATOR:
            policies = policies.filter(authority_id=account.authority_id)
        return Response(AutoRenewalPolicySerializer(policies, many=True).data)


class AutoRenewalPolicyView(LifecycleAPIView):
    @extend_schema(
        operation_id="auto_renewal_policy_set",
        summary="Turn automatic renewal on or off for one of the Ordre's professions",
        description=(
            "With it on, the daily scan orders the renewal itself when a card reaches the first reminder "
            "threshold, instead of waiting for the holder's click."
        ),
        request=AutoRenewalInputSerializer,
        responses={200: AutoRenewalPolicySerializer, **_errors(400, 401, 403)},
        tags=["lifecycle"],
    )
    def put(self, request: Request, profession: str) -> Response:
        data = self.validated(AutoRenewalInputSerializer, request.data)
        policy = renewal.auto_renewal_set(
            actor=request.user, profession_code=profession, enabled=data["enabled"]
        )
        return Response(AutoRenewalPolicySerializer(policy).data)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: ["An integer is required."]}) from None
    if not low <= value <= high:
        raise exceptions.ValidationError({name: [f"Between {low} and {high}."]})
    return value
