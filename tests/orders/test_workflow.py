"""The happy paths of the order workflow, end to end through the services."""

from decimal import Decimal

import pytest

from core.transitions import allowed
from orders import payment_services, services
from orders.errors import NotEligible
from orders.models import Order
from registry.models import Account
from tests.factories import CardFactory, ExerciseFactory, persona

pytestmark = pytest.mark.django_db


def test_a_first_cps_goes_from_draft_to_produced_and_ends_there(
    cnom, production_calls, django_capture_on_commit_callbacks
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
    order = services.order_mark_produced(order=order, card=card)
    assert (order.state, order.produced_card, card.order) == (Order.State.PRODUCED, card, order)
    assert order.is_final and allowed(order) == []  # the card takes over
    assert [e.transition for e in order.events.all()] == [
        "create",
        "submit",
        "approve",
        "queue",
        "start_production",
        "mark_produced",
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
    payment = payment_services.payment_record(
        order=order, actor=cnom, amount=Decimal("36.00"), method="cheque", reference="CHQ1"
    )
    order.refresh_from_db()
    assert order.state == Order.State.QUEUED
    assert payment.amount == Decimal("36.00")


def test_placing_an_order_creates_and_submits_it_at_once():
    exercise = ExerciseFactory()
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    order = services.order_place(
        actor=holder, professional=exercise.professional, exercise=exercise, card_type="CPS", kind="first"
    )
    assert order.state == Order.State.SUBMITTED
    assert [(e.transition, e.actor_id) for e in order.events.all()] == [
        ("create", holder.pk),
        ("submit", holder.pk),
    ]


def test_an_order_refused_at_placing_leaves_no_draft():
    exercise = ExerciseFactory()
    CardFactory(exercise=exercise)  # a live card: a first order is not eligible
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    with pytest.raises(NotEligible):
        services.order_place(
            actor=holder, professional=exercise.professional, exercise=exercise, card_type="CPS", kind="first"
        )
    assert not Order.objects.exists()
