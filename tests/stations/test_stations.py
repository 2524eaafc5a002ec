"""Stations: registration, readers taken and given back, recovery at start-up, choosing where jobs go."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from stations import personalization, services
from stations.models import BlankCard, PersonalizationJob, Reader, ReaderStation

from .conftest import SOFTHSM

pytestmark = pytest.mark.django_db


def test_station_register_is_idempotent_and_adds_stock(station, capsys):
    call_command("station_register", station.name, "--readers", "2", "--blanks", "6", "--module", SOFTHSM)
    assert "2 blanks added (6 available)" in capsys.readouterr().out
    call_command("station_register", station.name, "--readers", "2", "--blanks", "6", "--module", SOFTHSM)
    assert "0 blanks added (6 available)" in capsys.readouterr().out
    assert station.readers.count() == 2
    assert station.queue == f"station.{station.name}"
    assert station.softhsm_conf.endswith(f"stations/{station.name}/softhsm2.conf")


def test_a_job_takes_a_reader_and_gives_it_back(station, queued_order):
    personalization.personalize_order(order_id=queued_order.pk, station=station)
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.reader is not None
    assert set(station.readers.values_list("state", flat=True)) == {"idle"}


def test_with_every_reader_busy_the_job_waits(station, queued_order):
    station.readers.update(state=Reader.State.BUSY)
    with pytest.raises(personalization.NoReaderFree):
        personalization.personalize_order(order_id=queued_order.pk, station=station)
    queued_order.refresh_from_db()
    assert queued_order.state == "queued"


def test_start_up_recovers_what_a_dead_worker_left(station, queued_order, scheduled):
    from orders import services as orders

    blank = station.blanks.first()
    reader = station.readers.first()
    orders.order_start_production(order=queued_order.pk)
    BlankCard.objects.filter(pk=blank.pk).update(state="in_use")
    Reader.objects.filter(pk=reader.pk).update(state="busy")
    PersonalizationJob.objects.create(
        order_id=queued_order.pk, station=station, blank=blank, reader=reader, step="keys"
    )
    assert personalization.station_recover(station=station) == [queued_order.pk]
    assert PersonalizationJob.objects.get(order_id=queued_order.pk).step == "interrupted"
    assert BlankCard.objects.get(pk=blank.pk).state == "spoiled"
    assert Reader.objects.get(pk=reader.pk).state == "idle"
    assert scheduled[-1][:2] == ("stations.personalize", (queued_order.pk, station.name))
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert card is not None


def test_jobs_go_to_a_live_station_with_blanks(station):
    other = services.station_register(name="t2", module=SOFTHSM, readers=1)
    services.blank_stock_add(station=other, count=10)
    assert services.station_choose() == other  # more blanks, neither alive
    services.station_heartbeat(station=station)
    assert services.station_choose() == station  # alive first
    ReaderStation.objects.filter(pk=station.pk).update(state="paused")
    assert services.station_choose() == other


def test_the_sweep_hands_back_forgotten_queued_orders(station, queued_order, scheduled):
    from orders.models import Order

    Order.objects.filter(pk=queued_order.pk).update(state_changed_at=timezone.now() - dt.timedelta(hours=1))
    assert services.production_sweep() == 1
    assert scheduled[-1][2] == {"queue": station.queue}
    PersonalizationJob.objects.create(order_id=queued_order.pk, station=station, step="keys")
    assert services.production_sweep() == 0  # someone is on it
