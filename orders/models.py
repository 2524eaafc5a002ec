"""Card orders: the order state machine, its event history, the tariff and payments.

The machine (DESIGN "State machines"): ``draft → submitted → approved → [awaiting_payment → paid →] queued →
in_production → produced``, with ``rejected`` (from submitted), ``cancelled`` (any state before production)
and ``failed → queued`` for a personalization failure. The order ends at ``produced``: from there the card
(``produced_card``) takes over, and what happens to it (shipping, activation...) is ``card.state``.

The state field is protected and transitions are fired only by ``orders.services``, through
``core.transitions.fire``: it locks the row, checks the actor's right (the ``permission`` of each transition
below, from ``orders.permissions``) and the state, writes the ``OrderEvent`` in the same transaction; the
service schedules side effects on commit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from cards.models import Card
from registry.models import Authority, CardType, Exercise, Professional, Structure

from .permissions import may


def _fee_due(order: Any) -> bool:
    return order.fee is not None


def _fee_settled(order: Any) -> bool:
    return order.fee is None or order.state == Order.State.PAID


class Order(ConcurrentTransitionMixin, models.Model):
    class Kind(models.TextChoices):
        FIRST = "first", _("First card")
        RENEWAL = "renewal", _("Renewal")
        REPLACEMENT = "replacement", _("Replacement")
        UPDATE = "update", _("Update after a change of situation")

    class ReplacementReason(models.TextChoices):
        LOST = "lost", _("Lost")
        STOLEN = "stolen", _("Stolen")
        DAMAGED = "damaged", _("Damaged")
        DEFECTIVE = "defective", _("Defective")
        NOT_RECEIVED = "not_received", _("Not received")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        QUEUED = "queued", _("Queued for production")
        IN_PRODUCTION = "in_production", _("In production")
        PRODUCED = "produced", _("Produced")
        FAILED = "failed", _("Production failed")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    FINAL_STATES = (State.PRODUCED, State.REJECTED, State.CANCELLED)
    # "An order under way": placed (submitted) and neither rejected nor cancelled, up to ``produced``. The
    # one definition, read by eligibility (``eligibility.in_progress``: it blocks a second order of the
    # slot while its card is owed) and by the renewal scan's SQL (a card with such an order is taken care
    # of). Plain values, so that raw SQL can take them as parameters.
    OPEN_STATES: tuple[str, ...] = tuple(
        state.value
        for state in (
            State.SUBMITTED,
            State.APPROVED,
            State.AWAITING_PAYMENT,
            State.PAID,
            State.QUEUED,
            State.IN_PRODUCTION,
            State.FAILED,
            State.PRODUCED,
        )
    )
    CANCELLABLE_STATES = (
        State.DRAFT,
        State.SUBMITTED,
        State.APPROVED,
        State.AWAITING_PAYMENT,
        State.PAID,
        State.QUEUED,
    )
    # Replacements for these reasons are the holder's doing and are paid; the others are free.
    PAID_REASONS = (ReplacementReason.LOST, ReplacementReason.STOLEN, ReplacementReason.DAMAGED)

    professional = models.ForeignKey(Professional, on_delete=models.PROTECT, related_name="orders")
    exercise = models.ForeignKey(
        Exercise, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    structure = models.ForeignKey(
        Structure, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    card_type = models.CharField(max_length=3, choices=CardType.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    replacement_reason = models.CharField(max_length=12, choices=ReplacementReason.choices, blank=True)
    replaces = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="replacement_orders"
    )
    # The one link between an order and the card made for it (``card.order``): set by ``mark_produced``.
    produced_card = models.OneToOneField(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="orders")
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    fee = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    failure_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["authority", "state"]),
            models.Index(fields=["professional", "state"]),
        ]
        constraints = [
            models.CheckConstraint(
                name="order_replacement_has_reason",
                condition=Q(kind="replacement", replacement_reason__gt="")
                | (~Q(kind="replacement") & Q(replacement_reason="")),
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.card_type} {self.kind} ({self.state})"

    @property
    def is_paid_kind(self) -> bool:
        return self.kind == self.Kind.REPLACEMENT and self.replacement_reason in self.PAID_REASONS

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    # --- transitions: they change only this order's own fields -------------------------------------
    def _moved(self) -> None:
        self.state_changed_at = timezone.now()

    @transition(field=state, source=State.DRAFT, target=State.SUBMITTED, permission=may("submit"))
    def submit(self, fee: Decimal | None) -> None:
        self.fee = fee
        self._moved()

    @transition(field=state, source=State.SUBMITTED, target=State.APPROVED, permission=may("approve"))
    def approve(self) -> None:
        self._moved()

    @transition(field=state, source=State.SUBMITTED, target=State.REJECTED, permission=may("reject"))
    def reject(self) -> None:
        self._moved()

    @transition(
        field=state,
        source=State.APPROVED,
        target=State.AWAITING_PAYMENT,
        conditions=[lambda order: _fee_due(order)],
        permission=may("request_payment"),
    )
    def request_payment(self) -> None:
        self._moved()

    @transition(
        field=state, source=State.AWAITING_PAYMENT, target=State.PAID, permission=may("record_payment")
    )
    def record_payment(self) -> None:
        self._moved()

    @transition(
        field=state,
        source=[State.APPROVED, State.PAID],
        target=State.QUEUED,
        conditions=[lambda order: _fee_settled(order)],
        permission=may("queue"),
    )
    def queue(self) -> None:
        self._moved()

    @transition(field=state, source=CANCELLABLE_STATES, target=State.CANCELLED, permission=may("cancel"))
    def cancel(self) -> None:
        self._moved()

    @transition(
        field=state,
        source=State.QUEUED,
        target=State.IN_PRODUCTION,
        permission=may("start_production"),
    )
    def start_production(self) -> None:
        self._moved()

    @transition(
        field=state, source=State.IN_PRODUCTION, target=State.PRODUCED, permission=may("mark_produced")
    )
    def mark_produced(self, card) -> None:
        self.produced_card = card
        self._moved()

    @transition(field=state, source=State.IN_PRODUCTION, target=State.FAILED, permission=may("mark_failed"))
    def mark_failed(self) -> None:
        self.failure_count += 1
        self._moved()

    @transition(field=state, source=State.FAILED, target=State.QUEUED, permission=may("requeue"))
    def requeue(self) -> None:
        self._moved()


class OrderEvent(models.Model):
    """One row per transition (and per creation or re-routing): the order's history, never rewritten."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_role = models.CharField(max_length=24, blank=True)
    transition = models.CharField(max_length=32)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_state or '-'} → {self.to_state} ({self.transition})"


class Tariff(models.Model):
    """The replacement fee, dated: a price applies from ``valid_from`` until the next one starts."""

    valid_from = models.DateField(unique=True)
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} from {self.valid_from}"


class Payment(models.Model):
    """The payment of an order's fee. One per order: a paid order has exactly one invoice."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Bank transfer")
        CHEQUE = "cheque", _("Cheque")
        CARD_ONLINE = "card_online", _("Card, online")
        # A fee waived by two-person approval (orders.waivers): a zero payment, the approval its reference.
        WAIVER = "waiver", _("Fee waived")

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="payment")
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    method = models.CharField(max_length=12, choices=Method.choices)
    reference = models.CharField(max_length=100)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for order {self.order_id}"

    @property
    def invoice_number(self) -> str:
        return f"CPX-{self.at:%Y}-{self.pk:08d}"

    @property
    def amount_text(self) -> str:
        return f"{self.amount.quantize(Decimal('0.01'))} {self.currency}"
