"""Confirming receipt of a card (the renewal link's page: tests/lifecycle/test_hardening_renewal_links.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cards.models import Card
from registry.models import Authority
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db


def test_the_holder_confirms_a_shipped_card_where_the_authority_allows_it(people, as_user):
    """Activation proper is a proof with the card (tests/lifecycle/test_activation_proof.py); confirming
    receipt without it is offered only where the card's authority allows it."""
    card = CardFactory(exercise=people.card.exercise, state=Card.State.SHIPPED)
    client = as_user(people.holder)
    assert "Activer cette carte" in client.get(reverse("portal:card", args=[card.pk])).content.decode()
    page = reverse("portal:card-activate", args=[card.pk])
    assert "ai reçu cette carte" not in client.get(page).content.decode()
    Authority.objects.filter(code="CNOM").update(allow_receipt_confirmation=True)
    assert "ai reçu cette carte" in client.get(page).content.decode()
    client.post(page, {"action": "confirm_receipt", "next": page})
    assert Card.objects.get(pk=card.pk).state == Card.State.ACTIVE


@pytest.mark.parametrize(
    ("state", "receipt", "declare"),
    [
        (Card.State.PERSONALIZED, False, True),
        (Card.State.SHIPPED, True, True),
        (Card.State.ACTIVE, False, True),
        (Card.State.OPPOSED, False, False),
        (Card.State.EXPIRED, False, False),
    ],
)
def test_the_card_page_offers_what_the_cards_machine_allows(people, as_user, state, receipt, declare):
    card = CardFactory(exercise=people.card.exercise, state=state)
    html = as_user(people.holder).get(reverse("portal:card", args=[card.pk])).content.decode()
    assert (reverse("portal:card-activate", args=[card.pk]) in html) is receipt
    assert (reverse("portal:card-declare", args=[card.pk]) in html) is declare


def test_a_refused_activation_sends_the_holder_back_to_the_card_with_the_reason(people, as_user):
    client = as_user(people.holder)
    page = reverse("portal:card", args=[people.card.pk])  # an active card: nothing to confirm
    response = client.post(reverse("portal:card-activate", args=[people.card.pk]), {"next": page})
    assert (response.status_code, response["Location"]) == (303, page)
    assert "ne peut pas être activate" in client.get(page).content.decode()
    assert Card.objects.get(pk=people.card.pk).state == Card.State.ACTIVE


def test_another_holder_cannot_activate_the_card(people, as_user):
    card = CardFactory(exercise=people.card.exercise, state=Card.State.SHIPPED)
    assert (
        as_user(people.other_holder).post(reverse("portal:card-activate", args=[card.pk])).status_code == 404
    )
