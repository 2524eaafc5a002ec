"""Use cases of a card's life after personalization: shipping, activation, opposition, striking off, expiry.

Every state change goes the same way: inside one transaction, lock the card row, fire its django-fsm
transition (``issuance.Card``), save (``ConcurrentTransitionMixin`` backs up the lock), write the
``CardEvent``, revoke certificates through ``pki.services.certificate_revoke`` (which publishes a fresh
CRL in the same transaction), drive the order through ``orders.services``, and write the notifications
through ``notifications.services.notify`` (the outbox: delivered after commit). So a declaration either
happened completely or not at all.

Renewal (reminders, links, automatic renewal) is in ``lifecycle.renewal``.

Who may act on a card is ``registry.scoping.cards_visible_to`` plus the role rules below: a card the actor
may not see is "not found".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from cards import services as card_services
from cards.models import Card, CardEvent
from cards.scoping import cards_visible_to
from core.roles import role_of
from notifications.events import Event
from notifications.services import notify
from orders import services as order_services
from orders.errors import OrderError
from orders.models import Order
from pki import services as pki_services
from pki.models import Certificate
from registry.models import Account
from stations import services as station_services
from stations.tokens import TokenError

from . import errors
from .models import Opposition, Shipment, ShippingBatch

log = logging.getLogger(__name__)

User = Any  # a django.contrib.auth user with a registry Account
Reason = Opposition.Reason
Channel = Opposition.Channel
Role = Account.Role

OPERATORS = frozenset({Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR})

# DESIGN "Card": lost, stolen and not received → ``opposed`` (the card is somewhere out of the holder's
# hands: blocked, final); damaged or defective (the holder has the card, it is withdrawn and replaced) →
# ``revoked``. Both are final and both revoke the certificates; the Opposition row records the declaration
# whatever the target state.
TARGET_STATE = {
    Reason.LOST: Card.State.OPPOSED,
    Reason.STOLEN: Card.State.OPPOSED,
    Reason.NOT_RECEIVED: Card.State.OPPOSED,
    Reason.DAMAGED: Card.State.REVOKED,
    Reason.DEFECTIVE: Card.State.REVOKED,
}
# RFC 5280 reasons. A card that never arrived may be in anyone's hands (and its PIN mailer follows it by
# post): its keys are treated as compromised like a lost card's, so relying parties distrust even past
# signatures. A damaged or defective card is only superseded by its replacement.
CRL_REASON = {
    Reason.LOST: Certificate.Reason.KEY_COMPROMISE,
    Reason.STOLEN: Certificate.Reason.KEY_COMPROMISE,
    Reason.NOT_RECEIVED: Certificate.Reason.KEY_COMPROMISE,
    Reason.DAMAGED: Certificate.Reason.SUPERSEDED,
    Reason.DEFECTIVE: Certificate.Reason.SUPERSEDED,
}
# Who may declare by which channel: holders and structure managers online, operators for the phone calls
# and the forms 501 they receive; the platform itself (scripts, imports) by any.
DECLARE_CHANNELS: dict[str, set[str]] = {
    Role.HOLDER: {Channel.ONLINE},
    Role.STRUCTURE_MANAGER: {Channel.ONLINE},
    Role.AUTHORITY_OPERATOR: {Channel.PHONE, Channel.FORM_501},
    Role.ANS_OPERATOR: {Channel.PHONE, Channel.FORM_501},
    Role.SYSTEM: {Channel.ONLINE, Channel.PHONE, Channel.FORM_501},
}
ACTIVATE_ROLES = frozenset({Role.HOLDER, Role.STRUCTURE_MANAGER, Role.SYSTEM})
SHIP_ROLES = frozenset({Role.ANS_OPERATOR, Role.SYSTEM})


# --- common path -------------------------------------------------------------------------------------


def card_for(*, actor: User, card_id: int) -> Card:
    """The card if the actor may see it; "not found" otherwise (its existence does not leak)."""
    card = cards_visible_to(actor).select_related("professional").filter(pk=card_id).first()
    if card is None:
        raise errors.CardNotFound()
    return card


def _pk(card: Card | int) -> int:
    return card if isinstance(card, int) else int(card.pk)


def _lock(card: Card | int) -> Card:
    pk = _pk(card)
    # The holder, exercise and structure come along (the replacement order needs them); only the card's
    # row is locked.
    related = ("professional", "exercise", "structure")
    return Card.objects.select_for_update(of=("self",)).select_related(*related).get(pk=pk)


def _fire(card: Card, name: str, **detail: Any) -> CardEvent:
    """Run transition ``name`` on a locked card, save it and write its event. Inside a transaction."""
    method = getattr(card, name)
    if not can_proceed(method):
        raise errors.InvalidCardState(
            _("A card in state “%(state)s” cannot be %(action)s.") % {"state": card.state, "action": name}
        )
    from_state = card.state
    method()
    try:
        card.save()
    except ConcurrentTransition:
        raise errors.InvalidCardState(_("The card was changed at the same time; retry.")) from None
    return CardEvent.objects.create(card=card, kind=card.state, detail={"from": from_state, **detail})


def _actor_detail(actor: User | None) -> dict[str, Any]:
    return {"actor_id": getattr(actor, "pk", None), "actor_role": role_of(actor) or ""}


def _card_context(card: Card) -> dict[str, str]:
    return {"card_number": card.display_number, "card_type": card.card_type}


def _revoke_certificates(card: Card, reason: str) -> int:
    # issuance revokes and publishes the new CRL in our transaction: both become visible at commit.
    return pki_services.certificate_revoke(card=card, reason=reason)


# --- shipping ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentLine:
    card_id: int
    tracking_reference: str


def shipping_batch_create(
    *, actor: User, carrier: str, reference: str, lines: Sequence[ShipmentLine]
) -> ShippingBatch:
    """Record cards handed to the carrier: each card → ``shipped``, its order → ``shipped``, the holder
    told, and the PIN mailer's release set ``CPX_PIN_MAILER_DELAY_DAYS`` later (never in the same post)."""
    if role_of(actor) not in SHIP_ROLES:
        raise errors.NotPermitted(_("Only ANS operators record shipments."))
    _check_lines(carrier, reference, lines)
    release_on = timezone.localdate() + dt.timedelta(days=settings.CPX_PIN_MAILER_DELAY_DAYS)
    with transaction.atomic():
        if ShippingBatch.objects.filter(reference=reference).exists():
            raise errors.InvalidInput(_("Batch %(ref)s is already recorded.") % {"ref": reference})
        batch = ShippingBatch.objects.create(carrier=carrier, reference=reference, created_by=actor)
        for line in sorted(lines, key=lambda line: line.card_id):  # one lock order: no deadlocks
            _ship_card(batch, line, release_on)
    return batch


