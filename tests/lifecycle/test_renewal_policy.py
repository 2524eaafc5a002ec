"""Renewal by policy for everyone (issue 16): the daily step places the renewal of every card the
authority's issuance policy renews, before the reminder window, set-based; the reminder then says it is
under way and carries the decline link."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from lifecycle.models import IssuancePolicy, RenewalReminder
from lifecycle.renewal import (
    renewal_link_confirm,
    renewal_link_token,
    renewal_reminders_send,
)
from lifecycle.renewal_orders import renewal_orders_place
from notifications.models import Notification
from notifications.rendering import render_text
from orders.models import Order, OrderEvent
from orders.services import system_user
from registry.models import Account, CardType
from tests.factories import (
    ActivityFactory,
    AdeliProfessionalFactory,
    CardFactory,
    ExerciseFactory,
    OrderFactory,
    authority,
    persona,
    profession,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2027, 3, 1)
Mode, Trigger = IssuancePolicy.Mode, IssuancePolicy.Trigger


def expiring_in(days: int, **fields):
    """An active CPS of a médecin (CNOM) expiring ``days`` days after TODAY."""
    return CardFactory(
        exercise=ActivityFactory().exercise, valid_until=TODAY + dt.timedelta(days=days), **fields
    )


def set_policy(
    code: str, mode: str, approve: bool = True, card_type: str = CardType.CPS, profession_code=None
):
    IssuancePolicy.objects.update_or_create(
        authority=authority(code),
        card_type=card_type,
        trigger=Trigger.RENEWAL,
        profession=profession(profession_code) if profession_code else None,
        defaults={"mode": mode, "approve": approve},
    )


def place(day: dt.date = TODAY) -> int:
    with freeze_time(day):
        return renewal_orders_place(today=day)


def test_the_order_comes_before_the_reminder_window():
    assert django_settings.CPX_RENEWAL_ORDER_DAYS > django_settings.CPX_REMINDER_FIRST_DAYS


def test_the_default_policy_orders_and_approves_the_renewal_of_every_card_due(tariff):
    due = expiring_in(django_settings.CPX_RENEWAL_ORDER_DAYS)
    later = expiring_in(django_settings.CPX_RENEWAL_ORDER_DAYS + 1)
    assert place() == 1
    order = Order.objects.get()
    assert (order.kind, order.replaces_id, order.exercise_id) == ("renewal", due.pk, due.exercise_id)
    assert (order.origin, order.state, order.authority.code) == ("automatic", "approved", "CNOM")
    assert order.created_by.account.role == Account.Role.SYSTEM
    assert order.decision == {
        "rule": "renewal",
        "mode": "automatic",
        "approved": True,
        "authority": order.authority.name,
        "card_number": due.number,
        "expires_on": due.valid_until.isoformat(),
    }
    assert order.release_on is not None  # planned at once (lifecycle.scheduling)
    history = OrderEvent.objects.filter(order=order).order_by("pk").values_list("transition", flat=True)
    assert list(history) == ["create", "submit", "approve"]
    told = Notification.objects.get(event="order_placed_for_you", channel="email")
    assert (
        told.context["order_reference"] == str(order.pk) and due.display_number in told.context["explanation"]
    )
    # Idempotent; the next card enters the window the day after.
    assert place() == 0
    assert place(TODAY + dt.timedelta(days=1)) == 1
    assert Order.objects.get(replaces=later).origin == "automatic"


def test_policy_off_places_nothing_and_the_holder_renews_from_the_link(tariff):
    set_policy("CNOM", Mode.OFF)
    card = expiring_in(90)
    with freeze_time(TODAY):
        assert renewal_reminders_send(today=TODAY) == {90: 1, 30: 0}
    assert not Order.objects.exists()
    reminder = RenewalReminder.objects.get(card=card)
    assert not reminder.automatic and reminder.link_used_at is None
    message = Notification.objects.get(event="renewal_due", channel="email")
    assert (
        "/renew/#" in message.context["renewal_url"] and "/renew/decline/#" in message.context["decline_url"]
    )


def test_proposed_places_a_draft_that_the_renewal_link_submits(tariff):
    set_policy("CNOM", Mode.PROPOSED, approve=False)
    card = expiring_in(90)
    with freeze_time(TODAY):
        renewal_reminders_send(today=TODAY)
    draft = Order.objects.get()
    assert (draft.origin, draft.state, draft.replaces_id) == ("proposed", "draft", card.pk)
    assert Notification.objects.filter(event="card_proposed").exists()
    reminder = RenewalReminder.objects.get(card=card)  # a proposal is not under way: the link is offered
    assert not reminder.automatic
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    with freeze_time(TODAY + dt.timedelta(days=2)):
        order = renewal_link_confirm(token=renewal_link_token(reminder), actor=holder)
    assert order.pk == draft.pk and order.state == Order.State.SUBMITTED
    assert Order.objects.count() == 1  # the proposal was confirmed, no second order


def test_automatic_without_approval_goes_to_the_authoritys_queue(tariff):
    set_policy("CNOM", Mode.AUTOMATIC, approve=False)
    expiring_in(100)
    assert place() == 1
    order = Order.objects.get()
    assert (order.state, order.release_on, order.decision["approved"]) == ("submitted", None, False)


def test_a_professions_own_row_wins_over_its_authoritys(tariff):
    set_policy("CNOM", Mode.AUTOMATIC)
    set_policy("CNOM", Mode.OFF, profession_code="10")
    set_policy("ONI", Mode.OFF)
    set_policy("ONI", Mode.PROPOSED, approve=False, profession_code="60")
    doctor = expiring_in(100)
    nurse = CardFactory(
        exercise=ActivityFactory(exercise__profession=profession("60")).exercise,
        valid_until=TODAY + dt.timedelta(days=100),
    )
    assert place() == 1
    assert not Order.objects.filter(replaces=doctor).exists()
    assert Order.objects.get(replaces=nurse).state == Order.State.DRAFT


def test_an_adeli_professional_follows_the_policy_of_ans(tariff):
    """registry.routing: an ADELI professional's orders are reviewed by ANS, whose policy applies."""
    set_policy("CNOM", Mode.OFF)
    set_policy("ANS", Mode.AUTOMATIC, approve=False)
    exercise = ExerciseFactory(professional=AdeliProfessionalFactory(), profession=profession("10"))
    card = CardFactory(exercise=exercise, valid_until=TODAY + dt.timedelta(days=100))
    assert place() == 1
    assert Order.objects.get(replaces=card).authority.code == "ANS"


