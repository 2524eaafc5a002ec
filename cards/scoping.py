"""Which cards each signed-in user may see: the rule of ``registry.scoping``, for cards.

A card outside this queryset answers 404 (never 403), so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from core.roles import SEES_ALL, Role, account_of

from .errors import CardNotFound
from .models import Card


def cards_visible_to(user: Any) -> QuerySet[Card]:
    cards = Card.objects.all()
    account = account_of(user)
    if account is None:
        return cards.none()
    match account.role:
        case role if role in SEES_ALL:
            return cards
        case Role.HOLDER:
            return cards.filter(professional_id=account.professional_id)
        case Role.STRUCTURE_MANAGER:
            return cards.filter(structure_id=account.structure_id)
        case Role.AUTHORITY_OPERATOR:
            return cards.filter(
                exercise__profession__authority_id=account.authority_id, professional__rpps__isnull=False
            )
        case Role.ANS_OPERATOR:
            return cards.filter(
                Q(exercise__isnull=True)
                | Q(exercise__profession__authority__isnull=True)
                | Q(professional__rpps__isnull=True)
            )
    return cards.none()


def card_for(*, actor: Any, card_id: int) -> Card:
    """The card if ``actor`` may see it, with its holder; "not found" otherwise (its existence does not
    leak)."""
    card = cards_visible_to(actor).select_related("professional").filter(pk=card_id).first()
    if card is None:
        raise CardNotFound()
    return card
