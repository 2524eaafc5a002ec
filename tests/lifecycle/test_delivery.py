"""Shipping batches, the PIN mailer a day later, activation by confirming receipt (where the authority
allows it; proof of possession is test_activation_proof), the renewed card superseding the old one, expiry
and striking off."""

import datetime as dt

import pytest
from freezegun import freeze_time

from cards.errors import CardNotFound, InvalidCardState
from cards.models import Card, CardEvent
from core.errors import InvalidInput, NotPermitted
from lifecycle import errors
from lifecycle.activation import card_authority, card_confirm_receipt
from lifecycle.models import Shipment
from lifecycle.shipping import (
    ShipmentLine,
    pin_mailers_release,
    shipping_batch_create,
    shipping_batch_for,
    shipping_batches_visible_to,
)
from lifecycle.withdrawal import cards_expire, cards_revoke_for_inactive_holders
from notifications.models import Notification
from orders.models import Order
from pki.models import Certificate
from registry.models import Account, Professional
from tests.factories import ActivityFactory, CardFactory, OrderFactory, persona

from .conftest import card_of_an_order

pytestmark = pytest.mark.django_db

SHIP_DAY = dt.date(2026, 3, 2)


@pytest.fixture
def produced(tariff):
    """A card fresh from the station, its order `produced`."""
    return card_of_an_order(state=Card.State.PERSONALIZED)


def ship(card, ans, reference="B-2026-001", tracking="6A00000001"):
    with freeze_time(SHIP_DAY):
        return shipping_batch_create(
            actor=ans, carrier="La Poste", reference=reference, lines=[ShipmentLine(card.pk, tracking)]
        )


def events(card) -> list[str]:
    return list(
        Notification.objects.filter(recipient=card.professional, channel="in_app").values_list(
            "event", flat=True
        )
    )


def test_shipping_ships_the_card_and_tells_the_holder_and_the_order_stays_produced(produced, ans):
    batch = ship(produced, ans)
    produced.refresh_from_db()
    assert produced.state == Card.State.SHIPPED
    # The order ended at `produced`: the card's state is what shows it is on its way.
    assert Order.objects.get(produced_card=produced).state == Order.State.PRODUCED
    event = CardEvent.objects.get(card=produced, kind="shipped")
    assert event.detail == {
        "from": "personalized",
        "actor_id": ans.pk,
        "actor_role": "ans_operator",
        "batch": "B-2026-001",
        "tracking": "6A00000001",
    }
    shipment = Shipment.objects.get(card=produced)
    assert (shipment.batch, shipment.tracking_reference) == (batch, "6A00000001")
    assert shipment.pin_release_on == SHIP_DAY + dt.timedelta(days=1)
    assert events(produced) == ["card_shipped"]
    message = Notification.objects.get(event="card_shipped", channel="email")
    assert message.context["tracking_reference"] == "6A00000001"


def test_those_who_run_or_watch_production_read_the_batches_and_no_one_else(produced, ans):
    batch = ship(produced, ans)
    for role in (Account.Role.ANS_OPERATOR, Account.Role.AUDITOR, Account.Role.SYSTEM):
        assert list(shipping_batches_visible_to(persona(role))) == [batch]
        assert shipping_batch_for(actor=persona(role), batch_id=batch.pk) == batch
    for role in (Account.Role.HOLDER, Account.Role.STRUCTURE_MANAGER, Account.Role.AUTHORITY_OPERATOR):
        with pytest.raises(NotPermitted):
            shipping_batches_visible_to(persona(role))
    with pytest.raises(errors.BatchNotFound):
        shipping_batch_for(actor=ans, batch_id=batch.pk + 1)


def test_the_pin_mailer_goes_the_day_after_and_only_once(produced, ans):
    ship(produced, ans)
    assert pin_mailers_release(today=SHIP_DAY) == 0
    assert "pin_mailer_sent" not in events(produced)
    assert pin_mailers_release(today=SHIP_DAY + dt.timedelta(days=1)) == 1
    assert pin_mailers_release(today=SHIP_DAY + dt.timedelta(days=2)) == 0
    assert events(produced).count("pin_mailer_sent") == 1
    assert Shipment.objects.get(card=produced).pin_released_at is not None