def test_only_active_cards_of_active_holders_and_exercises(tariff):
    from cards.models import Card

    expiring_in(100, state=Card.State.OPPOSED)
    inactive_holder = expiring_in(100)
    inactive_holder.professional.__class__.objects.filter(pk=inactive_holder.professional_id).update(
        is_active=False
    )
    ended = expiring_in(100)
    ended.exercise.__class__.objects.filter(pk=ended.exercise_id).update(is_active=False)
    already_expired = expiring_in(0)
    assert place() == 0
    assert not Order.objects.filter(replaces=already_expired).exists()


def test_a_renewal_under_way_declined_or_refused_is_not_placed_again(tariff):
    requested = expiring_in(100)
    OrderFactory(exercise=requested.exercise, kind="renewal", replaces=requested, state=Order.State.SUBMITTED)
    declined = expiring_in(100)
    RenewalReminder.objects.create(
        card=declined, threshold=90, declined_at=dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    )
    cancelled = expiring_in(100)
    OrderFactory(
        exercise=cancelled.exercise,
        kind="renewal",
        replaces=cancelled,
        origin=Order.Origin.AUTOMATIC,
        state=Order.State.CANCELLED,
    )
    fresh = expiring_in(100)
    assert place() == 1
    assert Order.objects.filter(origin="automatic", state="approved").get().replaces_id == fresh.pk


def test_one_statement_whatever_the_number_of_cards(tariff):
    """Set-based: placing the renewals of 12 cards costs the queries of placing 1."""
    system_user()  # created on first use: not a cost of either run
    expiring_in(100)
    with CaptureQueriesContext(connection) as one:
        assert place() == 1
    for _ in range(12):
        expiring_in(100)
    with CaptureQueriesContext(connection) as many:
        assert place() == 12
    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_reminder_says_the_renewal_is_under_way_with_the_decline_link(tariff):
    card = expiring_in(90)
    with freeze_time(TODAY):
        assert renewal_reminders_send(today=TODAY) == {90: 1, 30: 0}
    order = Order.objects.get(replaces=card)
    reminder = RenewalReminder.objects.get(card=card)
    assert reminder.automatic and reminder.renewal_order_id == order.pk and reminder.link_used_at
    told = Notification.objects.get(event="renewal_due", channel="email")
    assert told.context["automatic"] and told.context["renewal_url"].endswith(f"/orders/{order.pk}/")
    assert "/renew/decline/#" in told.context["decline_url"]
    body = render_text(event="renewal_due", language="fr", context=told.context, recipient=card.professional)
    assert told.context["decline_url"] in str(body)  # the message itself carries it
    # The order is under way: no second reminder.
    with freeze_time(card.valid_until - dt.timedelta(days=30)):
        assert renewal_reminders_send(today=card.valid_until - dt.timedelta(days=30)) == {90: 0, 30: 0}


def test_the_legacy_auto_renewal_choice_writes_the_professions_policy(db):
    from lifecycle.renewal import auto_renewal_set

    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    auto_renewal_set(actor=operator, profession_code="10", enabled=True)
    row = IssuancePolicy.objects.get(authority__code="CNOM", trigger="renewal", profession_id="10")
    assert (row.mode, row.approve, row.card_type, row.updated_by) == ("automatic", False, "CPS", operator)
    row.approve = True
    row.save()
    auto_renewal_set(actor=operator, profession_code="10", enabled=False)
    row.refresh_from_db()
    assert (row.mode, row.approve) == ("off", True)  # the Ordre's choice of approval is kept
