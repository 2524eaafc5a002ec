"""Every (state, transition, role) triple, allowed or forbidden, through the services and so through
``core.transitions.fire``, which asks each transition's declared ``permission``.

The expected answers are written out here, independently of ``orders.permissions`` and the model.
"""

import pytest
from django_fsm import has_transition_perm

from core import transitions
from orders.errors import InvalidTransition, NotPermitted
from orders.models import Order, OrderEvent
from tests.factories import persona

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
}
OPS = {"authority_operator", "ans_operator"}
MAY = {
    "submit": {"holder", "structure_manager", "authority_operator", "ans_operator", "system"},
    "approve": OPS,
    "reject": OPS,
    "cancel": OPS | {"holder", "structure_manager", "system"},
    "queue": OPS | {"system"},
    "record_payment": OPS | {"system"},
    "start_production": {"system"},
    "mark_produced": {"system"},
    "mark_failed": {"system"},
    "requeue": OPS | {"system"},
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


def transition_of(name):
    field = Order._meta.get_field("state")
    return next(t for t in field.get_all_transitions(Order) if t.name == name)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role"), [(name, role) for name in SOURCES for role in ROLES])
def test_the_declared_permission_answers_the_table(name, role):
    """The machine itself (``has_transition_perm``, from a state the transition leaves) gives the table."""
    state = sorted(SOURCES[name])[0]
    order, actor = order_and_actor(role, state)
    assert has_transition_perm(getattr(order, name), actor) == (role in MAY[name])


@pytest.mark.django_db
def test_it_is_the_declared_permission_that_decides(monkeypatch):
    """Only the transition's ``permission=`` says who may fire it: change it and the services follow."""
    draft, auditor = order_and_actor("auditor", S.DRAFT)
    monkeypatch.setattr(transition_of("cancel"), "permission", lambda order, user: True)
    fire("cancel", draft, auditor)
    draft.refresh_from_db()
    assert draft.state == S.CANCELLED
    other, holder = order_and_actor("holder", S.DRAFT)
    monkeypatch.setattr(transition_of("submit"), "permission", lambda order, user: False)
    with pytest.raises(NotPermitted):
        fire("submit", other, holder)


@pytest.mark.django_db
def test_the_platform_requeues_only_below_the_failure_limit(settings):
    settings.CPX_MAX_PRODUCTION_FAILURES = 2
    order, system = order_and_actor("system", S.FAILED)
    order.failure_count = 1
    assert transitions.allowed(order, system) == ["requeue"]
    order.failure_count = 2
    assert transitions.allowed(order, system) == []
    cnom = persona("authority_operator", authority=order.authority)
    assert transitions.allowed(order, cnom) == ["requeue"]


def test_produced_is_final():
    field = Order._meta.get_field("state")
    assert [t.name for t in field.get_all_transitions(Order) if t.source == S.PRODUCED] == []
    assert S.PRODUCED in Order.FINAL_STATES
