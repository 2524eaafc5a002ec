"""The back-office directory found by card number too: ``registry.search`` with the cards' holders."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from registry.models import Professional
from registry.search import directory_search

from .models import Card

CARD_NUMBER = re.compile(r"^[0-9A-Za-z]{8,20}$")


def card_number_query(text: str) -> Q | None:
    """The people holding the card numbered ``text`` (as printed: spaces and ``/`` ignored), or None when
    ``text`` cannot be a card number."""
    compact = re.sub(r"[\s/]+", "", text)
    if not CARD_NUMBER.match(compact):
        return None
    # Card numbers are stored as issued (digits, upper-case letters): an exact match goes through the unique
    # index of the number, where a case-insensitive one would read every card.
    holders = Card.objects.filter(number__in={compact, compact.upper()}).values("professional_id")
    return Q(pk__in=holders)


def directory(
    *, people: QuerySet[Professional], text: str = "", sort: str = "name"
) -> QuerySet[Professional]:
    """The directory search (names, identifiers) and the card number, within ``people``."""
    return directory_search(people=people, text=text, sort=sort, also=card_number_query(text))
