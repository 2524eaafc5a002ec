"""Use cases of the order workflow: the only way an order is created or changes state.

Every transition service follows the same path (``_fire``): inside one transaction it loads the order
through the actor's scope and locks the row (an order outside the scope is "not found"), checks the actor's
role may fire the transition (the permission declared on the machine), runs the transition, saves (the
optimistic check of ``ConcurrentTransitionMixin`` backs up the row lock), writes the ``OrderEvent``, and
schedules side effects with ``transaction.on_commit``, so they never run for a rolled-back change.

Actors are Django users with a ``registry.models.Account``. Stations and periodic tasks act as the
platform's ``system`` account (``system_user()``); the production services default to it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, can_proceed

from core.roles import role_of
from core.tasks import send_task
from notifications.events import Event
from notifications.services import notify
from registry.models import Account, CardType, Exercise, Professional, Structure
from registry.routing import ANS_CODE, authority_for_exercise
from registry.scoping import professionals_visible_to

from . import eligibility
from .errors import (
    ConcurrentUpdate,
    InvalidOrder,
    InvalidTransition,
    NotEligible,
    NotPermitted,
    OrderNotFound,
    OrderRerouted,
    PaymentRefused,
)
from .models import Order, OrderEvent, Payment
from .payments import Checkout, Confirmation, PaymentProvider, configured_provider, tariff_on
from .permissions import CREATE_ROLES, role_may
from .scoping import orders_visible_to

User = Any  # a django.contrib.auth user with an ``account``
SYSTEM_USERNAME = "cpx-system"
STRUCTURE_CARDS = (CardType.CPE, CardType.CPA, CardType.CDE)
PRODUCTION_TASK = "stations.schedule_production"  # stations.tasks: hands a queued order to a station


def system_user() -> User:
    """The platform's own actor (stations, periodic tasks, payment provider call-backs).

    One query once it exists (it is looked up by every station and call-back); created on first use."""
    users = get_user_model().objects.select_related("account")
    user = users.filter(username=SYSTEM_USERNAME, account__isnull=False).first()
    if user is not None:
        return user
    user, _created = get_user_model().objects.get_or_create(username=SYSTEM_USERNAME)
    Account.objects.get_or_create(user=user, defaults={"role": Account.Role.SYSTEM})
    return users.get(pk=user.pk)


# --- the one path of every transition ------------------------------------------------------------------

# The columns a transition may change (``Order`` transitions touch only these): the UPDATE writes no more.
TRANSITION_FIELDS = ["state", "fee", "failure_count", "produced_card", "state_changed_at", "updated_at"]


def _pk(order: Order | int) -> int:
    return order if isinstance(order, int) else int(order.pk)


def _lock(order: Order | int, actor: User) -> Order:
    """The order, re-read and locked for this transaction, if the actor may see it."""
    try:
        # What eligibility, the authority check and the holder's notifications read comes along, in the
        # same query; only the order's row is locked.
        related = ("professional", "exercise__profession", "authority", "replaces")
        visible = orders_visible_to(actor).select_related(*related)
        return visible.select_for_update(of=("self",)).get(pk=_pk(order))
    except Order.DoesNotExist:
        raise OrderNotFound() from None


def _fire(order: Order, actor: User, name: str, *, reason: str = "", **kwargs: Any) -> Order:
    """Run transition ``name`` on a locked order and record it. Call inside ``transaction.atomic``."""
    return _fire_steps(order, actor, [(name, reason, kwargs)])


Step = tuple[str, str, dict[str, Any]]  # transition name, reason, its arguments


def _fire_steps(order: Order, actor: User, steps: list[Step]) -> Order:
    """Run transitions one after the other on a locked order (each checked: role, then the machine), then
    write the order once and their events in one INSERT. Call inside ``transaction.atomic``."""
    role = role_of(actor)
    events = []
    for name, reason, kwargs in steps:
        if not role_may(role, name, order):
            raise NotPermitted()
        method = getattr(order, name)
        if not can_proceed(method):
            raise InvalidTransition(transition=name, state=order.state, allowed=order.allowed_transitions())
        from_state = order.state
        method(**kwargs)
        events.append(_event(order, actor, name, from_state, reason))
    try:
        order.save(update_fields=TRANSITION_FIELDS)
    except ConcurrentTransition:
        raise ConcurrentUpdate() from None
    OrderEvent.objects.bulk_create(events)
    if order.state == Order.State.QUEUED:
        transaction.on_commit(lambda: _schedule_production(order.pk), robust=True)
    return order


def _event(order: Order, actor: User, name: str, from_state: str, reason: str = "") -> OrderEvent:
    return OrderEvent(
        order=order,
        actor=actor,
        actor_role=role_of(actor) or "",
        transition=name,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
    )


def _record(order: Order, actor: User, name: str, from_state: str, reason: str = "") -> OrderEvent:
    event = _event(order, actor, name, from_state, reason)
    event.save()
    return event


def _schedule_production(order_id: int) -> None:
    # Stations sit above orders: they are told by a task sent by name, never called.
    send_task(PRODUCTION_TASK, order_id)


def _ensure_eligible(order: Order) -> None:
    reasons = eligibility.check(order)
    if reasons:
        raise NotEligible(reasons)


# --- creation ------------------------------------------------------------------------------------------


def order_create(
    *,
    actor: User,
    professional: Professional,
    card_type: str,
    kind: str,
    exercise: Exercise | None = None,
    structure: Structure | None = None,
    replacement_reason: str = "",
    replaces: Any = None,
) -> Order:
    """A draft order. Checks it is consistent with the registry; eligibility comes at submission."""
    _check_creator(actor, professional, card_type, structure)
    _check_consistent(professional, card_type, kind, exercise, structure, replacement_reason, replaces)
    order = Order(
        professional=professional,
        exercise=exercise,
        structure=structure if card_type in STRUCTURE_CARDS else None,
        card_type=card_type,
        kind=kind,
        replacement_reason=replacement_reason if kind == Order.Kind.REPLACEMENT else "",
        replaces=replaces,
        authority=authority_for_exercise(exercise, professional),
        created_by=actor,
    )
    if order.replaces is None and kind in (Order.Kind.RENEWAL, Order.Kind.UPDATE):
        order.replaces = eligibility.live_cards(order).order_by("-valid_until").first()
    with transaction.atomic():
        order.save()
        _record(order, actor, "create", "")
    return order


def _check_creator(
    actor: User, professional: Professional, card_type: str, structure: Structure | None
) -> None:
    role = role_of(actor)
    if role not in CREATE_ROLES:
        raise NotPermitted(_("Your role may not order cards."))
    if not professionals_visible_to(actor).filter(pk=professional.pk).exists():
        raise InvalidOrder(str(_("Unknown person.")), field="professional")
    own_structure = structure is not None and structure.pk == actor.account.structure_id
    if role == Account.Role.STRUCTURE_MANAGER and (card_type not in STRUCTURE_CARDS or not own_structure):
        raise NotPermitted(_("A structure manager orders CPE, CPA and CDE for their own structure."))


def _check_consistent(
    professional: Professional,
    card_type: str,
    kind: str,
    exercise: Exercise | None,
    structure: Structure | None,
    replacement_reason: str,
    replaces: Any,
) -> None:
    if exercise is not None and exercise.professional_id != professional.pk:
        raise InvalidOrder(str(_("This exercise is not the person's.")), field="exercise")
    if card_type in STRUCTURE_CARDS and structure is None:
        raise InvalidOrder(str(_("A structure card needs its structure.")), field="structure")
    if card_type not in STRUCTURE_CARDS and exercise is None:
        raise InvalidOrder(str(_("A CPS or CPF is ordered for a professional exercise.")), field="exercise")
    if kind == Order.Kind.REPLACEMENT:
        if replacement_reason not in Order.ReplacementReason.values:
            raise InvalidOrder(str(_("Say why the card is replaced.")), field="replacement_reason")
        if replaces is None:
            raise InvalidOrder(str(_("Say which card is replaced.")), field="replaces")
    elif replacement_reason:
        raise InvalidOrder(str(_("Only a replacement has a reason.")), field="replacement_reason")
    if replaces is not None and replaces.professional_id != professional.pk:
        raise InvalidOrder(str(_("The replaced card is not the holder's card.")), field="replaces")


# --- review --------------------------------------------------------------------------------------------


def order_submit(*, order: Order | int, actor: User) -> Order:
    with transaction.atomic():
        order = _lock(order, actor)
        _ensure_eligible(order)
        order = _fire(order, actor, "submit", fee=_fee_for(order, timezone.localdate()))
        _tell_received(order)
        return order


def _fee_for(order: Order, day: datetime.date) -> Decimal | None:
    if not order.is_paid_kind:
        return None
    tariff = tariff_on(day)
    if tariff is None:
        raise PaymentRefused(_("No tariff is in force on %(day)s.") % {"day": day.isoformat()})
    return tariff.amount


class _AuthorityMoved(Exception):
    """The registry now sends this submitted order to another authority (raised inside the approval's
    transaction, before anything is written, so that the re-routing is committed on its own)."""


def order_approve(*, order: Order | int, actor: User, reason: str = "") -> Order:
    """Approve after re-checking eligibility; a free order goes on to production, a paid one to payment.

    The reviewing authority is derived again first: if the registry moved the holder (ADELI→RPPS), the
    order moves to the new authority's queue and this actor, if no longer in charge, is told so. The common
    case costs nothing: the check reads the locked row and what came with it."""
    pk = _pk(order)
    try:
        return _approve(pk, actor, reason)
    except (OrderNotFound, _AuthorityMoved):
        # Not visible (perhaps not yet moved to this actor's queue) or moved: follow the registry, retry once.
        moved = _follow_registry(pk)
        if not moved:
            raise OrderNotFound() from None
    try:
        return _approve(pk, actor, reason)
    except (OrderNotFound, _AuthorityMoved):
        raise OrderRerouted() from None


def _approve(pk: int, actor: User, reason: str) -> Order:
    with transaction.atomic():
        order = _lock(pk, actor)
        if order.state == Order.State.SUBMITTED and not _authority_current(order):
            raise _AuthorityMoved()
        _ensure_eligible(order)
        then = "request_payment" if order.fee is not None else "queue"
        order = _fire_steps(order, actor, [("approve", reason, {}), (then, "", {})])
        if order.state == Order.State.AWAITING_PAYMENT:
            _tell_holder(order, Event.AWAITING_PAYMENT, amount=str(order.fee), payment_url=_order_url(order))
        else:
            _tell_holder(order, Event.ORDER_APPROVED, authority=order.authority.name)
        return order


def _authority_current(order: Order) -> bool:
    """Whether the order's authority is still the one ``registry.routing`` derives, without a query: an
    RPPS holder of an Ordre's profession goes to that Ordre, everyone else to ANS."""
    profession = order.exercise.profession if order.exercise else None
    if profession is not None and profession.authority_id and order.professional.rpps:
        return profession.authority_id == order.authority_id
    return order.authority.code == ANS_CODE


