"""Benchmark: the daily jobs at national scale (issue 17: each under 10 s and flat in memory).

    .venv/bin/python bench/bench_daily_jobs.py [--professionals N] [--regenerate]

On a copy of bench/generate_national.py's database (``cpx_bench``, generated first if missing: 1,000,000
professionals, their cards expiring evenly over three years, certificates, orders, notifications), in a
child process, each job as its beat entry runs it:

- the renewal orders of the platform's first day (``lifecycle.renewal_orders.renewal_orders_place``: every
  card within the order window at once, and their release plan); then, the earlier days' reminders written
  as if sent, the next day's whole renewal scan (``lifecycle.renewal.renewal_reminders_send``: orders,
  plan, reminders for one day of expiries), the steady state;
- the expiry task (``lifecycle.withdrawal.cards_expire``) the day after the first cards expire;
- the outbox sweep (``notifications.services.notifications_sweep``) over what the scans wrote;
- the CRL publication (``pki.tasks.publish_base_crls``: a base and a delta CRL per issuing CA).

Each is timed and its Python heap peak measured (tracemalloc); the limit is the issue's 10 s. The broker is
``memory://`` (nothing delivered outside), e-mail goes to Django's in-memory backend.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate_national as gen  # noqa: E402
from bench.generate_national import log  # noqa: E402

PROFESSIONALS = gen.PROFESSIONALS
COPY_DB = "cpx_bench_jobs"
LIMIT_SECONDS = 10.0


def run(professionals: int = PROFESSIONALS, regenerate: bool = False) -> list[dict]:
    report = None if regenerate else gen.generated(gen.BENCH_DB)
    if report is None or report["sizes"]["professionals"] != professionals:
        log(f"generating {gen.BENCH_DB} with {professionals:,} professionals ...")
        report = gen.generate(gen.Sizes(professionals=professionals), gen.BENCH_DB)
    seconds = gen.copy_database(gen.BENCH_DB, COPY_DB)
    log(f"copy of {gen.BENCH_DB}: {seconds:.1f} s")
    args = [sys.executable, str(Path(__file__).resolve()), "--child"]
    env = {**gen.child_env(COPY_DB, keys_of=gen.BENCH_DB), "CPX_EMAIL_BACKEND": "locmem"}
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=3600)
    gen.drop_database(COPY_DB)
    if done.returncode:
        raise RuntimeError(f"the daily jobs failed (exit {done.returncode})")
    results = json.loads(done.stdout.strip().splitlines()[-1])
    cards = report["counts"]["cards_card"]
    return [
        {
            "benchmark": f"daily job: {name} ({cards:,} cards)",
            "ours": r["seconds"],
            "limit": LIMIT_SECONDS,
            "unit": "s",
            "ratio": r["seconds"] / LIMIT_SECONDS,
            "note": f"{r['result']}; Python heap peak {r['peak_mb']:.1f} MB; goal ratio < 1",
        }
        for name, r in results.items()
    ]


def timed(name: str, results: dict[str, Any], job: Any) -> Any:
    tracemalloc.start()
    started = time.perf_counter()
    outcome = job()
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results[name] = {"seconds": seconds, "peak_mb": peak / 1e6, "result": _short(outcome)}
    log(f"{name}: {seconds:.2f} s, heap peak {peak / 1e6:.1f} MB: {_short(outcome)}")
    return outcome


def _short(outcome: Any) -> str:
    text = json.dumps(outcome, default=str)
    return text if len(text) < 160 else text[:157] + "..."


def child() -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from lifecycle.renewal import renewal_reminders_send
    from lifecycle.renewal_orders import renewal_orders_place
    from lifecycle.withdrawal import cards_expire
    from notifications.services import notifications_sweep
    from pki.tasks import publish_base_crls

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(valid_until) FROM cards_card WHERE state = 'active'")
        (first_expiry,) = cursor.fetchone()
    today = dt.date.today()
    results: dict[str, Any] = {}
    timed(
        "renewal orders, first day (every card within the order window at once)",
        results,
        lambda: renewal_orders_place(today=today),
    )
    # The reminders of the days before (the platform running for months): not timed, then the next day.
    reminded = remind_as_if_before(today)
    log(f"reminders of the earlier days, written directly: {reminded:,}")
    timed(
        "renewal scan, next day (orders, plan and reminders for one day of expiries)",
        results,
        lambda: renewal_reminders_send(today=today + dt.timedelta(days=1)),
    )
    timed(
        "expiry task, the day after the first cards expire",
        results,
        lambda: cards_expire(today=first_expiry + dt.timedelta(days=1)),
    )
    timed("outbox sweep", results, lambda: notifications_sweep())
    timed("CRL publication (base + delta per CA)", results, publish_base_crls)
    return results


def remind_as_if_before(today: dt.date) -> int:
    """The reminders the earlier days' scans sent for the cards in today's windows (one statement per
    window): the state of a platform that has run for months, so the next day's scan is a daily one."""
    from django.db import connection

    from lifecycle.renewal import renewal_windows

    written = 0
    with connection.cursor() as cursor:
        for threshold, after, until in renewal_windows(today):
            cursor.execute(
                "INSERT INTO lifecycle_renewalreminder (card_id, threshold, sent_at, automatic) "
                "SELECT id, %s, now() - interval '1 day', false FROM cards_card "
                "WHERE state = 'active' AND valid_until > %s AND valid_until <= %s "
                "ON CONFLICT (card_id, threshold) DO NOTHING",
                [threshold, after, until],
            )
            written += cursor.rowcount
    return written


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--professionals", type=int, default=PROFESSIONALS)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(), default=str))
        return 0
    for row in run(args.professionals, args.regenerate):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
