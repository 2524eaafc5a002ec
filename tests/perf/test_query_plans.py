"""Every page and list reads its rows through an index, whatever the size of the tables (issue 17).

Each page is requested as the persona who reads it; every SELECT it ran is explained by PostgreSQL with
sequential scans made as costly as they get (``enable_seqscan = off``): a plan that still reads a large
table from end to end has no index to go through, and would read a country's worth of rows at national
scale. The test fails on any ``Seq Scan`` of a large table, naming the page, the table and the query.

What it does not see: a plan that walks a whole index (the planner's choice on tables this small, and not a
missing index); the timings at national scale are bench/'s (issue 17), on bench/generate_national.py's
database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import Card
from notifications.services import notify
from orders.models import Order
from registry.models import Account, Professional
from registry.services import registry_import
from tests.factories import ActivityFactory, CardFactory, OrderFactory, persona
from tests.registry.conftest import DOCTOR, OPTICIAN, SAMPLE

pytestmark = pytest.mark.django_db

# The tables that hold a country's rows (1.3 M professionals, 1.5 M cards, 3 M certificates, 1 M orders...).
LARGE = {
    "registry_professional",
    "registry_exercise",
    "registry_activity",
    "registry_structure",
    "cards_card",
    "cards_cardevent",
    "pki_certificate",
    "orders_order",
    "orders_orderevent",
    "notifications_notification",
    "lifecycle_renewalreminder",
}


def seq_scans(plan: dict[str, Any]) -> Iterator[str]:
    """The large tables ``plan`` reads by a ``Seq Scan`` (sequential scans disabled: no index serves)."""
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in LARGE:
        yield plan["Relation Name"]
    for child in plan.get("Plans", []):
        yield from seq_scans(child)


def explained(sql: str, params: Any) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (raw,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = on")
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return plan[0]["Plan"]


def violations(client: Any, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    found = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if not re.match(r"\s*SELECT\b", sql, re.I) or "pg_" in sql:
            continue
        # The captured SQL has its parameters inlined by the driver: explain it as it ran.
        for table in seq_scans(explained(sql, None)):
            found.append(f"{url}: Seq Scan on {table}: {sql[:300]}")
    return found


@pytest.fixture
def country(db) -> dict[str, Any]:
    """A small registry and a few of everything on it: the plans, not the timings, are what is checked."""
    registry_import(path=SAMPLE)
    activity = ActivityFactory()
    card = cast(Card, CardFactory(exercise=activity.exercise))
    order = OrderFactory(exercise=activity.exercise, state=Order.State.SUBMITTED)
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    notify(
        recipient=card.professional,
        event="card_shipped",
        context={"card_number": card.display_number, "card_type": "CPS", "tracking_reference": "X1"},
        dedup_key=f"plan-test:{card.pk}",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"card": card, "order": order, "holder": holder, "person": card.professional}


def operator_pages(country: dict[str, Any], person: Any = None) -> list[str]:
    person, card = person or country["person"], country["card"]
    queue = ["/backoffice/"]
    queue += [f"/backoffice/?state={state}" for state in ("submitted", "approved", "awaiting_payment")]
    queue += ["/backoffice/?kind=renewal", "/backoffice/?card_type=CPF", f"/backoffice/?q={person.last_name}"]
    queue += ["/backoffice/overdue/"]
    directory = [
        "/backoffice/holders/",
        "/backoffice/holders/?q=martin",
        "/backoffice/holders/?q=Hélène",
        "/backoffice/holders/?q=helene",
        f"/backoffice/holders/?q={person.rpps or person.national_id}",
        f"/backoffice/holders/?q={card.number}",
        "/backoffice/holders/?sort=-name",
        "/backoffice/holders/?sort=-updated",
        f"/backoffice/holders/{person.pk}/",
    ]
    dashboard = ["/dashboard/", "/exports/queue.csv", "/exports/directory.csv", "/exports/overdue.csv"]
    return queue + directory + dashboard


def holder_pages(country: dict[str, Any]) -> list[str]:
    card, order = country["card"], country["order"]
    return ["/cards/", f"/cards/{card.pk}/", "/orders/", f"/orders/{order.pk}/", "/messages/"]


def test_the_operators_pages_read_through_indexes(client, country):
    client.force_login(persona(Account.Role.ANS_OPERATOR))
    optician = Professional.objects.get(national_id=OPTICIAN)  # ADELI: ANS's own
    pages = [*operator_pages(country, optician)]
    found = [v for url in pages for v in violations(client, url)]
    assert found == [], "\n".join(found)


def test_an_ordres_pages_read_through_indexes(client, country):
    client.force_login(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    doctor = Professional.objects.get(national_id=DOCTOR)  # a médecin: the Ordre's own
    found = [v for url in operator_pages(country, doctor) for v in violations(client, url)]
    assert found == [], "\n".join(found)


def test_the_order_page_reads_through_indexes(client, country):
    client.force_login(persona(Account.Role.AUDITOR))
    found = violations(client, f"/backoffice/orders/{country['order'].pk}/")
    assert found == [], "\n".join(found)


def test_the_holders_pages_read_through_indexes(client, country):
    client.force_login(country["holder"])
    found = [v for url in holder_pages(country) for v in violations(client, url)]
    assert found == [], "\n".join(found)


def test_the_checker_sees_a_sequential_scan():
    plan = {"Node Type": "Hash Join", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "cards_card"}]}
    assert list(seq_scans(plan)) == ["cards_card"]
    assert list(seq_scans({"Node Type": "Index Scan", "Relation Name": "cards_card"})) == []
    assert Card._meta.db_table in LARGE  # the names are the models' own tables
