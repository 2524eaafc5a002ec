"""Paying for a replacement card in the browser, with no API call: online through the development provider's
checkout page, then by bank transfer reconciled by ANS from the bank's camt.053 statement (uploaded twice:
the second import pays nothing)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card
from orders import services as order_services
from orders.models import Order, Payment
from registry.models import Account
from tests.e2e.conftest import assert_accessible, screenshot, sign_in
from tests.factories import CardFactory, ExerciseFactory, persona
from tests.orders.test_payment_catalogue import payments_french  # noqa: F401  (fixture)
from tests.orders.test_reconciliation import camt053

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dev_payments(settings):
    settings.CPX_PAYMENT_PROVIDER = "orders.providers.dev.DevProvider"
    settings.CPX_DEV_PAYMENT_SECRET = "e2e-secret"


def declare_lost(page: Any, card: Card) -> Order:
    page.goto(f"/cards/{card.pk}/")
    page.get_by_role("link", name="Déclarer cette carte perdue, volée ou endommagée").click()
    page.get_by_label("Perdue").check(force=True)  # (the DSFR label covers the radio)
    page.get_by_role("button", name="Continuer").click()
    page.get_by_role("button", name="Oui, bloquer cette carte").click()
    expect(page.get_by_role("status").first).to_contain_text("La carte est bloquée")
    order = Order.objects.get(replaces=card)
    # The Ordre approves it (its own journey, tested elsewhere): the fee is then due.
    reviewer = persona(Account.Role.AUTHORITY_OPERATOR, authority=order.authority.code)
    order = order_services.order_approve(order=order, actor=reviewer)
    assert order.state == Order.State.AWAITING_PAYMENT
    return order


@pytest.mark.usefixtures("payments_french")
def test_a_holder_pays_one_replacement_online_and_one_by_reconciled_transfer(
    page,
    dev_payments,
):
    exercise = ExerciseFactory(
        profession_id="10", professional__first_name="Claire", professional__last_name="MARTIN"
    )
    second_exercise = ExerciseFactory(profession_id="60", professional=exercise.professional)  # also a nurse
    first_card = CardFactory(exercise=exercise)
    second_card = CardFactory(exercise=second_exercise)
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    ans = persona(Account.Role.ANS_OPERATOR)

    # 1. Online, through the development provider's checkout page.
    sign_in(page, holder)
    first = declare_lost(page, first_card)
    page.goto(f"/orders/{first.pk}/")
    page.get_by_role("button", name=re.compile(r"^Payer en ligne")).click()
    expect(page).to_have_url(re.compile(r"/dev-payments/[\w-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Paiement de test — aucun argent réel")
    expect(page.locator("#checkout-amount")).to_have_text("36,00\u00a0€")
    screenshot(page, "payment_dev_checkout")
    assert_accessible(page)
    page.get_by_label(re.compile("Numéro de carte")).fill("4970 1000 0000 0014")
    page.get_by_role("button", name=re.compile(r"^Payer 36,00")).click()
    expect(page.get_by_role("alert")).to_contain_text("a refusé cette carte")
    assert Order.objects.get(pk=first.pk).state == Order.State.AWAITING_PAYMENT
    page.get_by_label(re.compile("Numéro de carte")).fill("4970 1000 0000 0003")
    page.get_by_role("button", name=re.compile(r"^Payer 36,00")).click()
    expect(page).to_have_url(re.compile(rf"/orders/{first.pk}/$"))
    expect(page.get_by_role("status").first).to_contain_text("Paiement reçu")
    paid = Order.objects.get(pk=first.pk)
    assert paid.state == Order.State.QUEUED and paid.payment.method == Payment.Method.CARD_ONLINE

    # 2. By transfer: the order's page gives the payee, the IBAN, the reference and the amount.
    second = declare_lost(page, second_card)
    page.goto(f"/orders/{second.pk}/")
    reference = page.locator("#transfer-reference").inner_text()
    assert reference == f"CPX-{second.pk}-{98 - (second.pk * 100) % 97:02d}"
    expect(page.locator("#transfer-amount")).to_have_text("36,00\u00a0€")
    expect(page.locator("#transfer-details")).to_contain_text("IBAN")
    screenshot(page, "payment_transfer_details")
    assert_accessible(page)

    # 3. ANS imports the bank's statement: the transfer pays the order.
    page.context.clear_cookies()
    sign_in(page, ans)
    page.get_by_role("link", name="Rapprochement bancaire").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rapprochement bancaire")
    assert_accessible(page)
    statement = camt053(
        [("BQ-E2E-1", "36.00", f"Remplacement carte {reference}"), ("BQ-E2E-2", "12.00", "Don")],
        statement_id="E2E-335",
    )
    upload = {"name": "releve-335.xml", "mimeType": "application/xml", "buffer": statement}
    page.get_by_label(re.compile("Relevé bancaire")).set_input_files(upload)
    page.get_by_role("button", name="Importer et rapprocher").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Relevé E2E-335")
    expect(page.locator("#matched")).to_contain_text("BQ-E2E-1")
    expect(page.locator("#review")).to_contain_text("Aucune commande ne porte cette référence")
    screenshot(page, "payment_reconciliation_result")
    assert_accessible(page)
    settled = Order.objects.get(pk=second.pk)
    assert settled.state == Order.State.QUEUED
    assert (settled.payment.method, settled.payment.reference) == (Payment.Method.TRANSFER, "BQ-E2E-1")

    # 4. The same statement again: refused, nothing paid twice.
    page.get_by_role("link", name="Rapprochement bancaire").first.click()
    page.get_by_label(re.compile("Relevé bancaire")).set_input_files(upload)
    page.get_by_role("button", name="Importer et rapprocher").click()
    expect(page.locator("#reconcile-error")).to_contain_text("déjà été importé")
    expect(page.locator("main table").first).to_contain_text("E2E-335")
    screenshot(page, "payment_reconciliation_list")
    assert Payment.objects.filter(order__in=[first, second]).count() == 2

    # 5. The holder sees the order paid, with its invoice.
    page.context.clear_cookies()
    sign_in(page, holder)
    page.goto(f"/orders/{second.pk}/")
    expect(page.locator("#main")).not_to_contain_text("à payer")
    expect(page.get_by_role("link", name=re.compile("facture", re.IGNORECASE))).to_be_visible()