def test_only_ans_ships_and_a_card_ships_once(produced, ans, cnom):
    with pytest.raises(NotPermitted):
        ship(produced, cnom)
    with pytest.raises(NotPermitted):  # refused before the batch is even read
        shipping_batch_create(actor=cnom, carrier="", reference="", lines=[])
    ship(produced, ans)
    with pytest.raises(InvalidCardState):
        ship(produced, ans, reference="B-2026-002")
    assert Shipment.objects.count() == 1


def test_a_bad_batch_changes_nothing(produced, ans):
    other = CardFactory(state=Card.State.ACTIVE)
    with pytest.raises(InvalidCardState), freeze_time(SHIP_DAY):
        shipping_batch_create(
            actor=ans,
            carrier="La Poste",
            reference="B-X",
            lines=[ShipmentLine(produced.pk, "6A1"), ShipmentLine(other.pk, "6A2")],
        )
    assert Card.objects.get(pk=produced.pk).state == Card.State.PERSONALIZED
    assert not Shipment.objects.exists()
    for lines in (
        [],
        [ShipmentLine(produced.pk, "")],
        [ShipmentLine(produced.pk, "a"), ShipmentLine(produced.pk, "b")],
    ):
        with pytest.raises(InvalidInput):
            shipping_batch_create(actor=ans, carrier="La Poste", reference="B-Y", lines=lines)
    with pytest.raises(CardNotFound):
        shipping_batch_create(
            actor=ans, carrier="La Poste", reference="B-Z", lines=[ShipmentLine(10**9, "x")]
        )


def allow_receipt_confirmation(card: Card) -> None:
    """The card's authority lets its holders activate a card by confirming its receipt."""
    authority = card_authority(card)
    authority.allow_receipt_confirmation = True
    authority.save(update_fields=["allow_receipt_confirmation"])


def test_the_holder_activates_the_card_and_the_order_stays_produced(produced, ans):
    ship(produced, ans)
    allow_receipt_confirmation(produced)
    holder = persona(Account.Role.HOLDER, professional=produced.professional)
    card = card_confirm_receipt(card=produced, actor=holder)
    assert card.state == Card.State.ACTIVE
    assert Order.objects.get(produced_card=produced).state == Order.State.PRODUCED
    event = CardEvent.objects.get(card=card, kind="active")
    assert (event.detail["method"], event.detail["actor_id"]) == ("receipt_confirmation", holder.pk)
    assert event.detail["authority"] == card_authority(card).code == "CNOM"
    with pytest.raises(InvalidCardState):
        card_confirm_receipt(card=produced, actor=holder)


def test_the_holder_cannot_activate_a_card_never_shipped(produced):
    allow_receipt_confirmation(produced)
    holder = persona(Account.Role.HOLDER, professional=produced.professional)
    with pytest.raises(InvalidCardState):
        card_confirm_receipt(card=produced, actor=holder)
    assert Card.objects.get(pk=produced.pk).state == Card.State.PERSONALIZED
    assert not CardEvent.objects.filter(card=produced).exists()


def test_nobody_else_activates_it(produced, ans, cnom, system):
    ship(produced, ans)
    allow_receipt_confirmation(produced)
    for stranger in (persona(Account.Role.HOLDER), ans):  # ANS does not see an Ordre's cards
        with pytest.raises(CardNotFound):
            card_confirm_receipt(card=produced, actor=stranger)
    for someone in (cnom, system):  # not even the platform: only who holds the card
        with pytest.raises(NotPermitted):
            card_confirm_receipt(card=produced, actor=someone)
    assert Card.objects.get(pk=produced.pk).state == Card.State.SHIPPED


