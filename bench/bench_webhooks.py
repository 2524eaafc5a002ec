"""Benchmark: 10,000 webhook events to a local receiver that is stopped and restarted mid-way; delivered per
second beside emitted per second, and what the receiver counted: lost, duplicated, out of order.

    .venv/bin/python bench/bench_webhooks.py [--events N] [--cards N] [--workers N]

Runs in its own database (``cpx_bench_webhooks`` on the server of DATABASE_URL, dropped and re-created each
run), in a child process. Events are written as the product writes them (``webhooks_emit`` in transactions
of 100, ``--cards`` card keys each receiving its events in sequence); ``--workers`` threads, each with its own
database connection, run the delivery loop a Celery worker runs (``deliveries_send``: claim a batch FOR
UPDATE SKIP LOCKED, POST it in parallel, record), concurrently with the emission. When the receiver has
counted half the events it is stopped for two seconds (connections refused: the messages back off and are
tried again) and restarted. The receiver (``Receiver`` below, also used by the tests) checks every
signature as a relying party would (Standard Webhooks) and records arrivals; the counts printed are its own.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate_national as gen  # noqa: E402
from bench.generate_national import log  # noqa: E402

PYTHON = sys.executable
BENCH_DB = "cpx_bench_webhooks"
EVENTS = 10_000
CARDS = 2_000
WORKERS = 4


# --- a relying party's receiver -----------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint on 127.0.0.1 (http.server in a thread) that verifies Standard Webhooks signatures
    with ``secret`` and records each message it accepts. ``status`` is what it answers (200 by default;
    ``location`` is sent with a 3xx). ``stop()`` closes the port (connections refused); ``start()`` opens
    the same port again."""

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self.port = port
        self.status = 200
        self.location = ""
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []  # in arrival order
        self.hits: Counter[str] = Counter()  # requests per path, whatever the answer
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.hits[self.path] += 1
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver.received.append(receiver.read(self.headers, body))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the workers' parallel POSTs queue, never refused (http.server: 5)

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def read(self, headers: Any, body: bytes) -> dict[str, Any]:
        message_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        return {
            "id": message_id,
            "timestamp": timestamp,
            "valid": verify(self.secret, message_id, timestamp, body, headers.get("webhook-signature", "")),
            "message": json.loads(body or b"null"),
        }

    def ids(self) -> list[str]:
        with self.lock:
            return [r["id"] for r in self.received]


