"""The outbox with a real Celery worker and a real Redis: delivered once each, and nothing lost while the
broker is down.

The test starts its own redis-server on a free port (never the shared one) and a `celery -A config worker`
subprocess that uses this test's database, so it only sees committed rows: hence ``transaction=True``.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.core import mail
from django.db import connection, transaction

from notifications import services, tasks
from notifications.events import EVENTS
from notifications.models import Notification

from .conftest import SAMPLE_CONTEXT, broker, make_professional

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class PrivateRedis:
    """A throw-away redis-server: no persistence, its own port and directory."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, 10, "the private redis-server")

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(private_redis, tmp_path):
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # pytest-django's test database, so the worker sees committed rows
        "CELERY_BROKER_URL": private_redis.url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "CPX_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default"]
    command += [
        "--concurrency",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "INFO",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        try:
            wait_for(
                lambda: "ready." in log.read_text(errors="replace") or process.poll() is not None, 120, ""
            )
        except AssertionError:
            pytest.fail(f"the worker did not start in 120 s:\n{log.read_text(errors='replace')[-3000:]}")
        if process.poll() is not None:
            pytest.fail(f"the worker exited:\n{log.read_text(errors='replace')[-3000:]}")
        yield process, log, tmp_path / "mail"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def sent_by_worker(mail_dir: Path) -> Counter:
    """How many times each notification went out through the worker's file-based mail backend."""
    text = "".join(p.read_text(errors="replace") for p in mail_dir.glob("*")) if mail_dir.exists() else ""
    return Counter(int(n) for n in re.findall(r"^X-CPx-Notification: (\d+)$", text, re.MULTILINE))


def sent_in_this_process() -> Counter:
    return Counter(int(m.extra_headers["X-CPx-Notification"]) for m in mail.outbox)


def ship_cards(people, tag: str) -> list[int]:
    """One business event per person, each in its own transaction; returns the e-mail notifications' ids."""
    context = {k: SAMPLE_CONTEXT[k] for k in EVENTS["card_shipped"].fields}
    ids = []
    for person in people:
        with transaction.atomic():
            rows = services.notify(
                recipient=person, event="card_shipped", context=context, dedup_key=f"{tag}:{person.pk}"
            )
        ids += [n.pk for n in rows if n.channel == "email"]
    return ids


def all_sent(ids: list[int]) -> bool:
    return Notification.objects.filter(pk__in=ids, state="sent").count() == len(ids)


def test_a_real_worker_delivers_each_message_once_across_a_redis_outage(private_redis, worker):
    process, log, mail_dir = worker
    people = [make_professional(email=f"p{i}@example.fr") for i in range(6)]

    with broker(private_redis.url):
        before = ship_cards(people, "before")
        wait_for(lambda: all_sent(before), 60, f"the worker's deliveries (log: {log})")
        assert sent_by_worker(mail_dir) == Counter(before)

        private_redis.stop()
        during = ship_cards(people, "during")  # the on-commit hand-off fails: the rows wait in the outbox
        assert set(Notification.objects.filter(pk__in=during).values_list("state", flat=True)) == {"pending"}
        private_redis.start()
        # What beat does every 30 s: through the restarted broker, to the reconnected worker.
        tasks.sweep.delay()
        wait_for(lambda: all_sent(during), 90, f"the sweep's deliveries after the outage (log: {log})")
        assert sent_by_worker(mail_dir) == Counter(before + during)

    assert set(Notification.objects.filter(pk__in=before + during).values_list("attempts", flat=True)) == {1}
    assert process.poll() is None, log.read_text()


def test_a_worker_and_a_sweep_racing_send_each_message_once(private_redis, worker):
    process, log, mail_dir = worker
    people = [make_professional(email=f"r{i}@example.fr") for i in range(20)]
    stop = threading.Event()

    def sweep_until_stopped() -> None:
        try:
            while not stop.is_set():
                services.notifications_sweep()
                time.sleep(0.005)
        finally:
            connection.close()

    with broker(private_redis.url):
        sweeper = threading.Thread(target=sweep_until_stopped)
        sweeper.start()
        try:
            raced = ship_cards(people, "race")  # each commit hands a task to the worker while the sweep runs
            wait_for(lambda: all_sent(raced), 60, f"every message to be sent (log: {log})")
        finally:
            stop.set()
            sweeper.join(timeout=30)

    by_worker, here = sent_by_worker(mail_dir), sent_in_this_process()
    split = f"worker sent {sum(by_worker.values())}, the sweep here {sum(here.values())}"
    assert by_worker + here == Counter(raced), f"each message sent exactly once ({split})"
    assert set(Notification.objects.filter(pk__in=raced).values_list("attempts", flat=True)) == {1}, split
