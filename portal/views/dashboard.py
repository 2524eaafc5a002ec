"""The back office's dashboard (operators of an Ordre or ANS, auditors): orders per week by authority and
state, production per station and hour, overdue orders, oppositions and the renewal forecast against the
stations' measured capacity. Every chart is also a data table (its text alternative); the figures are
``lifecycle.statistics``'s, the page only arranges them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from core.roles import BACK_OFFICE, Role
from core.web import for_roles
from lifecycle import scheduling, statistics
from orders.models import Order
from registry.models import Account

WEEKS = 12
HOURS = 24
OPPOSITION_MONTHS = 12
FORECAST_MONTHS = 24
PLAN_DAYS = 28  # the release plan per day over four weeks, and per week over eight
PLAN_WEEKS = 8


def _series(
    rows: Iterable[dict[str, Any]], *, x: str, by: str, labels: list[Any], names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Pivot aggregated rows (a few per label) into one dataset per value of ``by``, one point per label;
    with ``names``, the datasets come in its order (a state machine's), otherwise alphabetically."""
    points: dict[str, dict[Any, int]] = {}
    for row in rows:
        series = points.setdefault(row[by], {})
        series[row[x]] = series.get(row[x], 0) + row["count"]
    return [
        {"label": (names or {}).get(key, key), "data": [values.get(label, 0) for label in labels]}
        for key, values in sorted(points.items(), key=lambda item: _rank(item[0], names))
    ]


def _rank(key: Any, names: dict[str, str] | None) -> tuple[int, str]:
    order = list(names or {})
    return (order.index(key) if key in order else len(order), str(key))


def chart(
    *, key: str, title: str, kind: str, x_title: str, labels: list[str], datasets: list[dict], stacked: bool
) -> dict[str, Any]:
    """One chart and its table: a row per label, a column per dataset (and a total when stacked)."""
    rows = []
    for i, label in enumerate(labels if datasets else []):
        values = [d["data"][i] for d in datasets]
        rows.append({"label": label, "values": values + ([sum(values)] if stacked else [])})
    headers = [d["label"] for d in datasets] + ([_("Total")] if stacked else [])
    return {
        "id": f"chart-{key}",
        "title": title,
        "kind": kind,
        "stacked": stacked,
        "x_title": x_title,
        "labels": labels,
        "datasets": datasets,
        "headers": headers,
        "rows": rows,
        "empty": not any(any(d["data"]) for d in datasets),
    }


def _day(value: dt.date) -> str:
    return formats.date_format(value, "j F Y")


def _month(value: dt.date) -> str:
    return formats.date_format(value, "F Y")