def verify(
    secret: str, message_id: str, timestamp: str, body: bytes, header: str, tolerance: int = 300
) -> bool:
    """As a relying party checks a message (the standard's reference algorithm): a fresh timestamp and one
    of the ``v1,`` signatures equal to the HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except ValueError:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    given = [part.split(",", 1)[1] for part in header.split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in given)


def order_breaks(received: list[dict[str, Any]]) -> int:
    """Messages that arrived after a later one of their card (``data.seq`` per ``data.card_number``)."""
    last: dict[str, int] = defaultdict(lambda: -1)
    breaks = 0
    for record in received:
        data = record["message"]["data"]
        if data["seq"] <= last[data["card_number"]]:
            breaks += 1
        last[data["card_number"]] = max(last[data["card_number"]], data["seq"])
    return breaks


# --- the parent ---------------------------------------------------------------------------------------------


def bench_url() -> str:
    return gen.bench_url(BENCH_DB)


def run(events: int = EVENTS, cards: int = CARDS, workers: int = WORKERS) -> list[dict]:
    """Rows {"benchmark", "ours", "limit", "unit", "ratio", "note"} measured in a child process."""
    env = {
        **os.environ,
        "DATABASE_URL": bench_url(),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "CELERY_BROKER_URL": "memory://",
        "CPX_WEBHOOK_ALLOW_LOCAL_HTTP": "true",
        "CPX_WEBHOOK_BACKOFF_SECONDS": "1",
        "CPX_WEBHOOK_BACKOFF_MAX_SECONDS": "2",
        "CPX_WEBHOOK_MAX_ATTEMPTS": "30",
        "DJANGO_LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
    }
    args = [PYTHON, str(Path(__file__).resolve()), "--child", "--events", str(events), "--cards", str(cards)]
    args += ["--workers", str(workers)]
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(name: str, ours: float, limit: float, unit: str, note: str = "") -> dict:
    return {
        "benchmark": name,
        "ours": round(ours, 4),
        "limit": round(limit, 4),
        "unit": unit,
        "ratio": round(ours / limit, 2) if limit else None,
        "note": note,
    }


# --- the child: everything below runs on the bench database -------------------------------------------------


def child(events: int, cards: int, workers: int) -> None:
    gen.recreate_database(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from notifications import webhooks
    from notifications.models import WebhookDelivery

    call_command("migrate", verbosity=0)
    # The workers below are the delivery loop itself: no broker hand-off to measure (or to lose) here.
    webhooks._send_task = lambda name, *args: None  # type: ignore[assignment]
    receiver = Receiver()
    receiver.start()
    subscription, secret = webhooks.subscription_create(
        name="bench", url=receiver.url, events=["card.opposed"], actor="bench"
    )
    receiver.secret = secret
    emitted_at: list[float] = []
    done = threading.Event()

    def emit() -> None:
        started = time.perf_counter()
        for first in range(0, events, 100):
            with transaction.atomic():
                for n in range(first, min(first + 100, events)):
                    key = f"80250000{n % cards:012d}"
                    payload = {"card_number": key, "seq": n // cards}
                    webhooks.webhooks_emit(event="card.opposed", card_key=key, payload=payload)
        emitted_at.append(time.perf_counter() - started)
        connection.close()

    def work() -> None:
        while not done.is_set():
            if not webhooks.deliveries_send():
                time.sleep(0.02)
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    emitter = threading.Thread(target=emit)
    started = time.perf_counter()
    emitter.start()
    for thread in threads:
        thread.start()
    while len(receiver.ids()) < events // 2:
        time.sleep(0.01)
    receiver.stop()
    log(f"receiver stopped at {len(receiver.ids())} received")
    time.sleep(2.0)
    receiver.start()
    log("receiver restarted")
    deadline = time.monotonic() + 600
    while len(set(receiver.ids())) < events and time.monotonic() < deadline:
        time.sleep(0.05)
    delivered_in = time.perf_counter() - started
    done.set()
    emitter.join()
    for thread in threads:
        thread.join()
    receiver.stop()

    ids = receiver.ids()
    written = set(WebhookDelivery.objects.values_list("message_id", flat=True))
    lost = len(written - set(ids))
    duplicated = len(ids) - len(set(ids))
    unsigned = sum(not r["valid"] for r in receiver.received)
    disorder = order_breaks(receiver.received)
    states = Counter(WebhookDelivery.objects.values_list("state", flat=True))
    retried = WebhookDelivery.objects.filter(attempts__gt=1).count()
    log(f"lost {lost}, duplicated {duplicated}, out of order {disorder}, bad signatures {unsigned}")
    log(f"states {dict(states)}, {retried} delivered after a retry")
    emitted_rate = events / emitted_at[0]
    delivered_rate = len(set(ids)) / delivered_in
    note = (
        f"{events} events, {cards} cards, {workers} workers, receiver down 2 s mid-way; "
        f"lost {lost}, duplicated {duplicated}, out of order {disorder}, bad signatures {unsigned}"
    )
    rows = [
        row(
            "webhooks: events delivered per second (receiver down mid-way)",
            delivered_rate,
            emitted_rate,
            "/s",
            note + "; limit: emitted per second",
        ),
        row(
            "webhooks: lost + duplicated + out of order + unsigned",
            lost + duplicated + disorder + unsigned,
            0,
            "",
            "must be 0",
        ),
    ]
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--cards", type=int, default=CARDS)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.events, args.cards, args.workers)
        return 0
    for r in run(args.events, args.cards, args.workers):
        print(
            f"{r['benchmark']:<64} {r['ours']:>10} {r['limit']:>8} {r['unit']:<3} ×{r['ratio']}  {r['note']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
