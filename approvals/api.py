"""REST API of two-person approval (``/api/v1/approvals/``): the requests one may see, and deciding on them.

Requests are made by each action's own endpoint (a fee waiver, a help-desk unblock...), never here. Views
authenticate, validate and call one service of ``approvals.services``; its domain errors are answered by
the platform's handler: a request one may not see → 404, the requester deciding (``self_approval``) or an
approver the action does not admit → 403, a request already decided (``not_pending``, ``already_decided``)
or past its expiry (``expired``) → 409, and an error of the action carried out on approval with its own
status.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from core.api import ApiErrorSerializer, ApiView, QueryBooleanField, error_responses
from core.errors import NotPermitted

from . import errors, services
from .models import ApprovalDecision, ApprovalRequest

ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Request id.")


class StateErrorSerializer(ApiErrorSerializer):
    state = serializers.ChoiceField(
        choices=ApprovalRequest.State.choices, required=False, help_text="The request's current state."
    )


CONFLICT = OpenApiResponse(
    StateErrorSerializer,
    description="Already decided (`not_pending`, `already_decided`), or expired (`expired`).",
)


class DecisionSerializer(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = ApprovalDecision
        fields = ["approver", "approve", "comment", "at"]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField(help_text="The action, in words.")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]
    state = serializers.SerializerMethodField(help_text="`expired` as soon as `expires_at` has passed.")
    approvals = serializers.SerializerMethodField(help_text="Approvals so far (distinct people).")
    you_may_decide = serializers.SerializerMethodField(
        help_text="true: you may approve or reject it now (POST .../approve/ or .../reject/)."
    )

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "action",
            "action_label",
            "summary",
            "authority_id",
            "object_type",
            "object_id",
            "requested_by",
            "created_at",
            "expires_at",
            "quorum",
            "approvals",
            "state",
            "decided_at",
            "executed_at",
            "you_may_decide",
        ]
        read_only_fields = fields

    def get_action_label(self, request: ApprovalRequest) -> str:
        return services.label_of(request.action)

    @extend_schema_field(serializers.ChoiceField(choices=ApprovalRequest.State.choices))
    def get_state(self, request: ApprovalRequest) -> str:
        return request.current_state

    def get_approvals(self, request: ApprovalRequest) -> int:
        return sum(1 for d in request.decisions.all() if d.approve)

    def get_you_may_decide(self, request: ApprovalRequest) -> bool:
        user = self.context["request"].user
        decided = any(d.approver_id == user.pk for d in request.decisions.all())
        return request.is_open and not decided and services.may_decide(user, request)


class ApprovalDetailSerializer(ApprovalSerializer):
    payload = serializers.JSONField(read_only=True, help_text="What the action will be given.")
    decisions = DecisionSerializer(many=True, read_only=True)
    result = serializers.SerializerMethodField(help_text="What the action returned (shown to the requester).")

    class Meta(ApprovalSerializer.Meta):
        fields = [*ApprovalSerializer.Meta.fields, "payload", "decisions", "result"]
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_result(self, request: ApprovalRequest) -> Any:
        # An action's result may be meant for the requester alone (a help-desk response, say).
        return request.result if request.requested_by_id == self.context["request"].user.pk else None


class ApprovalFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ApprovalRequest.State.choices, required=False)
    action = serializers.CharField(required=False, max_length=64)
    awaiting_me = QueryBooleanField(required=False, help_text="true: only the requests you may decide now.")
    mine = QueryBooleanField(required=False, help_text="true: only the requests you made.")


class DecisionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RejectInputSerializer(serializers.Serializer):
    # Spaces alone are no reason: the pattern (a visible character, no NUL) says so in the schema.
    comment = serializers.RegexField(
        r"^[^\x00]*[^\x00\s][^\x00]*$", max_length=2000, help_text="Why (kept with the decision)."
    )


def filter_requests(
    requests: QuerySet[ApprovalRequest], user: Any, params: dict
) -> QuerySet[ApprovalRequest]:
    if "state" in params:
        requests = requests.filter(state=params["state"])
    if "action" in params:
        requests = requests.filter(action=params["action"])
    if params.get("awaiting_me"):
        requests = requests.filter(pk__in=services.awaiting(user).values("pk"))
    if params.get("mine"):
        requests = requests.filter(requested_by=user)
    return requests


class ApprovalsApiView(ApiView):
    def visible_request(self) -> ApprovalRequest:
        pk = self.check_id(self.kwargs["pk"])
        found = services.visible_to(self.request.user).filter(pk=pk).first()  # type: ignore[attr-defined]
        if found is None:
            raise errors.RequestNotFound()
        return found

    def check_may_decide(self, found: ApprovalRequest) -> None:
        """403 for a request one may see but not decide on (one's own: ``self_approval``), whatever its
        state: the state (409) and the body (400) are for those who may decide."""
        if found.requested_by_id == self.request.user.pk:
            raise errors.SelfApproval()
        if not services.may_decide(self.request.user, found):
            raise NotPermitted()


@extend_schema_view(
    list=extend_schema(
        summary="List the approval requests you may see",
        parameters=[ApprovalFilterSerializer],
        responses={200: ApprovalSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="An approval request with its decisions",
        parameters=[ID_PARAMETER],
        responses={200: ApprovalDetailSerializer, **error_responses(401, 403, 404)},
    ),
)
class ApprovalViewSet(ApprovalsApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = ApprovalSerializer
    lookup_value_regex = "[0-9]+"  # an id; a larger one than a bigint is not found (check_id)
    queryset = ApprovalRequest.objects.none()

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        requests = services.visible_to(self.request.user).select_related("requested_by")
        if self.action == "list":
            query = ApprovalFilterSerializer(data=self.request.query_params.dict())
            query.is_valid(raise_exception=True)
            requests = filter_requests(requests, self.request.user, query.validated_data)
        return requests.prefetch_related("decisions__approver").order_by("-created_at", "-id")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = self.visible_request()
        return Response(ApprovalDetailSerializer(found, context={"request": request}).data)


class DecideView(ApprovalsApiView, GenericAPIView):
    approve = True
    serializer_class: Any = DecisionInputSerializer

    def post(self, request: Request, pk: int) -> Response:
        found = self.visible_request()
        self.check_may_decide(found)  # who may, before what they send
        data = self.validated(self.serializer_class, request.data)
        services.decide(
            request_id=found.pk, actor=request.user, approve=self.approve, comment=data["comment"]
        )
        decided = ApprovalRequest.objects.get(pk=found.pk)
        return Response(ApprovalDetailSerializer(decided, context={"request": request}).data)


def _decide_schema(summary: str, body: type[serializers.Serializer]) -> Any:
    return extend_schema(
        summary=summary,
        parameters=[ID_PARAMETER],
        request=body,
        responses={200: ApprovalDetailSerializer, **error_responses(400, 401, 403, 404), 409: CONFLICT},
        tags=["approvals"],
    )


@extend_schema_view(
    post=_decide_schema(
        "Approve a request; the approval that reaches the quorum carries out the action",
        DecisionInputSerializer,
    )
)
class ApproveView(DecideView):
    approve = True
    serializer_class = DecisionInputSerializer


@extend_schema_view(post=_decide_schema("Reject a request (one rejection is final)", RejectInputSerializer))
class RejectView(DecideView):
    approve = False
    serializer_class = RejectInputSerializer
