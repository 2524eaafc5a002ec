"""The real processes: the signing service (`manage.py run_signer`, the only one with the CA token's PIN)
and a reader station (`manage.py run_station`, without any CA PIN), on Redis and PostgreSQL. The station
makes a card through the service, and strace shows it never opened anything of the CA's stores nor a key
file."""

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cards.models import Card
from pki.models import AuditEvent
from tests.pki.conftest import hsm_env

from .conftest import pin_and_puk, token_labels
from .test_secrets import standalone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
BROKER = "redis://127.0.0.1:6379/10"  # its own database: no other test shares it
OPENED = re.compile(r'open(?:at)?\((?:[^,]+, )?"([^"]*)"')


def _env(**extra):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": BROKER,
        "CPX_SIGNING_INLINE": "false",
        "CPX_STATIONS_DIR": str(settings.CPX_STATIONS_DIR),
        **hsm_env(settings),
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _wait(predicate, timeout, what, logs):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(p.read_text()[-3000:] for p in logs))


def _stop(process):
    """SIGTERM to the process group it leads (strace, killed alone, would leave its tracees running)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)


class BrokerTap:
    """Every command sent to the broker's database while it runs (Redis MONITOR), with the messages'
    base64 bodies decoded: what a reader of the broker could see."""

    def __init__(self, client):
        self.client, self.seen, self.stopped = client, [], threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self):
        db = int(BROKER.rsplit("/", 1)[1])
        with self.client.monitor() as monitor:
            for command in monitor.listen():
                if self.stopped.is_set():
                    return
                if command.get("db") == db:
                    self.seen.append(command["command"])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.client.ping()  # wakes the listener up
        self.thread.join(timeout=10)

    def text(self) -> str:
        decoded = []
        for command in self.seen:
            for run in re.findall(r"[A-Za-z0-9+/=]{16,}", command):
                with contextlib.suppress(ValueError):
                    decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        return "\n".join(self.seen + decoded)


def test_a_station_without_ca_keys_makes_a_card_through_the_signing_service(station, queued_order, tmp_path):
    import redis

    from config.celery import app

    client = redis.Redis.from_url(BROKER)
    client.delete(station.queue, settings.CPX_SIGNING_QUEUE)
    tap = BrokerTap(redis.Redis.from_url(BROKER)).__enter__()
    signer_log, station_log, trace = (
        tmp_path / "signer.log",
        tmp_path / "station.log",
        tmp_path / "strace.log",
    )
    signer = subprocess.Popen(
        [sys.executable, "manage.py", "run_signer", "--loglevel", "INFO"],
        cwd=ROOT,
        env=_env(),
        stdout=signer_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The station: no CA or root PIN, and it is traced (every open of a file, in every process it forks).
    # It has the unblock token's PIN: every card's PUK is derived there (pki.unblock).
    no_pins = {
        "CPX_CA_TOKEN_PIN": "",
        "CPX_ROOT_TOKEN_PIN": "",
        "CPX_OCSP_TOKEN_PIN": "",
        "CPX_UNBLOCK_TOKEN_PIN": settings.CPX_UNBLOCK_TOKEN_PIN,
    }
    station_process = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=openat,open", "-o", str(trace)]
        + [sys.executable, "manage.py", "run_station", station.name, "--heartbeat", "1"],
        cwd=ROOT,
        env=_env(**no_pins),
        stdout=station_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        logs = [signer_log, station_log]
        _wait(lambda: "ready" in signer_log.read_text(), 60, "the signing service", logs)
        _wait(lambda: "ready" in station_log.read_text(), 90, "the station worker", logs)
        with app.connection_for_write(BROKER) as conn:
            app.send_task(
                "stations.personalize",
                args=[queued_order.pk, station.name],
                queue=station.queue,
                connection=conn,
            )
        card = _wait(lambda: Card.objects.filter(order=queued_order.pk).first(), 120, "the card", logs)
    finally:
        _stop(station_process)
        _stop(signer)
        tap.__exit__()
    assert token_labels(station) == [card.number]
    # The codes went through no broker message and no log line of either process.
    pin, puk = pin_and_puk(card)
    broker = tap.text()
    assert "stations.personalize" in broker and "signing.certify_card" in broker  # the tap saw the traffic
    for secret in (pin, puk):
        for where in (broker, signer_log.read_text(), station_log.read_text()):
            assert not standalone(secret).search(where)
    assert card.certificates.count() == 2
    issued = AuditEvent.objects.filter(operation="issue", detail__card_number=card.number)
    assert issued.count() == 2 and all(e.actor.startswith(f"station:{station.name} job ") for e in issued)

    opened = [m.group(1) for m in map(OPENED.search, trace.read_text().splitlines()) if m]
    assert len(opened) > 100, trace.read_text()[:2000]  # strace did see the station's work
    assert any(path.endswith("softhsm2.conf") and station.name in path for path in opened)  # its own store
    hsm_dir = Path(settings.CPX_HSM_SOFTHSM_DIR)
    assert any(p.startswith(str(hsm_dir / "unblock") + "/") for p in opened)  # the PUK's master key
    forbidden = [
        str(hsm_dir / "ca"),
        str(hsm_dir / "root"),
        str(hsm_dir.resolve() / "ca"),
        str(hsm_dir.resolve() / "root"),
    ]
    touched = [p for p in opened if any(p == f or p.startswith(f + "/") for f in forbidden)]
    assert not touched, touched[:20]
    assert not [p for p in opened if p.endswith(".key.pem")]


def test_the_signer_refuses_to_start_without_the_ca_pin(pki_dir):
    result = subprocess.run(
        [sys.executable, "manage.py", "run_signer"],
        cwd=ROOT,
        env={**_env(), "CPX_CA_TOKEN_PIN": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot open the CA token" in result.stderr and "CPX_CA_TOKEN_PIN" in result.stderr
    wrong = subprocess.run(
        [sys.executable, "manage.py", "run_signer"],
        cwd=ROOT,
        env={**_env(), "CPX_CA_TOKEN_PIN": "not-the-pin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode != 0 and "is not the PIN" in wrong.stderr, wrong.stderr


def test_the_station_refuses_to_start_without_the_unblock_pin(station):
    """No PUK without the unblock token: better no station than one that spoils every blank."""
    result = subprocess.run(
        [sys.executable, "manage.py", "run_station", station.name],
        cwd=ROOT,
        env={**_env(), "CPX_UNBLOCK_TOKEN_PIN": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot open the unblock token" in result.stderr and "CPX_UNBLOCK_TOKEN_PIN" in result.stderr
