"""The main journeys of the portal, in a real browser: what a holder, an Ordre operator, an ANS operator
and a structure manager do every day. Each main page is saved as a screenshot under tests/artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card
from orders import services as order_services
from orders.models import Order
from registry.models import Account, CardType, StructureMember
from stations import services as station_services
from tests.e2e.conftest import PASSWORD, assert_accessible, screenshot, sign_in
from tests.factories import (
    AdeliProfessionalFactory,
    CardFactory,
    ExerciseFactory,
    StaffFactory,
    StructureFactory,
    StructureMemberFactory,
    persona,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def submitted_order(exercise: Any) -> Order:
    """An order as the holder's side leaves it: created and submitted through the services."""
    owner = persona(Account.Role.HOLDER, professional=exercise.professional)
    order = order_services.order_create(
        actor=owner,
        professional=exercise.professional,
        card_type=CardType.CPS,
        kind=Order.Kind.FIRST,
        exercise=exercise,
    )
    return order_services.order_submit(order=order, actor=owner)


def test_a_holder_declares_a_card_stolen_and_sees_it_blocked_and_the_replacement_owed(page):
    exercise = ExerciseFactory(
        profession_id="10", professional__first_name="Claire", professional__last_name="MARTIN"
    )
    card = CardFactory(exercise=exercise)
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)

    sign_in(page, holder)
    expect(page.get_by_role("heading", name="Mes cartes")).to_be_visible()
    expect(page.locator("svg.card-face")).to_contain_text(card.display_number)
    screenshot(page, "holder_cards")
    assert_accessible(page)

    page.get_by_role("link", name="Carte de Professionnel de Santé").click()
    expect(page.locator("#main")).to_contain_text("Active")
    screenshot(page, "holder_card")
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "holder_card_phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="Déclarer cette carte perdue, volée ou endommagée").click()
    page.get_by_label("Volée").check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Veuillez confirmer")).to_be_visible()
    screenshot(page, "holder_declare_confirm")
    assert_accessible(page)
    page.get_by_role("button", name="Oui, bloquer cette carte").click()

    expect(page.get_by_role("status").first).to_contain_text("La carte est bloquée")
    expect(page.locator("#main")).to_contain_text("En opposition")
    expect(page.locator("#main")).to_contain_text("36,00\u00a0€ à payer")
    screenshot(page, "holder_card_blocked")
    assert Card.objects.get(pk=card.pk).state == Card.State.OPPOSED

    page.get_by_role("link", name=re.compile(r"Commande n° \d+")).click()
    expect(page.locator("#main")).to_contain_text("Historique")
    screenshot(page, "holder_order")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Mes commandes").click()
    screenshot(page, "holder_orders")
    assert_accessible(page)
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Messages").click()
    expect(page.locator("#main")).to_contain_text("Non lu")
    screenshot(page, "holder_messages")
    assert_accessible(page)


