"""The dashboard's figures (lifecycle.statistics) on known data: each count is the one expected, and an
Ordre's operator reads only their authority's orders and cards."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cards.models import Card
from lifecycle import statistics
from lifecycle.models import Opposition
from orders.models import Order
from registry.models import Account
from stations.models import PersonalizationJob, ReaderStation
from tests.factories import CardFactory, ExerciseFactory, OrderFactory, persona

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 12, 2, 12, 30, tzinfo=PARIS)  # a Wednesday; its week starts Monday 30 November
TODAY = NOW.date()


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=PARIS)


def order(profession: str, created: str, state: str = Order.State.SUBMITTED) -> Any:
    return OrderFactory(
        exercise=ExerciseFactory(profession_id=profession), created_at=at(created), state=state
    )


def job(station: ReaderStation, when: dt.datetime, *, step: str = "done", of: Order | None = None) -> None:
    made = PersonalizationJob.objects.create(
        order=of or order("10", "2026-11-01"), station=station, step=step
    )
    PersonalizationJob.objects.filter(pk=made.pk).update(updated_at=when)  # auto_now otherwise


@pytest.fixture
def stations(db) -> tuple[ReaderStation, ReaderStation]:
    return (
        ReaderStation.objects.create(name="lyon", module="/dev/null"),
        ReaderStation.objects.create(name="paris", module="/dev/null"),
    )


def test_orders_per_week_by_authority_and_state(db):
    order("10", "2026-12-01")  # CNOM, this week
    order("10", "2026-12-02", Order.State.APPROVED)  # CNOM, this week
    order("60", "2026-11-30")  # ONI, this week (Monday)
    order("60", "2026-11-29")  # ONI, the week before (Sunday)
    order("10", "2026-08-01")  # outside the 12 weeks
    rows = statistics.orders_per_week(orders=Order.objects.all(), weeks=12, today=TODAY)
    assert rows == [
        {"week": dt.date(2026, 11, 23), "authority": "ONI", "state": "submitted", "count": 1},
        {"week": dt.date(2026, 11, 30), "authority": "CNOM", "state": "approved", "count": 1},
        {"week": dt.date(2026, 11, 30), "authority": "CNOM", "state": "submitted", "count": 1},
        {"week": dt.date(2026, 11, 30), "authority": "ONI", "state": "submitted", "count": 1},
    ]
    weeks = statistics.week_labels(weeks=12, today=TODAY)
    assert len(weeks) == 12 and weeks[-1] == dt.date(2026, 11, 30) and weeks[0] == dt.date(2026, 9, 14)


def test_an_ordre_operator_reads_only_their_authority(db):
    order("10", "2026-12-01")
    order("60", "2026-12-01")
    CardFactory(exercise=ExerciseFactory(profession_id="10"), valid_until=dt.date(2027, 3, 10))
    CardFactory(exercise=ExerciseFactory(profession_id="60"), valid_until=dt.date(2027, 3, 10))
    cnom = statistics.statistics_scope(user=persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    assert cnom.authority_code == "CNOM"
    rows = statistics.orders_per_week(orders=cnom.orders, today=TODAY)
    assert {r["authority"] for r in rows} == {"CNOM"}
    assert statistics.cards_expiring_per_month(cards=cnom.cards, today=TODAY) == {dt.date(2027, 3, 1): 1}
    # ANS and the auditor read every authority's figures.
    for role in (Account.Role.ANS_OPERATOR, Account.Role.AUDITOR):
        scope = statistics.statistics_scope(user=persona(role))
        assert scope.authority_code is None
        assert {r["authority"] for r in statistics.orders_per_week(orders=scope.orders, today=TODAY)} == {
            "CNOM",
            "ONI",
        }
        assert statistics.cards_expiring_per_month(cards=scope.cards, today=TODAY) == {dt.date(2027, 3, 1): 2}


def test_production_per_station_and_hour(stations):
    lyon, paris = stations
    job(lyon, at("2026-12-02", 9).replace(minute=5))
    job(lyon, at("2026-12-02", 9).replace(minute=55))
    job(paris, at("2026-12-02", 11))
    job(paris, at("2026-12-02", 11), step="failed")  # not a card made
    job(paris, at("2026-11-30", 11))  # older than 24 hours
    rows = statistics.production_per_station_hour(orders=Order.objects.all(), hours=24, now=NOW)
    assert rows == [
        {"hour": at("2026-12-02", 9).replace(minute=0), "station": "lyon", "count": 2},
        {"hour": at("2026-12-02", 11).replace(minute=0), "station": "paris", "count": 1},
    ]
    labels = statistics.hour_labels(hours=24, now=NOW)
    assert labels[-1] == at("2026-12-02", 12).replace(minute=0) and len(labels) == 24


def test_overdue_per_state(db, settings):
    settings.CPX_ORDER_OVERDUE_DAYS = 28
    late = order("10", "2026-10-01")
    Order.objects.filter(pk=late.pk).update(state_changed_at=at("2026-10-01"))
    recent = order("10", "2026-11-20")
    Order.objects.filter(pk=recent.pk).update(state_changed_at=at("2026-11-20"))
    done = order("60", "2026-09-01", Order.State.REJECTED)  # final: never overdue
    Order.objects.filter(pk=done.pk).update(state_changed_at=at("2026-09-01"))
    rows = statistics.overdue_per_state(orders=Order.objects.all(), now=NOW)
    assert rows == [{"authority": "CNOM", "state": "submitted", "count": 1}]


def test_oppositions_per_month(db):
    def oppose(reason: str, when: str) -> None:
        card: Any = CardFactory(state=Card.State.OPPOSED)
        Opposition.objects.create(
            card=card,
            reason=reason,
            channel=Opposition.Channel.ONLINE,
            declared_at=at(when),
            card_state_before="active",
        )

    oppose("lost", "2026-11-03")
    oppose("lost", "2026-11-28")
    oppose("stolen", "2026-12-01")
    oppose("stolen", "2025-11-01")  # more than 12 months ago
    rows = statistics.oppositions_per_month(cards=Card.objects.all(), months=12, today=TODAY)
    assert rows == [
        {"month": dt.date(2026, 11, 1), "reason": "lost", "count": 2},
        {"month": dt.date(2026, 12, 1), "reason": "stolen", "count": 1},
    ]


def test_renewal_forecast_against_measured_capacity(stations):
    lyon, paris = stations
    # 28 cards in the last 28 days (one a day), 14 at each station: capacity 1 a day, 31 in a 31-day month.
    for n in range(28):
        job(lyon if n % 2 else paris, NOW - dt.timedelta(days=n, hours=1))
    job(lyon, NOW - dt.timedelta(days=40))  # before the measured period
    capacity = statistics.station_capacity(days=28, now=NOW)
    assert (capacity.cards, capacity.days, capacity.per_day) == (28, 28, 1.0)
    assert capacity.per_station == {"lyon": 14, "paris": 14}
    assert capacity.per_month(dt.date(2027, 2, 1)) == 28 and capacity.per_month(dt.date(2027, 1, 1)) == 31

    for _ in range(40):  # January 2027: more renewals than the stations make
        CardFactory(valid_until=dt.date(2027, 1, 15))
    CardFactory(valid_until=dt.date(2026, 12, 31))
    CardFactory(valid_until=dt.date(2027, 3, 1), state=Card.State.REVOKED)  # not live: no renewal
    CardFactory(valid_until=dt.date(2029, 1, 1))  # beyond 24 months
    forecast = statistics.renewal_forecast(
        cards=Card.objects.all(), months=24, today=TODAY, capacity=capacity
    )
    assert len(forecast) == 24
    assert forecast[0] == {"month": dt.date(2026, 12, 1), "expiring": 1, "capacity": 31, "over": False}
    assert forecast[1] == {"month": dt.date(2027, 1, 1), "expiring": 40, "capacity": 31, "over": True}
    assert forecast[3]["expiring"] == 0 and forecast[-1]["month"] == dt.date(2028, 11, 1)
    assert [r["month"] for r in forecast if r["over"]] == [dt.date(2027, 1, 1)]