def _check_lines(carrier: str, reference: str, lines: Sequence[ShipmentLine]) -> None:
    if not carrier.strip() or not reference.strip():
        raise errors.InvalidInput(_("A shipment needs its carrier and batch reference."))
    if not lines:
        raise errors.InvalidInput(_("A shipment holds at least one card."))
    ids = [line.card_id for line in lines]
    if len(set(ids)) != len(ids):
        raise errors.InvalidInput(_("A card appears twice in the batch."))
    if any(not line.tracking_reference.strip() for line in lines):
        raise errors.InvalidInput(_("Every card needs its tracking reference."))


def _ship_card(batch: ShippingBatch, line: ShipmentLine, release_on: dt.date) -> None:
    # Shipping is production logistics, run by ANS for every card whoever reviewed its order: the role
    # check above is the scope (registry.scoping limits ANS operators' *review* to ADELI and structures).
    if not Card.objects.filter(pk=line.card_id).exists():
        raise errors.CardNotFound(_("No such card: %(id)s.") % {"id": line.card_id})
    card = _lock(line.card_id)
    _fire(card, "ship", batch=batch.reference, tracking=line.tracking_reference)
    Shipment.objects.create(
        batch=batch, card=card, tracking_reference=line.tracking_reference, pin_release_on=release_on
    )
    _order_follow(card, "shipped", reason=f"{batch.carrier} {line.tracking_reference}")
    notify(
        recipient=card.professional,
        event=Event.CARD_SHIPPED,
        context={**_card_context(card), "tracking_reference": line.tracking_reference},
        dedup_key=f"card_shipped:{card.pk}",
    )


def _order_follow(card: Card, step: str, reason: str = "") -> None:
    """Move the card's order along (shipped, delivered) as the platform; a card made outside an order, or
    an order already moved on, is left as it is (the card's own history is what matters here)."""
    order = Order.objects.filter(produced_card=card).first()
    if order is None:
        return
    wanted = {"shipped": Order.State.PRODUCED, "delivered": Order.State.SHIPPED}[step]
    if order.state != wanted:
        log.warning("card %s: order %s is %s, not %s; left as it is", card.pk, order.pk, order.state, wanted)
        return
    system = order_services.system_user()
    if step == "shipped":
        order_services.order_mark_shipped(order=order, actor=system, reason=reason)
    else:
        order_services.order_mark_delivered(order=order, actor=system)


