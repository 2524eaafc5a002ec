"""REST API of orders and payments (``/api/v1/orders/``, ``/api/v1/payments/``).

Endpoints authenticate, validate input and call one service of ``orders.services`` (or
``orders.payment_services``). Its domain errors are answered by the platform's handler
(``core.api.api_exception_handler``), each with its own status and fields (``orders.errors``): not visible
→ 404, not permitted → 403, wrong state or a concurrent change → 409 (with the current state and the
transitions allowed from it), not eligible → 422 (with each failed rule), invalid input → 400 (with field
errors). The schema declares those answers below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from cards.scoping import cards_visible_to
from core.api import (
    MAX_ID,
    ApiErrorSerializer,
    ApiView,
    BooleanField,
    QueryBooleanField,
    error_responses,
    validate_or_404,
)
from core.transitions import allowed
from registry.models import CardType, Exercise, Structure
from registry.scoping import professionals_visible_to

from . import errors, services
from .models import Order, OrderEvent, Payment
from .scoping import orders_visible_to, structures_orderable_by

# --- error bodies --------------------------------------------------------------------------------------


class TransitionErrorSerializer(ApiErrorSerializer):
    state = serializers.ChoiceField(choices=Order.State.choices, help_text="The order's current state.")
    allowed_transitions = serializers.ListField(
        child=serializers.CharField(), help_text="Transitions the state machine allows from this state."
    )


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class IneligibleErrorSerializer(ApiErrorSerializer):
    reasons = ReasonSerializer(many=True, help_text="Every eligibility rule the order fails.")


class OrdersApiView(ApiView):
    def visible_order(self) -> Order:
        pk = self.check_id(self.kwargs["pk"])
        order = orders_visible_to(self.request.user).filter(pk=pk).first()  # type: ignore[attr-defined]
        if order is None:
            raise errors.OrderNotFound()
        return order


def with_details(orders: QuerySet[Order]) -> QuerySet[Order]:
    """``orders`` with what ``OrderDetailSerializer`` shows, read in three queries whatever the history's
    length: the order with its holder, authority and payment (with who recorded it), then the events with
    their actors (otherwise one query per field, and one per event for its actor's name)."""
    events = OrderEvent.objects.select_related("actor")
    related = ("professional", "authority", "payment__recorded_by")
    return orders.select_related(*related).prefetch_related(Prefetch("events", queryset=events))


# The URLs capture ``pk``; drf-spectacular shows it as ``{id}`` (SCHEMA_COERCE_PATH_PK), so the override
# must name ``id`` too, or the operation would declare a second, stray ``pk`` path parameter.
ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Order id.")
CONFLICT = OpenApiResponse(TransitionErrorSerializer, description="Not possible from the current state.")
INELIGIBLE = OpenApiResponse(IneligibleErrorSerializer, description="The order fails eligibility rules.")


# --- orders --------------------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)  # type: ignore[var-annotated]

    class Meta:
        model = OrderEvent
        fields = ["at", "actor", "actor_role", "transition", "from_state", "to_state", "reason"]


class PaymentSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    invoice_number = serializers.CharField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "order",
            "amount",
            "currency",
            "method",
            "reference",
            "recorded_by",
            "at",
            "invoice_number",
        ]


class ReasonOrNullField(serializers.ChoiceField):
    """A choice that answers null, not "", when there is none (first and renewal orders have no reason)."""

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(value) or None


class OrderSerializer(serializers.ModelSerializer):
    replacement_reason = ReasonOrNullField(
        choices=Order.ReplacementReason.choices,
        allow_null=True,
        read_only=True,
        help_text="Why the card is replaced; null for first and renewal orders.",
    )
    authority = serializers.SlugRelatedField(slug_field="code", read_only=True)  # type: ignore[var-annotated]
    national_id = serializers.CharField(source="professional.national_id", read_only=True)
    holder_name = serializers.CharField(source="professional.full_name", read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text="Transitions the state machine allows from the current state, each an operation "
        "POST /api/v1/orders/{id}/<transition>/ (whether you may fire it: your_transitions). Shipping and "
        "what follows are the card's (/api/v1/shipping-batches/, /api/v1/cards/), never the order's."
    )
    your_transitions = serializers.SerializerMethodField(
        help_text="Transitions you may fire now (POST /api/v1/orders/{id}/<transition>/)."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "professional",
            "national_id",
            "holder_name",
            "exercise",
            "structure",
            "card_type",
            "kind",
            "replacement_reason",
            "replaces",
            "produced_card",
            "authority",
            "state",
            "fee",
            "failure_count",
            "created_at",
            "updated_at",
            "state_changed_at",
            "allowed_transitions",
            "your_transitions",
        ]
        read_only_fields = fields

    def get_allowed_transitions(self, order: Order) -> list[str]:
        # Only those with an endpoint: the steps the services fire on their own (``request_payment``,
        # right after approval) are not offered.
        return [n for n in allowed(order) if n in ENDPOINTS]

    def get_your_transitions(self, order: Order) -> list[str]:
        # The one answer to "which may I fire now" (the back office's buttons read it too), among the
        # transitions that have an endpoint.
        return [n for n in allowed(order, self.context["request"].user) if n in ENDPOINTS]


