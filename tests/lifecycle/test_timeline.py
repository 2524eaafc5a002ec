"""One timeline per order: its events, the card's shipping, the day the codes letter leaves, activation, and
the day from which the card may be declared not received."""

import datetime as dt

import pytest
from django.utils import timezone
from freezegun import freeze_time

from cards import services as card_services
from cards.models import Card
from lifecycle.shipping import ShipmentLine, pin_mailers_release, shipping_batch_create
from lifecycle.timeline import Kind, order_timeline
from orders import services as order_services
from orders.models import Order
from registry.models import Account
from tests.factories import CardFactory, ExerciseFactory, persona

pytestmark = pytest.mark.django_db

# The card leaves two days after it was ordered and made (the order's events are written now).
SHIP_DAY = timezone.localdate() + dt.timedelta(days=2)


@pytest.fixture
def produced_order(cnom, system):
    """A first CPS ordered by its holder, approved by CNOM, made at a station."""
    exercise = ExerciseFactory(profession_id="10")
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    order = order_services.order_place(
        actor=holder, professional=exercise.professional, card_type="CPS", kind="first", exercise=exercise
    )
    order_services.order_approve(order=order, actor=cnom)
    order_services.order_start_production(order=order.pk)
    card = CardFactory(exercise=exercise, state=Card.State.PERSONALIZED)
    return order_services.order_mark_produced(order=order.pk, card=card)


def ship(order: Order, ans) -> Card:
    with freeze_time(SHIP_DAY):
        shipping_batch_create(
            actor=ans,
            carrier="La Poste",
            reference="B-1",
            lines=[ShipmentLine(order.produced_card_id or 0, "6A1")],
        )
    return Card.objects.get(pk=order.produced_card_id)


def timeline(order: Order, now: dt.datetime | None = None):
    """The timeline as the order page reads it: the order and its card loaded afresh."""
    return order_timeline(order=Order.objects.select_related("produced_card").get(pk=order.pk), now=now)


def kinds(order: Order, now: dt.datetime | None = None) -> list[str]:
    return [entry.kind for entry in timeline(order, now)]


def moment(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def test_the_order_events_come_first_in_their_order(produced_order):
    entries = timeline(produced_order)
    assert [e.event.transition for e in entries if e.event] == [
        "create",
        "submit",
        "approve",
        "queue",
        "start_production",
        "mark_produced",
    ]
    assert all(e.kind == Kind.ORDER for e in entries)  # not shipped yet: nothing else


def test_a_shipped_card_shows_its_codes_letter_day_and_when_non_receipt_may_be_declared(
    produced_order, ans, settings
):
    settings.CPX_PIN_MAILER_DELAY_DAYS, settings.CPX_NOT_RECEIVED_DAYS = 1, 10
    ship(produced_order, ans)
    entries = timeline(produced_order, moment(SHIP_DAY))
    tail = entries[-3:]
    assert [e.kind for e in tail] == [Kind.SHIPPED, Kind.CODES_LETTER, Kind.NOT_RECEIVED_FROM]
    shipped, letter, declarable = tail
    assert shipped.details == {"carrier": "La Poste", "tracking_reference": "6A1"}
    assert (letter.upcoming, letter.date_only, letter.day) == (True, True, SHIP_DAY + dt.timedelta(days=1))
    assert declarable.upcoming and declarable.day == SHIP_DAY + dt.timedelta(days=10)
    # Once that day has come, it is no longer to come.
    later = timeline(produced_order, moment(SHIP_DAY + dt.timedelta(days=11)))
    assert not later[-1].upcoming and later[-1].kind == Kind.NOT_RECEIVED_FROM


def test_the_codes_letter_released_shows_when_it_left(produced_order, ans):
    ship(produced_order, ans)
    with freeze_time(SHIP_DAY + dt.timedelta(days=1, hours=9)):
        assert pin_mailers_release() == 1
    [letter] = [e for e in timeline(produced_order) if e.kind == Kind.CODES_LETTER]
    assert not letter.upcoming and not letter.date_only and letter.day == SHIP_DAY + dt.timedelta(days=1)


def test_an_activated_card_ends_the_timeline_and_non_receipt_is_no_longer_offered(
    produced_order, ans, holder_of
):
    card = ship(produced_order, ans)
    with freeze_time(SHIP_DAY + dt.timedelta(days=3)):
        card_services.card_activate(card=card, actor=holder_of(card))
    found = kinds(produced_order)
    assert found[-1] == Kind.ACTIVATED and Kind.NOT_RECEIVED_FROM not in found


def test_a_card_blocked_before_its_codes_left_has_no_codes_letter_planned(produced_order, ans, holder_of):
    card = ship(produced_order, ans)
    card_services.card_oppose(card=card, actor=holder_of(card), crl_reason="keyCompromise")
    [letter] = [e for e in timeline(produced_order) if e.kind == Kind.CODES_LETTER]
    assert letter.details["cancelled"] is True
    assert Kind.BLOCKED in kinds(produced_order) and Kind.NOT_RECEIVED_FROM not in kinds(produced_order)


def test_an_order_without_a_card_has_only_its_events():
    exercise = ExerciseFactory(profession_id="10")
    holder = persona(Account.Role.HOLDER, professional=exercise.professional)
    draft = order_services.order_create(
        actor=holder, professional=exercise.professional, card_type="CPS", kind="first", exercise=exercise
    )
    assert kinds(draft) == [Kind.ORDER]
