"""Fee waiver: an operator asks to waive the replacement fee of an order awaiting payment; once a second
operator approves (``approvals``), the order is settled by a zero payment of method ``waiver`` and moves on
to production exactly as a recorded payment would (``record_payment`` then ``queue``), and the holder is
told they have nothing to pay.

The request carries the fee it waives: if the order's fee changed before the approval (or the order was
paid, cancelled or re-routed meanwhile), the approval is refused and the request stays undecided.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from approvals import services as approvals
from approvals.models import ApprovalRequest
from core.roles import OPERATORS, role_of
from core.transitions import Step, check
from notifications.events import Event
from notifications.services import notify

from .errors import InvalidOrder, OrderChanged
from .models import Order, Payment
from .scoping import orders_visible_to
from .services import User, _fire, _lock, tells_current_state

ACTION = "orders.fee_waiver"
REASON_MIN_LENGTH = 10


def register() -> None:
    """Called from ``OrdersConfig.ready()``."""
    approvals.register(
        ACTION,
        label=_("Fee waiver"),  # lazy: shown in the reader's language
        may_request=_may_request,
        may_approve=_may_approve,
        execute=_execute,
    )


def _may_request(user: User, payload: dict) -> bool:
    return role_of(user) in OPERATORS and _visible(user, payload.get("order_id"))


def _may_approve(user: User, request: ApprovalRequest) -> bool:
    """An operator who may see the order (their authority's, or ANS's): the requester never (approvals)."""
    return role_of(user) in OPERATORS and _visible(user, request.payload.get("order_id"))


def _visible(user: User, order_id: Any) -> bool:
    return isinstance(order_id, int) and orders_visible_to(user).filter(pk=order_id).exists()


def fee_waiver_request(*, order: Order | int, actor: User, reason: str) -> ApprovalRequest:
    """Ask for the fee of ``order`` to be waived (the order must be awaiting payment, and the actor one
    who may record its payment). Nothing changes on the order until a second operator approves."""
    with transaction.atomic():
        locked = _lock(order, actor)
        check(locked, "record_payment", actor)  # who, then the state (awaiting payment), then the reason
        reason = reason.strip()
        if len(reason) < REASON_MIN_LENGTH:
            message = _("Give the reason for the waiver (at least %(n)d characters).")
            raise InvalidOrder(message % {"n": REASON_MIN_LENGTH}, field="reason")
        assert locked.fee is not None  # awaiting payment: there is a fee
        return approvals.request(
            action=ACTION,
            actor=actor,
            payload={"order_id": locked.pk, "fee": str(locked.fee), "reason": reason},
            summary=f"Remise des frais de la commande n° {locked.pk} ({locked.fee} €) : {reason}",
            authority_id=locked.authority_id,
            object_type="order",
            object_id=str(locked.pk),
        )


def _execute(request: ApprovalRequest) -> dict:
    """On approval, in the approver's transaction: the approver records the waiver."""
    approver = request.decisions.filter(approve=True).select_related("approver").latest("at").approver
    payment = payment_waive(
        order=request.payload["order_id"],
        actor=approver,
        fee=Decimal(request.payload["fee"]),
        approval_id=request.pk,
    )
    return {"order_id": payment.order_id, "payment_id": payment.pk, "invoice": payment.invoice_number}


@tells_current_state
def payment_waive(*, order: Order | int, actor: User, fee: Decimal, approval_id: int) -> Payment:
    """Settle an order awaiting payment with a zero payment of method ``waiver`` (the approved request's
    number as its reference), which sends it on to production; the holder is told."""
    with transaction.atomic():
        locked = _lock(order, actor)
        check(locked, "record_payment", actor)
        if locked.fee != fee:
            raise OrderChanged(_("The order's fee changed since the waiver was asked for; ask again."))
        reference = f"REMISE-{approval_id}"
        locked = _fire(
            locked,
            actor,
            [
                Step(
                    "record_payment",
                    _("%(method)s, reference %(reference)s")
                    % {"method": Payment.Method.WAIVER.label, "reference": reference},
                ),
                "queue",
            ],
        )
        payment = Payment.objects.create(
            order=locked,
            amount=Decimal("0.00"),
            method=Payment.Method.WAIVER,
            reference=reference,
            recorded_by=actor,
            at=timezone.now(),
        )
        notify(
            recipient=locked.professional,
            event=Event.FEE_WAIVED,
            context={"order_reference": str(locked.pk), "card_type": locked.card_type, "amount": str(fee)},
            dedup_key=f"order:{locked.pk}:{Event.FEE_WAIVED}",
        )
        return payment
