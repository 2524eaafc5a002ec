"""The capacity plan (issue 16): approved automatic orders released under the stations' capacity, earliest
deadline first, none after its deadline when the capacity allows it; the late ones counted; the release of
the orders whose day has come; the beat schedule."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from freezegun import freeze_time

from lifecycle import scheduling, statistics
from lifecycle.renewal_orders import renewal_orders_place
from orders.models import Order, OrderEvent
from tests.factories import ActivityFactory, CardFactory, OrderFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2027, 3, 1)
LEAD = 21


@pytest.fixture(autouse=True)
def plan_settings(settings):
    """Stations that made nothing lately: the floor, half of it for the plan (5 orders a day)."""
    settings.CPX_CAPACITY_FLOOR_PER_DAY = 10
    settings.CPX_CAPACITY_MANUAL_SHARE = 0.5
    settings.CPX_PRODUCTION_LEAD_DAYS = LEAD
    settings.CPX_FIRST_CARD_RELEASE_DAYS = 7


@pytest.fixture
def handed(monkeypatch) -> list[tuple[str, int]]:
    """The orders handed to the stations (the task sent by name, recorded instead of the shared broker)."""
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(scheduling, "send_task", lambda name, *args: sent.append((name, *args)))
    return sent


def approved(expires_in: int, **fields) -> Any:
    """An approved automatic renewal of a card expiring ``expires_in`` days after TODAY."""
    card = CardFactory(exercise=ActivityFactory().exercise, valid_until=TODAY + dt.timedelta(days=expires_in))
    fields.setdefault("state", Order.State.APPROVED)
    fields.setdefault("origin", Order.Origin.AUTOMATIC)
    return OrderFactory(exercise=card.exercise, kind="renewal", replaces=card, **fields)


def plan(**kwargs) -> scheduling.Plan:
    with freeze_time(TODAY):
        return scheduling.release_plan(today=TODAY, **kwargs)


def deadline(order: Any) -> dt.date:
    return order.replaces.valid_until - dt.timedelta(days=LEAD)


def test_the_share_is_the_measured_capacity_or_the_floor_less_the_manual_share(settings):
    since = TODAY - dt.timedelta(days=28)
    measured = statistics.Capacity(cards=2800, days=28, since=since, per_station={"s1": 2800})
    assert scheduling.daily_capacity(capacity=measured).per_day == 50  # 100 a day, half kept
    idle = statistics.Capacity(cards=0, days=28, since=since, per_station={})
    assert scheduling.daily_capacity(capacity=idle).per_day == 5  # the floor, half kept
    settings.CPX_CAPACITY_MANUAL_SHARE = 1.0
    assert scheduling.daily_capacity(capacity=idle).per_day == 1  # never nothing at all


def test_many_renewals_spread_under_capacity_and_each_before_its_deadline(tariff):
    orders = [approved(50 + i % 70) for i in range(150)]
    result = plan()
    assert (result.orders, result.changed, result.late, result.per_day) == (150, 150, 0, 5)
    planned = {o.pk: o.release_on for o in Order.objects.filter(pk__in=[o.pk for o in orders])}
    per_day = Counter(planned.values())
    assert max(per_day.values()) == 5 and min(per_day) == TODAY
    assert all(planned[o.pk] <= deadline(o) for o in orders)
    # Earliest deadline first: a later deadline is never released before an earlier one.
    by_deadline = sorted(orders, key=lambda o: (deadline(o), o.pk))
    days = [planned[o.pk] for o in by_deadline]
    assert days == sorted(days)
    # Planned again the same day: nothing moves.
    assert plan().changed == 0


def test_orders_that_cannot_meet_their_deadline_go_as_early_as_possible_and_are_counted(tariff):
    for _ in range(30):
        approved(LEAD + 4)  # deadline: TODAY + 4 days, room for 25 by then
    result = plan()
    assert (result.orders, result.late, result.last_day) == (30, 5, TODAY + dt.timedelta(days=5))
    per_day = Counter(Order.objects.values_list("release_on", flat=True))
    assert per_day == {TODAY + dt.timedelta(days=n): 5 for n in range(6)}
    assert statistics.planned_late(orders=Order.objects.all()) == 5


def test_a_first_card_is_due_days_after_its_creation_and_a_late_renewal_goes_first(tariff):
    with freeze_time(TODAY):
        first = OrderFactory(kind="first", origin=Order.Origin.AUTOMATIC, state=Order.State.APPROVED)
    renewals = [approved(200) for _ in range(10)]
    overdue = approved(LEAD - 3)  # its deadline has passed: released first, counted late
    plan()
    first.refresh_from_db()
    overdue.refresh_from_db()
    assert overdue.release_on == TODAY
    assert first.release_on <= TODAY + dt.timedelta(days=7)
    assert {o.release_on for o in Order.objects.filter(pk__in=[r.pk for r in renewals])} <= {
        TODAY + dt.timedelta(days=n) for n in range(3)
    }


def test_only_approved_automatic_orders_are_planned(tariff):
    submitted = approved(100, state=Order.State.SUBMITTED)
    requested = approved(100, origin=Order.Origin.REQUESTED)
    queued = approved(100, state=Order.State.QUEUED)
    assert plan().orders == 0
    for order in (submitted, requested, queued):
        order.refresh_from_db()
        assert order.release_on is None


def test_the_orders_due_are_released_at_most_one_days_share(
    tariff, handed, django_capture_on_commit_callbacks
):
    orders = [approved(50 + i) for i in range(12)]
    plan()
    with freeze_time(TODAY), django_capture_on_commit_callbacks(execute=True):
        assert scheduling.orders_release_due(today=TODAY) == 5
    released = list(Order.objects.filter(state=Order.State.QUEUED).order_by("pk"))
    assert len(released) == 5 and all(o.release_on == TODAY for o in released)
    assert sorted(pk for _name, pk in handed) == [o.pk for o in released]
    assert {name for name, _pk in handed} == {"stations.schedule_production"}
    events = OrderEvent.objects.filter(order__in=released, transition="queue")
    assert set(events.values_list("from_state", "to_state")) == {("approved", "queued")}
    assert events.count() == 5 and all(e.actor_role == "system" for e in events)
    # Today's share is used: nothing more today, and the plan puts nothing else on today.
    with freeze_time(TODAY):
        assert scheduling.orders_release_due(today=TODAY) == 0
    again = plan()
    assert again.today_left == 0
    assert not Order.objects.filter(state=Order.State.APPROVED, release_on=TODAY).exists()
    # The next day, the next five (and none of a day still to come).
    tomorrow = TODAY + dt.timedelta(days=1)
    with freeze_time(tomorrow), django_capture_on_commit_callbacks(execute=True):
        assert scheduling.orders_release_due(today=tomorrow) == 5
    assert Order.objects.filter(pk__in=[o.pk for o in orders], state=Order.State.APPROVED).count() == 2


def test_the_renewal_step_plans_what_it_placed(tariff):
    for i in range(12):
        CardFactory(exercise=ActivityFactory().exercise, valid_until=TODAY + dt.timedelta(days=100 + i))
    with freeze_time(TODAY):
        assert renewal_orders_place(today=TODAY) == 12
    days = Counter(Order.objects.values_list("release_on", flat=True))
    assert days == {TODAY: 5, TODAY + dt.timedelta(days=1): 5, TODAY + dt.timedelta(days=2): 2}


def test_the_forecast_shows_the_plan_per_day_and_week(tariff):
    for i in range(12):
        approved(100 + i)
    plan()
    rows = statistics.release_plan_forecast(orders=Order.objects.all(), days=14, today=TODAY, per_day=5)
    assert [r["planned"] for r in rows[:4]] == [5, 5, 2, 0]
    assert all(r["capacity"] == 5 and not r["over"] for r in rows)
    weeks = statistics.release_plan_per_week(rows)
    assert weeks[0]["week"] == TODAY - dt.timedelta(days=TODAY.weekday())
    assert sum(w["planned"] for w in weeks) == 12 and sum(w["capacity"] for w in weeks) == 70


def test_the_beat_schedule_names_real_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"lifecycle.renewal_orders", "lifecycle.release_plan", "lifecycle.release_due"} <= names
    assert names <= set(app.tasks), names - set(app.tasks)
    assert scheduling.PRODUCTION_TASK in app.tasks  # what the release hands each order to


def test_the_tasks_run_the_services(tariff, handed):
    from lifecycle import tasks

    for i in range(3):
        approved(100 + i)
    with freeze_time(TODAY):
        assert tasks.release_plan() == {"orders": 3, "changed": 3, "late": 0, "per_day": 5}
        assert tasks.release_due() == 3
        assert tasks.place_renewal_orders() == 0


def test_the_dashboard_shows_the_plan_against_the_capacity(tariff):
    from django.test import Client
    from django.urls import reverse

    from registry.models import Account
    from tests.factories import persona

    for i in range(7):
        approved(100 + i)
    approved(LEAD - 2)  # its deadline has passed: late
    with freeze_time(TODAY):
        plan()
        client = Client()
        client.force_login(persona(Account.Role.ANS_OPERATOR))
        html = client.get(reverse("portal:dashboard")).content.decode()
    assert 'id="chart-plan-table"' in html and 'id="chart-plan-weeks-table"' in html
    capacity = html.split('data-figure="plan-capacity"')[1].split("</p>")[0]
    assert " 5 " in capacity and " 10 " in capacity and "50" in capacity  # 5 a day: floor 10, half kept
    late = html.split('data-figure="plan-late"')[1].split("</p>")[0]
    assert late.split(">", 1)[1].strip().startswith("1 ")  # one order late
