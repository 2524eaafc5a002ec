"""Use cases of the order workflow: the only way an order is created or changes state.

Every transition service follows the same path: inside one transaction it loads the order through the
actor's scope and locks the row (``_lock``: an order outside the scope is "not found"), then fires the
transitions through ``core.transitions.fire`` (``_fire``), which checks the actor's right (the
``permission`` declared on the machine, ``orders.permissions``) and the state, runs them, saves once (the
optimistic check of ``ConcurrentTransitionMixin`` backs up the row lock) and writes the ``OrderEvent`` rows;
side effects are scheduled with ``transaction.on_commit``, so they never run for a rolled-back change.
The payment use cases (``orders.payment_services``) take the same path.

Actors are Django users with a ``registry.models.Account``. Stations and periodic tasks act as the
platform's ``system`` account (``system_user()``); the production services default to it.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ConcurrentUpdate
from core.roles import Role, role_of
from core.tasks import send_task
from core.transitions import EventFactory, Step, allowed, check, fire, lock, may_fire
from notifications.events import Event
from notifications.services import notify
from notifications.webhooks import card_payload, webhooks_emit
from registry.models import Account, CardType, Exercise, Professional, Structure
from registry.routing import ANS_CODE, authority_for_exercise
from registry.scoping import professionals_visible_to

from . import eligibility
from .errors import (
    InvalidOrder,
    NotEligible,
    NotPermitted,
    OpenOrderExists,
    OrderChanged,
    OrderNotFound,
    OrderRerouted,
    PaymentRefused,
    StructureNotFound,
)
from .models import SLOT_CONSTRAINTS, Order, OrderEvent
from .payments import tariff_on
from .permissions import CREATE_ROLES
from .scoping import orders_visible_to, structures_orderable_by

User = Any  # a django.contrib.auth user with an ``account``
T = TypeVar("T")
P = ParamSpec("P")
SYSTEM_USERNAME = "cpx-system"
STRUCTURE_CARDS = (CardType.CPE, CardType.CPA, CardType.CDE)
PRODUCTION_TASK = "stations.schedule_production"  # stations.tasks: hands a queued order to a station
# The shortest reason a rejection may give: the holder reads it in the notice of rejection.
REJECTION_REASON_MIN_LENGTH = 5


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
    # What eligibility, the authority check and the holder's notifications read comes along, in the same
    # query; only the order's row is locked.
    related = ("professional", "exercise__profession", "authority", "replaces")
    try:
        return lock(orders_visible_to(actor).select_related(*related), _pk(order))
    except Order.DoesNotExist:
        raise OrderNotFound() from None


def _fire(order: Order, actor: User, steps: Sequence[Step | str]) -> Order:
    """Fire ``steps`` on a locked order as ``actor`` (``core.transitions.fire``: each checked, the order
    written once, one event row each). Call inside ``transaction.atomic``."""
    fire(
        order, steps, actor=actor, event=_events_by(actor), fields=TRANSITION_FIELDS, concurrent=OrderChanged
    )
    if order.state == Order.State.QUEUED:
        transaction.on_commit(lambda: _schedule_production(order.pk), robust=True)
    return order


def _events_by(actor: User) -> EventFactory:
    """The ``OrderEvent`` of each transition ``actor`` fires."""
    return functools.partial(_event, actor)


def _event(actor: User, order: Order, name: str, from_state: str, reason: str = "") -> OrderEvent:
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
    """The event of what is not a transition (the creation, a re-routing)."""
    event = _event(actor, order, name, from_state, reason)
    event.save()
    return event


def tells_current_state(service: Callable[P, T]) -> Callable[P, T]:
    """Decorate a use case on ``order=``: a conflict it raises (``OrderChanged``, ``OrderRerouted``) says
    the order's state and the transitions it allows as they are now, read after the transaction that
    failed, so the caller can decide again."""

    @functools.wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return service(*args, **kwargs)
        except ConcurrentUpdate as error:
            current = Order.objects.filter(pk=_pk(kwargs["order"])).first()  # type: ignore[arg-type]
            if current is not None and "state" not in error.extra:
                error.extra.update(state=current.state, allowed_transitions=allowed(current))
            raise

    return wrapped


def _schedule_production(order_id: int) -> None:
    # Stations sit above orders: they are told by a task sent by name, never called.
    send_task(PRODUCTION_TASK, order_id)


def _ensure_eligible(order: Order) -> None:
    """Raise unless the order meets every rule; a duplicate of an order under way is a conflict (409)."""
    reasons = eligibility.check(order)
    if any(reason.code == "open_order_exists" for reason in reasons):
        raise OpenOrderExists(reasons)
    if reasons:
        raise NotEligible(reasons)


def _take_slot(order: Order, actor: User, steps: Sequence[Step | str]) -> Order:
    """``_fire`` steps that make the order hold its slot (``Order`` constraints ``SLOT_CONSTRAINTS``).

    The eligibility check before reads committed rows only: of two submissions racing for one slot, the
    second's UPDATE waits for the first and is refused by the unique index; that refusal is the same
    conflict the rule reports (``OpenOrderExists``), and only this savepoint rolls back."""
    try:
        with transaction.atomic():
            return _fire(order, actor, steps)
    except IntegrityError as error:
        if _constraint_of(error) in SLOT_CONSTRAINTS:
            raise OpenOrderExists.raced() from None
        raise


def _constraint_of(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def order_check(*, order: Order, transition: str, actor: User) -> None:
    """Raise unless ``actor`` may fire ``transition`` on ``order`` now: ``NotPermitted`` (403) for a role
    that may never fire it, then ``InvalidTransition`` (409) for the wrong state. What an entry point asks
    before it reads the request's body, so a caller who may not act learns nothing from a 400 or a 422; the
    service checks again on the locked row."""
    check(order, transition, actor)


# --- creation ------------------------------------------------------------------------------------------


def order_place(
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
    """Create and submit an order at once (the portal's order form, the API's ``submit: true``, an
    opposition's replacement, a renewal): one transaction, so an order refused at submission leaves no
    draft behind."""
    with transaction.atomic():
        order = order_create(
            actor=actor,
            professional=professional,
            card_type=card_type,
            kind=kind,
            exercise=exercise,
            structure=structure,
            replacement_reason=replacement_reason,
            replaces=replaces,
        )
        return order_submit(order=order, actor=actor)


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
    if role_of(actor) == Role.AUTHORITY_OPERATOR and order.authority_id != actor.account.authority_id:
        raise NotPermitted(_("An Ordre's operator orders only cards its own Ordre reviews."))
    if order.replaces is None and kind in (Order.Kind.RENEWAL, Order.Kind.UPDATE):
        order.replaces = eligibility.live_cards(order).order_by("-valid_until").first()
    with transaction.atomic():
        order.save()
        _record(order, actor, "create", "")
    return order


def order_may_create(*, actor: User) -> None:
    """Raise ``NotPermitted`` unless ``actor``'s role may order cards at all (asked before any input)."""
    if role_of(actor) not in CREATE_ROLES:
        raise NotPermitted(_("Your role may not order cards."))


def _check_creator(
    actor: User, professional: Professional, card_type: str, structure: Structure | None
) -> None:
    order_may_create(actor=actor)
    role = role_of(actor)
    if not professionals_visible_to(actor).filter(pk=professional.pk).exists():
        raise InvalidOrder(_("Unknown person."), field="professional")
    if structure is not None and not structures_orderable_by(actor).filter(pk=structure.pk).exists():
        raise StructureNotFound()
    own_structure = structure is not None and structure.pk == actor.account.structure_id
    if role == Role.STRUCTURE_MANAGER and (card_type not in STRUCTURE_CARDS or not own_structure):
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
        raise InvalidOrder(_("This exercise is not the person's."), field="exercise")
    if card_type in STRUCTURE_CARDS and structure is None:
        raise InvalidOrder(_("A structure card needs its structure."), field="structure")
    if card_type not in STRUCTURE_CARDS and exercise is None:
        raise InvalidOrder(_("A CPS or CPF is ordered for a professional exercise."), field="exercise")
    if kind == Order.Kind.REPLACEMENT:
        if replacement_reason not in Order.ReplacementReason.values:
            raise InvalidOrder(_("Say why the card is replaced."), field="replacement_reason")
        if replaces is None:
            raise InvalidOrder(_("Say which card is replaced."), field="replaces")
    elif replacement_reason:
        raise InvalidOrder(_("Only a replacement has a reason."), field="replacement_reason")
    if replaces is not None and replaces.professional_id != professional.pk:
        raise InvalidOrder(_("The replaced card is not the holder's card."), field="replaces")


# --- review --------------------------------------------------------------------------------------------


@tells_current_state
def order_submit(*, order: Order | int, actor: User) -> Order:
    with transaction.atomic():
        order = _lock(order, actor)
        check(order, "submit", actor)  # who and when first: a delivered order is a conflict, not ineligible
        _ensure_eligible(order)
        fee = _fee_for(order, timezone.localdate())
        order = _take_slot(order, actor, [Step("submit", kwargs={"fee": fee})])
        _tell_received(order)
        return order


def _fee_for(order: Order, day: datetime.date) -> Decimal | None:
    """The fee due for ``order`` submitted on ``day``; None when it is free."""
    if not order.is_paid_kind:
        return None
    tariff = tariff_on(day)
    if tariff is None:
        raise PaymentRefused(_("No tariff is in force on %(day)s.") % {"day": day.isoformat()})
    return tariff.amount


class _AuthorityMoved(Exception):
    """The registry now sends this submitted order to another authority (raised inside the approval's
    transaction, before anything is written, so that the re-routing is committed on its own)."""


@tells_current_state
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
        check(order, "approve", actor)  # who and when before the registry and the rules are read
        if not _authority_current(order):
            raise _AuthorityMoved()
        _ensure_eligible(order)
        then = "request_payment" if order.fee is not None else "queue"
        order = _fire(order, actor, [Step("approve", reason), then])
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


@tells_current_state
def order_reject(*, order: Order | int, actor: User, reason: str) -> Order:
    """Reject, with the reason the holder reads in the notice (``rejection_reason``)."""
    with transaction.atomic():
        order = _lock(order, actor)
        check(order, "reject", actor)  # who and when first: a stranger's refusal says nothing of the reason
        reason = rejection_reason(reason)
        order = _fire(order, actor, [Step("reject", reason)])
        _tell_holder(order, Event.ORDER_REJECTED, authority=order.authority.name, reason=reason)
        return order


def rejection_reason(reason: str) -> str:
    """The reason of a rejection, trimmed: at least ``REJECTION_REASON_MIN_LENGTH`` characters."""
    reason = (reason or "").strip()
    if len(reason) < REJECTION_REASON_MIN_LENGTH:
        message = _("A rejection needs a reason of at least %(count)d characters.")
        raise InvalidOrder(message % {"count": REJECTION_REASON_MIN_LENGTH}, field="reason")
    return reason


@tells_current_state
def order_cancel(*, order: Order | int, actor: User, reason: str = "") -> Order:
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, [Step("cancel", reason)])


