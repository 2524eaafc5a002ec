"""The development provider behaves as a real one: a checkout, test cards, signed returns verified, the
payment recorded once through the same path as any online payment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from orders import payment_services
from orders.errors import PaymentRefused
from orders.models import DevCheckout, Order, Payment
from orders.providers import dev
from tests.factories import persona

from .helpers import FEE, doctor_order

pytestmark = pytest.mark.django_db
PROVIDER = "orders.providers.dev.DevProvider"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def provider(settings):
    settings.CPX_PAYMENT_PROVIDER = PROVIDER
    settings.CPX_DEV_PAYMENT_SECRET = "test-secret"


@pytest.fixture
def order():
    return doctor_order("awaiting_payment")


@pytest.fixture
def holder(order):
    return persona("holder", professional=order.professional)


def start(order, holder):
    return payment_services.payment_start_online(
        order=order, actor=holder, return_url="https://cpx.test/back/"
    )


def test_start_opens_a_checkout_on_the_platforms_test_page(order, holder):
    checkout = start(order, holder)
    assert checkout.redirect_url == f"/dev-payments/{checkout.reference}/"
    row = DevCheckout.objects.get(reference=checkout.reference)
    assert (row.order_id, row.amount, row.state) == (order.pk, FEE, "open")
    assert dev.is_configured()


def test_an_accepted_test_card_pays_the_order_once(order, holder):
    checkout = start(order, holder)
    closed = dev.dev_checkout_pay(reference=checkout.reference, card_number="4970 1000 0000 0003")
    assert closed.state == "paid" and closed.card_last4 == "0003"
    params = dev.signed_params(closed)
    payment = payment_services.payment_confirm_signed(order=order, params=params)
    assert (payment.method, payment.amount, payment.reference) == ("card_online", FEE, checkout.reference)
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED
    # the notification and the payer's return both report it: recorded once
    again = payment_services.payment_confirm_signed(params=params)
    assert again.pk == payment.pk and Payment.objects.filter(order=order).count() == 1


def test_confirm_asks_the_checkout_and_checks_its_signature(order, holder):
    checkout = start(order, holder)
    with pytest.raises(PaymentRefused, match="not received"):
        payment_services.payment_confirm_online(order=order, reference=checkout.reference)
    dev.dev_checkout_pay(reference=checkout.reference, card_number="4970100000000003")
    DevCheckout.objects.filter(reference=checkout.reference).update(amount=Decimal("1.00"))  # tampered
    with pytest.raises(PaymentRefused, match="signature"):
        payment_services.payment_confirm_online(order=order, reference=checkout.reference)
    DevCheckout.objects.filter(reference=checkout.reference).update(amount=FEE)
    payment = payment_services.payment_confirm_online(order=order, reference=checkout.reference)
    assert payment.method == "card_online"


@pytest.mark.parametrize("field, value", [("amount", "1.00"), ("status", "paid"), ("order", "999999")])
def test_a_return_whose_parameters_were_changed_is_refused(order, holder, field, value):
    checkout = start(order, holder)
    closed = dev.dev_checkout_cancel(reference=checkout.reference)
    params = {**dev.signed_params(closed), field: value}
    with pytest.raises(PaymentRefused, match="signature"):
        payment_services.payment_confirm_signed(order=order, params=params)
    assert not Payment.objects.filter(order=order).exists()


def test_a_signature_under_another_secret_is_refused(order, holder, settings):
    checkout = start(order, holder)
    params = dev.signed_params(
        dev.dev_checkout_pay(reference=checkout.reference, card_number="4970100000000003")
    )
    settings.CPX_DEV_PAYMENT_SECRET = "another"
    with pytest.raises(PaymentRefused, match="signature"):
        payment_services.payment_confirm_signed(order=order, params=params)


def test_the_declined_card_is_refused_and_the_checkout_stays_open(order, holder):
    checkout = start(order, holder)
    with pytest.raises(dev.CardDeclined):
        dev.dev_checkout_pay(reference=checkout.reference, card_number="4970 1000 0000 0014")
    with pytest.raises(dev.UnknownTestCard):
        dev.dev_checkout_pay(reference=checkout.reference, card_number="4111 1111 1111 1111")
    assert DevCheckout.objects.get(reference=checkout.reference).state == "open"
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_a_cancelled_checkout_pays_nothing_and_is_closed(order, holder):
    checkout = start(order, holder)
    closed = dev.dev_checkout_cancel(reference=checkout.reference)
    with pytest.raises(PaymentRefused, match="cancelled"):
        payment_services.payment_confirm_signed(order=order, params=dev.signed_params(closed))
    with pytest.raises(dev.CheckoutClosed):
        dev.dev_checkout_pay(reference=checkout.reference, card_number="4970100000000003")
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_a_checkout_paid_for_one_order_never_pays_another(order, holder):
    other = doctor_order("awaiting_payment")
    checkout = start(order, holder)
    params = dev.signed_params(
        dev.dev_checkout_pay(reference=checkout.reference, card_number="4970100000000003")
    )
    with pytest.raises(PaymentRefused, match="another order"):
        payment_services.payment_confirm_signed(order=other, params=params)
    assert not Payment.objects.filter(order=other).exists()


def test_the_dev_provider_is_not_configured_by_default(settings):
    settings.CPX_PAYMENT_PROVIDER = ""
    assert not dev.is_configured()
    settings.CPX_PAYMENT_PROVIDER = "tests.orders.test_online_payment_api.RecordingProvider"
    assert not dev.is_configured()