def pin_mailers_release(*, today: dt.date | None = None, chunk: int = 500) -> int:
    """Release the PIN mailers whose day has come (the day after their card left): the holder is told.

    Claimed by a conditional UPDATE per chunk, so two runs never release one twice."""
    today = today or timezone.localdate()
    released = 0
    while True:
        with transaction.atomic():
            ids = list(
                Shipment.objects.select_for_update(skip_locked=True)
                .filter(pin_released_at__isnull=True, pin_release_on__lte=today)
                .order_by("pin_release_on", "pk")
                .values_list("pk", flat=True)[:chunk]
            )
            shipments = Shipment.objects.filter(pk__in=ids).select_related("card__professional")
            for shipment in shipments:
                _release_pin_mailer(shipment)
        released += len(ids)
        if len(ids) < chunk:
            return released


def _release_pin_mailer(shipment: Shipment) -> None:
    shipment.pin_released_at = timezone.now()
    shipment.save(update_fields=["pin_released_at"])
    card = shipment.card
    CardEvent.objects.create(card=card, kind="pin_mailer_sent", detail={"shipment": shipment.pk})
    notify(
        recipient=card.professional,
        event=Event.PIN_MAILER_SENT,
        context=_card_context(card),
        dedup_key=f"pin_mailer_sent:{card.pk}",
    )


# --- activation ----------------------------------------------------------------------------------------


def card_activate(*, card: Card | int, actor: User, method: str = "confirmation") -> Card:
    """The holder confirms receipt (or their first PIN check succeeded): the card becomes ``active``.

    The card's order is delivered, and the previous live card of the same slot (the card this one renews
    or replaces) is revoked as superseded, so a holder has one live card per exercise."""
    _check_activator(actor, card)
    with transaction.atomic():
        card = _lock(card)
        _fire(card, "activate", method=method, **_actor_detail(actor))
        _order_follow(card, "delivered")
        for old in _superseded_by(card):
            _card_revoke(
                old,
                reason=Certificate.Reason.SUPERSEDED,
                why=_("replaced by card %(n)s") % {"n": card.display_number},
                actor=actor,
            )
    return card


def _check_activator(actor: User, card: Card | int) -> None:
    if not cards_visible_to(actor).filter(pk=_pk(card)).exists():
        raise errors.CardNotFound()
    if role_of(actor) not in ACTIVATE_ROLES:
        raise errors.NotPermitted(_("The card is activated by its holder."))


def _superseded_by(card: Card) -> list[Card]:
    """The other live cards of the same slot (exercise, or structure and card type), older than ``card``."""
    slot = Card.objects.filter(professional_id=card.professional_id, state__in=Card.LIVE_STATES)
    if card.exercise_id:
        slot = slot.filter(exercise_id=card.exercise_id)
    else:
        slot = slot.filter(exercise__isnull=True, structure_id=card.structure_id, card_type=card.card_type)
    ids = list(slot.exclude(pk=card.pk).order_by("pk").values_list("pk", flat=True))
    return [_lock(pk) for pk in ids]


def card_activate_with_pin(*, card: Card | int, actor: User, pin: str) -> Card:
    """Activation by the first successful PIN check through the platform (issuance's three-tries counter).

    The PIN check commits on its own (a wrong PIN must count even if nothing else happens)."""
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and len(pin) == 4):
        raise errors.InvalidInput(_("A PIN is 4 digits."))
    _check_activator(actor, card)
    locked = Card.objects.get(pk=card) if isinstance(card, int) else card
    try:
        ok = station_services.card_pin_verify(card=locked, pin=pin)
    except card_services.PinBlocked:
        raise errors.PinBlocked() from None
    except TokenError as exc:
        log.warning("card %s: PIN check impossible: %s", locked.pk, exc)
        raise errors.CardUnreachable() from None
    if not ok:
        raise errors.PinRefused()
    return card_activate(card=locked, actor=actor, method="pin")


def card_pin_checked(*, card: Card | int) -> Card | None:
    """Hook for issuance's PIN check: after a successful check of a shipped card, activate it.

    Returns the activated card, or None when there was nothing to do (already active, or not shipped)."""
    with transaction.atomic():
        locked = _lock(card)
        if locked.state != Card.State.SHIPPED:
            return None
        return card_activate(card=locked, actor=order_services.system_user(), method="pin")


