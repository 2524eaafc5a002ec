"""Cards withdrawn from use: revoked (their holder struck off, or superseded by the card that replaces
them) and expired at the end of their validity.

The periodic runs are set-based: one indexed query finds a chunk of cards still live, each chunk in its
own transaction with its rows locked (SKIP LOCKED: a concurrent run takes other rows, and a card being
opposed right now is simply left for the next run). Each card changes state through its card service
(``cards.services``), as the platform.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cards import services as card_services
from cards.models import Card
from notifications.events import Event
from orders.services import system_user
from pki.models import Certificate

from .telling import tell_holder

# The states the card's ``expire`` transition leaves (a card never shipped is not expired: it never left).
EXPIRING_STATES = (Card.State.SHIPPED, Card.State.ACTIVE)


def card_withdraw(card: Card, *, crl_reason: str, why: str, actor: Any) -> None:
    """Revoke a locked live card and its certificates, and tell the holder why."""
    card_services.card_revoke(card=card, actor=actor, crl_reason=crl_reason, why=why)
    tell_holder(card, Event.CARD_REVOKED, key=f"card_revoked:{card.pk}", reason=why)


def cards_revoke_for_inactive_holders(*, chunk: int = 200) -> int:
    """Revoke every live card of a holder the registry marked inactive (left the registry, struck off).

    Safe to call after every import and from the periodic safety net; returns how many cards it revoked."""
    platform = system_user()
    revoked = 0
    while True:
        with transaction.atomic():
            struck_off = Card.objects.filter(state__in=Card.LIVE_STATES, professional__is_active=False)
            ids = _claim(struck_off, chunk)
            for card in _locked(ids):
                why = card.professional.deactivation_reason or _("no longer registered to practise")
                card_withdraw(card, crl_reason=Certificate.Reason.CESSATION, why=why, actor=platform)
        revoked += len(ids)
        if len(ids) < chunk:
            return revoked


def cards_expire(*, today: dt.date | None = None, chunk: int = 500) -> int:
    """Move the cards whose validity has ended to ``expired`` and tell their holders.

    Their certificates end on the same date and are not renewed (a renewal makes a new card with new
    keys), so nothing is revoked. Read through the partial index of live cards by expiry date."""
    today = today or timezone.localdate()
    platform = system_user()
    expired = 0
    while True:
        with transaction.atomic():
            ended = Card.objects.filter(state__in=EXPIRING_STATES, valid_until__lt=today)
            ids = _claim(ended, chunk)
            for card in _locked(ids):
                _card_expire(card, platform)
        expired += len(ids)
        if len(ids) < chunk:
            return expired


def _claim(cards: Any, chunk: int) -> list[int]:
    """Lock (and skip what others locked) a chunk of ``cards``, in one lock order."""
    claimed = cards.select_for_update(of=("self",), skip_locked=True).order_by("pk")
    return list(claimed.values_list("pk", flat=True)[:chunk])


def _locked(ids: list[int]) -> Any:
    """The cards this transaction just locked, with their holders."""
    return Card.objects.filter(pk__in=ids).select_related("professional").order_by("pk")


def _card_expire(card: Card, actor: Any) -> None:
    card_services.card_expire(card=card, actor=actor, valid_until=card.valid_until.isoformat())
    tell_holder(
        card,
        Event.CARD_EXPIRED,
        key=f"card_expired:{card.pk}",
        expired_on=card.valid_until.isoformat(),
    )
