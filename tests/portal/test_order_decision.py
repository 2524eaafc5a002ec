"""Orders the registry drove (issue 16) on the order pages: why they were placed or proposed, the card
beside the registry for an update, and a proposal confirmed or declined in one click by the holder (or, for
a structure card, the structure's manager). Proposals come first in the lists. Then in the browser: a holder
confirms a proposal, another declines one; the pages pass axe-core."""

from __future__ import annotations

from html import unescape
from typing import cast

import pytest

from orders.models import Order
from orders.services import system_user
from registry.models import Account
from tests.factories import CardFactory, ExerciseFactory, OrderFactory, StructureOrderFactory, persona
from tests.portal.test_policies_page import policies_catalogue  # noqa: F401 (this part's French, autouse)

pytestmark = pytest.mark.django_db

FIRST = {
    "rule": "first",
    "mode": "proposed",
    "approved": False,
    "authority": "Conseil national de l'Ordre des médecins",
    "registered_on": "2026-11-30",
    "file": "PS_LibreAcces_Personne_activite_202611300000.txt",
    "run": 12,
}
CLINIC = {
    "mode": "S",
    "sector": "SA07",
    "structure_id": "R10000001",
    "siret": "11111111100011",
    "finess": "750000001",
    "structure_name": "Clinique du Parc",
}


def text(response) -> str:
    return unescape(response.content.decode())


def proposal(**fields) -> Order:
    exercise = fields.pop("exercise", None) or ExerciseFactory(profession_id="10")
    defaults = {"origin": Order.Origin.PROPOSED, "decision": FIRST, "created_by": system_user()}
    return cast(Order, OrderFactory(exercise=exercise, **{**defaults, **fields}))


def holder_of(order: Order):
    return persona(Account.Role.HOLDER, professional=order.professional)


def update_order(**fields) -> Order:
    exercise = ExerciseFactory(profession_id="10")
    card = CardFactory(exercise=exercise)
    decision = {"rule": "update", "mode": "automatic", "approved": True, "card_number": card.number}
    diff = {"on_card": [CLINIC], "in_registry": [{**CLINIC, "sector": "SA09"}]}
    return cast(
        Order,
        OrderFactory(
            exercise=exercise,
            kind=Order.Kind.UPDATE,
            replaces=card,
            origin=Order.Origin.AUTOMATIC,
            decision=decision,
            situation_diff=diff,
            state=Order.State.SUBMITTED,
            **fields,
        ),
    )


# --- what the pages say --------------------------------------------------------------------------------


