"""An order placed on a holder's behalf from the holder's page; comments on the back-office order page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Order, OrderComment
from registry.models import CardType
from tests.factories import ExerciseFactory, OrderFactory


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"  # the French catalogue is merged by the lead


@pytest.fixture(autouse=True)
def operators_may_order(monkeypatch):
    """Operators create and submit orders on a holder's behalf: ``orders.permissions.CREATE_ROLES`` gains
    OPERATORS (the lead's one-line change; this fixture does nothing once it is made)."""
    from core.roles import OPERATORS, role_in
    from orders import permissions, services

    if OPERATORS <= permissions.CREATE_ROLES:
        return
    roles = permissions.CREATE_ROLES | OPERATORS
    monkeypatch.setattr(services, "CREATE_ROLES", roles)
    for transition in Order._meta.get_field("state").get_all_transitions(Order):
        if transition.name == "submit":
            monkeypatch.setattr(transition, "permission", role_in(roles))


def test_an_ordre_operator_orders_a_first_card_for_a_holder(people, as_user):
    exercise = ExerciseFactory(profession_id="10")
    client = as_user(people.cnom)
    page = client.get(reverse("portal:bo-holder", args=[exercise.professional.pk])).content.decode()
    assert reverse("portal:bo-holder-order", args=[exercise.professional.pk]) in page
    data = {"exercise": exercise.pk, "card_type": CardType.CPS, "kind": Order.Kind.FIRST}
    response = client.post(reverse("portal:bo-holder-order", args=[exercise.professional.pk]), data)
    order = Order.objects.get(professional=exercise.professional)
    assert response.status_code == 302 and response["Location"] == reverse("portal:bo-order", args=[order.pk])
    assert order.created_by == people.cnom and order.state != Order.State.DRAFT
    assert order.events.first().actor == people.cnom


def test_eligibility_applies_to_an_order_on_behalf(people, as_user):
    # The holder already has a live CPS for this exercise: a second first card is not eligible.
    exercise = people.card.exercise
    data = {"exercise": exercise.pk, "card_type": CardType.CPS, "kind": Order.Kind.FIRST}
    client = as_user(people.cnom)
    url = reverse("portal:bo-holder-order", args=[exercise.professional.pk])
    response = client.post(
        url,
        data,
        headers={
            "referer": "http://testserver" + reverse("portal:bo-holder", args=[exercise.professional.pk])
        },
    )
    assert response.status_code == 303
    assert not Order.objects.filter(professional=exercise.professional).exists()


def test_an_order_on_behalf_is_out_of_reach_of_other_authorities_and_auditors(people, as_user):
    exercise = ExerciseFactory(profession_id="10")
    data = {"exercise": exercise.pk, "card_type": CardType.CPS, "kind": Order.Kind.FIRST}
    url = reverse("portal:bo-holder-order", args=[exercise.professional.pk])
    assert as_user(people.oni).post(url, data).status_code == 404
    assert as_user(people.auditor).post(url, data).status_code == 403
    assert not Order.objects.exists()


def test_an_operator_comments_on_an_order_and_the_page_shows_it(people, as_user):
    order = OrderFactory(exercise=people.card.exercise, state=Order.State.SUBMITTED)
    client = as_user(people.cnom)
    url = reverse("portal:bo-comment", args=[order.pk])
    client.post(url, {"text": "Pièce justificative demandée", "visible_to_holder": "on"})
    page = client.get(reverse("portal:bo-order", args=[order.pk])).content.decode()
    assert "Pièce justificative demandée" in page and "shown to the holder" in page
    assert client.post(url, {"text": ""}).status_code == 400
    assert as_user(people.oni).post(url, {"text": "x"}).status_code == 404
    assert (
        "Add the comment"
        not in as_user(people.auditor).get(reverse("portal:bo-order", args=[order.pk])).content.decode()
    )
    assert OrderComment.objects.count() == 1
