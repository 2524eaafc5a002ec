"""REST API of fee waivers: asking for one (``POST /api/v1/orders/{id}/fee_waiver/``). The second operator
decides through the approvals API (``/api/v1/approvals/{id}/approve/``), which settles the order."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.api import ApprovalDetailSerializer
from core.api import ApiErrorSerializer, error_responses

from . import services, waivers
from .api import CONFLICT, ID_PARAMETER, OrdersApiView


class FeeWaiverInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        min_length=waivers.REASON_MIN_LENGTH,
        max_length=1000,
        help_text="Why the fee is waived (read by the approving operator).",
    )


@extend_schema_view(
    post=extend_schema(
        operation_id="orders_fee_waiver",
        summary="Ask for the fee of an order awaiting payment to be waived (a second operator approves)",
        description="Creates an approval request (`orders.fee_waiver`); nothing changes on the order until "
        "another operator approves it, which records a zero payment of method `waiver` and sends the order "
        "on to production. 409 `already_requested` when a waiver of this order is already waiting.",
        parameters=[ID_PARAMETER],
        request=FeeWaiverInputSerializer,
        responses={
            201: ApprovalDetailSerializer,
            **error_responses(400, 401, 403, 404),
            409: OpenApiResponse(ApiErrorSerializer, description=CONFLICT.description),
        },
        tags=["orders"],
    )
)
class FeeWaiverView(OrdersApiView, GenericAPIView):
    serializer_class = FeeWaiverInputSerializer

    def post(self, request: Request, pk: str) -> Response:
        order = self.visible_order()
        services.order_check(order=order, transition="record_payment", actor=request.user)
        data = self.validated(FeeWaiverInputSerializer, request.data)
        asked = waivers.fee_waiver_request(order=order, actor=request.user, reason=data["reason"])
        body = ApprovalDetailSerializer(asked, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)