def _follow_registry(order_id: int) -> bool:
    """Re-derive a submitted order's authority from the registry and move it if needed; True if it moved.

    Committed on its own: the order changes queue even when the approval that noticed it is refused."""
    with transaction.atomic():
        related = ("professional", "exercise__profession__authority", "authority")
        order = Order.objects.select_related(*related).select_for_update(of=("self",)).filter(pk=order_id)
        locked = order.first()
        if locked is None or locked.state != Order.State.SUBMITTED:
            return False
        authority = authority_for_exercise(locked.exercise, locked.professional)
        if authority.pk == locked.authority_id:
            return False
        before = locked.authority.code
        locked.authority = authority
        locked.save(update_fields=["authority", "updated_at"])
        _record(locked, system_user(), "reroute", locked.state, f"{before} → {authority.code}")
    return True


def order_reject(*, order: Order | int, actor: User, reason: str) -> Order:
    if not reason or not reason.strip():
        raise InvalidOrder(str(_("A rejection needs a reason.")), field="reason")
    with transaction.atomic():
        order = _fire(_lock(order, actor), actor, "reject", reason=reason.strip())
        _tell_holder(order, Event.ORDER_REJECTED, authority=order.authority.name, reason=reason.strip())
        return order


def order_cancel(*, order: Order | int, actor: User, reason: str = "") -> Order:
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "cancel", reason=reason)