@tells_current_state
def order_queue(*, order: Order | int, actor: User) -> Order:
    """Queue an approved free order or a paid one (normally done by approval or payment themselves)."""
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, ["queue"])


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
    """The receipt of a submitted order. A replacement's receipt is the ``replacement_ordered`` message:
    the one notice of a replacement order, whoever placed it (the holder, a manager, an opposition's
    replacement placed by the platform); its key makes a retried submission harmless."""
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


# --- production (reader stations, through stations.personalization) -----------------------------------


@tells_current_state
def order_start_production(*, order: Order | int, actor: User | None = None) -> Order:
    actor = actor or system_user()
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, ["start_production"])


@tells_current_state
def order_mark_produced(*, order: Order | int, card: Any, actor: User | None = None) -> Order:
    """The station wrote ``card`` (a ``cards.models.Card``) for this order: the order ends here, and the
    card takes over (``produced_card``)."""
    actor = actor or system_user()
    with transaction.atomic():
        order = _lock(order, actor)
        if card.professional_id != order.professional_id or card.card_type != order.card_type:
            raise InvalidOrder(_("This card was not made for this order's holder."), field="card")
        order = _fire(order, actor, [Step("mark_produced", card.number, {"card": card})])
        if order.kind == Order.Kind.UPDATE:
            _tell_card_updated(order, card)
        return order