def test_activating_the_renewed_card_revokes_the_old_one(tariff, certify, ans):
    activity = ActivityFactory()
    old = CardFactory(exercise=activity.exercise)
    certificates = certify(old)
    new = CardFactory(exercise=activity.exercise, state=Card.State.PERSONALIZED)
    OrderFactory(
        exercise=activity.exercise,
        kind="renewal",
        replaces=old,
        state=Order.State.PRODUCED,
        produced_card=new,
    )
    ship(new, ans)
    allow_receipt_confirmation(new)
    card_confirm_receipt(card=new, actor=persona(Account.Role.HOLDER, professional=new.professional))
    old.refresh_from_db()
    assert old.state == Card.State.REVOKED
    assert {c.revocation_reason for c in Certificate.objects.filter(pk__in=[c.pk for c in certificates])} == {
        "superseded"
    }
    revoked = Notification.objects.get(event="card_revoked", channel="in_app")
    assert new.display_number in revoked.context["reason"]
    # Another exercise's card of the same person is left alone.
    other = CardFactory(
        exercise=ActivityFactory(
            exercise__professional=new.professional, exercise__profession_id="21"
        ).exercise
    )
    assert Card.objects.get(pk=other.pk).state == Card.State.ACTIVE


# --- expiry ----------------------------------------------------------------------------------------------


def test_cards_past_their_date_expire_and_their_holders_are_told(tariff, certify):
    today = dt.date(2027, 1, 10)
    past = CardFactory(exercise=ActivityFactory().exercise, valid_until=today - dt.timedelta(days=1))
    shipped = CardFactory(
        exercise=ActivityFactory().exercise, valid_until=today - dt.timedelta(days=3), state="shipped"
    )
    last_day = CardFactory(exercise=ActivityFactory().exercise, valid_until=today)
    opposed = CardFactory(
        exercise=ActivityFactory().exercise, valid_until=today - dt.timedelta(days=1), state="opposed"
    )
    certificates = certify(past)
    with freeze_time(today):
        assert cards_expire(today=today, chunk=1) == 2
        assert cards_expire(today=today) == 0
    states = {c.pk: c.state for c in Card.objects.all()}
    assert states[past.pk] == states[shipped.pk] == Card.State.EXPIRED
    assert states[last_day.pk] == Card.State.ACTIVE and states[opposed.pk] == Card.State.OPPOSED
    # Not revoked: the certificates simply end with the card and are not renewed.
    assert not Certificate.objects.filter(
        pk__in=[c.pk for c in certificates], revoked_at__isnull=False
    ).exists()
    assert Notification.objects.filter(event="card_expired", channel="in_app").count() == 2
    assert CardEvent.objects.get(card=past, kind="expired").detail["actor_role"] == "system"


# --- striking off ----------------------------------------------------------------------------------------


def test_an_inactive_holders_live_cards_are_revoked_and_they_are_told_why(tariff, certify):
    struck = CardFactory(exercise=ActivityFactory().exercise)
    second = CardFactory(
        exercise=ActivityFactory(
            exercise__professional=struck.professional, exercise__profession_id="21"
        ).exercise,
        state="shipped",
    )
    kept = CardFactory(exercise=ActivityFactory().exercise)
    certificates = certify(struck)
    Professional.objects.filter(pk=struck.professional_id).update(
        is_active=False, deactivation_reason="radié du tableau de l'Ordre"
    )
    assert cards_revoke_for_inactive_holders(chunk=1) == 2
    assert cards_revoke_for_inactive_holders() == 0
    assert Card.objects.get(pk=struck.pk).state == Card.State.REVOKED
    assert Card.objects.get(pk=second.pk).state == Card.State.REVOKED
    assert Card.objects.get(pk=kept.pk).state == Card.State.ACTIVE
    reasons = set(
        Certificate.objects.filter(pk__in=[c.pk for c in certificates]).values_list(
            "revocation_reason", flat=True
        )
    )
    assert reasons == {"cessationOfOperation"}
    told = Notification.objects.filter(event="card_revoked", recipient=struck.professional)
    assert {n.channel for n in told} == {"email", "in_app", "letter"}
    assert {n.context["reason"] for n in told} == {"radié du tableau de l'Ordre"}
