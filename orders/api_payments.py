"""REST API of payments and invoices: record a transfer or cheque, pay online, the invoice PDF, the list of
payments, bank statements (import a camt.053, list them). The same conventions as ``orders.api`` (whose
shared pieces it uses)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from core.api import ApiErrorSerializer, error_responses

from . import errors, payment_services, services
from .api import (
    CONFLICT,
    ID_PARAMETER,
    NoInputSerializer,
    OrdersApiView,
    PaymentInputSerializer,
    PaymentSerializer,
)
from .invoices import invoice_filename, invoice_pdf
from .models import BankStatement, BankStatementEntry, Payment
from .payments import configured_provider
from .reconciliation import statement_reconcile, statements_visible_to
from .scoping import payments_visible_to

# --- payments and invoices -----------------------------------------------------------------------------


@extend_schema_view(
    post=extend_schema(
        operation_id="orders_record_payment",
        summary="Record the payment of the order's fee (transfer, cheque); the order goes on to production",
        description="Operators record transfers and cheques; an online payment (card_online) is recorded by "
        "the platform once the provider confirmed it (online_payment/confirm/): 400 otherwise.",
        parameters=[ID_PARAMETER],
        request=PaymentInputSerializer,
        responses={201: PaymentSerializer, **error_responses(400, 401, 403, 404), 409: CONFLICT},
        tags=["orders"],
    )
)
class RecordPaymentView(OrdersApiView, GenericAPIView):
    serializer_class = PaymentInputSerializer

    def post(self, request: Request, pk: str) -> Response:
        order = self.visible_order()
        services.order_check(order=order, transition="record_payment", actor=request.user)
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_services.payment_record(order=order, actor=request.user, **data.validated_data)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


ONLINE_PAYMENT_MAY_BE_OFF = (
    "Online payment may be off: a deployment without a payment provider (CPX_PAYMENT_PROVIDER empty) "
    "answers 404 with code online_payment_unavailable (pay by transfer or cheque then)."
)
ONLINE_PAYMENT_NOT_FOUND = OpenApiResponse(
    ApiErrorSerializer,
    description="Not found, or not visible to you; or online payment is off (code "
    "online_payment_unavailable).",
)


class OnlinePaymentStartSerializer(serializers.Serializer):
    return_url = serializers.URLField(
        max_length=2000, help_text="Where the provider sends the payer back after the checkout."
    )


class CheckoutSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="The provider's reference of the checkout.")
    redirect_url = serializers.URLField(help_text="Send the payer there to pay.")


class OnlinePaymentConfirmSerializer(serializers.Serializer):
    reference = serializers.CharField(
        max_length=100,
        help_text="The checkout reference given by the start (or by the provider's call-back).",
    )


@extend_schema_view(
    post=extend_schema(
        operation_id="orders_online_payment_start",
        summary="Start paying the order's fee online: the provider's checkout to send the payer to",
        description=ONLINE_PAYMENT_MAY_BE_OFF,
        parameters=[ID_PARAMETER],
        request=OnlinePaymentStartSerializer,
        responses={
            201: CheckoutSerializer,
            **error_responses(400, 401, 403),
            404: ONLINE_PAYMENT_NOT_FOUND,
            409: CONFLICT,
        },
        tags=["orders"],
    )
)
class OnlinePaymentStartView(OrdersApiView, GenericAPIView):
    serializer_class = OnlinePaymentStartSerializer

    def post(self, request: Request, pk: str) -> Response:
        order = payment_services.payment_online_check(order=self.visible_order(), actor=request.user)
        data = OnlinePaymentStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        checkout = payment_services.payment_start_online(
            order=order, actor=request.user, return_url=data.validated_data["return_url"]
        )
        body = {"reference": checkout.reference, "redirect_url": checkout.redirect_url}
        return Response(CheckoutSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        operation_id="orders_online_payment_confirm",
        summary="Confirm an online payment: the provider is asked, and the payment recorded once",
        description="Idempotent on the reference: confirming again answers 200 with the payment already "
        "recorded. The provider is asked whether the checkout was paid; the request itself proves nothing. "
        + ONLINE_PAYMENT_MAY_BE_OFF,
        parameters=[ID_PARAMETER],
        request=OnlinePaymentConfirmSerializer,
        responses={
            201: PaymentSerializer,
            200: OpenApiResponse(PaymentSerializer, description="Already recorded."),
            **error_responses(400, 401, 403),
            404: ONLINE_PAYMENT_NOT_FOUND,
            409: CONFLICT,
        },
        tags=["orders"],
    )
)
class OnlinePaymentConfirmView(OrdersApiView, GenericAPIView):
    serializer_class = OnlinePaymentConfirmSerializer

    def post(self, request: Request, pk: str) -> Response:
        order = self.visible_order()
        if configured_provider() is None:
            raise errors.OnlinePaymentOff()
        data = OnlinePaymentConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reference = data.validated_data["reference"]
        before = Payment.objects.filter(order=order, reference=reference).exists()
        payment = payment_services.payment_confirm_online(order=order, reference=reference)
        answer = status.HTTP_200_OK if before else status.HTTP_201_CREATED
        return Response(PaymentSerializer(payment).data, status=answer)


class PdfRenderer(JSONRenderer):
    """Lets clients ask for ``application/pdf``; errors are still JSON (see ``finalize_response``)."""

    media_type = "application/pdf"
    format = "pdf"


@extend_schema_view(
    get=extend_schema(
        operation_id="orders_invoice",
        summary="The invoice of a paid order (PDF)",
        description="A PDF only: asked for in another format (format=json, or Accept: application/json "
        "alone) it answers 406.",
        parameters=[
            ID_PARAMETER,
            OpenApiParameter(
                "format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["pdf"], description="pdf only."
            ),
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The invoice."),
            **error_responses(401, 403, 404),
            406: OpenApiResponse(ApiErrorSerializer, description="Another format than PDF was asked for."),
        },
        tags=["orders"],
    )
)
class InvoiceView(OrdersApiView, GenericAPIView):
    # The PDF first: a client that states no preference gets the invoice; JSON stays for the errors.
    renderer_classes = [PdfRenderer, JSONRenderer]
    serializer_class = NoInputSerializer

    def get(self, request: Request, pk: str) -> HttpResponse:
        order = self.visible_order()
        if request.accepted_renderer.format != PdfRenderer.format:
            raise errors.InvoiceIsPdf()
        payment = Payment.objects.filter(order=order).select_related("order__professional").first()
        if payment is None:
            raise errors.OrderNotFound(_("This order has no payment, so no invoice."))
        response = HttpResponse(invoice_pdf(payment), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice_filename(payment)}"'
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


@extend_schema_view(
    list=extend_schema(
        summary="Payments of the orders you may see",
        responses={200: PaymentSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="A payment",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Payment id.")
        ],
        responses={200: PaymentSerializer, **error_responses(401, 403, 404)},
    ),
)
class PaymentViewSet(OrdersApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = PaymentSerializer
    lookup_value_regex = "[^/]+"
    queryset = Payment.objects.none()

    def get_queryset(self) -> QuerySet[Payment]:
        return payments_visible_to(self.request.user).select_related("recorded_by").order_by("-at", "-id")

    def get_object(self) -> Payment:
        payment = self.get_queryset().filter(pk=self.check_id(self.kwargs["pk"])).first()
        if payment is None:
            raise errors.OrderNotFound(_("No such payment."))
        return payment


# --- bank statements (orders.reconciliation) -------------------------------------------------------------


class StatementEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = BankStatementEntry
        fields = [
            "entry_ref",
            "amount",
            "currency",
            "credit",
            "booked_on",
            "remittance",
            "end_to_end_id",
            "debtor",
            "transfer_reference",
            "outcome",
            "order",
            "payment",
        ]


class StatementSerializer(serializers.ModelSerializer):
    entries = StatementEntrySerializer(many=True, read_only=True)

    class Meta:
        model = BankStatement
        fields = ["id", "statement_id", "account_iban", "created_on", "filename", "uploaded_at", "entries"]


class StatementUploadSerializer(serializers.Serializer):
    statement = serializers.FileField(help_text="The bank's camt.053 statement (XML, 10 MB at most).")


@extend_schema_view(
    get=extend_schema(
        operation_id="bank_statements_list",
        summary="Imported bank statements and what each entry did (ANS operators, auditor)",
        responses={200: StatementSerializer(many=True), **error_responses(401, 403)},
        tags=["payments"],
    ),
    post=extend_schema(
        operation_id="bank_statements_import",
        summary="Import a camt.053 statement: matching transfers pay their orders, the rest is listed",
        description="Refused whole (400) when malformed, with the line and element at fault; 409 when the "
        "statement was already imported (nothing is paid twice). ANS operators only.",
        request={"multipart/form-data": StatementUploadSerializer},
        responses={
            201: StatementSerializer(many=True),
            **error_responses(400, 401, 403),
            409: OpenApiResponse(ApiErrorSerializer, description="Already imported: nothing paid again."),
        },
        tags=["payments"],
    ),
)
class BankStatementsView(OrdersApiView, GenericAPIView):
    serializer_class = StatementUploadSerializer
    parser_classes = [MultiPartParser]

    def get(self, request: Request) -> Response:
        statements = statements_visible_to(request.user).prefetch_related("entries")[:100]
        return Response(StatementSerializer(statements, many=True).data)

    def post(self, request: Request) -> Response:
        data = StatementUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["statement"]
        result = statement_reconcile(content=upload.read(), actor=request.user, filename=upload.name or "")
        return Response(
            StatementSerializer(result.statements, many=True).data, status=status.HTTP_201_CREATED
        )
