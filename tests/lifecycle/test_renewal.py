"""Renewal reminders across time (frozen clock), their idempotence, auto-renewal and the one-click link."""

import datetime as dt

import pytest
from django.core import signing
from freezegun import freeze_time

from cards.models import Card
from core.errors import NotPermitted
from lifecycle import errors
from lifecycle.errors import ProfessionNotFound
from lifecycle.models import AutoRenewalPolicy, IssuancePolicy, RenewalReminder
from lifecycle.renewal import (
    LINK_SALT,
    auto_renewal_policies_for,
    auto_renewal_set,
    renewal_link_confirm,
    renewal_link_reminder,
    renewal_link_token,
    renewal_reminders_send,
)
from notifications.models import Notification
from orders.models import Order
from registry.models import Account
from tests.factories import ActivityFactory, CardFactory, OrderFactory, authority, persona, profession

pytestmark = pytest.mark.django_db

EXPIRY = dt.date(2027, 6, 30)


def renewal_left_to_holders() -> None:
    """Every authority's renewal policy off (the default since issue 16 is automatic renewal, tested in
    test_renewal_policy.py): the holder renews from the reminder's link."""
    IssuancePolicy.objects.filter(trigger=IssuancePolicy.Trigger.RENEWAL).update(mode=IssuancePolicy.Mode.OFF)


@pytest.fixture
def expiring(tariff):
    """An active CPS of a médecin expiring on EXPIRY, whose holder has an e-mail address and renews from
    the reminder's link (renewal policies off)."""
    renewal_left_to_holders()
    activity = ActivityFactory()
    return CardFactory(
        exercise=activity.exercise, valid_from=EXPIRY - dt.timedelta(days=3 * 365), valid_until=EXPIRY
    )


def run_on(day: dt.date, **kwargs) -> dict[int, int]:
    with freeze_time(day):
        return renewal_reminders_send(today=day, **kwargs)


def before(days: int) -> dt.date:
    return EXPIRY - dt.timedelta(days=days)


def reminders(card) -> list[int]:
    return sorted(RenewalReminder.objects.filter(card=card).values_list("threshold", flat=True))


def test_reminders_at_90_then_30_days_each_once(expiring):
    assert run_on(before(91)) == {90: 0, 30: 0}
    assert run_on(before(90)) == {90: 1, 30: 0}
    assert reminders(expiring) == [90]
    channels = Notification.objects.filter(event="renewal_due").values_list("channel", flat=True)
    assert sorted(channels) == ["email", "in_app"]
    # Every following day until the second threshold: nothing new.
    for days_left in (90, 89, 60, 31):
        assert run_on(before(days_left)) == {90: 0, 30: 0}
    assert run_on(before(30)) == {90: 0, 30: 1}
    assert run_on(before(30)) == {90: 0, 30: 0}
    assert run_on(before(1)) == {90: 0, 30: 0}
    assert reminders(expiring) == [30, 90]
    assert Notification.objects.filter(event="renewal_due").count() == 4  # 2 reminders × (e-mail + in-app)


def test_the_reminder_carries_a_working_link_and_the_expiry(expiring, settings):
    run_on(before(90))
    message = Notification.objects.get(event="renewal_due", channel="email")
    assert message.context["expires_on"] == "2027-06-30"
    url = message.context["renewal_url"]
    # The portal's confirmation page, the token after "#" (a browser never sends it: no access log has it)
    page, token = url.split("#")
    assert page == f"{settings.CPX_BASE_URL}/renew/" and token
    with freeze_time(before(85)):
        order = renewal_link_confirm(token=token)
    assert (order.kind, order.replaces_id, order.state) == ("renewal", expiring.pk, Order.State.SUBMITTED)


def test_a_holder_without_email_gets_a_letter(tariff):
    activity = ActivityFactory(exercise__professional__email="")
    CardFactory(exercise=activity.exercise, valid_until=EXPIRY)
    run_on(before(90))
    channels = Notification.objects.filter(event="renewal_due").values_list("channel", flat=True)
    assert sorted(channels) == ["in_app", "letter"]


