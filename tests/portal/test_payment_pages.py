"""The payment pages: the panel of an order awaiting payment (online, transfer, cheque), the development
provider's checkout (only when configured), the provider's notification, and the reconciliation pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from orders.models import BankStatement, DevCheckout, Order, Payment
from orders.payments import transfer_reference
from orders.providers import dev
from tests.factories import OrderFactory
from tests.orders.test_payment_catalogue import payments_french  # noqa: F401  (fixture)
from tests.orders.test_reconciliation import camt053

pytestmark = pytest.mark.django_db
DEV = "orders.providers.dev.DevProvider"


@pytest.fixture
def order(people):
    return OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )


def panel(order, user) -> str:
    request = RequestFactory().get(f"/orders/{order.pk}/")
    request.user = user
    template = Template('{% include "portal/partials/payment_panel.html" %}')
    return template.render(Context({"order": order, "request": request, "csrf_token": "x"}))


@pytest.mark.usefixtures("payments_french")
def test_the_panel_gives_the_transfer_details_and_the_cheque_address(people, order, settings):
    settings.CPX_PAYMENT_PROVIDER = ""
    settings.CPX_PAYEE_NAME = "Agence du numérique en santé"
    settings.CPX_PAYEE_IBAN = "FR7610071000007500000000168"
    settings.CPX_PAYEE_BIC = "TRPUFRP1"
    settings.CPX_PAYEE_ADDRESS = ["Régie CPx", "9 rue Georges Pitard", "75015 Paris"]
    html = panel(order, people.holder)
    assert "FR76 1007 1000 0075 0000 0000 168" in html and "TRPUFRP1" in html
    assert transfer_reference(order.pk) in html
    assert "36,00\u00a0€ à payer" in html
    assert "Régie CPx<br>9 rue Georges Pitard<br>75015 Paris" in html
    assert "Agence du numérique en santé" in html
    assert reverse("portal:order-pay", args=[order.pk]) not in html  # no provider: no online payment


def test_the_panel_offers_online_payment_when_a_provider_is_configured(people, order, settings):
    settings.CPX_PAYMENT_PROVIDER = DEV
    assert reverse("portal:order-pay", args=[order.pk]) in panel(order, people.holder)
    # an operator reading the order is shown the transfer details, never a pay button
    assert reverse("portal:order-pay", args=[order.pk]) not in panel(order, people.cnom)


def test_the_panel_of_a_paid_order_links_the_invoice(people, order):
    Order.objects.filter(pk=order.pk).update(state=Order.State.QUEUED)
    Payment.objects.create(order=order, amount=Decimal("36.00"), method="transfer", reference="BQ-1")
    order.refresh_from_db()
    html = panel(order, people.holder)
    assert reverse("portal:invoice", args=[order.pk]) in html and "IBAN" not in html


def test_the_dev_checkout_pays_the_order_through_the_pages(people, order, settings, as_user):
    settings.CPX_PAYMENT_PROVIDER = DEV
    client = as_user(people.holder)
    response = client.post(reverse("portal:order-pay", args=[order.pk]))
    checkout = DevCheckout.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == f"/dev-payments/{checkout.reference}/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "4970 1000 0000 0003" in page.content.decode()
    declined = client.post(response["Location"], {"action": "pay", "card_number": "4970 1000 0000 0014"})
    assert (
        declined.status_code == 200 and Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT
    )
    paid = client.post(response["Location"], {"action": "pay", "card_number": "4970 1000 0000 0003"})
    assert paid.status_code == 302 and paid["Location"].startswith("http://testserver/orders/")
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED  # the notification recorded it
    back = client.get(paid["Location"], follow=True)
    assert back.redirect_chain[-1][0] == reverse("portal:order", args=[order.pk])
    assert Payment.objects.filter(order=order).count() == 1


def test_cancelling_returns_to_the_order_unpaid(people, order, settings, as_user):
    settings.CPX_PAYMENT_PROVIDER = DEV
    client = as_user(people.holder)
    location = client.post(reverse("portal:order-pay", args=[order.pk]))["Location"]
    cancelled = client.post(location, {"action": "cancel"})
    back = client.get(cancelled["Location"], follow=True)
    assert back.redirect_chain[-1][0] == reverse("portal:order", args=[order.pk])
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_the_dev_checkout_is_a_404_unless_the_dev_provider_is_configured(people, order, settings, client):
    settings.CPX_PAYMENT_PROVIDER = DEV
    checkout = dev.DevProvider().start(
        order_id=order.pk, amount=order.fee, currency="EUR", return_url="http://x/"
    )
    assert client.get(checkout.redirect_url).status_code == 200  # no sign-in: a provider's page
    assert client.get("/dev-payments/unknown/").status_code == 404
    settings.CPX_PAYMENT_PROVIDER = ""
    assert client.get(checkout.redirect_url).status_code == 404
    settings.CPX_PAYMENT_PROVIDER = "tests.orders.test_online_payment_api.RecordingProvider"
    assert client.get(checkout.redirect_url).status_code == 404


def test_the_notification_endpoint_verifies_the_signature(people, order, settings, client):
    settings.CPX_PAYMENT_PROVIDER = DEV
    checkout = dev.DevProvider().start(
        order_id=order.pk, amount=order.fee, currency="EUR", return_url="http://x/"
    )
    closed = dev.dev_checkout_pay(reference=checkout.reference, card_number="4970100000000003")
    forged = {**dev.signed_params(closed), "signature": "0" * 64}
    assert client.post(reverse("portal:payment-notify"), forged).status_code == 400
    assert not Payment.objects.filter(order=order).exists()
    answer = client.post(reverse("portal:payment-notify"), dev.signed_params(closed))
    assert answer.status_code == 200 and answer.content == b"OK"
    assert Payment.objects.get(order=order).method == "card_online"


def test_an_ans_operator_reconciles_a_statement_on_the_page(people, order, as_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = as_user(people.ans)
    assert client.get(reverse("portal:reconcile")).status_code == 200
    content = camt053([("BQ-55", "36.00", transfer_reference(order.pk)), ("BQ-56", "10.00", "don")])
    upload = SimpleUploadedFile("releve.xml", content, content_type="application/xml")
    response = client.post(reverse("portal:reconcile"), {"statement": upload}, follow=True)
    statement = BankStatement.objects.get()
    assert response.redirect_chain[-1][0] == reverse("portal:reconcile-statement", args=[statement.pk])
    html = response.content.decode()
    assert "BQ-55" in html and "BQ-56" in html
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED
    again = client.post(reverse("portal:reconcile"), {"statement": SimpleUploadedFile("releve.xml", content)})
    assert again.status_code == 409 and Payment.objects.filter(order=order).count() == 1
    bad = client.post(reverse("portal:reconcile"), {"statement": SimpleUploadedFile("x.xml", b"<Document>")})
    assert bad.status_code == 400 and BankStatement.objects.count() == 1


def test_the_reconciliation_pages_are_for_ans_and_the_auditor(people, as_user):
    assert as_user(people.auditor).get(reverse("portal:reconcile")).status_code == 200
    for user in (people.holder, people.cnom, people.manager):
        assert as_user(user).get(reverse("portal:reconcile")).status_code == 403
    refused = as_user(people.auditor).post(
        reverse("portal:reconcile"), {"statement": __import__("io").BytesIO(camt053([("B", "1.00", "x")]))}
    )
    assert refused.status_code in (303, 403) and not BankStatement.objects.exists()
