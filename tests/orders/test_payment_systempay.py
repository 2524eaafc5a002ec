"""Lyra / Systempay / PayZen payment form: the signature as the published protocol computes it, the form the
payer is sent with, and the signed return or notification verified (docs.lyra.com, "Computing the signature":
the vads_* fields sorted by name, their values joined by "+", then "+" and the key; HMAC-SHA-256 with the key
as the shared secret, encoded in Base64)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from decimal import Decimal

import pytest
from django.utils import translation

from orders import payment_services
from orders.errors import PaymentRefused
from orders.models import Order, Payment
from orders.payments import SignedReturns
from orders.providers.systempay import SystempayProvider, signature

from .helpers import FEE, doctor_order

KEY = "1122334455667788"  # a test key, as the back office gives them (alphanumeric)
SITE = "12345678"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_the_signature_follows_the_published_algorithm():
    fields = {
        "vads_site_id": SITE,
        "vads_amount": "3600",
        "vads_currency": "978",
        "signature": "ignored",
        "other": "ignored too",
        "vads_ctx_mode": "TEST",
    }
    # sorted by name: amount, ctx_mode, currency, site_id; then the key.
    message = "3600+TEST+978+12345678+1122334455667788"
    expected = base64.b64encode(hmac.new(KEY.encode(), message.encode(), hashlib.sha256).digest()).decode()
    assert signature(fields, KEY) == expected
    # computed independently with openssl (printf MESSAGE | openssl dgst -sha256 -hmac KEY -binary | base64)
    assert signature(fields, KEY) == "VEQdQbjwaBf3j9YPzjLOTJlWyaHNHNTCralP15yeBAE="


def test_the_signature_covers_utf8_values():
    fields = {"vads_cust_name": "Hélène", "vads_amount": "100"}
    message = "100+Hélène+" + KEY
    expected = base64.b64encode(hmac.new(KEY.encode(), message.encode("utf-8"), hashlib.sha256).digest())
    assert signature(fields, KEY) == expected.decode()


def provider():
    return SystempayProvider(
        site_id=SITE, key=KEY, mode="TEST", url="https://paiement.systempay.fr/vads-payment/"
    )


def test_the_form_carries_the_order_and_its_signature():
    moment = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC)
    fields = provider().form_fields(
        order_id=42,
        amount=Decimal("36.00"),
        currency="EUR",
        return_url="https://cpx.test/back/",
        now=moment,
        trans_id="a1b2c3",
    )
    assert fields["vads_amount"] == "3600" and fields["vads_currency"] == "978"
    assert fields["vads_order_id"] == "42" and fields["vads_site_id"] == SITE
    assert fields["vads_trans_date"] == "20261201093000" and fields["vads_trans_id"] == "a1b2c3"
    assert fields["vads_ctx_mode"] == "TEST" and fields["vads_version"] == "V2"
    assert fields["vads_url_return"] == "https://cpx.test/back/"
    unsigned = {name: value for name, value in fields.items() if name != "signature"}
    assert fields["signature"] == signature(unsigned, KEY)
    checkout = provider().start(order_id=42, amount=Decimal("36.00"), currency="EUR", return_url="https://x/")
    assert checkout.redirect_url == "https://paiement.systempay.fr/vads-payment/"
    assert checkout.form_fields["vads_amount"] == "3600"
    assert checkout.reference.startswith(f"{SITE}-")
    assert isinstance(provider(), SignedReturns)


def notification(order_id: int, status: str = "AUTHORISED", amount: str = "3600", key: str = KEY) -> dict:
    fields = {
        "vads_amount": amount,
        "vads_ctx_mode": "TEST",
        "vads_currency": "978",
        "vads_order_id": str(order_id),
        "vads_site_id": SITE,
        "vads_trans_date": "20261201093000",
        "vads_trans_id": "a1b2c3",
        "vads_trans_status": status,
        "vads_trans_uuid": "6f0b5c8e1a2d4b3c9e7f0a1b2c3d4e5f",
        "vads_result": "00",
    }
    return {**fields, "signature": signature(fields, key)}


def test_a_signed_notification_is_read():
    confirmation = provider().verify(params=notification(42))
    assert confirmation.paid and confirmation.amount == Decimal("36.00") and confirmation.currency == "EUR"
    assert confirmation.order_id == 42 and confirmation.reference == f"{SITE}-20261201-a1b2c3"
    assert not provider().verify(params=notification(42, status="REFUSED")).paid
    assert provider().verify(params=notification(42, status="ABANDONED")).cancelled


def test_a_notification_signed_with_another_key_or_altered_is_refused():
    with pytest.raises(PaymentRefused, match="signature"):
        provider().verify(params=notification(42, key="another-key"))
    altered = {**notification(42), "vads_amount": "100"}
    with pytest.raises(PaymentRefused, match="signature"):
        provider().verify(params=altered)
    other_shop = SystempayProvider(site_id="87654321", key=KEY, mode="TEST", url="https://x/")
    with pytest.raises(PaymentRefused, match="another shop"):
        other_shop.verify(params=notification(42))


@pytest.mark.django_db
def test_the_notification_records_the_payment_once():
    order = doctor_order("awaiting_payment")
    params = notification(order.pk)
    payment = payment_services.payment_confirm_signed(params=params, provider=provider())
    assert (payment.method, payment.amount) == ("card_online", FEE)
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED
    payment_services.payment_confirm_signed(order=order, params=params, provider=provider())  # the return
    assert Payment.objects.filter(order=order).count() == 1
