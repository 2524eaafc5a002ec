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
from core.formats import format_date, format_money
from registry.models import Authority, CardType, Exercise, Professional, Structure

from .permissions import may


def _fee_due(order: Any) -> bool:
    return order.fee is not None


def _fee_settled(order: Any) -> bool:
    return order.fee is None or order.state == Order.State.PAID


# The states in which an order holds its slot for good (``Order.OPEN_STATES`` but ``produced``), and the
# names of the constraints that say so (``orders.services`` translates their violation into a 409).
SLOT_HOLDING_STATES = (
    "submitted",
    "approved",
    "awaiting_payment",
    "paid",
    "queued",
    "in_production",
    "failed",
)
ONE_OPEN_ORDER_PER_EXERCISE = "order_one_open_per_exercise"
ONE_OPEN_ORDER_PER_STRUCTURE_SLOT = "order_one_open_per_structure_slot"
SLOT_CONSTRAINTS = (ONE_OPEN_ORDER_PER_EXERCISE, ONE_OPEN_ORDER_PER_STRUCTURE_SLOT)


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

    class Origin(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        AUTOMATIC = "automatic", _("Created automatically")
        PROPOSED = "proposed", _("Proposed")

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
    OPEN_STATES: tuple[str, ...] = (*SLOT_HOLDING_STATES, "produced")
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

    professional = models.ForeignKey(
        Professional, on_delete=models.PROTECT, related_name="orders", verbose_name=_("professional")
    )
    exercise = models.ForeignKey(
        Exercise, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    structure = models.ForeignKey(
        Structure, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    card_type = models.CharField(max_length=3, choices=CardType.choices, verbose_name=_("card type"))
    kind = models.CharField(max_length=12, choices=Kind.choices, verbose_name=_("kind"))
    replacement_reason = models.CharField(max_length=12, choices=ReplacementReason.choices, blank=True)
    replaces = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="replacement_orders"
    )
    # The one link between an order and the card made for it (``card.order``): set by ``mark_produced``.
    produced_card = models.OneToOneField(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    authority = models.ForeignKey(
        Authority, on_delete=models.PROTECT, related_name="orders", verbose_name=_("authority")
    )
    state = FSMField(
        default=State.DRAFT, choices=State.choices, protected=True, db_index=True, verbose_name=_("state")
    )
    fee = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    failure_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("state changed at")
    )
    # Issue 16: orders the registry drives. ``origin`` says who placed it: a person (``requested``), the
    # platform by an issuance policy (``automatic``), or the platform as a proposal the holder or structure
    # confirms in one click (``proposed``, a draft until then). ``decision`` is why, as data (rule, policy,
    # facts such as the registration date and the authority), rendered in the reader's language by
    # ``orders.decisions``; ``situation_diff`` is, for an update, what the card carries beside what the
    # registry says now (``{"on_card": [...], "in_registry": [...]}``). ``release_on`` is the day the
    # capacity plan (``lifecycle.scheduling``) releases an approved automatic order to production.
    origin = models.CharField(
        max_length=10, choices=Origin.choices, default=Origin.REQUESTED, verbose_name=_("origin")
    )
    decision = models.JSONField(default=dict, blank=True, verbose_name=_("decision"))
    situation_diff = models.JSONField(default=dict, blank=True, verbose_name=_("situation difference"))
    release_on = models.DateField(null=True, blank=True, verbose_name=_("release to production on"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["authority", "state"]),
            models.Index(fields=["professional", "state"]),
            # The capacity plan reads the approved automatic orders by release day.
            models.Index(
                fields=["release_on", "id"], condition=Q(state="approved"), name="order_approved_release"
            ),
        ]
        constraints = [
            # One order under way per slot (``eligibility.slot_filter``): the database's guarantee behind
            # the ``open_order_exists`` rule, so that two submissions racing past the check cannot both
            # commit. A produced order is left out: it blocks its slot only while its card is on its way,
            # which the rule reads from the card (``eligibility.in_progress``).
            models.UniqueConstraint(
                fields=["exercise"],
                condition=Q(exercise__isnull=False, state__in=SLOT_HOLDING_STATES),
                name=ONE_OPEN_ORDER_PER_EXERCISE,
            ),
            models.UniqueConstraint(
                fields=["professional", "structure", "card_type"],
                condition=Q(exercise__isnull=True, state__in=SLOT_HOLDING_STATES),
                name=ONE_OPEN_ORDER_PER_STRUCTURE_SLOT,
            ),
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
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(max_length=24, blank=True, verbose_name=_("actor role"))
    transition = models.CharField(max_length=32, verbose_name=_("transition"))
    from_state = models.CharField(max_length=20, blank=True, verbose_name=_("from state"))
    to_state = models.CharField(max_length=20, verbose_name=_("to state"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_state or '-'} → {self.to_state} ({self.transition})"


class Tariff(models.Model):
    """The replacement fee, dated: a price applies from ``valid_from`` until the next one starts."""

    valid_from = models.DateField(unique=True, verbose_name=_("valid from"))
    amount = models.DecimalField(max_digits=8, decimal_places=2, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="EUR", verbose_name=_("currency"))

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return _("%(amount)s from %(date)s") % {
            "amount": format_money(self.amount, self.currency),
            "date": format_date(self.valid_from),
        }


class Payment(models.Model):
    """The payment of an order's fee. One per order: a paid order has exactly one invoice."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Bank transfer")
        CHEQUE = "cheque", _("Cheque")
        CARD_ONLINE = "card_online", _("Card, online")
        # A fee waived by two-person approval (orders.waivers): a zero payment, the approval its reference.
        WAIVER = "waiver", _("Fee waived")

    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, related_name="payment", verbose_name=_("order")
    )
    amount = models.DecimalField(max_digits=8, decimal_places=2, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="EUR")
    method = models.CharField(max_length=12, choices=Method.choices, verbose_name=_("method"))
    reference = models.CharField(max_length=100, verbose_name=_("reference"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return _("%(amount)s for order no. %(order)s") % {
            "amount": format_money(self.amount, self.currency),
            "order": self.order_id,
        }

    @property
    def invoice_number(self) -> str:
        return f"CPX-{self.at:%Y}-{self.pk:08d}"

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.currency)


# --- payments: the development provider's checkouts, bank statements (orders.providers.dev,
# orders.reconciliation) ------------------------------------------------------------------------------


class DevCheckout(models.Model):
    """A checkout of the development payment provider (``orders.providers.dev``): what a real provider keeps
    on its side, kept here because the development provider is served by the platform itself."""

    class State(models.TextChoices):
        OPEN = "open", _("Waiting for the payer")
        PAID = "paid", _("Paid")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled by the payer")

    reference = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="dev_checkouts")
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    return_url = models.URLField(max_length=2000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    card_last4 = models.CharField(max_length=4, blank=True)
    # The provider's signature of the outcome (HMAC, orders.providers.dev): ``confirm`` checks it.
    signature = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"dev checkout {self.reference} for order {self.order_id} ({self.state})"


class BankStatement(models.Model):
    """An imported ISO 20022 camt.053 statement (``orders.reconciliation``): imported once, per account."""

    statement_id = models.CharField(max_length=35)
    account_iban = models.CharField(max_length=34, blank=True)
    created_on = models.DateTimeField(null=True, blank=True)  # the bank's CreDtTm
    message_id = models.CharField(max_length=35, blank=True)
    namespace = models.CharField(max_length=80, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)  # of the file (one file may hold several)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account_iban", "statement_id"], name="bank_statement_once"),
        ]

    def __str__(self) -> str:
        return f"statement {self.statement_id} ({self.account_iban})"


class BankStatementEntry(models.Model):
    """One entry (``Ntry``/``TxDtls``) of an imported statement and what reconciliation did with it."""

    class Outcome(models.TextChoices):
        MATCHED = "matched", _("Order paid")
        UNKNOWN_REFERENCE = "unknown_reference", _("No order has this reference")
        WRONG_AMOUNT = "wrong_amount", _("The amount differs from the fee")
        ALREADY_PAID = "already_paid", _("The order is already paid")
        NOT_AWAITING = "not_awaiting", _("The order is not awaiting payment")
        ALREADY_IMPORTED = "already_imported", _("Entry already imported")
        DEBIT = "debit", _("Debit or reversal")
        NOT_BOOKED = "not_booked", _("Not booked")
        OTHER_CURRENCY = "other_currency", _("Not in euros")

    statement = models.ForeignKey(BankStatement, on_delete=models.CASCADE, related_name="entries")
    entry_ref = models.CharField(max_length=140)  # the bank's AcctSvcrRef (or NtryRef / EndToEndId)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    credit = models.BooleanField()
    booked_on = models.DateField(null=True, blank=True)
    remittance = models.TextField(blank=True)
    end_to_end_id = models.CharField(max_length=35, blank=True)
    debtor = models.CharField(max_length=140, blank=True)
    transfer_reference = models.CharField(max_length=40, blank=True)  # the CPX-... reference read in it
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="statement_entries"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="statement_entries"
    )

    class Meta:
        ordering = ["statement", "id"]
        indexes = [models.Index(fields=["entry_ref"])]
        constraints = [
            # An entry of the bank pays at most once, whatever statements repeat it.
            models.UniqueConstraint(
                fields=["entry_ref"], condition=Q(outcome="matched"), name="bank_entry_pays_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_ref} {self.amount} {self.currency} ({self.outcome})"


class OrderComment(models.Model):
    """A note of an operator on an order: seen by the operators who may see the order, and by its holder
    when ``visible_to_holder`` (``orders.comments``). Comments are never edited: a correction is another."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="order_comments"
    )
    author_role = models.CharField(max_length=24, blank=True)
    text = models.TextField()
    visible_to_holder = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"])]

    def __str__(self) -> str:
        return f"comment {self.pk} on order {self.order_id}"
