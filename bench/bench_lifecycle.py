"""Benchmark: the daily renewal scan over 1,000,000 cards, and opposition latency to the CRL and OCSP.

    .venv/bin/python bench/bench_lifecycle.py [--cards N] [--oppositions N]

Runs in its own database (``cpx_bench_lifecycle`` on the server of DATABASE_URL, dropped and re-created
each run), in a child process (so Django is set up on that database whatever the caller did), with the
Celery broker set to ``memory://`` (no message leaves the process) and a throw-away PKI directory.

Renewal scan. Cards are generated in SQL (``INSERT ... SELECT generate_series``): one holder per card, all
active, expiry dates spread evenly over the next three years. The table is put in its steady state: the
reminders of the previous days are already recorded, so today's run has the cards reaching 90 and 30 days
today to remind (about 1/1095 of the table per threshold), as on any day of production. Measured: the
daily run (finding the due cards, recording the reminders, writing their notifications in the outbox),
then a second run the same day (finds nothing). The limit is a bare ``SELECT count(*)`` of the active
cards expiring within the first threshold, through the same partial index: reading the candidate range
once, writing nothing. Peak memory (tracemalloc, Python heap) of the same run over 1,000,000 cards is
compared with the run over 100,000 (both in chunks of 50, so that both fill their chunks): flat memory
means a ratio near 1.

Opposition latency. A live HTTP server (Django's WSGI handler in a thread) serves /pki/; for each of N cards
with two certificates, the clock starts before ``card_declare_opposition`` and stops when the CRL fetched
over HTTP lists the certificate (and, second figure, when the OCSP responder answers ``revoked`` too). The
limit is the same fetch-and-check over HTTP on an already revoked card, without a declaration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "cpx_bench_lifecycle"
CARDS = 1_000_000
BASELINE_CARDS = 100_000
OPPOSITIONS = 100
SPREAD_DAYS = 3 * 365
# Memory is bounded by the chunk (CPX_RENEWAL_SCAN_CHUNK, 1000 by default), not by the table: to show it,
# both memory runs use a chunk smaller than the 100,000-card run's due set, so each fills its chunks.
MEMORY_CHUNK = 50
ID_OFFSET = 10**9  # generated rows' ids, clear of the sequences the application uses


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def run(cards: int = CARDS, oppositions: int = OPPOSITIONS) -> list[dict]:
    """Rows {"benchmark", "ours", "limit", "unit", "ratio", "note"} measured in a child process."""
    with tempfile.TemporaryDirectory(prefix="cpx-bench-lifecycle-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": bench_url(),
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
            "CELERY_BROKER_URL": "memory://",
            "CPX_HSM_SOFTHSM_DIR": str(Path(tmp) / "hsm"),
            # One process: the signing service's work (the delta CRL) runs in it, as in the tests.
            "CPX_SIGNING_INLINE": "true",
            "DJANGO_LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "false",
        }
        args = [PYTHON, str(Path(__file__).resolve()), "--child", "--cards", str(cards)]
        args += ["--oppositions", str(oppositions)]
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the child: everything below runs on the bench database ------------------------------------------------


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def recreate_database() -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


GENERATE = f"""
INSERT INTO registry_professional (id, national_id, id_type, rpps, adeli, exercise_civility_code,
    exercise_civility, civility_code, civility, last_name, first_name, email, mobile, is_active, first_seen,
    updated_at, deactivation_reason)
SELECT {ID_OFFSET} + i, '8' || lpad(i::text, 11, '0'), '8', lpad(i::text, 11, '0'), NULL, '', 'Dr', '', '',
       'NOM' || i, 'Prénom', 'pro' || i || '@example.test', '', true, now(), now(), ''
  FROM generate_series(%(first)s, %(last)s) AS i;
INSERT INTO cards_card (id, number, card_type, state, valid_from, valid_until, created_at, updated_at,
    professional_id, puk_key_version)
SELECT {ID_OFFSET} + i, '8025000001' || lpad(i::text, 10, '0'), 'CPS', 'active',
       %(today)s::date + ((i::bigint * 7919) %% {SPREAD_DAYS})::int - {SPREAD_DAYS},
       %(today)s::date + ((i::bigint * 7919) %% {SPREAD_DAYS})::int, now(), now(), {ID_OFFSET} + i, 1
  FROM generate_series(%(first)s, %(last)s) AS i;
"""

# The previous days' runs: reminders already recorded for cards past each threshold (steady state).
SEED_REMINDERS = f"""
INSERT INTO lifecycle_renewalreminder (card_id, threshold, sent_at, automatic)
SELECT c.id, t.threshold, now() - interval '1 day', false
  FROM cards_card c
  JOIN (VALUES (%(first_days)s, %(second_days)s, %(first_days)s),
               (%(second_days)s, -1, %(second_days)s)) AS t(threshold, low, high)
    ON c.valid_until > %(today)s::date + t.low AND c.valid_until < %(today)s::date + t.high
 WHERE c.id BETWEEN {ID_OFFSET} + %(first)s AND {ID_OFFSET} + %(last)s AND c.state = 'active'
