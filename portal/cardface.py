"""What is printed on the plastic (DOMAIN §5), as the values the card-face template draws."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from cards.models import Card
from registry.models import CardType

# Band and background colours per card type: a holder recognises their card at a glance.
COLOURS: dict[str, tuple[str, str, str]] = {
    CardType.CPS: ("#0b4f8a", "#e8f1fa", "#c9dcef"),
    CardType.CPF: ("#1d6b2e", "#eaf6ec", "#cde6d2"),
    CardType.CPE: ("#6b3d8a", "#f3ecf8", "#dfd0ea"),
    CardType.CPA: ("#8a4b00", "#fbf1e4", "#efd9bb"),
    CardType.CDE: ("#5b6775", "#f1f3f5", "#d7dce2"),
}
STRUCTURE_TYPES = (CardType.CPE, CardType.CPA, CardType.CDE)


def card_face(card: Card) -> dict[str, Any]:
    professional = card.professional
    band, colour_from, colour_to = COLOURS.get(card.card_type, COLOURS[CardType.CPS])
    identifier_label, identifier = printed_identifier(professional)
    structure_card = card.card_type in STRUCTURE_TYPES
    return {
        "type_code": card.card_type,
        "type_label": CardType(card.card_type).label if not structure_card else "",
        "last_name": professional.last_name.upper(),
        "first_name": professional.first_name,
        "profession": (
            CardType(card.card_type).label.lower().replace("carte de ", "Carte de ", 1)
            if structure_card
            else (card.exercise.profession.label if card.exercise_id else "")  # type: ignore[union-attr]
        ),
        "structure": card.structure.name if structure_card and card.structure_id else "",  # type: ignore[union-attr]
        "identifier_label": identifier_label,
        "identifier": identifier,
        "registration": "",  # the Ordre registration number is not in the extraction file
        "band": band,
        "colour_from": colour_from,
        "colour_to": colour_to,
        "test": settings.CPX_PKI_TEST_HIERARCHY,
    }


def printed_identifier(professional: Any) -> tuple[str, str]:
    if professional.rpps:
        return "N° RPPS", professional.rpps
    if professional.adeli:
        return "N° ADELI", professional.adeli
    return "Identifiant", professional.national_id
