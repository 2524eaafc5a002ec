"""Every (state, transition, role) triple, allowed or forbidden, through the services.

The expected answers are written out here, independently of ``orders.permissions`` and the model.
"""

import pytest

from orders.errors import InvalidTransition, NotPermitted
from orders.models import Order, OrderEvent

from .helpers import ROLES, fire, order_and_actor

S = Order.State
SOURCES = {
    "submit": {S.DRAFT},
    "approve": {S.SUBMITTED},
    "reject": {S.SUBMITTED},
    "cancel": {S.DRAFT, S.SUBMITTED, S.APPROVED, S.AWAITING_PAYMENT, S.PAID, S.QUEUED},
    "queue": {S.APPROVED, S.PAID},
    "record_payment": {S.AWAITING_PAYMENT},
    "start_production": {S.QUEUED},
    "mark_produced": {S.IN_PRODUCTION},
    "mark_failed": {S.IN_PRODUCTION},
    "requeue": {S.FAILED},
    "ship": {S.PRODUCED},
    "deliver": {S.SHIPPED},
}
# Where the order ends up (approval, payment and a first failure carry on by themselves).
TARGET = {
    "submit": S.SUBMITTED,
    "approve": S.QUEUED,
    "reject": S.REJECTED,
    "cancel": S.CANCELLED,
    "queue": S.QUEUED,
    "record_payment": S.QUEUED,
    "start_production": S.IN_PRODUCTION,
    "mark_produced": S.PRODUCED,
    "mark_failed": S.QUEUED,
    "requeue": S.QUEUED,
    "ship": S.SHIPPED,
    "deliver": S.DELIVERED,
}
OPS = {"authority_operator", "ans_operator"}
MAY = {
    "submit": {"holder", "structure_manager", "system"},
    "approve": OPS,
    "reject": OPS,
    "cancel": OPS | {"holder", "structure_manager", "system"},
    "queue": OPS | {"system"},
    "record_payment": OPS | {"system"},
    "start_production": {"system"},
    "mark_produced": {"system"},
    "mark_failed": {"system"},
    "requeue": OPS | {"system"},
    "ship": {"ans_operator", "system"},
    "deliver": {"holder", "structure_manager", "ans_operator", "system"},
}
CASES = [(state, name, role) for state in S.values for name in SOURCES for role in ROLES]


def expected(state, name, role):
    if role not in MAY[name]:
        return NotPermitted
    if state not in SOURCES[name]:
        return InvalidTransition
    return TARGET[name]


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "name", "role"), CASES)
def test_transition_by_role_from_state(state, name, role):
    order, actor = order_and_actor(role, state)
    events_before = OrderEvent.objects.filter(order=order).count()
    outcome = expected(state, name, role)
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            fire(name, order, actor)
        order.refresh_from_db()
        assert order.state == state
        assert OrderEvent.objects.filter(order=order).count() == events_before
    else:
        fire(name, order, actor)
        order.refresh_from_db()
        assert order.state == outcome
        event = OrderEvent.objects.filter(order=order, transition=name).get()
        assert (event.from_state, event.actor_id) == (state, actor.pk)


def test_every_transition_of_the_machine_is_in_the_table():
    field = Order._meta.get_field("state")
    names = {t.name for t in field.get_all_transitions(Order)}
    assert names == set(SOURCES) | {"request_payment"}
    for transition in field.get_all_transitions(Order):
        if transition.name in SOURCES:
            assert transition.source in SOURCES[transition.name]