class OrderDetailSerializer(OrderSerializer):
    events = EventSerializer(many=True, read_only=True)
    payment = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "events", "payment"]
        read_only_fields = fields

    @extend_schema_field(PaymentSerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict | None:
        try:
            payment = order.payment  # one per order (a one-to-one); read with the order by ``with_details``
        except Payment.DoesNotExist:
            return None
        return PaymentSerializer(payment).data


class ScopedPrimaryKey(serializers.PrimaryKeyRelatedField):
    """A primary key among the objects the requesting user may see; others are reported as unknown."""

    def __init__(self, scope: Callable[[Any], QuerySet], **kwargs: Any) -> None:
        self.scope = scope
        kwargs.setdefault("queryset", scope(None))
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        return self.scope(self.context["request"].user)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, int) and not 0 < data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, str) and data.isdigit() and int(data) > MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


def _scoped_exercises(user: Any) -> QuerySet:
    if user is None:
        return Exercise.objects.all()
    return Exercise.objects.filter(professional__in=professionals_visible_to(user))


def _orderable_structures(user: Any) -> QuerySet:
    return Structure.objects.all() if user is None else structures_orderable_by(user)


class OrderCreateSerializer(serializers.Serializer):
    professional = ScopedPrimaryKey(professionals_visible_to, help_text="The holder (a person id).")
    exercise = ScopedPrimaryKey(
        _scoped_exercises, required=False, allow_null=True, help_text="The exercise (CPS, CPF)."
    )
    structure = ScopedPrimaryKey(
        _orderable_structures,
        required=False,
        allow_null=True,
        help_text="For CPE, CPA, CDE: a structure you may name (a holder: one they work in).",
    )
    card_type = serializers.ChoiceField(choices=CardType.choices)
    kind = serializers.ChoiceField(choices=Order.Kind.choices)
    replacement_reason = serializers.ChoiceField(
        choices=Order.ReplacementReason.choices, required=False, allow_blank=True, default=""
    )
    replaces = ScopedPrimaryKey(
        cards_visible_to, required=False, allow_null=True, help_text="The card replaced or renewed."
    )
    submit = BooleanField(
        required=False,
        default=False,
        help_text="true: submit it at once (eligibility is checked; an order refused leaves no draft).",
    )

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)


class OrderFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Order.State.choices, required=False)
    kind = serializers.ChoiceField(choices=Order.Kind.choices, required=False)
    card_type = serializers.ChoiceField(choices=CardType.choices, required=False)
    authority = serializers.CharField(required=False, max_length=16, help_text="Authority code, e.g. CNOM.")
    professional = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    overdue = QueryBooleanField(
        required=False,
        help_text="true: only orders waiting longer than CPX_ORDER_OVERDUE_DAYS in a non-final state.",
    )


def filter_orders(orders: QuerySet[Order], params: dict[str, Any]) -> QuerySet[Order]:
    for field in ("state", "kind", "card_type"):
        if field in params:
            orders = orders.filter(**{field: params[field]})
    if "authority" in params:
        orders = orders.filter(authority__code=params["authority"])
    if "professional" in params:
        orders = orders.filter(professional_id=params["professional"])
    if params.get("overdue") is True:
        orders = services.orders_overdue(orders=orders)
    elif params.get("overdue") is False:
        orders = orders.exclude(pk__in=services.orders_overdue(orders=orders).values("pk"))
    return orders


