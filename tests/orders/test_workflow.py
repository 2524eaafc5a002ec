"""The happy paths of the order workflow, end to end through the services."""

from decimal import Decimal

import pytest

from orders import services
from orders.models import Order
from registry.models import Account
from tests.factories import CardFactory, ExerciseFactory, persona

pytestmark = pytest.mark.django_db


def test_a_first_cps_goes_from_draft_to_delivered(
    cnom, system, production_calls, django_capture_on_commit_callbacks
):
    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    order = services.order_create(
        actor=holder, professional=exercise.professional, exercise=exercise, card_type="CPS", kind="first"
    )
    assert order.authority.code == "CNOM"
    services.order_submit(order=order, actor=holder)
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_approve(order=order, actor=cnom)
    assert order.state == Order.State.QUEUED
    assert production_calls == [order.pk]
    services.order_start_production(order=order)
    card = CardFactory(exercise=exercise, state="personalized")
    services.order_mark_produced(order=order, card=card)
    services.order_mark_shipped(order=order, actor=system)
    order = services.order_mark_delivered(order=order, actor=holder)
    assert order.state == Order.State.DELIVERED
    assert [e.transition for e in order.events.all()] == [
        "create",
        "submit",
        "approve",
        "queue",
        "start_production",
        "mark_produced",
        "ship",
        "deliver",
    ]


def test_a_lost_card_replacement_waits_for_payment(cnom):
    card = CardFactory(state="opposed")
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    order = services.order_create(
        actor=holder,
        professional=card.professional,
        exercise=card.exercise,
        card_type="CPS",
        kind="replacement",
        replacement_reason="lost",
        replaces=card,
    )
    services.order_submit(order=order, actor=holder)
    order = services.order_approve(order=order, actor=cnom)
    assert order.state == Order.State.AWAITING_PAYMENT
    assert order.fee == Decimal("36.00")
    payment = services.payment_record(
        order=order, actor=cnom, amount=Decimal("36.00"), method="cheque", reference="CHQ1"
    )
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED
    assert payment.amount == Decimal("36.00")