def test_no_second_reminder_once_a_renewal_is_ordered(expiring):
    run_on(before(90))
    OrderFactory(exercise=expiring.exercise, kind="renewal", replaces=expiring, state=Order.State.SUBMITTED)
    assert run_on(before(30)) == {90: 0, 30: 0}
    assert reminders(expiring) == [90]


def test_a_draft_or_cancelled_renewal_does_not_stop_the_reminder(expiring):
    OrderFactory(exercise=expiring.exercise, kind="renewal", replaces=expiring, state=Order.State.DRAFT)
    OrderFactory(exercise=expiring.exercise, kind="renewal", replaces=expiring, state=Order.State.CANCELLED)
    assert run_on(before(90)) == {90: 1, 30: 0}


@pytest.mark.parametrize("state", Order.State.values)
def test_the_scan_skips_a_card_exactly_when_the_orders_say_a_renewal_is_under_way(expiring, state):
    OrderFactory(exercise=expiring.exercise, kind="renewal", replaces=expiring, state=state)
    under_way = state in Order.OPEN_STATES
    assert run_on(before(90)) == {90: 0 if under_way else 1, 30: 0}


def test_a_card_first_seen_inside_30_days_gets_one_reminder_not_two(expiring):
    assert run_on(before(20)) == {90: 0, 30: 1}
    assert reminders(expiring) == [30]


def test_only_active_cards_are_reminded(tariff):
    for state in (Card.State.SHIPPED, Card.State.OPPOSED, Card.State.REVOKED, Card.State.EXPIRED):
        CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY, state=state)
    assert run_on(before(90)) == {90: 0, 30: 0}


def test_thresholds_are_settings(expiring, settings):
    settings.CPX_REMINDER_FIRST_DAYS = 60
    settings.CPX_REMINDER_SECOND_DAYS = 15
    assert run_on(before(61)) == {60: 0, 15: 0}
    assert run_on(before(60)) == {60: 1, 15: 0}
    assert run_on(before(15)) == {60: 0, 15: 1}


def test_chunks_cover_every_due_card_and_repeated_runs_find_nothing(tariff):
    cards = [
        CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY - dt.timedelta(days=i))
        for i in range(7)
    ]
    assert run_on(before(90), chunk=3) == {90: 7, 30: 0}
    assert run_on(before(90), chunk=3) == {90: 0, 30: 0}
    assert all(reminders(card) == [90] for card in cards)


def test_a_concurrent_run_cannot_remind_twice(expiring):
    RenewalReminder.objects.create(card=expiring, threshold=90)  # what another run just committed
    assert run_on(before(90)) == {90: 0, 30: 0}
    assert not Notification.objects.filter(event="renewal_due").exists()


# --- automatic renewal -----------------------------------------------------------------------------------


def test_an_ordre_with_auto_renewal_gets_the_order_without_waiting(expiring):
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    auto_renewal_set(actor=operator, profession_code="10", enabled=True)
    assert run_on(before(90)) == {90: 1, 30: 0}
    reminder = RenewalReminder.objects.get(card=expiring)
    assert reminder.automatic and reminder.link_used_at is not None
    order = Order.objects.get(pk=reminder.renewal_order_id)
    assert (order.kind, order.replaces_id, order.state) == ("renewal", expiring.pk, Order.State.SUBMITTED)
    assert order.created_by.account.role == Account.Role.SYSTEM
    told = Notification.objects.get(event="renewal_due", channel="email")
    assert told.context["automatic"] and told.context["renewal_url"].endswith(f"/orders/{order.pk}/")
    # The order is under way: no second reminder.
    assert run_on(before(30)) == {90: 0, 30: 0}


def test_auto_renewal_is_per_profession_and_can_be_turned_off(tariff):
    renewal_left_to_holders()
    nurse = CardFactory(
        exercise=ActivityFactory(exercise__profession=profession("60")).exercise, valid_until=EXPIRY
    )
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    auto_renewal_set(actor=cnom, profession_code="10", enabled=True)
    auto_renewal_set(actor=cnom, profession_code="10", enabled=False)
    oni = persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI")
    auto_renewal_set(actor=oni, profession_code="60", enabled=True)
    doctor = CardFactory(exercise=ActivityFactory().exercise, valid_until=EXPIRY)
    run_on(before(90))
    assert RenewalReminder.objects.get(card=nurse).automatic
    assert not RenewalReminder.objects.get(card=doctor).automatic
    assert not Order.objects.filter(replaces=doctor).exists()


