"""Telling a holder what happened to their card: one message per occurrence (the outbox: rows written in
the transaction of the change, delivered after commit; the key makes a retry harmless)."""

from __future__ import annotations

from typing import Any

from cards.models import Card
from notifications.services import notify


def tell_holder(card: Card, event: str, *, key: str, **context: Any) -> None:
    """Message ``event`` about ``card`` to its holder, once per ``key``; the card's number and type are in
    every message's context."""
    notify(
        recipient=card.professional,
        event=event,
        context={"card_number": card.display_number, "card_type": card.card_type, **context},
        dedup_key=key,
    )