def order_queue(*, order: Order | int, actor: User) -> Order:
    """Queue an approved free order or a paid one (normally done by approval or payment themselves)."""
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "queue")


# --- telling the holder (the outbox: rows written in the transaction of the transition) ----------------


def _tell_holder(order: Order, event: str, **context: str) -> None:
    """One message to the order's holder about ``event``, once per order (the key makes a retry harmless)."""
    notify(
        recipient=order.professional,
        event=event,
        context={"order_reference": str(order.pk), "card_type": order.card_type, **context},
        dedup_key=f"order:{order.pk}:{event}",
    )


def _tell_received(order: Order) -> None:
    """The receipt of a submitted order. A replacement's receipt is the ``replacement_ordered`` message,
    under the key an opposition uses for it (``lifecycle.services``): a declaration that orders the
    replacement writes the same rows, so the holder is told once whoever submitted it."""
    if order.kind != Order.Kind.REPLACEMENT or order.replaces is None:
        _tell_holder(order, Event.ORDER_RECEIVED)
        return
    notify(
        recipient=order.professional,
        event=Event.REPLACEMENT_ORDERED,
        context={
            "card_number": order.replaces.display_number,
            "order_reference": str(order.pk),
            "amount": str(order.fee if order.fee is not None else "0.00"),
            "free": order.fee is None,
        },
        dedup_key=f"replacement_ordered:{order.pk}",
    )