def _tell_card_updated(order: Order, card: Any) -> None:
    """A card made after a change of situation: subscribed relying parties are told what it now carries
    (notifications.webhooks), in the production's transaction."""
    replaced = order.replaces.number if order.replaces is not None else None
    payload = card_payload(card, replaces=replaced, written=card.written, order_id=order.pk)
    webhooks_emit(event="card.updated", card_key=card.number, payload=payload)


@tells_current_state
def order_mark_failed(*, order: Order | int, reason: str, actor: User | None = None) -> Order:
    """A personalization failed. The platform requeues the order (a new blank is used) until it has
    failed ``CPX_MAX_PRODUCTION_FAILURES`` times (the permission of ``requeue``); then it waits in
    ``failed`` for an operator."""
    actor = actor or system_user()
    with transaction.atomic():
        order = _fire(_lock(order, actor), actor, [Step("mark_failed", reason)])
        if may_fire(order, "requeue", actor):
            note = _("Sent back to production automatically after failure %(count)d") % {
                "count": order.failure_count
            }
            order = _fire(order, actor, [Step("requeue", note)])
        return order


@tells_current_state
def order_requeue(*, order: Order | int, actor: User, reason: str = "") -> Order:
    with transaction.atomic():
        return _fire(_lock(order, actor), actor, [Step("requeue", reason)])


# --- queries -------------------------------------------------------------------------------------------


def orders_overdue(*, orders: QuerySet[Order] | None = None, now: datetime.datetime | None = None):
    """Orders that have waited longer than ``CPX_ORDER_OVERDUE_DAYS`` in their current, non-final state."""
    limit = (now or timezone.now()) - datetime.timedelta(days=settings.CPX_ORDER_OVERDUE_DAYS)
    orders = Order.objects.all() if orders is None else orders
    return orders.exclude(state__in=Order.FINAL_STATES).filter(state_changed_at__lt=limit)
