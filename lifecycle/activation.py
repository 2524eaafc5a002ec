"""Activation: the holder confirms a shipped card arrived (or their first PIN check through the platform
succeeds), and the card it renews or replaces is withdrawn, so a holder has one live card per exercise.

The card's order was done with at ``produced``: the card's own state is what shows it was received.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from cards import services as card_services
from cards.errors import CardNotFound
from cards.models import Card
from cards.scoping import cards_visible_to
from core.errors import InvalidInput, NotPermitted
from pki.models import Certificate
from stations import services as station_services
from stations.tokens import TokenError

from . import errors
from .withdrawal import card_withdraw

log = logging.getLogger(__name__)


def card_activate(*, card: Card | int, actor: Any, method: str = "confirmation") -> Card:
    """The holder confirms receipt (or their first PIN check succeeded): the card becomes ``active``,
    and the previous live card of the same slot (the card this one renews or replaces) is revoked as
    superseded."""
    _check_activator(actor, card)
    with transaction.atomic():
        card = card_services.card_lock(card)
        card_services.card_activate(card=card, actor=actor, method=method)
        for old in _superseded_by(card):
            why = _("replaced by card %(n)s") % {"n": card.display_number}
            card_withdraw(old, crl_reason=Certificate.Reason.SUPERSEDED, why=why, actor=actor)
    return card


def _check_activator(actor: Any, card: Card | int) -> None:
    pk = card if isinstance(card, int) else card.pk
    if not cards_visible_to(actor).filter(pk=pk).exists():
        raise CardNotFound()
    if not card_services.card_may("activate", actor):
        raise NotPermitted(_("The card is activated by its holder."))


def _superseded_by(card: Card) -> list[Card]:
    """The other live cards of the same slot (exercise, or structure and card type), locked in one order."""
    slot = Card.objects.filter(professional_id=card.professional_id, state__in=Card.LIVE_STATES)
    if card.exercise_id:
        slot = slot.filter(exercise_id=card.exercise_id)
    else:
        slot = slot.filter(exercise__isnull=True, structure_id=card.structure_id, card_type=card.card_type)
    ids = list(slot.exclude(pk=card.pk).order_by("pk").values_list("pk", flat=True))
    return [card_services.card_lock(pk) for pk in ids]


def card_activate_with_pin(*, card: Card | int, actor: Any, pin: str) -> Card:
    """Activation by the first successful PIN check through the platform (the cards' three-tries counter).

    The PIN check commits on its own (a wrong PIN must count even if nothing else happens)."""
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and len(pin) == 4):
        raise InvalidInput(_("A PIN is 4 digits."))
    _check_activator(actor, card)
    found = Card.objects.get(pk=card) if isinstance(card, int) else card
    try:
        ok = station_services.card_pin_verify(card=found, pin=pin)  # PinBlocked (409) goes through
    except TokenError as exc:
        log.warning("card %s: PIN check impossible: %s", found.pk, exc)
        raise errors.CardUnreachable() from None
    if not ok:
        raise errors.PinRefused()
    return card_activate(card=found, actor=actor, method="pin")