def test_the_holder_sees_why_a_card_is_proposed_and_the_two_buttons(as_user):
    order = proposal()
    body = text(as_user(holder_of(order)).get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert 'id="order-decision"' in body
    assert "Proposée pour vous : inscription le 30 novembre 2026" in body
    assert "fichier PS_LibreAcces_Personne_activite_202611300000.txt, import 12" in body
    assert 'data-action="confirm-proposal"' in body and 'data-action="decline-proposal"' in body
    # The ordinary draft's notice and buttons give way to the proposal's.
    assert 'id="draft-notice"' not in body
    assert 'data-action="submit-order"' not in body and 'data-action="cancel-order"' not in body


def test_an_order_a_person_placed_has_no_explanation(as_user):
    order = OrderFactory(exercise=ExerciseFactory(profession_id="10"))
    body = text(as_user(holder_of(order)).get(f"/orders/{order.pk}/"))
    assert 'id="order-decision"' not in body and 'data-action="submit-order"' in body


def test_an_update_shows_the_card_beside_the_registry_to_holder_and_operator(as_user):
    order = update_order()
    for user, url in [
        (holder_of(order), f"/orders/{order.pk}/"),
        (persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"), f"/backoffice/orders/{order.pk}/"),
    ]:
        body = text(as_user(user).get(url, HTTP_ACCEPT_LANGUAGE="fr"))
        assert "Créée automatiquement : votre situation dans le répertoire ne correspond plus" in body
        assert "Approuvée d’emblée" in body
        assert 'id="situation-diff"' in body and "Sur la carte" in body
        differing = body.split('data-differs="true"')
        assert len(differing) == 2 and "SA07" in differing[1] and "SA09" in differing[1]
        assert 'data-action="confirm-proposal"' not in body


def test_the_operator_sees_a_proposal_explained_without_its_buttons(as_user):
    order = proposal()
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    body = text(as_user(operator).get(f"/backoffice/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Une carte proposée au titulaire" in body and "inscription le 30 novembre 2026" in body
    assert 'data-action="confirm-proposal"' not in body


def test_proposals_come_first_in_the_holder_s_list(as_user):
    exercise = ExerciseFactory(profession_id="10")
    older = proposal(exercise=exercise)
    OrderFactory(exercise=exercise, state=Order.State.SUBMITTED)  # newer, placed by the holder
    answered = proposal(exercise=exercise, state=Order.State.CANCELLED)
    body = text(as_user(holder_of(older)).get("/orders/", HTTP_ACCEPT_LANGUAGE="fr"))
    links = [part.split('"', 1)[0] for part in body.split('href="/orders/')[1:]]
    ids = [int(link.rstrip("/")) for link in links if link.rstrip("/").isdigit()]
    assert ids[0] == older.pk
    assert f'data-proposal="{older.pk}"' in body and f'data-proposal="{answered.pk}"' not in body


# --- answering a proposal ---------------------------------------------------------------------------------


def test_the_holder_confirms_a_proposal_in_one_click(as_user):
    order = proposal()
    client = as_user(holder_of(order))
    response = client.post(f"/orders/{order.pk}/confirm/")
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.state == Order.State.SUBMITTED
    assert order.events.filter(transition="submit", actor=holder_of_account(order)).exists()
    assert 'data-action="confirm-proposal"' not in text(client.get(f"/orders/{order.pk}/"))


def holder_of_account(order: Order):
    return Account.objects.get(professional=order.professional, role=Account.Role.HOLDER).user


def test_the_holder_declines_a_proposal(as_user):
    order = proposal()
    client = as_user(holder_of(order))
    client.post(f"/orders/{order.pk}/decline/")
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert order.events.get(transition="cancel").reason in ("Proposition refusée", "Proposal declined")
    assert "La proposition est refusée" in text(client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="fr"))


def test_a_proposal_answered_twice_is_told_not_changed(as_user):
    order = proposal()
    client = as_user(holder_of(order))
    client.post(f"/orders/{order.pk}/decline/")
    response = client.post(
        f"/orders/{order.pk}/confirm/", HTTP_REFERER=f"http://testserver/orders/{order.pk}/"
    )
    assert response.status_code == 303
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED


def test_nobody_else_answers_a_proposal(as_user):
    order = proposal()
    other = persona(Account.Role.HOLDER)
    assert as_user(other).post(f"/orders/{order.pk}/confirm/").status_code == 404
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    assert as_user(operator).post(f"/orders/{order.pk}/decline/").status_code == 403
    assert as_user(holder_of(order)).get(f"/orders/{order.pk}/confirm/").status_code == 405
    order.refresh_from_db()
    assert order.state == Order.State.DRAFT


def test_an_order_the_holder_placed_is_not_a_proposal_to_confirm(as_user):
    order = OrderFactory(exercise=ExerciseFactory(profession_id="10"))
    assert as_user(holder_of(order)).post(f"/orders/{order.pk}/confirm/").status_code == 404


def test_the_structure_manager_answers_a_structure_card_proposal(as_user):
    order = StructureOrderFactory(
        origin=Order.Origin.PROPOSED,
        decision={**FIRST, "rule": "renewal", "card_number": "8025000001/0001", "expires_on": "2027-01-31"},
        created_by=system_user(),
    )
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=order.structure)
    client = as_user(manager)
    listing = text(client.get("/structure/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert f'data-proposal="{order.pk}"' in listing
    body = text(client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert "votre carte 8025000001/0001 expire le 31 janvier 2027" in body
    assert 'data-action="confirm-proposal"' in body
    client.post(f"/orders/{order.pk}/decline/")
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED


# --- in the browser -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_holder_confirms_a_proposal_in_the_browser(page):
    from playwright.sync_api import expect

    from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in

    exercise = ExerciseFactory(profession_id="10", professional__last_name="MARCHAND")
    confirmed, declined = proposal(exercise=exercise), proposal(exercise=exercise)
    sign_in(page, holder_of(confirmed))

    page.goto("/orders/")
    expect(page.locator(f"[data-proposal='{confirmed.pk}']")).to_be_visible()
    assert_no_axe_violations(page)
    page.goto(f"/orders/{confirmed.pk}/")
    expect(page.locator("#decision-text")).to_contain_text("inscription le 30 novembre 2026")
    screenshot(page, "holder_order_proposed")
    assert_accessible(page)
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("status").first).to_contain_text("transmise à")
    expect(page.locator("#order-state")).to_contain_text("Déposée")
    expect(page.locator("[data-action=confirm-proposal]")).to_have_count(0)

    page.goto(f"/orders/{declined.pk}/")
    page.get_by_role("button", name="Refuser").click()
    expect(page.get_by_role("status").first).to_contain_text("La proposition est refusée")
    expect(page.locator("#order-state")).to_contain_text("Annulée")
    states = [Order.objects.get(pk=o.pk).state for o in (confirmed, declined)]
    assert states == [Order.State.SUBMITTED, Order.State.CANCELLED]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_update_s_difference_passes_axe_in_the_browser(page):
    from playwright.sync_api import expect

    from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in

    order = update_order()
    sign_in(page, holder_of(order))
    page.goto(f"/orders/{order.pk}/")
    expect(page.locator("#situation-diff tr.differs")).to_have_count(1)
    screenshot(page, "holder_order_update_diff")
    assert_accessible(page)
    assert_no_axe_violations(page)
    page.context.clear_cookies()  # signed out: the operator signs in
    sign_in(page, persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    page.goto(f"/backoffice/orders/{order.pk}/")
    expect(page.locator("#situation-diff")).to_be_visible()
    assert_no_axe_violations(page)
