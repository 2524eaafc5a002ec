"""The dashboard in the browser: an ANS operator signs in, lands on it, sees the charts drawn by the
platform's own Chart.js (canvases painted, no console error, no inline script) and each chart's data table;
the page passes axe-core. An Ordre's operator's dashboard leaves out another authority's orders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from cards.models import Card
from orders.models import Order
from registry.models import Account
from stations.models import PersonalizationJob, ReaderStation
from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, screenshot, sign_in
from tests.factories import CardFactory, ExerciseFactory, OrderFactory, ProfessionalFactory, persona


def some_figures() -> None:
    station = ReaderStation.objects.create(name="lyon", module="/dev/null")
    for n in range(6):
        person = ProfessionalFactory(last_name=f"CNOM{n}")
        made: Any = OrderFactory(
            exercise=ExerciseFactory(professional=person, profession_id="10"), state=Order.State.PRODUCED
        )
        PersonalizationJob.objects.create(order=made, station=station, step=PersonalizationJob.Step.DONE)
    for n in range(4):
        person = ProfessionalFactory(last_name=f"ONI{n}")
        OrderFactory(
            exercise=ExerciseFactory(professional=person, profession_id="60"), state=Order.State.SUBMITTED
        )
    soon = timezone.localdate() + dt.timedelta(days=45)
    for _ in range(5):
        CardFactory(exercise=ExerciseFactory(profession_id="10"), valid_until=soon, state=Card.State.ACTIVE)


def watch_console(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_ans_dashboard_draws_its_charts_with_data_tables(page, db):
    some_figures()
    errors = watch_console(page)
    sign_in(page, persona(Account.Role.ANS_OPERATOR))
    page.wait_for_url("**/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    canvases = page.locator("canvas[data-drawn=true]")
    expect(canvases.first).to_be_visible()
    assert canvases.count() >= 4  # orders by authority and state, production, forecast (others may be empty)
    # Chart.js painted something: the canvas is not blank.
    painted = page.evaluate(
        """() => { const c = document.getElementById('chart-orders-authority');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false; }"""
    )
    assert painted
    assert page.evaluate("() => typeof window.Chart") == "function"
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0

    section = page.locator("section", has=page.locator("#chart-orders-authority"))
    section.locator("summary").click()
    table = page.locator("#chart-orders-authority-table table")
    expect(table).to_be_visible()
    expect(table.locator("thead")).to_contain_text("CNOM")
    expect(table.locator("thead")).to_contain_text("ONI")
    expect(page.locator("#chart-production-table")).to_contain_text("lyon")
    expect(page.locator("[data-figure=capacity]")).to_contain_text("6")
    assert_accessible(page)
    assert_no_axe_violations(page)
    screenshot(page, "dashboard-ans")
    assert errors == []


def test_an_ordre_operators_dashboard_leaves_out_other_authorities(page, db):
    some_figures()
    sign_in(page, persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    page.wait_for_url("**/dashboard/")
    page.locator("section", has=page.locator("#chart-orders-authority")).locator("summary").click()
    head = page.locator("#chart-orders-authority-table thead")
    expect(head).to_contain_text("CNOM")
    expect(head).not_to_contain_text("ONI")
    expect(page.locator("[data-figure=orders]")).to_have_text("6")
