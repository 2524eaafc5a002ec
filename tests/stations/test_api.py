"""The production API: stations for those who watch production, cards scoped like everything else."""

import pytest
from rest_framework.test import APIClient

from stations import services
from stations.models import PersonalizationJob
from tests.factories import CardFactory, OrderFactory, persona

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("role", "status"),
    [("ans_operator", 200), ("auditor", 200), ("system", 200), ("authority_operator", 403), ("holder", 403)],
)
def test_stations_are_visible_to_production_watchers_only(station, role, status):
    response = _client(persona(role)).get("/api/v1/stations/")
    assert response.status_code == status


def test_a_station_shows_stock_throughput_and_failures(station):
    blank = station.blanks.first()
    failed, done = OrderFactory(), OrderFactory()
    PersonalizationJob.objects.create(order=failed, station=station, blank=blank, step="failed", error="chip")
    PersonalizationJob.objects.create(order=done, station=station, step="done")
    services.station_heartbeat(station=station)
    body = _client(persona("ans_operator")).get(f"/api/v1/stations/{station.name}/").json()
    assert body["queue"] == f"station.{station.name}" and body["state"] == "online" and body["last_heartbeat"]
    assert body["stats"]["blanks"] == {"available": 4, "in_use": 0, "used": 0, "spoiled": 0}
    assert body["stats"]["cards_last_period"] == 1 and body["stats"]["failures_last_period"] == 1
    assert [r["slot"] for r in body["stats"]["readers"]] == [0, 1]
    assert body["recent_failures"][0]["error"] == "chip"
    assert body["recent_failures"][0]["order_id"] == failed.pk
    assert body["recent_failures"][0]["blank"] == blank.number


def test_a_station_whose_heartbeat_stopped_shows_offline(station):
    import datetime as dt

    from django.utils import timezone

    from stations.models import ReaderStation

    ReaderStation.objects.filter(pk=station.pk).update(
        state="online", last_heartbeat=timezone.now() - dt.timedelta(minutes=10)
    )
    body = _client(persona("auditor")).get(f"/api/v1/stations/{station.name}/").json()
    assert body["state"] == body["stats"]["state"] == "offline"


@pytest.mark.parametrize("name", ["%00", "a%00b", "x" * 41, "%C3%A9t%C3%A9", "%FF"])
def test_a_station_name_that_cannot_exist_is_a_json_404(station, name):
    """A NUL byte used to reach PostgreSQL (DataError, a 500); names that are not slugs stop before it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(persona("ans_operator"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/stations/{name}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    assert not any("stations_readerstation" in query["sql"] for query in queries.captured_queries)


def test_a_card_id_that_is_not_a_number_is_a_json_404(db):
    response = _client(persona("ans_operator")).get("/api/v1/cards/%00/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_stations_are_read_only(station):
    client = _client(persona("ans_operator"))
    assert client.delete(f"/api/v1/stations/{station.name}/").status_code == 405
    assert client.post("/api/v1/stations/", {"name": "x"}).status_code == 405


def test_a_holder_sees_only_their_cards(db):
    holder = persona("holder")
    mine = CardFactory(exercise__professional=holder.account.professional)
    CardFactory()
    body = _client(holder).get("/api/v1/cards/").json()
    assert [c["number"] for c in body["results"]] == [mine.number]
    assert _client(holder).get(f"/api/v1/cards/{mine.pk + 1}/").status_code == 404


def test_blank_numbers_follow_the_issuer_prefix(station):
    more = services.blank_stock_add(station=station, count=2)
    assert [b.number for b in more] == ["80250000010000000005", "80250000010000000006"]