ON CONFLICT DO NOTHING;
"""

COUNT_LIMIT = """
SELECT count(*) FROM cards_card
 WHERE state = 'active' AND valid_until > %(today)s AND valid_until <= %(today)s::date + %(first_days)s
"""


def generate(first: int, last: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    params: dict[str, Any] = {
        "first": first,
        "last": last,
        "today": timezone.localdate(),
        "first_days": settings.CPX_REMINDER_FIRST_DAYS,
        "second_days": settings.CPX_REMINDER_SECOND_DAYS,
    }
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(GENERATE, params)
        cursor.execute(SEED_REMINDERS, params)
    vacuum()
    log(f"generated cards {first:,}..{last:,} in {time.monotonic() - started:.0f} s")


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("registry_professional", "cards_card", "lifecycle_renewalreminder"):
            cursor.execute(f"VACUUM ANALYZE {table}")


ENQUEUE: Any = None


def scan(*, traced: bool = False, chunk: int | None = None) -> tuple[float, dict[int, int], float]:
    """One daily run: (seconds, reminders per threshold, peak Python heap in MB if traced)."""
    import tracemalloc

    from lifecycle.renewal import renewal_reminders_send

    if traced:
        # The in-process memory:// broker keeps every enqueued message in this process's heap (a real
        # broker holds them elsewhere): the memory runs hand the ids to a stub instead.
        import notifications.services

        notifications.services.notification_enqueue = lambda *, notification_ids: None
        tracemalloc.start()
    started = time.perf_counter()
    sent = renewal_reminders_send(chunk=chunk)
    seconds = time.perf_counter() - started
    peak = 0.0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        notifications.services.notification_enqueue = ENQUEUE
    return seconds, sent, peak


def undo_today() -> None:
    """Forget today's run (reminders and their messages) so that it can be measured again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM lifecycle_renewalreminder WHERE sent_at > now() - interval '1 hour'")
        cursor.execute("DELETE FROM notifications_notification WHERE dedup_key LIKE 'renewal_due:%%'")
    vacuum()


def count_limit() -> float:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    params: dict[str, Any] = {"today": timezone.localdate(), "first_days": settings.CPX_REMINDER_FIRST_DAYS}
    best = float("inf")
    with connection.cursor() as cursor:
        for _ in range(5):
            started = time.perf_counter()
            cursor.execute(COUNT_LIMIT, params)
            cursor.fetchone()
            best = min(best, time.perf_counter() - started)
    return best


def renewal_rows(cards: int) -> list[dict]:
    baseline = min(BASELINE_CARDS, cards)
    generate(1, baseline)
    scan()  # warm-up: imports, templates and caches are not the scan's memory
    undo_today()
    _, sent_small, peak_small = scan(traced=True, chunk=MEMORY_CHUNK)
    log(f"{baseline:,} cards: {sum(sent_small.values())} due, peak {peak_small:.1f} MB")
    undo_today()
    if cards > baseline:
        generate(baseline + 1, cards)
    seconds, sent, _ = scan()
    due = sum(sent.values())
    log(f"{cards:,} cards: daily run {seconds:.2f} s, {sent}")
    again, sent_again, _ = scan()
    assert sum(sent_again.values()) == 0, sent_again
    limit = count_limit()
    undo_today()
    _, _, peak = scan(traced=True, chunk=MEMORY_CHUNK)
    log(f"second run {again:.3f} s; count(*) {limit * 1000:.1f} ms; peak {peak:.1f} MB")
    note = f"{due:,} due today ({sent}) of {cards:,} cards; limit: SELECT count(*) over the 90-day range"
    return [
        row(f"renewal scan, daily run, {cards:,} cards", seconds, limit, "s", note),
        row(f"renewal scan, second run same day, {cards:,} cards", again, limit, "s", "finds nothing"),
        row(
            f"renewal scan peak memory, {cards:,} vs {baseline:,} cards",
            peak,
            peak_small,
            "MB",
            f"Python heap (tracemalloc), chunks of {MEMORY_CHUNK} (both runs fill theirs), broker stubbed; "
            f"{sum(sent_small.values())} vs {due:,} due",
        ),
    ]


# --- opposition latency --------------------------------------------------------------------------------


def serve() -> str:
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base signature
            pass

    httpd = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=Server, handler_class=Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_port}"


