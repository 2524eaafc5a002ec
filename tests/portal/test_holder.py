"""The holder's pages: cards with their printed face, declaring a card, orders, payment, messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cards.models import Card
from core.transitions import allowed
from lifecycle.models import Opposition
from notifications.events import Event
from notifications.services import notify
from orders.models import Order
from tests.factories import CardFactory, OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def test_cards_page_shows_each_card_with_its_printed_face(people, as_user):
    response = as_user(people.holder).get(reverse("portal:cards"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Mes cartes" in html
    assert people.card.display_number in html
    assert "<svg" in html and people.holder.account.professional.rpps in html
    assert people.holder.account.professional.last_name.upper() in html
    assert f"{people.card.valid_until:%m/%Y}" in html  # expiry as printed
    assert people.other_card.display_number not in html


def test_card_page_of_another_holder_is_not_found(people, as_user):
    response = as_user(people.holder).get(reverse("portal:card", args=[people.other_card.pk]))
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


def test_declaring_without_a_reason_gives_a_french_error(people, as_user):
    response = as_user(people.holder).post(reverse("portal:card-declare", args=[people.card.pk]), {})
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    assert Card.objects.get(pk=people.card.pk).state == Card.State.ACTIVE


def test_declaring_asks_for_confirmation_before_blocking(people, as_user):
    url = reverse("portal:card-declare", args=[people.card.pk])
    response = as_user(people.holder).post(url, {"reason": "stolen"})
    html = response.content.decode()
    assert "Veuillez confirmer" in html and "Volée" in html
    assert Card.objects.get(pk=people.card.pk).state == Card.State.ACTIVE


def test_a_confirmed_declaration_blocks_the_card_and_shows_the_replacement_owed(people, as_user):
    client = as_user(people.holder)
    url = reverse("portal:card-declare", args=[people.card.pk])
    response = client.post(url, {"reason": "stolen", "confirm": "1"}, follow=True)
    html = response.content.decode()
    assert Card.objects.get(pk=people.card.pk).state == Card.State.OPPOSED
    assert Opposition.objects.get(card=people.card).reason == "stolen"
    assert "La carte est bloquée" in html
    assert "36,00\u00a0€ à payer" in html  # core.formats.format_money


def test_a_second_declaration_is_answered_clearly(people, as_user):
    client = as_user(people.holder)
    url = reverse("portal:card-declare", args=[people.card.pk])
    client.post(url, {"reason": "lost", "confirm": "1"})
    response = client.post(url, {"reason": "stolen", "confirm": "1"}, follow=True)
    assert "opposition" in response.content.decode()
    assert Opposition.objects.filter(card=people.card).count() == 1


def test_a_holder_cannot_declare_another_holders_card(people, as_user):
    url = reverse("portal:card-declare", args=[people.other_card.pk])
    response = as_user(people.holder).post(url, {"reason": "lost", "confirm": "1"})
    assert response.status_code == 404
    assert Card.objects.get(pk=people.other_card.pk).state == Card.State.ACTIVE


def test_orders_list_and_order_page_show_history_and_fee(people, as_user):
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    order.events.create(transition="create", to_state="draft")
    order.events.create(transition="submit", from_state="draft", to_state="submitted")
    client = as_user(people.holder)
    assert f"N° {order.pk}" in client.get(reverse("portal:orders")).content.decode()
    html = client.get(reverse("portal:order", args=[order.pk])).content.decode()
    assert "Historique" in html and "Brouillon" in html and "Déposée" in html
    assert 'id="payment-panel"' in html and "36,00\xa0€" in html  # the payment panel, the one amount format
    assert f"CPX-{order.pk}" in html


def test_an_order_of_another_holder_is_not_found(people, as_user):
    order = OrderFactory(exercise=people.other_card.exercise)
    assert as_user(people.holder).get(reverse("portal:order", args=[order.pk])).status_code == 404


def test_the_holder_downloads_the_invoice_of_a_paid_order(people, as_user):
    payment = PaymentFactory(order__exercise=people.card.exercise, order__state=Order.State.QUEUED)
    response = as_user(people.holder).get(reverse("portal:invoice", args=[payment.order_id]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    stranger = as_user(people.other_holder).get(reverse("portal:invoice", args=[payment.order_id]))
    assert stranger.status_code == 404


def test_online_payment_is_refused_clearly_without_a_provider(people, as_user):
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    page = reverse("portal:order", args=[order.pk])
    response = as_user(people.holder).post(
        reverse("portal:order-pay", args=[order.pk]),
        {"next": page},
        follow=True,  # as the form posts
    )
    assert response.redirect_chain == [(page, 303)]
    assert "Le paiement en ligne n&#x27;est pas disponible" in response.content.decode()


def test_messages_are_listed_and_marked_read(people, as_user):
    professional = people.holder.account.professional
    notify(
        recipient=professional,
        event=Event.CARD_EXPIRED,
        context={"card_number": people.card.display_number, "card_type": "CPS", "expired_on": "2026-01-01"},
        dedup_key="test-expired",
        channels=["in_app"],
    )
    client = as_user(people.holder)
    html = client.get(reverse("portal:messages")).content.decode()
    assert "Non lu" in html
    message = professional.notifications.get(channel="in_app")
    response = client.post(reverse("portal:message-read", args=[message.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<tr" in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None


def test_a_holder_cannot_mark_another_holders_message(people, as_user):
    notify(
        recipient=people.other_holder.account.professional,
        event=Event.CARD_EXPIRED,
        context={"card_number": "x", "card_type": "CPS", "expired_on": "2026-01-01"},
        dedup_key="test-other",
        channels=["in_app"],
    )
    message = people.other_holder.account.professional.notifications.get(channel="in_app")
    assert as_user(people.holder).post(reverse("portal:message-read", args=[message.pk])).status_code == 404


def test_holder_pages_are_closed_to_operators(people, as_user):
    assert as_user(people.cnom).get(reverse("portal:cards")).status_code == 403


@pytest.mark.parametrize(
    ("state", "cancellable"),
    [(Order.State.SUBMITTED, True), (Order.State.QUEUED, True), (Order.State.IN_PRODUCTION, False)],
)
def test_the_holder_may_cancel_while_the_machine_lets_them(people, as_user, state, cancellable):
    order = OrderFactory(exercise=people.card.exercise, state=state)
    html = as_user(people.holder).get(reverse("portal:order", args=[order.pk])).content.decode()
    assert (reverse("portal:order-cancel", args=[order.pk]) in html) is cancellable
    assert ("cancel" in allowed(order, people.holder)) is cancellable


def test_a_refused_cancellation_is_explained_on_the_order_page(people, as_user):
    order = OrderFactory(exercise=people.card.exercise, state=Order.State.IN_PRODUCTION)
    page = reverse("portal:order", args=[order.pk])
    url = reverse("portal:order-cancel", args=[order.pk])
    response = as_user(people.holder).post(url, {"next": page}, follow=True)
    assert response.redirect_chain == [(page, 303)]
    assert "n&#x27;est pas possible depuis l&#x27;état" in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == Order.State.IN_PRODUCTION


def test_a_produced_order_leads_to_its_card(people, as_user):
    card = CardFactory(exercise=people.card.exercise, state=Card.State.SHIPPED)
    order = OrderFactory(exercise=people.card.exercise, state=Order.State.PRODUCED, produced_card=card)
    html = as_user(people.holder).get(reverse("portal:order", args=[order.pk])).content.decode()
    assert reverse("portal:card", args=[card.pk]) in html and card.display_number in html
