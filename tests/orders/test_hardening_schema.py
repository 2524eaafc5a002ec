"""The orders' schema says what the endpoints do (issue 15): the transitions offered are operations that
exist, the invoice is a PDF and says so, online payment may be off and says how, ids are integers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from orders.models import Order
from registry.models import Account
from tests.factories import PaymentFactory, persona

from .helpers import ROLES, doctor_order, order_and_actor

pytestmark = pytest.mark.django_db
BODIES = {
    "record_payment": {"amount": "36.00", "method": "transfer", "reference": "V1"},
    "reject": {"reason": "Dossier incomplet"},
    "mark_failed": {"reason": "card did not answer"},
}


def _api(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return json.loads(_api().get("/api/schema/", {"format": "json"}).content)


@pytest.mark.parametrize("state", [s.value for s in Order.State])
def test_every_transition_offered_is_an_operation_of_the_order(state):
    order = doctor_order(state)
    body = _api(persona(Account.Role.AUDITOR)).get(f"/api/v1/orders/{order.pk}/").json()
    for name in body["allowed_transitions"]:
        try:
            resolve(f"/api/v1/orders/{order.pk}/{name}/")
        except Resolver404:
            pytest.fail(f"{state}: {name} is offered but POST /orders/{{id}}/{name}/ does not exist")
        assert name != "ship"  # shipping is the card's, through /shipping-batches/


def test_the_approved_state_offers_no_step_the_services_fire_alone():
    order = doctor_order("approved", fee="36.00")
    body = _api(persona(Account.Role.AUDITOR)).get(f"/api/v1/orders/{order.pk}/").json()
    assert body["allowed_transitions"] == ["cancel"]  # request_payment is the approval's own next step


@pytest.mark.parametrize("state", ["submitted", "approved", "awaiting_payment", "queued", "failed"])
@pytest.mark.parametrize("role", ROLES)
def test_your_transitions_are_exactly_those_that_succeed(role, state):
    """For each persona and state: every transition listed in ``your_transitions`` goes through, every other
    one with an endpoint is refused."""
    order, actor = order_and_actor(role, state)
    listed = _api(actor).get(f"/api/v1/orders/{order.pk}/").json().get("your_transitions")
    if listed is None:  # the persona does not see the order
        return
    for name in ["approve", "cancel", "queue", "record_payment", "reject", "requeue", "start_production"]:
        order, actor = order_and_actor(role, state)
        answer = _api(actor).post(f"/api/v1/orders/{order.pk}/{name}/", BODIES.get(name, {}), format="json")
        assert (answer.status_code in (200, 201)) == (name in listed), (name, listed, answer.content)


def test_your_transitions_after_approval_are_read_from_the_order_as_it_is_now(cnom):
    order = doctor_order("submitted", fee="36.00")
    answer = _api(cnom).post(f"/api/v1/orders/{order.pk}/approve/", {}, format="json").json()
    assert answer["state"] == "awaiting_payment"
    assert answer["your_transitions"] == ["cancel", "record_payment"]
    assert answer["allowed_transitions"] == ["cancel", "record_payment"]
    again = _api(cnom).get(f"/api/v1/orders/{order.pk}/").json()
    assert again["your_transitions"] == answer["your_transitions"]


# --- the invoice ------------------------------------------------------------------------------------


@pytest.fixture
def paid(cnom):
    payment = PaymentFactory(order=doctor_order("queued", fee="36.00"))
    return payment.order


def test_the_invoice_is_a_pdf_by_default(paid, cnom):
    answer = _api(cnom).get(f"/api/v1/orders/{paid.pk}/invoice/")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")


@pytest.mark.parametrize("ask", [{"format": "json"}, {"HTTP_ACCEPT": "application/json"}])
def test_the_invoice_asked_as_json_is_refused_not_answered_as_a_pdf(paid, cnom, ask):
    query = {"format": ask["format"]} if "format" in ask else {}
    headers = {k: v for k, v in ask.items() if k != "format"}
    answer = _api(cnom).get(f"/api/v1/orders/{paid.pk}/invoice/", query, **headers)
    assert answer.status_code == 406, answer.content
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "not_acceptable"


def test_the_invoice_operation_declares_pdf_only(schema):
    operation = schema["paths"]["/api/v1/orders/{id}/invoice/"]["get"]
    assert "406" in operation["responses"]
    formats = [p for p in operation["parameters"] if p["name"] == "format"]
    assert formats and formats[0]["schema"]["enum"] == ["pdf"]


# --- online payment may be off ---------------------------------------------------------------------


def test_online_payment_off_answers_the_status_the_schema_declares(schema, settings):
    settings.CPX_PAYMENT_PROVIDER = ""
    order = doctor_order("awaiting_payment")
    holder = persona(Account.Role.HOLDER, professional=order.professional)
    for path, body in (("online_payment", {}), ("online_payment/confirm", {})):
        answer = _api(holder).post(f"/api/v1/orders/{order.pk}/{path}/", body, format="json")
        assert answer.status_code == 404, answer.content  # before the body: nothing to fill in
        assert answer.json()["code"] == "online_payment_unavailable"
        operation = schema["paths"][f"/api/v1/orders/{{id}}/{path}/"]["post"]
        assert "may be off" in operation["description"]
        assert "online_payment_unavailable" in operation["responses"]["404"]["description"]


# --- ids ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payments/{id}/",
        "/api/v1/orders/{id}/",
        "/api/v1/orders/{id}/invoice/",
        "/api/v1/orders/{id}/record_payment/",
        "/api/v1/orders/{id}/online_payment/",
        "/api/v1/orders/{id}/fee_waiver/",
        "/api/v1/orders/{id}/approve/",
    ],
)
def test_ids_in_paths_are_integers(schema, path):
    for operation in schema["paths"][path].values():
        ids = [p for p in operation["parameters"] if p["in"] == "path"]
        assert [(p["name"], p["schema"]["type"]) for p in ids] == [("id", "integer")], path