def _order_url(order: Order) -> str:
    """Where the holder follows (and pays) the order: the portal's order page when the portal is served."""
    base = settings.CPX_BASE_URL.rstrip("/")
    try:
        return f"{base}{reverse('portal:order', args=[order.pk])}"
    except NoReverseMatch:
        return f"{base}/"


# --- payment -------------------------------------------------------------------------------------------


def payment_record(
    *,
    order: Order | int,
    actor: User,
    amount: Decimal,
    method: str,
    reference: str,
    at: datetime.datetime | None = None,
) -> Payment:
    """Record the payment of an order's fee, which sends the order on to production."""
    with transaction.atomic():
        order = _lock(order, actor)
        if not role_may(role_of(actor), "record_payment", order):
            raise NotPermitted()
        if order.state == Order.State.AWAITING_PAYMENT and Decimal(amount) != order.fee:
            message = _("The amount due is %(fee)s EUR.") % {"fee": order.fee}
            raise PaymentRefused(message)
        steps: list[Step] = [("record_payment", f"{method} {reference}", {}), ("queue", "", {})]
        order = _fire_steps(order, actor, steps)
        assert order.fee is not None  # record_payment comes only from awaiting_payment
        payment = Payment.objects.create(
            order=order,
            amount=order.fee,
            method=method,
            reference=reference,
            recorded_by=actor,
            at=at or timezone.now(),
        )
        return payment


PAYER_ROLES = frozenset({Account.Role.HOLDER, Account.Role.STRUCTURE_MANAGER})


def payment_start_online(
    *, order: Order | int, actor: User, return_url: str, provider: PaymentProvider | None = None
) -> Checkout:
    """Open a checkout at the payment provider for an order awaiting payment (the holder, or the
    structure manager for their staff, pays; operators record transfers and cheques)."""
    provider = provider or configured_provider()
    if provider is None:
        raise PaymentRefused(_("Online payment is not available; pay by transfer or cheque."))
    order = _lock_read(order, actor)
    if role_of(actor) not in PAYER_ROLES:
        raise NotPermitted(_("Online payment is made by the holder or their structure's manager."))
    if order.state != Order.State.AWAITING_PAYMENT:
        allowed = order.allowed_transitions()
        raise InvalidTransition(transition="record_payment", state=order.state, allowed=allowed)
    assert order.fee is not None
    return provider.start(order_id=order.pk, amount=order.fee, currency="EUR", return_url=return_url)


