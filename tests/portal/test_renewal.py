"""Confirming receipt of a card, and renewing from the reminder's link."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Card
from lifecycle.models import RenewalReminder
from lifecycle.renewal import renewal_link_token
from orders.models import Order
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


@pytest.fixture
def reminder(people):
    Card.objects.filter(pk=people.card.pk).update(
        valid_until=timezone.localdate() + datetime.timedelta(days=60)
    )
    return RenewalReminder.objects.create(card=people.card, threshold=90)


def test_the_renewal_link_shows_the_card_and_orders_the_renewal_once(people, as_user, reminder):
    url = reverse("portal:renew", args=[renewal_link_token(reminder)])
    client = as_user(people.holder)
    assert "Confirmer le renouvellement" in client.get(url).content.decode()
    response = client.post(url)
    order = Order.objects.get(replaces=people.card)
    assert order.kind == Order.Kind.RENEWAL and response["Location"] == reverse(
        "portal:order", args=[order.pk]
    )
    client.post(url)
    assert Order.objects.filter(replaces=people.card).count() == 1


def test_a_forged_renewal_link_is_refused(people, as_user):
    response = as_user(people.holder).get(reverse("portal:renew", args=["forged"]))
    assert response.status_code == 410
    assert "renouvellement n&#x27;est pas valide" in response.content.decode()


def test_another_holder_cannot_use_the_renewal_link(people, as_user, reminder):
    url = reverse("portal:renew", args=[renewal_link_token(reminder)])
    assert as_user(people.other_holder).get(url).status_code == 404
