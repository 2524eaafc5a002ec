"""Fee waiver: one operator asks, a second approves, and only then is the order settled (a zero payment of
method ``waiver``) and sent on to production; the holder is told and the invoice says so."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext
from rest_framework.test import APIClient

from approvals import errors
from approvals import services as approvals
from approvals.models import ApprovalRequest
from core.errors import InvalidTransition, NotPermitted
from notifications.models import Notification
from notifications.rendering import render_notification
from orders import waivers
from orders.errors import InvalidOrder, OrderChanged
from orders.invoices import invoice_pdf
from orders.models import Order, Payment
from tests.factories import ExerciseFactory, OrderFactory
from tests.orders.test_payment_invoice import pdf_text

pytestmark = pytest.mark.django_db
REASON = "Carte défectueuse à la livraison, erreur du fabricant"


@pytest.fixture(autouse=True)
def no_production(monkeypatch):
    """The stations are the outside world: record the orders handed to them."""
    import orders.services

    calls: list[int] = []
    monkeypatch.setattr(orders.services, "_schedule_production", calls.append)
    return calls


@pytest.fixture
def order(db) -> Order:
    """A CNOM replacement order waiting for its 36 EUR fee."""
    return OrderFactory(  # type: ignore[return-value]
        exercise=ExerciseFactory(profession_id="10"),
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )


def test_asking_changes_nothing_on_the_order(order, cnom):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    assert (asked.action, asked.object_type, asked.object_id) == (waivers.ACTION, "order", str(order.pk))
    assert asked.payload == {"order_id": order.pk, "fee": "36.00", "reason": REASON}
    assert asked.authority_id == order.authority_id
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT
    assert not Payment.objects.filter(order=order).exists()


def test_the_requester_cannot_approve_their_own_waiver(order, cnom):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    with pytest.raises(errors.SelfApproval):
        approvals.decide(request_id=asked.pk, actor=cnom, approve=True)
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT


def test_a_second_operator_approves_and_the_order_goes_to_production(order, cnom, cnom2):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    decided = approvals.decide(request_id=asked.pk, actor=cnom2, approve=True)
    assert decided.state == ApprovalRequest.State.EXECUTED
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED
    payment = order.payment
    assert (payment.amount, payment.method, payment.reference) == (
        Decimal("0"),
        "waiver",
        f"REMISE-{asked.pk}",
    )
    assert payment.recorded_by == cnom2
    assert decided.result == {
        "order_id": order.pk,
        "payment_id": payment.pk,
        "invoice": payment.invoice_number,
    }
    transitions = list(order.events.values_list("transition", "actor", "reason"))[-2:]
    # The history says it in words, in the language of the request (French, or the msgid until translated).
    waived = gettext("%(method)s, reference %(reference)s") % {
        "method": gettext("Fee waived"),
        "reference": f"REMISE-{asked.pk}",
    }
    assert transitions == [("record_payment", cnom2.pk, waived), ("queue", cnom2.pk, "")]
    told = Notification.objects.filter(recipient=order.professional, event="fee_waived")
    assert told.exists()
    rendered = render_notification(told.first())
    assert "frais de remplacement remis" in rendered.subject
    assert "vous n'avez rien à payer" in rendered.body and "36,00\u00a0€" in rendered.body


def test_the_invoice_says_the_fee_was_waived(order, cnom, cnom2):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    approvals.decide(request_id=asked.pk, actor=cnom2, approve=True)
    pdf = invoice_pdf(Payment.objects.get(order=order))
    assert f"REMISE-{asked.pk}".encode() in pdf
    text = pdf_text(pdf).replace("\u00a0", " ")  # the invoice writes 36,00 € (French by default)
    assert "36,00 €" in text and "0,00 €" in text
    assert "remis" in text or "waived" in text


def test_a_rejected_waiver_leaves_the_order_waiting_for_payment(order, cnom, cnom2):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    approvals.decide(request_id=asked.pk, actor=cnom2, approve=False, comment="non")
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT


def test_another_ordres_operator_neither_asks_nor_approves(order, cnom, oni):
    from orders.errors import OrderNotFound

    with pytest.raises(OrderNotFound):
        waivers.fee_waiver_request(order=order, actor=oni, reason=REASON)
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    with pytest.raises(errors.RequestNotFound):
        approvals.decide(request_id=asked.pk, actor=oni, approve=True)


def test_the_holder_cannot_ask(order):
    from registry.models import Account
    from tests.factories import persona

    holder = persona(Account.Role.HOLDER, professional=order.professional)
    with pytest.raises(NotPermitted):
        waivers.fee_waiver_request(order=order, actor=holder, reason=REASON)


def test_only_an_order_awaiting_payment_can_be_waived(cnom):
    submitted = OrderFactory(exercise=ExerciseFactory(profession_id="10"), state=Order.State.SUBMITTED)
    with pytest.raises(InvalidTransition):
        waivers.fee_waiver_request(order=submitted, actor=cnom, reason=REASON)


def test_a_waiver_needs_a_reason(order, cnom):
    with pytest.raises(InvalidOrder):
        waivers.fee_waiver_request(order=order, actor=cnom, reason="  court ")


def test_an_order_paid_meanwhile_makes_the_approval_fail_and_stay_undecided(order, cnom, cnom2, cnom3):
    from orders.payment_services import payment_record

    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    payment_record(order=order, actor=cnom3, amount=Decimal("36.00"), method="transfer", reference="VIR-9")
    with pytest.raises(InvalidTransition):
        approvals.decide(request_id=asked.pk, actor=cnom2, approve=True)
    asked.refresh_from_db()
    assert asked.state == ApprovalRequest.State.PENDING
    assert not asked.decisions.exists()
    assert Payment.objects.get(order=order).method == "transfer"


def test_a_fee_changed_meanwhile_is_refused(order, cnom, cnom2):
    asked = waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    Order.objects.filter(pk=order.pk).update(fee=Decimal("40.00"))
    with pytest.raises(OrderChanged):
        approvals.decide(request_id=asked.pk, actor=cnom2, approve=True)
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_one_waiver_of_an_order_waits_at_a_time(order, cnom, cnom2):
    waivers.fee_waiver_request(order=order, actor=cnom, reason=REASON)
    with pytest.raises(errors.AlreadyRequested):
        waivers.fee_waiver_request(order=order, actor=cnom2, reason=REASON)


# --- API ----------------------------------------------------------------------------------------------------


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_asks_and_the_approvals_api_settles(order, cnom, cnom2):
    url = f"/api/v1/orders/{order.pk}/fee_waiver/"
    response = api(cnom).post(url, {"reason": REASON}, format="json")
    assert response.status_code == 201, response.content
    request_id = response.json()["id"]
    assert response.json()["action"] == waivers.ACTION
    again = api(cnom2).post(url, {"reason": REASON}, format="json")
    assert again.status_code == 409 and again.json() == {
        "code": "already_requested",
        "message": again.json()["message"],
        "request_id": request_id,
    }
    mine = api(cnom).post(f"/api/v1/approvals/{request_id}/approve/", {}, format="json")
    assert mine.status_code == 403 and mine.json()["code"] == "self_approval"
    assert api(cnom2).post(f"/api/v1/approvals/{request_id}/approve/", {}, format="json").status_code == 200
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED


def test_the_api_checks_the_reason_and_the_scope(order, cnom, oni):
    url = f"/api/v1/orders/{order.pk}/fee_waiver/"
    short = api(cnom).post(url, {"reason": "x"}, format="json")
    assert short.status_code == 400 and "reason" in short.json()["fields"]
    assert api(oni).post(url, {"reason": REASON}, format="json").status_code == 404


# --- the back-office order page -----------------------------------------------------------------------------


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_order_page_asks_for_a_waiver_and_links_the_request(order, cnom, cnom2):
    page = reverse("portal:bo-order", args=[order.pk])
    html = page_client(cnom).get(page).content.decode()
    assert "Demander la remise des frais</button>" in html
    assert '<label class="fr-label" for="id_waiver-reason">Motif de la remise' in html
    response = page_client(cnom).post(
        reverse("portal:bo-fee-waiver", args=[order.pk]), {"waiver-reason": REASON}, follow=True
    )
    asked = ApprovalRequest.objects.get(action=waivers.ACTION)
    html = response.content.decode()
    assert f'href="{reverse("portal:approval", args=[asked.pk])}"' in html
    assert "Demander la remise des frais</button>" not in html
    # The second operator finds it waiting on the approvals page, and approves it there.
    listing = page_client(cnom2).get(reverse("portal:approvals")).content.decode()
    assert f"Remise des frais de la commande n° {order.pk}" in listing.split('id="mine-h"')[0]
    page_client(cnom2).post(reverse("portal:approval-approve", args=[asked.pk]))
    assert Order.objects.get(pk=order.pk).state == Order.State.QUEUED


def test_the_order_page_refuses_a_waiver_without_reason(order, cnom):
    response = page_client(cnom).post(reverse("portal:bo-fee-waiver", args=[order.pk]), {"waiver-reason": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not ApprovalRequest.objects.exists()
