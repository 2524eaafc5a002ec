"""The card state machine: a card is activated only once shipped (a personalized card never shipped has no
delivery to confirm, and its order would stay `produced` for good)."""

import pytest
from django_fsm import can_proceed

from cards.models import Card, CardEvent
from lifecycle import errors
from lifecycle.services import card_activate
from orders.models import Order
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, OrderFactory, TariffFactory, persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def produced(db):
    TariffFactory()
    activity = ActivityFactory()
    order = OrderFactory(exercise=activity.exercise, state=Order.State.PRODUCED)
    return CardFactory(exercise=activity.exercise, order_id=order.pk, state=Card.State.PERSONALIZED)


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        (Card.State.PERSONALIZED, False),
        (Card.State.SHIPPED, True),
        (Card.State.ACTIVE, False),
        (Card.State.OPPOSED, False),
        (Card.State.SPOILED, False),
    ],
)
def test_only_a_shipped_card_can_be_activated(state, allowed):
    assert can_proceed(Card(state=state).activate) is allowed


def test_the_holder_cannot_activate_a_card_never_shipped(produced):
    holder = persona(Account.Role.HOLDER, professional=produced.professional)
    with pytest.raises(errors.InvalidCardState):
        card_activate(card=produced, actor=holder)
    produced.refresh_from_db()
    assert produced.state == Card.State.PERSONALIZED
    assert Order.objects.get(pk=produced.order_id).state == Order.State.PRODUCED
    assert not CardEvent.objects.filter(card=produced, kind="active").exists()
