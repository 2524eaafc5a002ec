"""Kill the process doing the job at every checkpoint, then run the job again: one card per order, the
interrupted blank spoiled and wiped, its certificates revoked, never a card without a record or back."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cards.models import Card
from pki.models import Certificate
from stations import personalization
from stations.models import BlankCard, PersonalizationJob
from tests.pki.conftest import hsm_env  # noqa: E402

from .conftest import token_labels

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)


def _env(**extra):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        **hsm_env(settings),
        "DJANGO_LOG_LEVEL": "WARNING",
        # Single-process tools: the signing service's task runs in the job's process (with the CA PIN).
        "CPX_SIGNING_INLINE": "true",
        **extra,
    }


def _killed_at(step, order, station):
    env = _env(CPX_CRASH_AT=step)
    command = [sys.executable, "manage.py", "personalize_order", str(order.pk), "--station", station.name]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


STEPS = ["claimed", "initialized", "keys", "certified", "written", "verified", "done"]


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_a_job_killed_at_any_step_ends_with_one_card(step, station, queued_order):
    result = _killed_at(step, queued_order, station)
    assert result.returncode == -9, result.stdout + result.stderr

    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert Card.objects.filter(order=queued_order.pk).count() == 1
    queued_order.refresh_from_db()
    assert queued_order.state == "produced" and queued_order.produced_card_id == card.pk
    assert token_labels(station) == [card.number]  # no orphan card in the reader
    assert BlankCard.objects.get(number=card.number).state == "used"
    jobs = PersonalizationJob.objects.filter(order_id=queued_order.pk).order_by("id")
    if step == "done":
        assert [j.step for j in jobs] == ["done"]
        return
    first, last = jobs
    assert (first.step, last.step) == ("interrupted", "done")
    assert BlankCard.objects.get(pk=first.blank_id).state == "spoiled"
    stale = Certificate.objects.filter(card_number=first.blank.number)
    assert all(c.revoked_at and c.revocation_reason == "cessationOfOperation" for c in stale)
    assert stale.count() == (2 if step in ("certified", "written", "verified") else 0)
    assert set(card.certificates.values_list("revoked_at", flat=True)) == {None}


@pytest.mark.slow
def test_a_job_running_elsewhere_is_left_alone(station, queued_order):
    """While another process holds the order (its advisory lock), a second run does nothing."""
    env = _env()
    script = (
        "import django, time; django.setup(); from django.db import connection;"
        f"c = connection.cursor(); c.execute('SELECT pg_advisory_lock({personalization.ORDER_LOCK_SPACE}, "
        f"{queued_order.pk})'); print('locked', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
        assert not PersonalizationJob.objects.filter(order_id=queued_order.pk).exists()
    finally:
        holder.kill()
        holder.wait()
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is not None


@pytest.mark.slow
def test_a_station_worker_killed_mid_job_redelivers_and_finishes(station, queued_order, tmp_path):
    """A real `run_station` Celery worker on Redis (db 3): its process is SIGKILLed after the keys are on
    the card; the broker redelivers the task (acks late) and the job finishes on a new blank."""
    import redis

    from config.celery import app

    broker = "redis://127.0.0.1:6379/3"
    redis.Redis.from_url(broker).delete(station.queue)  # only this test's own queue: others share the DB
    marker = tmp_path / "crashed"
    env = _env(CELERY_BROKER_URL=broker, CPX_CRASH_AT="keys", CPX_CRASH_MARKER=str(marker))
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_station", station.name, "--heartbeat", "1"],
        cwd=ROOT,
        env={**env, "DJANGO_LOG_LEVEL": "INFO"},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("w"),
    )
    try:
        with app.connection_for_write(broker) as conn:
            app.send_task(
                "stations.personalize",
                args=[queued_order.pk, station.name],
                queue=station.queue,
                connection=conn,
            )
        card = _wait_for_card(queued_order, timeout=300)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert marker.read_text() == "keys"
    assert card is not None, (tmp_path / "worker.log").read_text()[-3000:]
    jobs = list(PersonalizationJob.objects.filter(order_id=queued_order.pk).values_list("step", flat=True))
    assert sorted(jobs) == ["done", "interrupted"]
    assert token_labels(station) == [card.number]
    station.refresh_from_db()
    assert station.last_heartbeat is not None


def _wait_for_card(order, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        card = Card.objects.filter(order=order.pk).first()
        if card is not None:
            return card
        time.sleep(0.5)
    return None


@pytest.mark.slow
def test_two_readers_of_a_station_personalize_in_parallel(station, queued_order, tmp_path):
    """A real station worker with two processes takes four orders at once: four cards, four tokens, no
    failure (token initializations on the shared SoftHSM2 store are serialized by the station's lock)."""
    import redis

    from config.celery import app
    from tests.factories import ActivityFactory, OrderFactory

    orders = [queued_order] + [
        OrderFactory(exercise=ActivityFactory().exercise, state="queued") for _ in range(3)
    ]
    broker = "redis://127.0.0.1:6379/3"
    redis.Redis.from_url(broker).delete(station.queue)  # only this test's own queue: others share the DB
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_station", station.name],
        cwd=ROOT,
        env=_env(CELERY_BROKER_URL=broker, DJANGO_LOG_LEVEL="INFO"),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("w"),
    )
    try:
        with app.connection_for_write(broker) as conn:
            for order in orders:
                app.send_task(
                    "stations.personalize",
                    args=[order.pk, station.name],
                    queue=station.queue,
                    connection=conn,
                )
        cards = [_wait_for_card(order, timeout=300) for order in orders]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert all(cards), (tmp_path / "worker.log").read_text()[-3000:]
    assert token_labels(station) == sorted(card.number for card in cards)
    jobs = PersonalizationJob.objects.filter(station=station)
    assert sorted(jobs.values_list("step", flat=True)) == ["done"] * 4
    assert len(set(jobs.values_list("reader_id", flat=True))) == 2  # both readers worked