def dashboard_context(user: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    today = timezone.localdate(now)
    scope = statistics.statistics_scope(user=user)
    states = {str(value): str(label) for value, label in Order.State.choices}
    reasons = {str(value): str(label) for value, label in Order.ReplacementReason.choices}

    weeks = statistics.week_labels(weeks=WEEKS, today=today)
    week_rows = statistics.orders_per_week(orders=scope.orders, weeks=WEEKS, today=today)
    week_names = [_("Week of %(day)s") % {"day": _day(w)} for w in weeks]
    by_authority = chart(
        key="orders-authority",
        title=_("Orders per week, by authority"),
        kind="bar",
        x_title=_("Week"),
        labels=week_names,
        datasets=_series(week_rows, x="week", by="authority", labels=weeks),
        stacked=True,
    )
    by_state = chart(
        key="orders-state",
        title=_("Orders per week, by current state"),
        kind="bar",
        x_title=_("Week"),
        labels=week_names,
        datasets=_series(week_rows, x="week", by="state", labels=weeks, names=states),
        stacked=True,
    )

    hours = statistics.hour_labels(hours=HOURS, now=now)
    production = chart(
        key="production",
        title=_("Cards made per station and hour, last 24 hours"),
        kind="bar",
        x_title=_("Hour"),
        labels=[formats.date_format(h, "j F H:i") for h in hours],
        datasets=_series(
            statistics.production_per_station_hour(orders=scope.orders, hours=HOURS, now=now),
            x="hour",
            by="station",
            labels=hours,
        ),
        stacked=True,
    )

    overdue_rows = statistics.overdue_per_state(orders=scope.orders, now=now)
    overdue_states = sorted({r["state"] for r in overdue_rows}, key=list(Order.State.values).index)
    overdue = chart(
        key="overdue",
        title=_("Overdue orders, by state"),
        kind="bar",
        x_title=_("State"),
        labels=[states[s] for s in overdue_states],
        datasets=_series(overdue_rows, x="state", by="authority", labels=overdue_states),
        stacked=True,
    )

    months = statistics.month_labels(months=OPPOSITION_MONTHS, today=today)
    oppositions = chart(
        key="oppositions",
        title=_("Oppositions declared per month, by reason"),
        kind="bar",
        x_title=_("Month"),
        labels=[_month(m) for m in months],
        datasets=_series(
            statistics.oppositions_per_month(cards=scope.cards, months=OPPOSITION_MONTHS, today=today),
            x="month",
            by="reason",
            labels=months,
            names=reasons,
        ),
        stacked=True,
    )

    capacity = statistics.station_capacity(now=now)
    forecast_rows = statistics.renewal_forecast(
        cards=scope.cards, months=FORECAST_MONTHS, today=today, capacity=capacity
    )
    forecast = chart(
        key="forecast",
        title=_("Renewal forecast: cards expiring per month against the stations' capacity"),
        kind="bar",
        x_title=_("Month"),
        labels=[_month(r["month"]) for r in forecast_rows],
        datasets=[
            {"label": _("Cards expiring"), "data": [r["expiring"] for r in forecast_rows]},
            {"label": _("Stations' capacity"), "data": [r["capacity"] for r in forecast_rows], "line": True},
        ],
        stacked=False,
    )
    over = [r for r in forecast_rows if r["over"]]

    # Issue 16: the capacity plan (lifecycle.scheduling), per day and per week, against the plan's share.
    share = scheduling.daily_capacity(capacity=capacity)
    plan_rows = statistics.release_plan_forecast(
        orders=scope.orders, days=PLAN_WEEKS * 7, today=today, per_day=share.per_day
    )
    plan_days = plan_rows[:PLAN_DAYS]
    plan = chart(
        key="plan",
        title=_("Release plan: automatic orders released to production per day against the capacity"),
        kind="bar",
        x_title=_("Day"),
        labels=[_day(r["day"]) for r in plan_days],
        datasets=[
            {"label": _("Planned releases"), "data": [r["planned"] for r in plan_days]},
            {
                "label": _("Capacity for automatic orders"),
                "data": [r["capacity"] for r in plan_days],
                "line": True,
            },
        ],
        stacked=False,
    )
    plan_weeks = statistics.release_plan_per_week(plan_rows)
    plan_per_week = chart(
        key="plan-weeks",
        title=_("Release plan per week (weeks starting on Monday)"),
        kind="bar",
        x_title=_("Week"),
        labels=[_day(r["week"]) for r in plan_weeks],
        datasets=[
            {"label": _("Planned releases"), "data": [r["planned"] for r in plan_weeks]},
            {
                "label": _("Capacity for automatic orders"),
                "data": [r["capacity"] for r in plan_weeks],
                "line": True,
            },
        ],
        stacked=False,
    )
    charts = [by_authority, by_state, production, overdue, oppositions, forecast, plan, plan_per_week]
    return {
        "charts": charts,
        "chart_data": {
            c["id"]: {
                "kind": c["kind"],
                "stacked": c["stacked"],
                "labels": c["labels"],
                "datasets": c["datasets"],
                "x_title": c["x_title"],
                "title": c["title"],
            }
            for c in charts
        },
        "authority_code": scope.authority_code,
        "overdue_total": sum(r["count"] for r in overdue_rows),
        "overdue_days": statistics.overdue_days(),
        "capacity": capacity,
        "capacity_per_day": formats.number_format(capacity.per_day, 1),
        "months_over": [_month(r["month"]) for r in over],
        "expiring_total": sum(r["expiring"] for r in forecast_rows),
        "orders_total": sum(r["count"] for r in week_rows),
        "plan_share": share,
        "plan_manual_percent": round(share.manual_share * 100),
        "plan_late": statistics.planned_late(orders=scope.orders),
        "plan_days_over": [_day(r["day"]) for r in plan_rows if r["over"]],
    }


@for_roles(*BACK_OFFICE)
def dashboard(request: HttpRequest, account: Account) -> HttpResponse:
    context = dashboard_context(request.user)
    context["read_only"] = account.role == Role.AUDITOR
    return render(request, "portal/dashboard/dashboard.html", context)
