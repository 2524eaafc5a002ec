"""REST API of the issuance policies (issue 16): what the platform does, per authority, card type and
trigger, when the registry reports a registration, a student, a card coming to its end or a change.

``GET /api/v1/policies/`` lists the rows the caller may read; ``PUT .../<card_type>/<trigger>/`` changes the
authority's row, ``PUT`` or ``DELETE .../<card_type>/<trigger>/<profession>/`` a profession's own row
(removed, the profession falls back to the authority's).
Who first (403), then the path (404), then the body (400).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView, BooleanField, error_responses
from registry.models import CardType

from . import policies
from .models import IssuancePolicy


class IssuancePolicySerializer(serializers.ModelSerializer):
    authority = serializers.CharField(source="authority.code")
    profession = serializers.CharField(source="profession_id", allow_null=True)
    profession_label = serializers.CharField(source="profession.label", allow_null=True, default=None)
    updated_by = serializers.CharField(source="updated_by.username", allow_null=True, default=None)

    class Meta:
        model = IssuancePolicy
        fields = [
            "authority",
            "card_type",
            "trigger",
            "profession",
            "profession_label",
            "mode",
            "approve",
            "updated_by",
            "updated_at",
        ]


class IssuancePolicyInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=IssuancePolicy.Mode.choices)
    approve = BooleanField(
        help_text="Approve the order at once (`true`), or leave it to the authority's review (`false`)."
    )


PATH = [
    OpenApiParameter(
        "card_type", OpenApiTypes.STR, OpenApiParameter.PATH, enum=CardType.values, description="e.g. `CPS`."
    ),
    OpenApiParameter(
        "trigger",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        enum=IssuancePolicy.Trigger.values,
        description="What the registry reported.",
    ),
]
PROFESSION = OpenApiParameter(
    "profession",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[0-9A-Za-z]{1,4}$",
    description="A profession code of your authority (TRE_G15), e.g. `10`.",
)


class IssuancePolicyListView(ApiView):
    # A few rows per authority (four triggers, five card types, a handful of professions): the whole list.
    pagination_class = None

    @extend_schema(
        operation_id="issuance_policy_list",
        summary="The issuance policies (an operator sees their own authority's; the auditor all)",
        responses={200: IssuancePolicySerializer(many=True), **error_responses(401, 403)},
        tags=["lifecycle"],
    )
    def get(self, request: Request) -> Response:
        rows = policies.policies_for(request.user)
        return Response(IssuancePolicySerializer(rows, many=True).data)


class _PolicyPutView(ApiView):
    def put_policy(self, request: Request, card_type: str, trigger: str, profession: str | None) -> Response:
        policies.policy_target(
            actor=request.user, card_type=card_type, trigger=trigger, profession_code=profession
        )
        data = self.validated(IssuancePolicyInputSerializer, request.data)
        row = policies.policy_set(
            actor=request.user,
            card_type=card_type,
            trigger=trigger,
            mode=data["mode"],
            approve=data["approve"],
            profession_code=profession,
        )
        return Response(IssuancePolicySerializer(row).data)


class IssuancePolicyView(_PolicyPutView):
    @extend_schema(
        operation_id="issuance_policy_set",
        summary="Choose what the platform does for a card type when the registry reports this event",
        description=(
            "`off`: nothing; `proposed`: a draft order the holder (or the structure's manager) confirms in "
            "one click; `automatic`: the order is placed, and approved at once when `approve` is true."
        ),
        parameters=PATH,
        request=IssuancePolicyInputSerializer,
        responses={200: IssuancePolicySerializer, **error_responses(400, 401, 403, 404)},
        tags=["lifecycle"],
    )
    def put(self, request: Request, card_type: str, trigger: str) -> Response:
        return self.put_policy(request, card_type, trigger, None)


class IssuancePolicyProfessionView(_PolicyPutView):
    @extend_schema(
        operation_id="issuance_policy_profession_set",
        summary="Choose, for one profession only, what the platform does (wins over the authority's row)",
        parameters=[*PATH, PROFESSION],
        request=IssuancePolicyInputSerializer,
        responses={200: IssuancePolicySerializer, **error_responses(400, 401, 403, 404)},
        tags=["lifecycle"],
    )
    def put(self, request: Request, card_type: str, trigger: str, profession: str) -> Response:
        return self.put_policy(request, card_type, trigger, profession)

    @extend_schema(
        operation_id="issuance_policy_profession_remove",
        summary="Remove a profession's own row: the profession falls back to the authority's",
        parameters=[*PATH, PROFESSION],
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        tags=["lifecycle"],
    )
    def delete(self, request: Request, card_type: str, trigger: str, profession: str) -> Response:
        policies.policy_remove(
            actor=request.user, card_type=card_type, trigger=trigger, profession_code=profession
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