@extend_schema_view(
    list=extend_schema(
        summary="List orders you may see",
        parameters=[OrderFilterSerializer],
        responses={200: OrderSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="An order with its event history",
        parameters=[ID_PARAMETER],
        responses={200: OrderDetailSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Create a draft order (or place it: create and submit at once)",
        request=OrderCreateSerializer,
        responses={201: OrderDetailSerializer, **error_responses(400, 401, 403, 404), 422: INELIGIBLE},
    ),
)
class OrderViewSet(OrdersApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = OrderSerializer
    lookup_value_regex = "[^/]+"
    queryset = Order.objects.none()

    def get_queryset(self) -> QuerySet[Order]:
        orders = orders_visible_to(self.request.user).select_related("authority", "professional")
        if self.action == "list":
            query = OrderFilterSerializer(data=self.request.query_params.dict())
            query.is_valid(raise_exception=True)
            orders = filter_orders(orders, query.validated_data)
        return orders.order_by("-created_at", "-id")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pk = self.check_id(self.kwargs["pk"])
        order = with_details(orders_visible_to(request.user)).filter(pk=pk).first()
        if order is None:
            raise errors.OrderNotFound()
        return Response(OrderDetailSerializer(order, context={"request": request}).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.order_may_create(actor=request.user)  # who first, before the body is read
        data = OrderCreateSerializer(data=request.data, context={"request": request})
        validate_or_404(data)
        fields = dict(data.validated_data)
        place = services.order_place if fields.pop("submit") else services.order_create
        order = place(actor=request.user, **fields)
        body = OrderDetailSerializer(order, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- transitions: POST /api/v1/orders/{id}/<transition>/ ----------------------------------------------


class NoInputSerializer(serializers.Serializer):
    pass


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RequiredReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why (kept in the order's history).")


class ProducedSerializer(serializers.Serializer):
    card = ScopedPrimaryKey(cards_visible_to, help_text="The card the station personalized.")


class PaymentInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, help_text="In EUR.")
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    reference = serializers.CharField(max_length=100, help_text="Transfer, cheque or provider reference.")


def _call(service: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    return lambda order, actor, data: service(order=order, actor=actor, **fixed, **data)


# name → (service, input serializer, summary)
TRANSITION_ENDPOINTS: dict[str, tuple[Callable[..., Any], type[serializers.Serializer], str]] = {
    "submit": (_call(services.order_submit), NoInputSerializer, "Submit a draft (eligibility is checked)"),
    "approve": (
        _call(services.order_approve),
        OptionalReasonSerializer,
        "Approve (eligibility re-checked); goes on to payment or to production",
    ),
    "reject": (_call(services.order_reject), RequiredReasonSerializer, "Reject, with a reason"),
    "cancel": (_call(services.order_cancel), OptionalReasonSerializer, "Cancel before production"),
    "queue": (_call(services.order_queue), NoInputSerializer, "Queue an approved or paid order"),
    "start_production": (
        _call(services.order_start_production),
        NoInputSerializer,
        "A station starts personalizing",
    ),
    "mark_produced": (_call(services.order_mark_produced), ProducedSerializer, "The card was produced"),
    "mark_failed": (_call(services.order_mark_failed), RequiredReasonSerializer, "Personalization failed"),
    "requeue": (_call(services.order_requeue), OptionalReasonSerializer, "Queue a failed order again"),
}
# Every transition fired through its own endpoint (POST /api/v1/orders/{id}/<transition>/): those above,
# and the payment's (``RecordPaymentView``).
ENDPOINTS = frozenset({*TRANSITION_ENDPOINTS, "record_payment"})


class OrderTransitionView(OrdersApiView, GenericAPIView):
    transition = ""
    serializer_class: Any = NoInputSerializer

    def post(self, request: Request, pk: str) -> Response:
        order = self.visible_order()
        services.order_check(order=order, transition=self.transition, actor=request.user)
        service, input_serializer, _summary = TRANSITION_ENDPOINTS[self.transition]
        if not isinstance(request.data or {}, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        data = input_serializer(data=request.data or {}, context={"request": request})
        validate_or_404(data)
        order = service(order, request.user, dict(data.validated_data))
        order = with_details(Order.objects.all()).get(pk=order.pk)
        return Response(OrderDetailSerializer(order, context={"request": request}).data)


def transition_view(name: str) -> Any:
    _service, input_serializer, summary = TRANSITION_ENDPOINTS[name]
    view = type(
        f"Order{name.title().replace('_', '')}View",
        (OrderTransitionView,),
        {"transition": name, "serializer_class": input_serializer, "__doc__": summary},
    )
    schema = extend_schema(
        operation_id=f"orders_{name}",
        summary=summary,
        parameters=[ID_PARAMETER],
        request=input_serializer,
        responses={
            200: OrderDetailSerializer,
            **error_responses(400, 401, 403, 404),
            409: CONFLICT,
            422: INELIGIBLE,
        },
        tags=["orders"],
    )
    return extend_schema_view(post=schema)(view)


TRANSITION_VIEWS = {name: transition_view(name) for name in TRANSITION_ENDPOINTS}