def make_cards(count: int) -> list:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.utils import timezone

    from cards.models import Card
    from pki import services as pki_services
    from pki import signing
    from registry.models import Exercise, Professional

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    today = timezone.localdate()
    cards = []
    for n in range(count):
        number = f"{90_000_000 + n:011d}"
        person = Professional.objects.create(
            national_id=f"8{number}",
            id_type="8",
            rpps=number,
            last_name=f"OPPOSE{n}",
            email=f"o{n}@example.test",
        )
        exercise = Exercise.objects.create(professional=person, profession_id="10", category_id="C")
        card = Card.objects.create(
            number=f"8025000009{n:010d}",
            card_type="CPS",
            professional=person,
            exercise=exercise,
            state=Card.State.ACTIVE,
            valid_from=today,
            valid_until=today + dt.timedelta(days=SPREAD_DAYS),
        )
        holder = signing.Holder(
            national_id=person.national_id, surname=person.last_name, given_name="", profession="Médecin"
        )
        certs = [
            pki_services.certificate_issue(
                usage=usage,
                public_key=key,
                holder=holder,
                valid_until=card.valid_until,
                card_number=card.number,
            )
            for usage in ("auth", "sign")
        ]
        cards.append((card, certs[0]))
    return cards


def opposition_rows(count: int) -> list[dict]:
    import urllib.request

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from lifecycle.opposition import card_declare_opposition
    from orders.services import system_user
    from pki import signing

    signing.pki_init()
    issuer = signing.ca_certificate(signing.issuing_ca())
    base = serve()
    actor = system_user()
    cards = make_cards(count)

    def crl_lists(serial: int) -> bool:
        # A revocation is in the delta CRL within the opposition's second; the base follows on its schedule.
        delta = f"{base}/pki/crl/{signing.ISSUING_SLUG}-delta.crl"
        with urllib.request.urlopen(delta, timeout=10) as response:  # noqa: S310
            crl = x509.load_der_x509_crl(response.read())
        return crl.get_revoked_certificate_by_serial_number(serial) is not None

    def ocsp_revoked(cert: x509.Certificate) -> bool:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
        body = request.public_bytes(serialization.Encoding.DER)
        post = urllib.request.Request(  # noqa: S310
            f"{base}/pki/ocsp", data=body, headers={"Content-Type": "application/ocsp-request"}
        )
        with urllib.request.urlopen(post, timeout=10) as response:  # noqa: S310
            answer = ocsp.load_der_ocsp_response(response.read())
        return answer.certificate_status == ocsp.OCSPCertStatus.REVOKED

    to_crl, to_both, bare_crl, bare_both = [], [], [], []
    for card, row_cert in cards:
        cert = x509.load_der_x509_certificate(bytes(row_cert.der))
        serial = cert.serial_number
        assert not ocsp_revoked(cert)
        started = time.perf_counter()
        card_declare_opposition(card=card, reason="stolen", actor=actor, channel="phone")
        while not crl_lists(serial):
            pass
        to_crl.append(time.perf_counter() - started)
        while not ocsp_revoked(cert):
            pass
        to_both.append(time.perf_counter() - started)
        # The limit: the same checks over HTTP, with nothing to wait for.
        started = time.perf_counter()
        assert crl_lists(serial)
        bare_crl.append(time.perf_counter() - started)
        assert ocsp_revoked(cert)
        bare_both.append(time.perf_counter() - started)
    log(
        f"{count} oppositions: CRL median {statistics.median(to_crl) * 1000:.1f} ms, "
        f"worst {max(to_crl) * 1000:.1f} ms"
    )
    ms = 1000.0
    note = f"{count} cards × 2 certificates; limit: the same HTTP fetch and check without a declaration"
    return [
        row(
            "opposition → CRL lists it, median",
            statistics.median(to_crl) * ms,
            statistics.median(bare_crl) * ms,
            "ms",
            note,
        ),
        row("opposition → CRL lists it, worst", max(to_crl) * ms, max(bare_crl) * ms, "ms", f"of {count}"),
        row(
            "opposition → CRL and OCSP both show it, median",
            statistics.median(to_both) * ms,
            statistics.median(bare_both) * ms,
            "ms",
            "OCSP answers revoked",
        ),
        row(
            "opposition → CRL and OCSP both show it, worst",
            max(to_both) * ms,
            max(bare_both) * ms,
            "ms",
            f"of {count}",
        ),
    ]


def row(name: str, ours: float, limit: float, unit: str, note: str = "") -> dict:
    return {
        "benchmark": name,
        "ours": round(ours, 4),
        "limit": round(limit, 4),
        "unit": unit,
        "ratio": round(ours / limit, 2) if limit else None,
        "note": note,
    }


def child(cards: int, oppositions: int) -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import notifications.services

    global ENQUEUE
    ENQUEUE = notifications.services.notification_enqueue
    rows = renewal_rows(cards) + opposition_rows(oppositions)
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=CARDS)
    parser.add_argument("--oppositions", type=int, default=OPPOSITIONS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.cards, args.oppositions)
        return 0
    for r in run(args.cards, args.oppositions):
        print(
            f"{r['benchmark']:<58} {r['ours']:>10} {r['limit']:>10} {r['unit']:<3} ×{r['ratio']}  {r['note']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
