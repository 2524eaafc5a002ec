"""The back office's dashboard: operators and auditors land on it, it shows their figures (an Ordre's
operator never another authority's), every chart has its data table, and holders have none."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from typing import Any

from django.urls import reverse
from django.utils import timezone

from cards.models import Card
from orders.models import Order
from stations.models import PersonalizationJob, ReaderStation
from tests.factories import CardFactory, ExerciseFactory, OrderFactory


def orders(profession: str, n: int, **fields) -> list[Any]:
    return [OrderFactory(exercise=ExerciseFactory(profession_id=profession), **fields) for _ in range(n)]


def island(response) -> dict:
    found = re.search(
        r'<script id="dashboard-data" type="application/json">(.*?)</script>', response.text, re.S
    )
    assert found, "no data island"
    return json.loads(found.group(1))


def dataset(data: dict, chart: str, label: str | int) -> list[int]:
    sets = data[f"chart-{chart}"]["datasets"]
    if isinstance(label, int):
        return sets[label]["data"]
    return {d["label"]: d["data"] for d in sets}[label]


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">(.*?)</p>', html, re.S)
    assert found, name
    return " ".join(found.group(1).split())


def test_operators_and_auditors_land_on_their_dashboard(people, as_user):
    for user in (people.cnom, people.ans, people.auditor):
        assert as_user(user).get("/")["Location"] == reverse("portal:dashboard")
    assert as_user(people.holder).get("/")["Location"] == reverse("portal:cards")
    assert as_user(people.manager).get("/")["Location"] == reverse("portal:structure")
    assert as_user(people.holder).get(reverse("portal:dashboard")).status_code == 403


def test_an_ordre_operator_sees_only_their_authoritys_figures(people, as_user):
    orders("10", 3)  # CNOM, this week
    orders("60", 5)  # ONI
    response = as_user(people.cnom).get(reverse("portal:dashboard"))
    assert response.status_code == 200
    data = island(response)
    by_authority = {d["label"]: sum(d["data"]) for d in data["chart-orders-authority"]["datasets"]}
    assert by_authority == {"CNOM": 3}
    assert sum(dataset(data, "orders-state", str(Order.State.DRAFT.label))) == 3
    assert figure(response.text, "orders") == "3"

    data = island(as_user(people.auditor).get(reverse("portal:dashboard")))
    assert {d["label"]: sum(d["data"]) for d in data["chart-orders-authority"]["datasets"]} == {
        "CNOM": 3,
        "ONI": 5,
    }
    data = island(as_user(people.ans).get(reverse("portal:dashboard")))
    assert sum(sum(d["data"]) for d in data["chart-orders-authority"]["datasets"]) == 8


def test_every_chart_has_its_data_table(people, as_user):
    old = timezone.now() - dt.timedelta(days=60)
    late = orders("10", 2, state=Order.State.SUBMITTED)
    Order.objects.filter(pk__in=[o.pk for o in late]).update(state_changed_at=old)
    station = ReaderStation.objects.create(name="lyon", module="/dev/null")
    for made in orders("10", 4, state=Order.State.PRODUCED):
        PersonalizationJob.objects.create(order=made, station=station, step=PersonalizationJob.Step.DONE)
    next_month = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).replace(day=10)
    for _ in range(7):
        CardFactory(
            exercise=ExerciseFactory(profession_id="10"), valid_until=next_month, state=Card.State.ACTIVE
        )
    for _ in range(3):  # another authority's: not in the CNOM operator's forecast
        CardFactory(exercise=ExerciseFactory(profession_id="60"), valid_until=next_month)
    response = as_user(people.cnom).get(reverse("portal:dashboard"))
    html = response.text
    charts = ("orders-authority", "orders-state", "production", "overdue", "oppositions", "forecast")
    for chart in (*charts, "plan", "plan-weeks"):  # issue 16: the release plan, per day and per week
        assert f'id="chart-{chart}-table"' in html
    assert html.count("<caption>") == 8
    assert '<canvas id="chart-production"' in html and '<canvas id="chart-forecast"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "portal/dashboard.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    data = island(response)
    assert sum(dataset(data, "production", "lyon")) == 4
    assert sum(dataset(data, "overdue", "CNOM")) == 2
    expiring, capacity = dataset(data, "forecast", 0), dataset(data, "forecast", 1)
    assert expiring[1] == 7
    # 4 cards in the 28 measured days, times the days of next month.
    assert capacity[1] == round(4 / 28 * calendar.monthrange(next_month.year, next_month.month)[1])
    measured = figure(html, "capacity")
    assert " 4 " in measured and " 28 " in measured  # how the capacity is measured, in words
    assert figure(html, "overdue").startswith("2 ")
