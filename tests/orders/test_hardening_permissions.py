"""Who first, then when, then what (issue 15): a caller who may not take an action gets 403 before any body
or eligibility check, a transition from a state that ends the order is a 409, and a holder names only the
structures they work in."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from cards.models import Card
from orders.models import Order
from registry.models import Account, CardType, StructureMember
from tests.factories import (
    CardFactory,
    ExerciseFactory,
    OrderFactory,
    StructureFactory,
    StructureMemberFactory,
    persona,
)

from .helpers import doctor_order

pytestmark = pytest.mark.django_db
# A body every endpoint refuses (400), were it read.
JUNK = {"reason": ["not", "text"], "amount": "lots", "method": "gold", "card": "x", "return_url": 7}


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _error(response: Any, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


def _holder_of(order: Order) -> Any:
    return persona(Account.Role.HOLDER, professional=order.professional)


def _auditor(order: Order) -> Any:
    return persona(Account.Role.AUDITOR)


def _ineligible_submitted_order() -> Order:
    """A submitted order whose holder left the registry since: its approval would be 422 not_eligible."""
    order = doctor_order("submitted", kind="first", replacement_reason="", replaces=None)
    order.professional.is_active = False
    order.professional.save(update_fields=["is_active"])
    return order


@pytest.mark.parametrize("who", [_holder_of, _auditor])
@pytest.mark.parametrize(
    "action", ["approve", "reject", "queue", "start_production", "mark_produced", "mark_failed"]
)
def test_a_caller_who_may_not_act_is_refused_before_the_body_and_the_rules(who, action):
    order = _ineligible_submitted_order()
    for body in ({}, JUNK):
        _error(
            _api(who(order)).post(f"/api/v1/orders/{order.pk}/{action}/", body, format="json"),
            403,
            "not_permitted",
        )
    assert Order.objects.get(pk=order.pk).state == Order.State.SUBMITTED


@pytest.mark.parametrize("who", [_holder_of, _auditor])
@pytest.mark.parametrize("action", ["record_payment", "fee_waiver"])
def test_payment_actions_refuse_the_holder_and_the_auditor_before_the_body(who, action):
    order = doctor_order("awaiting_payment")
    for body in ({}, JUNK):
        _error(
            _api(who(order)).post(f"/api/v1/orders/{order.pk}/{action}/", body, format="json"),
            403,
            "not_permitted",
        )
    assert Order.objects.get(pk=order.pk).state == Order.State.AWAITING_PAYMENT


def test_online_payment_refuses_the_auditor_before_the_body():
    order = doctor_order("awaiting_payment")
    answer = _api(persona(Account.Role.AUDITOR)).post(
        f"/api/v1/orders/{order.pk}/online_payment/", JUNK, format="json"
    )
    _error(answer, 403, "not_permitted")


def test_an_auditor_may_not_create_an_order_whatever_the_body():
    for body in ({}, JUNK, {"card_type": "CPS", "kind": "first"}):
        _error(
            _api(persona(Account.Role.AUDITOR)).post("/api/v1/orders/", body, format="json"),
            403,
            "not_permitted",
        )
    assert not Order.objects.exists()


def _delivered_first_order() -> Order:
    """A first order produced, its card personalized: the order is done with (``produced``)."""
    order = doctor_order("produced", kind="first", replacement_reason="", replaces=None)
    card: Any = CardFactory(exercise=order.exercise, state=Card.State.PERSONALIZED)
    Order.objects.filter(pk=order.pk).update(produced_card=card)
    return order


@pytest.mark.parametrize("state", ["produced", "cancelled"])
def test_approving_or_submitting_a_finished_order_is_a_conflict(state, cnom):
    if state == "produced":
        order = _delivered_first_order()
    else:
        order = doctor_order("cancelled", kind="first", replacement_reason="", replaces=None)
        CardFactory(exercise=order.exercise, state=Card.State.ACTIVE)  # the rules would fail: a live card
    body = _error(
        _api(cnom).post(f"/api/v1/orders/{order.pk}/approve/", {}, format="json"), 409, "invalid_transition"
    )
    assert body["state"] == state
    holder = _holder_of(order)
    body = _error(
        _api(holder).post(f"/api/v1/orders/{order.pk}/submit/", {}, format="json"), 409, "invalid_transition"
    )
    assert body["state"] == state


# --- structures a holder may name --------------------------------------------------------------------


def _cpe_body(member: StructureMember, structure_id: int) -> dict:
    return {
        "professional": member.professional_id,
        "structure": structure_id,
        "card_type": CardType.CPE,
        "kind": "first",
    }


def _without_ids(body: dict, *ids: int) -> str:
    text = str(body)
    for number in ids:
        text = text.replace(str(number), "<id>")
    return text


def test_a_holder_cannot_name_a_structure_they_do_not_work_in():
    member = StructureMemberFactory(structure=StructureFactory(), role=StructureMember.Role.STAFF)
    foreign = StructureFactory()
    missing = foreign.pk + 1000
    api = _api(persona(Account.Role.HOLDER, professional=member.professional))

    to_foreign = api.post("/api/v1/orders/", _cpe_body(member, foreign.pk), format="json")
    to_missing = api.post("/api/v1/orders/", _cpe_body(member, missing), format="json")

    assert to_foreign.status_code == to_missing.status_code == 404, to_foreign.content
    assert _without_ids(to_foreign.json(), foreign.pk) == _without_ids(to_missing.json(), missing)
    assert not Order.objects.exists()  # nothing the foreign structure's manager could see
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=foreign)
    assert _api(manager).get("/api/v1/orders/").json()["results"] == []


def test_a_holder_names_the_structure_they_work_in():
    member = StructureMemberFactory(structure=StructureFactory(), role=StructureMember.Role.STAFF)
    api = _api(persona(Account.Role.HOLDER, professional=member.professional))
    answer = api.post("/api/v1/orders/", _cpe_body(member, member.structure_id), format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["structure"] == member.structure_id


def test_the_service_refuses_a_foreign_structure_to_a_holder_too():
    from orders import services
    from orders.errors import StructureNotFound

    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    with pytest.raises(StructureNotFound):
        services.order_create(
            actor=holder,
            professional=exercise.professional,
            card_type=CardType.CPE,
            kind="first",
            structure=StructureFactory(),
        )
    assert not OrderFactory._meta.model.objects.exists()
