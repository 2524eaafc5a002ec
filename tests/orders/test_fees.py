"""Fees by date, payments (operator and online through a test double provider), invoices, failures."""

import datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from orders import payment_services, services
from orders.errors import InvalidTransition, NotPermitted, PaymentRefused
from orders.invoices import invoice_pdf
from orders.models import Order, Payment, Tariff
from orders.payments import Checkout, Confirmation, tariff_on
from tests.factories import persona

from .helpers import doctor_order

pytestmark = pytest.mark.django_db


def test_the_tariff_of_2025_is_loaded_and_later_prices_apply_from_their_date():
    assert tariff_on(datetime.date(2025, 1, 1)).amount == Decimal("36.00")
    assert tariff_on(datetime.date(2024, 12, 31)) is None
    Tariff.objects.create(valid_from=datetime.date(2027, 3, 1), amount=Decimal("39.50"))
    assert tariff_on(datetime.date(2027, 2, 28)).amount == Decimal("36.00")
    assert tariff_on(datetime.date(2027, 3, 1)).amount == Decimal("39.50")


@pytest.mark.parametrize(("day", "fee"), [("2026-06-01", Decimal("36.00")), ("2027-03-01", Decimal("39.50"))])
def test_the_fee_is_the_price_in_force_on_the_day_of_submission(day, fee):
    Tariff.objects.create(valid_from=datetime.date(2027, 3, 1), amount=Decimal("39.50"))
    order = doctor_order("draft")
    with freeze_time(day):
        assert services.order_submit(order=order, actor=persona("system")).fee == fee


@pytest.mark.parametrize(
    ("reason", "fee"),
    [
        ("lost", Decimal("36.00")),
        ("stolen", Decimal("36.00")),
        ("damaged", Decimal("36.00")),
        ("defective", None),
        ("not_received", None),
    ],
)
def test_only_lost_stolen_or_damaged_replacements_are_paid(reason, fee, cnom):
    order = doctor_order("draft", replacement_reason=reason)
    services.order_submit(order=order, actor=persona("system"))
    order = services.order_approve(order=order, actor=cnom)
    assert order.fee == fee
    assert order.state == ("awaiting_payment" if fee else "queued")


def test_the_invoice_is_a_pdf_with_the_amount(cnom):
    order = doctor_order("awaiting_payment")
    payment = payment_services.payment_record(
        order=order, actor=cnom, amount=Decimal("36"), method="transfer", reference="VIR 1"
    )
    pdf = invoice_pdf(payment)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"36,00 \\200" in pdf and payment.invoice_number.encode() in pdf  # 36,00 € (WinAnsi)


def test_a_holder_may_not_record_a_payment():
    order = doctor_order("awaiting_payment")
    with pytest.raises(NotPermitted):
        payment_services.payment_record(
            order=order,
            actor=persona("holder", professional=order.professional),
            amount=Decimal("36"),
            method="transfer",
            reference="x",
        )


def confirm(order, reference, provider):
    return payment_services.payment_confirm_online(order=order, reference=reference, provider=provider)


class FakeProvider:
    """A payment provider double: checkouts are paid when the test says so."""

    def __init__(self):
        self.paid: dict[str, Decimal] = {}

    def start(self, *, order_id, amount, currency, return_url):
        return Checkout(reference=f"chk_{order_id}", redirect_url=f"https://pay.example/chk_{order_id}")

    def confirm(self, *, reference):
        amount = self.paid.get(reference)
        return Confirmation(reference=reference, paid=amount is not None, amount=amount or Decimal(0))


def test_online_payment_through_a_provider():
    order = doctor_order("awaiting_payment")
    holder = persona("holder", professional=order.professional)
    provider = FakeProvider()
    checkout = payment_services.payment_start_online(
        order=order, actor=holder, return_url="https://x/", provider=provider
    )
    with pytest.raises(PaymentRefused):
        confirm(order, checkout.reference, provider)
    provider.paid[checkout.reference] = Decimal("36.00")
    payment = confirm(order, checkout.reference, provider)
    again = confirm(order, checkout.reference, provider)
    assert payment == again and payment.method == Payment.Method.CARD_ONLINE
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED


def test_online_payment_is_refused_without_a_provider_or_outside_awaiting_payment():
    order = doctor_order("queued")
    holder = persona("holder", professional=order.professional)
    with pytest.raises(PaymentRefused):
        payment_services.payment_start_online(order=order, actor=holder, return_url="https://x/")
    with pytest.raises(InvalidTransition):
        payment_services.payment_start_online(
            order=order, actor=holder, return_url="https://x/", provider=FakeProvider()
        )


def test_after_n_failures_the_order_waits_for_an_operator(
    settings, cnom, production_calls, django_capture_on_commit_callbacks
):
    settings.CPX_MAX_PRODUCTION_FAILURES = 2
    order = doctor_order("in_production")
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_mark_failed(order=order, reason="blank did not answer")
    assert (order.state, order.failure_count) == ("queued", 1)
    assert production_calls == [order.pk]
    services.order_start_production(order=order)
    order = services.order_mark_failed(order=order, reason="again")
    assert (order.state, order.failure_count) == ("failed", 2)
    with pytest.raises(NotPermitted):
        services.order_requeue(order=order, actor=persona("system"))
    assert services.order_requeue(order=order, actor=cnom, reason="new batch of blanks").state == "queued"
