"""The back office's figures: read-only aggregates for the dashboards, each computed in SQL (``TruncWeek``,
``TruncHour``, ``TruncMonth`` and ``Count``), never by a loop over rows.

Who sees which figures is ``statistics_scope``: an Ordre's operator their authority's orders and cards only;
ANS and the auditor everything. The stations are shared by every authority, so their measured capacity is
the platform's whoever reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, DateField, ExpressionWrapper, F, QuerySet, Value
from django.db.models.functions import Greatest, TruncHour, TruncMonth, TruncWeek
from django.utils import timezone

from cards.models import Card
from cards.scoping import cards_visible_to
from core.roles import SEES_ALL, Role, account_of
from orders.models import Order
from orders.scoping import orders_visible_to
from orders.services import orders_overdue
from stations.models import PersonalizationJob

from .models import Opposition

# Over how many days the stations' capacity is measured (cards made per day).
CAPACITY_DAYS = 28


@dataclass(frozen=True)
class Scope:
    """What one reader's figures are drawn from."""

    orders: QuerySet[Order]
    cards: QuerySet[Card]
    authority_code: str | None  # None: every authority


def statistics_scope(*, user: Any) -> Scope:
    """ANS and auditors read every authority's figures; an Ordre's operator only their authority's; anyone
    else the orders and cards they may see."""
    account = account_of(user)
    role = account.role if account is not None else None
    if role == Role.ANS_OPERATOR or role in SEES_ALL:
        return Scope(orders=Order.objects.all(), cards=Card.objects.all(), authority_code=None)
    code = account.authority.code if role == Role.AUTHORITY_OPERATOR and account.authority_id else None
    return Scope(orders=orders_visible_to(user), cards=cards_visible_to(user), authority_code=code)


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_start(day: dt.date, months_ahead: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return dt.date(index // 12, index % 12 + 1, 1)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def orders_per_week(
    *, orders: QuerySet[Order], weeks: int = 12, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Orders created per week (Monday), per reviewing authority and current state, over the last
    ``weeks`` weeks including this one: rows ``{week, authority, state, count}``."""
    today = today or timezone.localdate()
    since = _week_start(today) - dt.timedelta(weeks=weeks - 1)
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    rows = (
        orders.filter(created_at__gte=start)
        .annotate(week=TruncWeek("created_at"))
        .values("week", "authority__code", "state")
        .annotate(count=Count("id"))
        .order_by("week", "authority__code", "state")
    )
    return [
        {
            "week": _as_date(r["week"]),
            "authority": r["authority__code"],
            "state": r["state"],
            "count": r["count"],
        }
        for r in rows
    ]


def week_labels(*, weeks: int = 12, today: dt.date | None = None) -> list[dt.date]:
    """The Mondays of the last ``weeks`` weeks, oldest first (every week, those without orders too)."""
    monday = _week_start(today or timezone.localdate())
    return [monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def production_per_station_hour(
    *, orders: QuerySet[Order], hours: int = 24, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Cards made (personalization jobs finished) per station and hour over the last ``hours`` hours, for
    the given orders: rows ``{hour, station, count}``."""
    now = now or timezone.now()
    since = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=hours - 1)
    rows = (
        PersonalizationJob.objects.filter(
            step=PersonalizationJob.Step.DONE, updated_at__gte=since, order__in=orders.values("pk")
        )
        .annotate(hour=TruncHour("updated_at"))
        .values("hour", "station__name")
        .annotate(count=Count("id"))
        .order_by("hour", "station__name")
    )
    return [
        {"hour": timezone.localtime(r["hour"]), "station": r["station__name"], "count": r["count"]}
        for r in rows
    ]


def hour_labels(*, hours: int = 24, now: dt.datetime | None = None) -> list[dt.datetime]:
    now = timezone.localtime(now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return [now - dt.timedelta(hours=n) for n in range(hours - 1, -1, -1)]


def overdue_per_state(*, orders: QuerySet[Order], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Orders waiting longer than ``CPX_ORDER_OVERDUE_DAYS`` in their state, per authority and state."""
    rows = (
        orders_overdue(orders=orders, now=now)
        .values("authority__code", "state")
        .annotate(count=Count("id"))
        .order_by("state", "authority__code")
    )
    return [{"authority": r["authority__code"], "state": r["state"], "count": r["count"]} for r in rows]


def overdue_days() -> int:
    return int(settings.CPX_ORDER_OVERDUE_DAYS)


def oppositions_per_month(
    *, cards: QuerySet[Card], months: int = 12, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Oppositions declared per month and reason over the last ``months`` months, on the given cards."""
    today = today or timezone.localdate()
    since = timezone.make_aware(dt.datetime.combine(_month_start(today, -(months - 1)), dt.time.min))
    rows = (
        Opposition.objects.filter(card__in=cards.values("pk"), declared_at__gte=since)
        .annotate(month=TruncMonth("declared_at"))
        .values("month", "reason")
        .annotate(count=Count("id"))
        .order_by("month", "reason")
    )
    return [{"month": _as_date(r["month"]), "reason": r["reason"], "count": r["count"]} for r in rows]


def month_labels(*, months: int, today: dt.date | None = None, ahead: bool = False) -> list[dt.date]:
    """The first days of ``months`` months: the next ones from this month (``ahead``), or the last ones."""
    today = today or timezone.localdate()
    if ahead:
        return [_month_start(today, n) for n in range(months)]
    return [_month_start(today, -n) for n in range(months - 1, -1, -1)]


def cards_expiring_per_month(
    *, cards: QuerySet[Card], months: int = 24, today: dt.date | None = None
) -> dict[dt.date, int]:
    """Live cards (personalized, shipped, active) expiring per month, from this month over ``months``
    months: the renewals to make."""
    today = today or timezone.localdate()
    rows = (
        cards.filter(
            state__in=Card.LIVE_STATES,
            valid_until__gte=_month_start(today),
            valid_until__lt=_month_start(today, months),
        )
        .annotate(month=TruncMonth("valid_until"))
        .values("month")
        .annotate(count=Count("id"))
        .order_by("month")
    )
    return {_as_date(r["month"]): r["count"] for r in rows}


@dataclass(frozen=True)
class Capacity:
    """What the stations made over the measured period: ``cards`` in ``days`` days."""

    cards: int
    days: int
    since: dt.date
    per_station: dict[str, int]

    @property
    def per_day(self) -> float:
        return self.cards / self.days if self.days else 0.0

    def per_month(self, month: dt.date) -> int:
        """Cards the stations make in ``month`` at the measured rate (every calendar day counted)."""
        days = (_month_start(month, 1) - _month_start(month)).days
        return round(self.per_day * days)


def station_capacity(*, days: int = CAPACITY_DAYS, now: dt.datetime | None = None) -> Capacity:
    """The stations' measured capacity: cards made (personalization jobs done) over the last ``days``
    days, every station and every authority together (the stations are shared)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    rows = (
        PersonalizationJob.objects.filter(step=PersonalizationJob.Step.DONE, updated_at__gte=since)
        .values("station__name")
        .annotate(count=Count("id"))
        .order_by("station__name")
    )
    per_station = {r["station__name"]: r["count"] for r in rows}
    return Capacity(
        cards=sum(per_station.values()),
        days=days,
        since=timezone.localtime(since).date(),
        per_station=per_station,
    )


def renewal_forecast(
    *, cards: QuerySet[Card], months: int = 24, today: dt.date | None = None, capacity: Capacity | None = None
) -> list[dict[str, Any]]:
    """Per month over the next ``months`` months: the cards expiring, the stations' capacity at the
    measured rate, and whether the renewals fit in it: rows ``{month, expiring, capacity, over}``."""
    expiring = cards_expiring_per_month(cards=cards, months=months, today=today)
    capacity = capacity if capacity is not None else station_capacity()
    forecast = []
    for month in month_labels(months=months, today=today, ahead=True):  # 24 months, not rows
        can = capacity.per_month(month)
        count = expiring.get(month, 0)
        forecast.append({"month": month, "expiring": count, "capacity": can, "over": count > can})
    return forecast


def planned_releases_per_day(
    *, orders: QuerySet[Order], days: int = 28, today: dt.date | None = None
) -> dict[dt.date, int]:
    """The capacity plan (``lifecycle.scheduling``): approved automatic orders waiting for their release
    day, per day over the next ``days`` days (today included), among the given orders. An order whose day
    is past but not yet released counts today."""
    today = today or timezone.localdate()
    rows = (
        orders.filter(
            state=Order.State.APPROVED,
            origin=Order.Origin.AUTOMATIC,
            release_on__isnull=False,
            release_on__lt=today + dt.timedelta(days=days),
        )
        .annotate(day=Greatest("release_on", Value(today)))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    return {r["day"]: r["count"] for r in rows}


def release_plan_forecast(
    *, orders: QuerySet[Order], days: int = 28, today: dt.date | None = None, per_day: int
) -> list[dict[str, Any]]:
    """Per day over the next ``days`` days: the automatic orders the plan releases and the share of the
    stations' capacity kept for them (``per_day``, ``scheduling.daily_capacity``): rows ``{day, planned,
    capacity, over}``. ``over`` is never true for the plan's own days; it shows when the orders of a
    reader's scope are not the only ones (figures are the platform's)."""
    today = today or timezone.localdate()
    planned = planned_releases_per_day(orders=orders, days=days, today=today)
    rows = []
    for n in range(days):
        day = today + dt.timedelta(days=n)
        count = planned.get(day, 0)
        rows.append({"day": day, "planned": count, "capacity": per_day, "over": count > per_day})
    return rows


def release_plan_per_week(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``release_plan_forecast``'s days summed per week (Monday): rows ``{week, planned, capacity, over}``
    (``capacity`` over the days of the week the rows cover)."""
    weeks: dict[dt.date, dict[str, Any]] = {}
    for row in rows:
        week = weeks.setdefault(
            _week_start(row["day"]), {"week": _week_start(row["day"]), "planned": 0, "capacity": 0}
        )
        week["planned"] += row["planned"]
        week["capacity"] += row["capacity"]
    return [{**w, "over": w["planned"] > w["capacity"]} for w in weeks.values()]


def planned_late(*, orders: QuerySet[Order]) -> int:
    """Approved automatic orders planned after their deadline (the card they replace expires before the new
    one can reach the holder: ``valid_until`` less ``CPX_PRODUCTION_LEAD_DAYS``)."""
    lead = dt.timedelta(days=int(settings.CPX_PRODUCTION_LEAD_DAYS))
    return (
        orders.filter(
            state=Order.State.APPROVED,
            origin=Order.Origin.AUTOMATIC,
            release_on__isnull=False,
            replaces__isnull=False,
        )
        .filter(release_on__gt=ExpressionWrapper(F("replaces__valid_until") - lead, output_field=DateField()))
        .count()
    )
