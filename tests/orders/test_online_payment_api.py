"""Online payment through the API, on the provider protocol with a test double (no real provider here)."""

from decimal import Decimal
from typing import ClassVar

import pytest
from rest_framework.test import APIClient

from orders import payment_services
from orders.errors import PaymentRefused
from orders.models import Order, Payment
from orders.payments import Checkout, Confirmation
from tests.factories import ExerciseFactory, persona, profession

from .helpers import FEE, doctor_order

pytestmark = pytest.mark.django_db
PROVIDER = "tests.orders.test_online_payment_api.RecordingProvider"


class RecordingProvider:
    """A provider double, built afresh for each call as ``configured_provider`` does: state is shared."""

    paid: ClassVar[dict[str, Confirmation]] = {}
    confirms: ClassVar[list[str]] = []

    def start(self, *, order_id, amount, currency, return_url):
        reference = f"chk_{order_id}"
        return Checkout(
            reference=reference, redirect_url=f"https://pay.example/{reference}?back={return_url}"
        )

    def confirm(self, *, reference):
        self.confirms.append(reference)
        return self.paid.get(reference) or Confirmation(reference=reference, paid=False, amount=Decimal(0))

    @classmethod
    def pay(cls, reference, amount=FEE, **kwargs):
        cls.paid[reference] = Confirmation(reference=reference, paid=True, amount=amount, **kwargs)


@pytest.fixture(autouse=True)
def provider(settings):
    settings.CPX_PAYMENT_PROVIDER = PROVIDER
    RecordingProvider.paid.clear()
    RecordingProvider.confirms.clear()
    return RecordingProvider


@pytest.fixture
def order():
    return doctor_order("awaiting_payment")


@pytest.fixture
def holder(order):
    return persona("holder", professional=order.professional)


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def start(user, order, body=None):
    body = {"return_url": "https://portal.example/back"} if body is None else body
    return api(user).post(f"/api/v1/orders/{order.pk}/online_payment/", body, format="json")


def confirm(user, order, reference):
    url = f"/api/v1/orders/{order.pk}/online_payment/confirm/"
    return api(user).post(url, {"reference": reference}, format="json")


def error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    return response.json()


def test_the_holder_pays_online_and_the_order_goes_to_production(order, holder):
    response = start(holder, order)
    assert response.status_code == 201, response.content
    checkout = response.json()
    assert checkout["reference"] == f"chk_{order.pk}"
    assert checkout["redirect_url"].startswith("https://pay.example/chk_")
    error(confirm(holder, order, checkout["reference"]), 400, "payment_refused")  # not paid yet

    RecordingProvider.pay(checkout["reference"])
    first = confirm(holder, order, checkout["reference"])
    assert first.status_code == 201, first.content
    payment = first.json()
    assert (payment["method"], payment["amount"], payment["recorded_by"]) == (
        "card_online",
        "36.00",
        "cpx-system",
    )
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED


def test_confirming_twice_records_one_payment(order, holder, cnom):
    reference = start(holder, order).json()["reference"]
    RecordingProvider.pay(reference)
    assert confirm(holder, order, reference).status_code == 201
    calls = len(RecordingProvider.confirms)
    again = confirm(cnom, order, reference)  # the provider's call-back, or a retry, after the holder's return
    assert again.status_code == 200, again.content
    assert Payment.objects.filter(order=order).count() == 1
    assert len(RecordingProvider.confirms) == calls  # answered from the recorded payment


def test_a_reference_paid_for_one_order_does_not_pay_another(order, holder):
    reference = start(holder, order).json()["reference"]
    RecordingProvider.pay(reference)
    assert confirm(holder, order, reference).status_code == 201
    other = doctor_order(
        "awaiting_payment",
        exercise=ExerciseFactory(professional=order.professional, profession=profession("40")),
    )
    error(confirm(holder, other, reference), 400, "payment_refused")
    assert other.state == Order.State.AWAITING_PAYMENT and not Payment.objects.filter(order=other).exists()


def test_the_provider_says_which_order_a_checkout_paid(order, holder):
    other = doctor_order(
        "awaiting_payment",
        exercise=ExerciseFactory(professional=order.professional, profession=profession("40")),
    )
    RecordingProvider.pay("chk_x", order_id=other.pk)
    error(confirm(holder, order, "chk_x"), 400, "payment_refused")
    RecordingProvider.pay("chk_y", amount=Decimal("10.00"))
    error(confirm(holder, order, "chk_y"), 400, "payment_refused")  # not the amount due
    RecordingProvider.pay("chk_z", currency="USD")
    error(confirm(holder, order, "chk_z"), 400, "payment_refused")
    assert not Payment.objects.exists()


def test_a_concurrent_confirmation_that_lost_the_race_answers_with_the_payment(order, holder, monkeypatch):
    RecordingProvider.pay("chk_r")
    recorded = payment_services.payment_confirm_online(order=order, reference="chk_r")
    answers = iter([None, recorded])  # not yet recorded when it looked, recorded when it retried
    monkeypatch.setattr(payment_services, "_online_payment", lambda reference: next(answers))
    assert payment_services.payment_confirm_online(order=order, reference="chk_r") == recorded


@pytest.mark.parametrize(
    "body",
    [{}, {"return_url": "not a url"}, {"return_url": 7}, {"return_url": "javascript:alert(1)"}, [1]],
)
def test_start_rejects_bad_input(order, holder, body):
    body = error(start(holder, order, body), 400, "invalid")
    assert body["fields"]


@pytest.mark.parametrize("body", [{}, {"reference": ""}, {"reference": "x" * 101}, {"reference": ["a"]}])
def test_confirm_rejects_bad_input(order, holder, body):
    url = f"/api/v1/orders/{order.pk}/online_payment/confirm/"
    error(api(holder).post(url, body, format="json"), 400, "invalid")


def test_who_may_pay(order, holder, cnom):
    error(start(None, order), 401, "not_authenticated")
    error(start(persona("holder"), order), 404, "not_found")  # someone else's order does not exist for them
    error(start(persona("authority_operator", authority="ONI"), order), 404, "not_found")
    error(start(cnom, order), 403, "not_permitted")  # operators record transfers and cheques
    error(start(persona("auditor"), order), 403, "not_permitted")
    error(confirm(persona("holder"), order, "chk"), 404, "not_found")
    assert start(holder, order).status_code == 201


@pytest.mark.parametrize("pk", ["0", "x", str(2**70), "999999"])
def test_unknown_orders_are_not_found(holder, pk):
    for url in (f"/api/v1/orders/{pk}/online_payment/", f"/api/v1/orders/{pk}/online_payment/confirm/"):
        error(
            api(holder).post(url, {"return_url": "https://a.example/", "reference": "r"}, format="json"),
            404,
            "not_found",
        )


def test_only_an_order_awaiting_payment_is_paid(holder):
    queued = doctor_order("queued", professional=holder.account.professional)
    body = error(start(holder, queued), 409, "invalid_transition")
    assert body["state"] == "queued"
    RecordingProvider.pay("chk_q")
    error(confirm(holder, queued, "chk_q"), 409, "invalid_transition")


def test_without_a_configured_provider_online_payment_is_refused(order, holder, settings):
    settings.CPX_PAYMENT_PROVIDER = ""
    error(start(holder, order), 404, "online_payment_unavailable")
    error(confirm(holder, order, "chk"), 404, "online_payment_unavailable")


def test_the_service_refuses_a_payment_the_provider_did_not_receive(order):
    with pytest.raises(PaymentRefused):
        payment_services.payment_confirm_online(order=order, reference="nope")