def test_an_ordre_operator_approves_an_order_and_cannot_see_another_ordres(page):
    mine = submitted_order(ExerciseFactory(profession_id="10", professional__last_name="DURAND"))
    theirs = submitted_order(ExerciseFactory(profession_id="60", professional__last_name="LEROY"))
    for name in ("BLANC", "GARNIER", "FAURE"):
        submitted_order(ExerciseFactory(profession_id="10", professional__last_name=name))
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")

    sign_in(page, operator)
    page.goto("/backoffice/")  # operators land on their dashboard
    expect(page.get_by_role("heading", name="File des commandes")).to_be_visible()
    expect(page.locator("#queue-results")).to_contain_text("DURAND")
    expect(page.locator("#queue-results")).not_to_contain_text("LEROY")
    screenshot(page, "operator_queue")
    assert_accessible(page)

    # Filtering updates the list in place (htmx) and keeps the filter in the address.
    page.get_by_label("Identifiant ou nom").fill("GARNIER")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("#queue-results")).not_to_contain_text("DURAND")
    expect(page.locator("#queue-results")).to_contain_text("GARNIER")
    assert "q=GARNIER" in page.url
    page.get_by_label("Nature").select_option("renewal")
    expect(page.locator("#queue-results")).to_contain_text("Aucune commande ne correspond.")
    page.goto("/backoffice/")

    page.get_by_role("link", name=f"N° {mine.pk}", exact=True).click()
    expect(page.locator("#main")).to_contain_text("Fiche du répertoire")
    screenshot(page, "operator_order")
    assert_accessible(page)
    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("status").first).to_contain_text("La commande est approuvée.")
    expect(page.locator("#order-state")).to_contain_text("En file de fabrication")
    assert Order.objects.get(pk=mine.pk).state == Order.State.QUEUED

    response = page.goto(f"/backoffice/orders/{theirs.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    screenshot(page, "operator_other_ordre_404")
    assert Order.objects.get(pk=theirs.pk).state == Order.State.SUBMITTED


def test_an_ans_operator_follows_an_order_through_production(page, settings, tmp_path):
    settings.CPX_STATIONS_DIR = tmp_path / "stations"  # the station's key file goes there, not under var/
    exercise = ExerciseFactory(professional=AdeliProfessionalFactory(last_name="PETIT"), profession_id="91")
    order = submitted_order(exercise)
    operator = persona(Account.Role.ANS_OPERATOR)
    station = station_services.station_register(
        name="lyon-1", module="/usr/lib/softhsm/libsofthsm2.so", readers=2
    )
    station_services.blank_stock_add(station=station, count=20)

    sign_in(page, operator)
    page.goto(f"/backoffice/orders/{order.pk}/")
    page.get_by_role("button", name="Approuver").click()
    state = page.locator("#order-state")
    expect(state).to_contain_text("En file de fabrication")

    # The station claims the job: the page, left open, follows the state (htmx polls it).
    order_services.order_start_production(order=order.pk)
    expect(state).to_contain_text("En fabrication")
    screenshot(page, "ans_order_in_production")

    card = CardFactory(exercise=exercise, state=Card.State.PERSONALIZED)  # the station wrote it
    order_services.order_mark_produced(order=order.pk, card=card)
    expect(state).to_contain_text("Fabriquée")
    page.reload()
    expect(page.locator("#main")).to_contain_text(card.display_number)
    screenshot(page, "ans_order_produced")

    page.get_by_role("link", name="Expédition").click()
    page.get_by_label("Transporteur").fill("La Poste")
    page.get_by_label("Référence du lot").fill("LP-2026-001")
    page.get_by_label(f"Expédier la carte {card.display_number}").check()
    page.get_by_label(f"Numéro de suivi de la carte {card.display_number}").fill("8R00000000001")
    screenshot(page, "ans_shipping")
    assert_accessible(page)
    page.get_by_role("button", name="Enregistrer le lot").click()
    expect(page.get_by_role("status").first).to_contain_text("LP-2026-001")
    page.goto(f"/backoffice/orders/{order.pk}/")
    # The order is done at "produced"; from there the card's own state tells the rest.
    expect(state).to_contain_text("Fabriquée")
    expect(page.locator("#card-state")).to_contain_text("Expédiée")

    page.get_by_role("link", name="Production").click()
    expect(page.get_by_role("heading", name="Production", exact=True)).to_be_visible()
    expect(page.locator("#main")).to_contain_text("lyon-1")
    screenshot(page, "ans_production")
    assert_accessible(page)
    page.get_by_role("link", name="Imports du répertoire").click()
    screenshot(page, "ans_imports")
    assert_accessible(page)


def test_a_structure_manager_orders_a_cpe_and_declares_a_staff_card_lost(page):
    structure = StructureFactory(name="Centre de santé des Lilas")
    newcomer = StructureMemberFactory(
        structure=structure, professional=StaffFactory(last_name="BERNARD"), role=StructureMember.Role.STAFF
    )
    veteran = StructureMemberFactory(
        structure=structure, professional=StaffFactory(last_name="THOMAS"), role=StructureMember.Role.STAFF
    )
    card = CardFactory(exercise=None, professional=veteran.professional, structure=structure, card_type="CPE")
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=structure)

    sign_in(page, manager)
    expect(page.locator("#main")).to_contain_text("THOMAS")
    screenshot(page, "manager_structure")
    assert_accessible(page)

    page.get_by_role("link", name="Commander une carte").first.click()
    page.get_by_label("Membre du personnel").select_option(str(newcomer.pk))
    page.get_by_label("CPE").check(force=True)
    screenshot(page, "manager_order_form")
    assert_accessible(page)
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.get_by_role("status").first).to_contain_text("transmise à l'ANS")
    assert Order.objects.get(professional=newcomer.professional).card_type == "CPE"

    page.goto("/structure/")
    page.get_by_role("link", name=f"Déclarer perdue (carte {card.display_number})").click()
    page.get_by_label("Perdue").check()
    page.get_by_role("button", name="Continuer").click()
    page.get_by_role("button", name="Oui, bloquer cette carte").click()
    expect(page.locator("#main")).to_contain_text("En opposition")
    assert Card.objects.get(pk=card.pk).state == Card.State.OPPOSED


def test_signing_in_with_the_keyboard_only_and_switching_to_english(page):
    user = persona(Account.Role.HOLDER)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    page.goto("/accounts/login/")
    screenshot(page, "login")
    assert_accessible(page)
    assert page.evaluate("document.activeElement.id") == "id_username"  # the form takes the focus
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mes cartes")).to_be_visible()

    page.get_by_label("Langue").select_option("en")
    page.get_by_role("button", name="Changer").click()
    expect(page.get_by_role("heading", name="My cards")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_pages_work_without_javascript(browser, live_server):
    order = submitted_order(ExerciseFactory(profession_id="10", professional__last_name="ROUX"))
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    context = browser.new_context(base_url=live_server.url, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, operator)
        page.goto("/backoffice/")  # operators land on their dashboard
        page.get_by_label("Identifiant ou nom").fill("ROUX")
        page.get_by_role("button", name="Filtrer").click()
        expect(page.locator("#queue-results")).to_contain_text("ROUX")
        page.get_by_role("link", name=f"N° {order.pk}", exact=True).click()
        page.get_by_role("button", name="Approuver").click()
        expect(page.locator("#order-state")).to_contain_text("En file de fabrication")
    finally:
        context.close()