def payment_confirm_online(
    *, order: Order | int, reference: str, provider: PaymentProvider | None = None
) -> Payment:
    """Ask the provider whether checkout ``reference`` was paid and record it, as the platform.

    Idempotent on the provider's reference: a second call (the holder's return and the provider's call-back,
    or a retry) returns the payment already recorded, even when both race; a reference already recorded for
    another order is refused, so one checkout never pays two orders."""
    provider = provider or configured_provider()
    if provider is None:
        raise PaymentRefused(_("Online payment is not available."))
    pk = _pk(order)
    existing = _online_payment(reference)
    if existing is not None:
        return _same_order(existing, pk)
    confirmation = provider.confirm(reference=reference)
    _check_confirmation(confirmation, pk)
    try:
        return payment_record(
            order=pk,
            actor=system_user(),
            amount=confirmation.amount,
            method=Payment.Method.CARD_ONLINE,
            reference=reference,
        )
    except InvalidTransition:
        raced = _online_payment(reference)  # a concurrent confirmation of the same checkout won
        if raced is None:
            raise
        return _same_order(raced, pk)


def _online_payment(reference: str) -> Payment | None:
    return Payment.objects.filter(method=Payment.Method.CARD_ONLINE, reference=reference).first()


def _same_order(payment: Payment, order_id: int) -> Payment:
    if payment.order_id != order_id:
        raise PaymentRefused(_("This payment reference belongs to another order."))
    return payment


def _check_confirmation(confirmation: Confirmation, order_id: int) -> None:
    if not confirmation.paid:
        raise PaymentRefused(_("The payment provider has not received the payment."))
    if confirmation.order_id is not None and confirmation.order_id != order_id:
        raise PaymentRefused(_("This payment reference belongs to another order."))
    if confirmation.currency != "EUR":
        raise PaymentRefused(_("The payment was not made in euros."))


def _lock_read(order: Order | int, actor: User) -> Order:
    pk = _pk(order)
    found = orders_visible_to(actor).filter(pk=pk).first()
    if found is None:
        raise OrderNotFound()
    return found


# --- production (reader stations) ----------------------------------------------------------------------


def order_start_production(*, order: Order | int, actor: User | None = None) -> Order:
    actor = actor or system_user()
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "start_production")


def order_mark_produced(*, order: Order | int, card: Any, actor: User | None = None) -> Order:
    """The station wrote ``card`` (an ``issuance.Card``) for this order."""
    actor = actor or system_user()
    with transaction.atomic():
        order = _lock(order, actor)
        if card.professional_id != order.professional_id or card.card_type != order.card_type:
            raise InvalidOrder(str(_("This card was not made for this order's holder.")), field="card")
        return _fire(order, actor, "mark_produced", reason=card.number, card=card)


def order_mark_failed(*, order: Order | int, reason: str, actor: User | None = None) -> Order:
    """A personalization failed. The platform requeues the order (a new blank is used) until it has
    failed ``CPX_MAX_PRODUCTION_FAILURES`` times; then it waits in ``failed`` for an operator."""
    actor = actor or system_user()
    with transaction.atomic():
        order = _fire(_lock(order, actor), actor, "mark_failed", reason=reason)
        if role_may(role_of(actor), "requeue", order):
            note = f"automatic requeue after failure {order.failure_count}"
            order = _fire(order, actor, "requeue", reason=note)
        return order


def order_requeue(*, order: Order | int, actor: User, reason: str = "") -> Order:
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "requeue", reason=reason)


def order_mark_shipped(*, order: Order | int, actor: User | None = None, reason: str = "") -> Order:
    actor = actor or system_user()
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "ship", reason=reason)


def order_mark_delivered(*, order: Order | int, actor: User) -> Order:
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, "deliver")


# --- queries -------------------------------------------------------------------------------------------


def orders_overdue(*, orders: QuerySet[Order] | None = None, now: datetime.datetime | None = None):
    """Orders that have waited longer than ``CPX_ORDER_OVERDUE_DAYS`` in their current, non-final state."""
    limit = (now or timezone.now()) - datetime.timedelta(days=settings.CPX_ORDER_OVERDUE_DAYS)
    orders = Order.objects.all() if orders is None else orders
    return orders.exclude(state__in=Order.FINAL_STATES).filter(state_changed_at__lt=limit)