# --- opposition ----------------------------------------------------------------------------------------


def card_declare_opposition(*, card: Card | int, reason: str, actor: User, channel: str) -> Opposition:
    """Block a card at once and order its replacement, in one transaction.

    The card goes to ``opposed`` (lost, stolen, not received) or ``revoked`` (damaged, defective), its
    certificates are revoked with the matching CRL reason and a new CRL is published, a replacement order is
    created and submitted (its fee fixed for lost, stolen and damaged; free otherwise), and the holder is
    told. Final: a second declaration raises ``AlreadyOpposed`` and changes nothing.
    """
    _check_declaration(actor, card, reason, channel)
    try:
        with transaction.atomic():
            locked = _lock(card)
            _refuse_second(locked)
            _check_declarable(locked, reason)
            return _oppose(locked, reason, channel, actor)
    except IntegrityError:
        # Two declarations raced past the check: the unique card of Opposition stopped the second.
        raise errors.AlreadyOpposed(_("This card is already in opposition.")) from None


def _check_declaration(actor: User, card: Card | int, reason: str, channel: str) -> None:
    if reason not in Reason.values:
        raise errors.InvalidInput(_("Unknown reason %(r)r.") % {"r": reason})
    if channel not in Channel.values:
        raise errors.InvalidInput(_("Unknown channel %(c)r.") % {"c": channel})
    if not cards_visible_to(actor).filter(pk=_pk(card)).exists():
        raise errors.CardNotFound()
    allowed = DECLARE_CHANNELS.get(role_of(actor) or "", set())
    if not allowed:
        raise errors.NotPermitted(_("Your role may not declare an opposition."))
    if channel not in allowed:
        raise errors.NotPermitted(_("Your role declares by %(c)s.") % {"c": ", ".join(sorted(allowed))})


def _refuse_second(card: Card) -> None:
    previous = Opposition.objects.filter(card=card).first()
    if previous is not None:
        raise errors.AlreadyOpposed(
            _("This card was already declared %(reason)s on %(at)s; an opposition cannot be undone.")
            % {
                "reason": previous.get_reason_display(),
                "at": f"{timezone.localtime(previous.declared_at):%Y-%m-%d %H:%M}",
            }
        )
    if card.state == Card.State.OPPOSED:
        raise errors.AlreadyOpposed(_("This card is already in opposition."))


def _check_declarable(card: Card, reason: str) -> None:
    if card.state not in Card.LIVE_STATES:
        raise errors.InvalidCardState(
            _("A card in state “%(state)s” can no longer be declared.") % {"state": card.get_state_display()}
        )
    if reason != Reason.NOT_RECEIVED:
        return
    shipment = Shipment.objects.filter(card=card).select_related("batch").first()
    if card.state != Card.State.SHIPPED or shipment is None:
        raise errors.InvalidCardState(_("Only a shipped card that was never activated can be not received."))
    allowed_from = shipment.batch.shipped_at + dt.timedelta(days=settings.CPX_NOT_RECEIVED_DAYS)
    if timezone.now() < allowed_from:
        raise errors.NotReceivedTooEarly(
            _("The card left on %(day)s; non-receipt can be declared from %(from)s.")
            % {"day": f"{shipment.batch.shipped_at:%Y-%m-%d}", "from": f"{allowed_from:%Y-%m-%d}"}
        )


def _oppose(card: Card, reason: str, channel: str, actor: User) -> Opposition:
    state_before = card.state
    transition = "oppose" if TARGET_STATE[Reason(reason)] == Card.State.OPPOSED else "revoke"
    _fire(card, transition, reason=reason, channel=channel, **_actor_detail(actor))
    opposition = Opposition.objects.create(
        card=card,
        reason=reason,
        channel=channel,
        declared_by=actor,
        declared_by_role=role_of(actor) or "",
        card_state_before=state_before,
        revoked_certificates=_revoke_certificates(card, CRL_REASON[Reason(reason)]),
    )
    order = _order_replacement(card, reason, actor)
    if order is not None:
        opposition.replacement_order_id = order.pk
        opposition.save(update_fields=["replacement_order_id"])
    _tell_opposition(card, opposition, order)
    return opposition


