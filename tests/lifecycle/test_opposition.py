"""Opposition: the card is blocked at once, its certificates revoked, a replacement ordered; final."""

from decimal import Decimal

import pytest
from django.utils import translation
from freezegun import freeze_time

from cards.errors import CardNotFound, InvalidCardState
from cards.models import Card, CardEvent
from core.errors import InvalidInput, NotPermitted
from lifecycle import errors
from lifecycle.models import Opposition
from lifecycle.opposition import card_declare_opposition
from lifecycle.shipping import ShipmentLine, shipping_batch_create
from notifications.models import Notification
from orders.models import Order
from pki.models import Certificate
from registry.models import Account
from tests.factories import (
    CardFactory,
    OrderFactory,
    StructureMemberFactory,
    persona,
)

from .conftest import card_of_an_order, days

pytestmark = pytest.mark.django_db

CASES = [
    # reason, card state after, CRL reason, fee of the replacement
    ("lost", Card.State.OPPOSED, "keyCompromise", Decimal("36.00")),
    ("stolen", Card.State.OPPOSED, "keyCompromise", Decimal("36.00")),
    ("damaged", Card.State.REVOKED, "superseded", Decimal("36.00")),
    ("defective", Card.State.REVOKED, "superseded", None),
]


@pytest.mark.parametrize(("reason", "state", "crl_reason", "fee"), CASES)
def test_a_declaration_blocks_the_card_revokes_and_orders_a_replacement(
    card, certify, holder_of, reason, state, crl_reason, fee
):
    certificates = certify(card)
    opposition = card_declare_opposition(card=card, reason=reason, actor=holder_of(card), channel="online")

    card.refresh_from_db()
    assert card.state == state
    for cert in certificates:
        cert.refresh_from_db()
        assert cert.revoked_at is not None and cert.revocation_reason == crl_reason
    assert opposition.revoked_certificates == 2
    order = Order.objects.get(pk=opposition.replacement_order_id)
    assert (order.kind, order.replacement_reason, order.replaces_id) == ("replacement", reason, card.pk)
    assert order.fee == fee
    # Submitted with its fee fixed: the authority's approval then asks for payment (paid kinds) or queues it.
    assert order.state == Order.State.SUBMITTED
    assert CardEvent.objects.filter(card=card, kind=state, detail__reason=reason).count() == 1
    events = set(Notification.objects.filter(recipient=card.professional).values_list("event", flat=True))
    assert events == {"opposition_confirmed", "replacement_ordered"}
    # The replacement is told once, by the order's submission (its own key), with what it costs.
    ordered = Notification.objects.get(event="replacement_ordered", channel="in_app")
    assert ordered.dedup_key == f"replacement_ordered:{order.pk}"
    assert ordered.context["free"] is (fee is None)
    # A formal notice: the confirmation also goes by post, on top of e-mail and in-app.
    channels = Notification.objects.filter(event="opposition_confirmed").values_list("channel", flat=True)
    assert set(channels) == {"email", "in_app", "letter"}


def test_a_paid_replacement_asks_for_payment_once_the_ordre_approves(card, holder_of, cnom, hierarchy):
    from orders.services import order_approve

    opposition = card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="online")
    order = order_approve(order=opposition.replacement_order_id, actor=cnom)
    assert order.state == Order.State.AWAITING_PAYMENT and order.fee == Decimal("36.00")


def test_a_second_declaration_is_refused_and_changes_nothing(card, holder_of, cnom, hierarchy):
    card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="online")
    counts = (Order.objects.count(), Notification.objects.count(), CardEvent.objects.count())

    with pytest.raises(errors.AlreadyOpposed) as refused, translation.override("en"):
        card_declare_opposition(card=card, reason="stolen", actor=cnom, channel="phone")
    assert refused.value.code == "already_opposed"
    assert "cannot be undone" in refused.value.message
    assert (Order.objects.count(), Notification.objects.count(), CardEvent.objects.count()) == counts
    assert Opposition.objects.get(card=card).reason == "lost"


def test_a_revoked_damaged_card_cannot_be_declared_again_either(card, holder_of, hierarchy):
    card_declare_opposition(card=card, reason="damaged", actor=holder_of(card), channel="online")
    with pytest.raises(errors.AlreadyOpposed):
        card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="online")


def test_an_expired_card_cannot_be_declared(card, holder_of, hierarchy):
    Card.objects.filter(pk=card.pk).update(state=Card.State.EXPIRED)
    with pytest.raises(InvalidCardState):
        card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="online")


def test_an_operator_declares_by_phone_or_form_501_for_the_ordres_holders(card, cnom, hierarchy):
    opposition = card_declare_opposition(card=card, reason="stolen", actor=cnom, channel="form_501")
    assert (opposition.channel, opposition.declared_by_role) == ("form_501", "authority_operator")
    # The platform creates the replacement order (operators do not order cards for holders).
    order = Order.objects.get(pk=opposition.replacement_order_id)
    assert order.created_by.account.role == Account.Role.SYSTEM