def test_only_an_ordres_operator_sets_auto_renewal_for_its_own_professions(db):
    with pytest.raises(NotPermitted):
        auto_renewal_set(actor=persona(Account.Role.ANS_OPERATOR), profession_code="10", enabled=True)
    with pytest.raises(ProfessionNotFound):  # another Ordre's profession: outside the operator's scope
        auto_renewal_set(
            actor=persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
            profession_code="60",
            enabled=True,
        )


def test_an_ordres_operator_reads_its_own_choices_and_the_auditor_all(db):
    AutoRenewalPolicy.objects.create(authority=authority("CNOM"), profession=profession("10"))
    AutoRenewalPolicy.objects.create(authority=authority("ONI"), profession=profession("60"))
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    assert [p.authority.code for p in auto_renewal_policies_for(cnom)] == ["CNOM"]
    assert [p.authority.code for p in auto_renewal_policies_for(persona(Account.Role.AUDITOR))] == [
        "CNOM",
        "ONI",
    ]
    for role in (Account.Role.ANS_OPERATOR, Account.Role.HOLDER, Account.Role.STRUCTURE_MANAGER):
        with pytest.raises(NotPermitted):
            auto_renewal_policies_for(persona(role))


# --- the one-click link ----------------------------------------------------------------------------------


@pytest.fixture
def reminder(expiring):
    """The 90-day reminder, with the clock left a few days later (when the holder clicks)."""
    run_on(before(90))
    with freeze_time(before(85)):
        yield RenewalReminder.objects.get(card=expiring)


def test_the_link_works_once(reminder):
    token = renewal_link_token(reminder)
    order = renewal_link_confirm(token=token)
    with pytest.raises(errors.RenewalLinkUsed):
        renewal_link_confirm(token=token)
    reminder.refresh_from_db()
    assert reminder.link_used_at is not None and reminder.renewal_order_id == order.pk
    assert Order.objects.filter(kind="renewal").count() == 1


def test_the_link_expires(reminder, settings):
    with freeze_time(dt.datetime.combine(before(90), dt.time(8, 0), tzinfo=dt.UTC)):
        token = renewal_link_token(reminder)
    signed_at = dt.datetime.combine(before(90), dt.time(8, 0), tzinfo=dt.UTC)
    with freeze_time(signed_at + dt.timedelta(days=settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS, seconds=-1)):
        assert renewal_link_reminder(token=token) == reminder
    late = freeze_time(signed_at + dt.timedelta(days=settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS, seconds=1))
    with late, pytest.raises(errors.RenewalLinkExpired):
        renewal_link_confirm(token=token)
    assert not Order.objects.filter(kind="renewal").exists()


def test_a_tampered_or_foreign_link_is_invalid(reminder):
    token = renewal_link_token(reminder)
    with pytest.raises(errors.RenewalLinkInvalid):
        renewal_link_confirm(token=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    forged = signing.TimestampSigner(salt="another-purpose").sign_object(
        {"r": reminder.pk, "c": reminder.card_id}
    )
    with pytest.raises(errors.RenewalLinkInvalid):
        renewal_link_confirm(token=forged)
    ghost = signing.TimestampSigner(salt=LINK_SALT).sign_object(
        {"r": reminder.pk + 1000, "c": reminder.card_id}
    )
    with pytest.raises(errors.RenewalLinkInvalid):
        renewal_link_confirm(token=ghost)


def test_a_refused_renewal_leaves_the_link_usable(reminder):
    Card.objects.filter(pk=reminder.card_id).update(state=Card.State.OPPOSED)
    with pytest.raises(errors.RenewalRefused):
        renewal_link_confirm(token=renewal_link_token(reminder))
    reminder.refresh_from_db()
    assert reminder.link_used_at is None


def test_the_holder_signed_in_is_the_orders_creator(reminder):
    holder = persona(Account.Role.HOLDER, professional=reminder.card.professional)
    order = renewal_link_confirm(token=renewal_link_token(reminder), actor=holder)
    assert order.created_by == holder
