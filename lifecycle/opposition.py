"""Opposition: a card declared lost, stolen, damaged, defective or never received is blocked at once and
its replacement ordered, in one transaction.

The card changes state through its card service (``cards.services``), which revokes its certificates and
publishes a fresh CRL in the same transaction; the replacement order is placed through the orders
workflow (``orders.services.order_place``, whose submission tells the holder it is ordered); the
confirmation is written to the outbox. So a declaration either happened completely or not at all.

The reasons are the replacement reasons of the orders (``Order.ReplacementReason``): one list, since a
declaration is what a replacement order gives as its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cards import services as card_services
from cards.errors import CardNotFound, InvalidCardState
from cards.models import Card, CardEvent
from cards.scoping import cards_visible_to
from core.errors import DomainError, InvalidInput, NotPermitted
from core.roles import HOLDER_SIDE, OPERATORS, Role, role_of
from notifications.events import Event
from orders import services as order_services
from orders.models import Order
from pki.models import Certificate

from . import errors
from .models import Opposition, Shipment
from .telling import tell_holder

log = logging.getLogger(__name__)

Reason = Order.ReplacementReason
Channel = Opposition.Channel

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
TRANSITION = {Card.State.OPPOSED: "oppose", Card.State.REVOKED: "revoke"}


def declare_channels(actor: Any) -> frozenset[str]:
    """Who declares by which channel: the holder's side online, operators for the phone calls and the
    forms 501 they receive, the platform itself (scripts, imports) by any. Who may declare at all is the
    card's ``oppose``/``revoke`` permission."""
    role = role_of(actor)
    if role == Role.SYSTEM:
        return frozenset(Channel.values)
    if role in HOLDER_SIDE:
        return frozenset({Channel.ONLINE})
    if role in OPERATORS:
        return frozenset({Channel.PHONE, Channel.FORM_501})
    return frozenset()


def card_declare_opposition(*, card: Card | int, reason: str, actor: Any, channel: str) -> Opposition:
    """Block a card at once and order its replacement, in one transaction.

    The card goes to ``opposed`` (lost, stolen, not received) or ``revoked`` (damaged, defective), its
    certificates are revoked with the matching CRL reason and a new CRL is published, a replacement order is
    placed (its fee fixed for lost, stolen and damaged; free otherwise), and the holder is told. Final: a
    second declaration raises ``AlreadyOpposed`` and changes nothing.
    """
    _check_declaration(actor, card, reason, channel)
    try:
        with transaction.atomic():
            locked = card_services.card_lock(card)
            _refuse_second(locked)
            _check_declarable(locked, reason)
            return _oppose(locked, Reason(reason), channel, actor)
    except IntegrityError:
        # Two declarations raced past the check: the unique card of Opposition stopped the second.
        raise errors.AlreadyOpposed(_("This card is already in opposition.")) from None


def opposition_check(*, actor: Any, card: Card | int) -> None:
    """Whether ``actor`` may declare oppositions on this card at all, before anything they send is read: a
    card they may not see is not found; a role that declares by no channel (the auditor) is not permitted.
    Which reason and channel they may use is checked with the declaration."""
    pk = card if isinstance(card, int) else card.pk
    if not cards_visible_to(actor).filter(pk=pk).exists():
        raise CardNotFound()
    may_block = any(card_services.card_may(transition, actor) for transition in TRANSITION.values())
    if not may_block or not declare_channels(actor):
        raise NotPermitted(_("Your role may not declare an opposition."))


def _check_declaration(actor: Any, card: Card | int, reason: str, channel: str) -> None:
    opposition_check(actor=actor, card=card)
    if reason not in Reason.values:
        raise InvalidInput(_("Unknown reason %(r)r.") % {"r": reason})
    if channel not in Channel.values:
        raise InvalidInput(_("Unknown channel %(c)r.") % {"c": channel})
    if not card_services.card_may(TRANSITION[TARGET_STATE[Reason(reason)]], actor):
        raise NotPermitted(_("Your role may not declare an opposition."))
    allowed = declare_channels(actor)
    if channel not in allowed:
        raise NotPermitted(_("Your role declares by %(c)s.") % {"c": ", ".join(sorted(allowed))})


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
        raise InvalidCardState(
            _("A card in state “%(state)s” can no longer be declared.") % {"state": card.get_state_display()}
        )
    if reason != Reason.NOT_RECEIVED:
        return
    shipment = Shipment.objects.filter(card=card).select_related("batch").first()
    if card.state != Card.State.SHIPPED or shipment is None:
        raise InvalidCardState(_("Only a shipped card that was never activated can be not received."))
    allowed_from = shipment.batch.shipped_at + dt.timedelta(days=settings.CPX_NOT_RECEIVED_DAYS)
    if timezone.now() < allowed_from:
        raise errors.NotReceivedTooEarly(
            _("The card left on %(day)s; non-receipt can be declared from %(from)s.")
            % {"day": f"{shipment.batch.shipped_at:%Y-%m-%d}", "from": f"{allowed_from:%Y-%m-%d}"}
        )


def _oppose(card: Card, reason: Order.ReplacementReason, channel: str, actor: Any) -> Opposition:
    state_before = card.state
    opposed = TARGET_STATE[reason] == Card.State.OPPOSED
    block = card_services.card_oppose if opposed else card_services.card_revoke
    revoked = block(card=card, actor=actor, crl_reason=CRL_REASON[reason], reason=reason, channel=channel)
    opposition = Opposition.objects.create(
        card=card,
        reason=reason,
        channel=channel,
        declared_by=actor,
        declared_by_role=role_of(actor) or "",
        card_state_before=state_before,
        revoked_certificates=revoked,
    )
    order = _order_replacement(card, reason, actor)
    if order is not None:
        opposition.replacement_order = order
        opposition.save(update_fields=["replacement_order"])
    tell_holder(
        card,
        Event.OPPOSITION_CONFIRMED,
        key=f"opposition_confirmed:{opposition.pk}",
        reason=opposition.get_reason_display(),
        declared_at=opposition.declared_at.isoformat(),
    )
    return opposition


def _order_replacement(card: Card, reason: str, actor: Any) -> Order | None:
    """Place the replacement order (its submission tells the holder). If the orders workflow refuses it
    (an order for this card is already in progress, the holder left the registry...), the card stays
    blocked all the same: the refusal is recorded on the card and the replacement is left to the holder
    or an operator. Operators do not order cards for holders: the platform places it for them."""
    creator = actor if role_of(actor) in HOLDER_SIDE else order_services.system_user()
    try:
        with transaction.atomic():  # a savepoint: a refused order leaves nothing behind
            return order_services.order_place(
                actor=creator,
                professional=card.professional,
                card_type=card.card_type,
                kind=Order.Kind.REPLACEMENT,
                exercise=card.exercise,
                structure=card.structure,
                replacement_reason=reason,
                replaces=card,
            )
    except DomainError as exc:
        CardEvent.objects.create(
            card=card, kind="replacement_not_ordered", detail={"code": exc.code, "message": exc.message}
        )
        log.warning("card %s: replacement not ordered (%s): %s", card.pk, exc.code, exc.message)
        return None