def test_an_operator_does_not_declare_online_and_a_holder_not_by_phone(card, cnom, holder_of, hierarchy):
    with pytest.raises(NotPermitted):
        card_declare_opposition(card=card, reason="lost", actor=cnom, channel="online")
    with pytest.raises(NotPermitted):
        card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="phone")
    assert Card.objects.get(pk=card.pk).state == Card.State.ACTIVE


def test_strangers_do_not_see_the_card(card, hierarchy):
    stranger = persona(Account.Role.HOLDER)
    other_ordre = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOSF")
    auditor = persona(Account.Role.AUDITOR)
    for actor in (stranger, other_ordre):
        with pytest.raises(CardNotFound):
            card_declare_opposition(card=card, reason="lost", actor=actor, channel="phone")
    with pytest.raises(NotPermitted):
        card_declare_opposition(card=card, reason="lost", actor=auditor, channel="phone")
    assert not Opposition.objects.exists()


def test_a_structure_manager_declares_a_staff_card(tariff, hierarchy):
    member = StructureMemberFactory()
    staff_card = CardFactory(
        exercise=None, professional=member.professional, structure=member.structure, card_type="CPE"
    )
    manager = persona(Account.Role.STRUCTURE_MANAGER, structure=member.structure)
    opposition = card_declare_opposition(card=staff_card, reason="lost", actor=manager, channel="online")
    order = Order.objects.get(pk=opposition.replacement_order_id)
    assert (order.card_type, order.structure_id, order.fee) == ("CPE", member.structure_id, Decimal("36.00"))


def test_unknown_reason_or_channel_is_invalid_input(card, holder_of):
    with pytest.raises(InvalidInput):
        card_declare_opposition(card=card, reason="forgotten", actor=holder_of(card), channel="online")
    with pytest.raises(InvalidInput):
        card_declare_opposition(card=card, reason="lost", actor=holder_of(card), channel="pigeon")


def test_the_card_stays_blocked_when_the_replacement_is_refused(card, holder_of, hierarchy):
    # A renewal already under way for this exercise: orders refuses a second open order for the slot.
    OrderFactory(exercise=card.exercise, kind="renewal", replaces=card, state=Order.State.SUBMITTED)
    opposition = card_declare_opposition(card=card, reason="stolen", actor=holder_of(card), channel="online")
    assert Card.objects.get(pk=card.pk).state == Card.State.OPPOSED
    assert opposition.replacement_order_id is None
    event = CardEvent.objects.get(card=card, kind="replacement_not_ordered")
    assert event.detail["code"] == "open_order_exists"  # the slot's open order (orders: a 409 of its own)
    assert not Notification.objects.filter(event="replacement_ordered").exists()


# --- not received ----------------------------------------------------------------------------------------


@pytest.fixture
def shipped_card(tariff, ans):
    card = card_of_an_order(state=Card.State.PERSONALIZED)
    shipping_batch_create(
        actor=ans, carrier="La Poste", reference="B-1", lines=[ShipmentLine(card.pk, "6A1")]
    )
    card.refresh_from_db()
    return card


def test_not_received_only_after_the_delay(shipped_card, holder_of, settings, hierarchy):
    holder = holder_of(shipped_card)
    with pytest.raises(errors.NotReceivedTooEarly):
        card_declare_opposition(card=shipped_card, reason="not_received", actor=holder, channel="online")
    assert Card.objects.get(pk=shipped_card.pk).state == Card.State.SHIPPED

    with freeze_time(shipped_card.shipment.batch.shipped_at + days(settings.CPX_NOT_RECEIVED_DAYS)):
        opposition = card_declare_opposition(
            card=shipped_card, reason="not_received", actor=holder, channel="online"
        )
    assert Card.objects.get(pk=shipped_card.pk).state == Card.State.OPPOSED
    assert opposition.reason == "not_received"


def test_a_card_never_received_is_replaced_free(shipped_card, holder_of, settings, hierarchy):
    with freeze_time(shipped_card.shipment.batch.shipped_at + days(settings.CPX_NOT_RECEIVED_DAYS)):
        opposition = card_declare_opposition(
            card=shipped_card, reason="not_received", actor=holder_of(shipped_card), channel="online"
        )
    order = Order.objects.get(pk=opposition.replacement_order_id)
    assert order.fee is None and order.replacement_reason == "not_received"


def test_an_activated_card_cannot_be_not_received(card, holder_of, hierarchy):
    with pytest.raises(InvalidCardState):
        card_declare_opposition(card=card, reason="not_received", actor=holder_of(card), channel="online")


def test_not_received_revokes_as_key_compromise(shipped_card, holder_of, certify, settings):
    certificates = certify(shipped_card)
    with freeze_time(shipped_card.shipment.batch.shipped_at + days(settings.CPX_NOT_RECEIVED_DAYS + 1)):
        card_declare_opposition(
            card=shipped_card, reason="not_received", actor=holder_of(shipped_card), channel="online"
        )
    reasons = set(
        Certificate.objects.filter(pk__in=[c.pk for c in certificates]).values_list(
            "revocation_reason", flat=True
        )
    )
    assert reasons == {"keyCompromise"}
