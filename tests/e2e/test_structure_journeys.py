"""The structure manager's journey in a real browser, with no API call: declare a staff member, order their
CPE, then order three more cards from a CSV file (a preview with the bad line's error, then a confirmation).
Each page is checked by axe-core and saved as a screenshot under tests/artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders.models import Order
from registry.models import Account, StructureMember
from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in
from tests.factories import StructureFactory, persona
from tests.portal.test_manager import structure_catalogue  # noqa: F401  (fixture: this area's French)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCH = Path(__file__).resolve().parents[1] / "orders" / "fixtures" / "batch_three_and_one_bad.csv"
ENGLISH = re.compile(r"\b(Staff|Order a card|Declare a staff member|Upload|Preview|Confirm|Line|error)\b")


def check_page(page, name: str) -> None:
    screenshot(page, name)
    assert_accessible(page)
    assert_no_axe_violations(page)
    assert not ENGLISH.search(page.locator("#main").inner_text())


def test_a_manager_declares_a_staff_member_orders_a_cpe_then_three_more_from_a_csv_file(page):
    structure = StructureFactory(name="Centre de santé des Lilas", finess_site="010780195")
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=structure)

    sign_in(page, manager)
    page.goto("/structure/")
    expect(page.locator("#main")).to_contain_text("Aucun membre du personnel")
    check_page(page, "manager_staff_empty")

    # Declare a staff member, then order their CPE (the form opens on them, with the card of their role).
    page.locator("#main").get_by_role("link", name="Déclarer un membre du personnel").click()
    expect(page.get_by_role("heading", name="Déclarer un membre du personnel")).to_be_visible()
    page.get_by_label("Civilité").select_option("MME")
    page.get_by_label("Nom", exact=False).first.fill("Moreau")
    page.get_by_label("Prénom").fill("Julie")
    page.get_by_label("Rôle dans la structure").select_option("staff")
    page.get_by_label("Numéro de mobile (facultatif)").fill("06 12 34 56 78")
    check_page(page, "manager_staff_declare")
    page.get_by_role("button", name="Déclarer ce membre du personnel").click()

    expect(page.get_by_role("status").first).to_contain_text("Julie MOREAU est déclaré(e)")
    expect(page.get_by_role("heading", name="Commander une carte")).to_be_visible()
    expect(page.get_by_label("Membre du personnel")).to_have_value(
        str(StructureMember.objects.get(professional__last_name="MOREAU").pk)
    )
    expect(page.get_by_label("CPE : carte de personnel d'établissement")).to_be_checked()
    check_page(page, "manager_order_form")
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.get_by_role("status").first).to_contain_text("transmise à l'ANS")
    first = Order.objects.get(professional__last_name="MOREAU")
    assert (first.card_type, first.state) == ("CPE", "submitted")

    # Three more from a CSV file: the preview shows the bad line with its error, nothing is ordered yet.
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Commander par lot"
    ).click()
    expect(page.get_by_role("heading", name="Commander des cartes par lot")).to_be_visible()
    check_page(page, "manager_batch_upload")
    page.get_by_label("Fichier CSV").set_input_files(str(BATCH))
    page.get_by_role("button", name="Voir l'aperçu des commandes").click()

    expect(page.get_by_role("heading", name="Vérifier les commandes")).to_be_visible()
    bad = page.locator("#line-4")
    expect(bad).to_contain_text("BONNET")
    expect(bad).to_contain_text("colonne type_carte")
    expect(bad).to_contain_text("commandez une CDE")
    expect(page.locator("#line-2")).to_contain_text("sera commandée")
    check_page(page, "manager_batch_preview")
    assert Order.objects.count() == 1

    page.get_by_role("button", name="Confirmer et envoyer 3 commandes").click()
    expect(page.get_by_role("status").first).to_contain_text("3 commandes sont transmises à l'ANS")
    expect(page.locator("#main")).to_contain_text("GARNIER")
    check_page(page, "manager_staff")
    orders = Order.objects.filter(structure=structure).exclude(pk=first.pk).order_by("pk")
    assert [(o.professional.last_name, o.card_type, o.state) for o in orders] == [
        ("LEFÈVRE", "CPE", "submitted"),
        ("GARNIER", "CPA", "submitted"),
        ("FAURE", "CPE", "submitted"),
    ]