def _order_replacement(card: Card, reason: str, actor: User) -> Order | None:
    """Create and submit the replacement order. If the orders workflow refuses it (an order for this card
    is already in progress, the holder left the registry...), the card stays blocked all the same: the
    refusal is recorded on the card and the replacement is left to the holder or an operator."""
    creator = actor if role_of(actor) in (Role.HOLDER, Role.STRUCTURE_MANAGER) else None
    creator = creator or order_services.system_user()
    try:
        with transaction.atomic():  # a savepoint: a refused order leaves nothing behind
            order = order_services.order_create(
                actor=creator,
                professional=card.professional,
                card_type=card.card_type,
                kind=Order.Kind.REPLACEMENT,
                exercise=card.exercise,
                structure=card.structure,
                replacement_reason=reason,
                replaces=card,
            )
            return order_services.order_submit(order=order, actor=creator)
    except OrderError as exc:
        CardEvent.objects.create(
            card=card, kind="replacement_not_ordered", detail={"code": exc.code, "message": exc.message}
        )
        log.warning("card %s: replacement not ordered (%s): %s", card.pk, exc.code, exc.message)
        return None


def _tell_opposition(card: Card, opposition: Opposition, order: Order | None) -> None:
    notify(
        recipient=card.professional,
        event=Event.OPPOSITION_CONFIRMED,
        context={
            **_card_context(card),
            "reason": opposition.get_reason_display(),
            "declared_at": opposition.declared_at.isoformat(),
        },
        dedup_key=f"opposition_confirmed:{opposition.pk}",
    )
    if order is None:
        return
    notify(
        recipient=card.professional,
        event=Event.REPLACEMENT_ORDERED,
        context={
            "card_number": card.display_number,
            "order_reference": str(order.pk),
            "amount": str(order.fee if order.fee is not None else "0.00"),
            "free": order.fee is None,
        },
        dedup_key=f"replacement_ordered:{order.pk}",
    )


# --- revocation (striking off, replacement) ------------------------------------------------------------


def _card_revoke(card: Card, *, reason: str, why: str, actor: User | None) -> None:
    """Revoke a locked live card and its certificates, and tell the holder why."""
    _fire(card, "revoke", crl_reason=reason, why=why, **_actor_detail(actor))
    _revoke_certificates(card, reason)
    notify(
        recipient=card.professional,
        event=Event.CARD_REVOKED,
        context={**_card_context(card), "reason": why},
        dedup_key=f"card_revoked:{card.pk}",
    )


def cards_revoke_for_inactive_holders(*, chunk: int = 200) -> int:
    """Revoke every live card of a holder the registry marked inactive (left the registry, struck off).

    Set-based: one indexed query finds the cards of inactive holders still live, a chunk at a time, each
    chunk in its own transaction with its rows locked (SKIP LOCKED: a concurrent run takes other rows, and
    a card being opposed right now is simply left for the next run). Safe to call after every import and
    from the periodic safety net; returns how many cards it revoked."""
    revoked = 0
    while True:
        with transaction.atomic():
            ids = list(
                Card.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(state__in=Card.LIVE_STATES, professional__is_active=False)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            for card in Card.objects.filter(pk__in=ids).select_related("professional").order_by("pk"):
                why = card.professional.deactivation_reason or _("no longer registered to practise")
                _card_revoke(card, reason=Certificate.Reason.CESSATION, why=why, actor=None)
        revoked += len(ids)
        if len(ids) < chunk:
            return revoked


# --- expiry --------------------------------------------------------------------------------------------


def cards_expire(*, today: dt.date | None = None, chunk: int = 500) -> int:
    """Move the cards whose validity has ended to ``expired`` and tell their holders.

    Their certificates end on the same date and are not renewed (a renewal makes a new card with new
    keys), so nothing is revoked. Read through the partial index of live cards by expiry date."""
    today = today or timezone.localdate()
    expired = 0
    while True:
        with transaction.atomic():
            ids = list(
                Card.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(state__in=(Card.State.SHIPPED, Card.State.ACTIVE), valid_until__lt=today)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            for card in Card.objects.filter(pk__in=ids).select_related("professional").order_by("pk"):
                _card_expire(card)
        expired += len(ids)
        if len(ids) < chunk:
            return expired


def _card_expire(card: Card) -> None:
    _fire(card, "expire", valid_until=card.valid_until.isoformat())
    notify(
        recipient=card.professional,
        event=Event.CARD_EXPIRED,
        context={**_card_context(card), "expired_on": card.valid_until.isoformat()},
        dedup_key=f"card_expired:{card.pk}",
    )
