"""Benchmark: the registry-driven work after a daily import (issue 16) against the import itself.

    .venv/bin/python bench/bench_registry_driven.py [--professionals N] [--regenerate]

On the national-scale database of bench/generate_national.py (``cpx_bench``; generated first if missing,
or with ``--regenerate``), the "daily" file (the same extraction with 0.5 % of the people changed: struck
off, changed situation, new) is imported with ``--full`` by the real service (``registry_import``), twice,
each time on a fresh copy of the generated database (``CREATE DATABASE ... TEMPLATE``), in a child process:

- without receivers: ``extraction_merged`` has none connected: the import alone (the limit);
- with receivers: every receiver the apps connected (first cards, updates, struck-off revocation, e-CPS,
  ...), each wrapped in a timer, so the post-import work is measured receiver by receiver, in the import's
  transaction, as it runs in production.

Printed: the import's seconds without receivers, the receivers' seconds (sum and each), the ratio
receivers / import, and what the receivers wrote (orders by origin and state, cards revoked, notifications
and webhook deliveries added).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate_national as gen  # noqa: E402
from bench.generate_national import log  # noqa: E402

PROFESSIONALS = gen.PROFESSIONALS
COPY_DB = "cpx_bench_daily"
TIMEOUT = 3600


def ensure_generated(professionals: int, regenerate: bool) -> dict[str, Any]:
    report = None if regenerate else gen.generated(gen.BENCH_DB)
    if report is None or report["sizes"]["professionals"] != professionals:
        log(f"generating {gen.BENCH_DB} with {professionals:,} professionals ...")
        report = gen.generate(gen.Sizes(professionals=professionals), gen.BENCH_DB)
    return report


def run(professionals: int = PROFESSIONALS, regenerate: bool = False) -> list[dict]:
    import subprocess

    report = ensure_generated(professionals, regenerate)
    daily = report["files"]["daily"]
    results = {}
    for mode in ("without", "with"):
        seconds = gen.copy_database(gen.BENCH_DB, COPY_DB)
        log(f"copy of {gen.BENCH_DB}: {seconds:.1f} s; import {mode} receivers ...")
        args = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--file", daily]
        env = gen.child_env(COPY_DB, keys_of=gen.BENCH_DB)
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT)
        if done.returncode:
            raise RuntimeError(f"the import {mode} receivers failed (exit {done.returncode})")
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    gen.drop_database(COPY_DB)
    return rows(report, results)


def rows(report: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[dict]:
    alone, full = results["without"], results["with"]
    receivers = full["receivers"]
    work = sum(receivers.values())
    changes = report["daily_changes"]
    people = report["counts"]["registry_professional"]
    note = (
        f"{people:,} professionals, {report['counts']['cards_card']:,} cards; daily file: "
        f"{changes['struck_off']} struck off, {changes['changed']} changed, {changes['new']} new; "
        f"{len(receivers)} receivers: "
        + ", ".join(f"{k.rsplit('.', 1)[-1]} {v:.2f} s" for k, v in receivers.items())
    )
    log(f"import without receivers: {alone['seconds']:.1f} s; with: {full['seconds']:.1f} s")
    log(f"receivers: {json.dumps(receivers)}")
    log(f"written by the receivers: {json.dumps(full['written'])}")
    if not receivers:
        note += " (no receiver connected: nothing to measure)"
    return [
        {
            "benchmark": f"registry-driven work after the daily import ({people:,} professionals)",
            "ours": work,
            "limit": alone["seconds"],
            "unit": "s",
            "ratio": work / alone["seconds"],
            "note": note,
        },
        {
            "benchmark": "daily import with receivers vs without",
            "ours": full["seconds"],
            "limit": alone["seconds"],
            "unit": "s",
            "ratio": full["seconds"] / alone["seconds"],
            "note": "written: " + ", ".join(f"{k} {v}" for k, v in full["written"].items()),
        },
    ]


# --- the child: one import on the copy ---------------------------------------------------------------------

WRITTEN = {
    "orders": "SELECT origin || ':' || kind || ':' || state, count(*) FROM orders_order GROUP BY 1",
    "cards": "SELECT state, count(*) FROM cards_card GROUP BY 1",
    "certificates_revoked": "SELECT 'revoked', count(*) FROM pki_certificate WHERE revoked_at IS NOT NULL",
    "notifications": "SELECT event, count(*) FROM notifications_notification GROUP BY 1",
}


def snapshot(cursor: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, sql in WRITTEN.items():
        cursor.execute(sql)
        counts.update({f"{name}.{key}": n for key, n in cursor.fetchall()})
    cursor.execute("SELECT to_regclass('notifications_webhookdelivery') IS NOT NULL")
    if cursor.fetchone()[0]:
        cursor.execute("SELECT count(*) FROM notifications_webhookdelivery")
        counts["webhook_deliveries"] = cursor.fetchone()[0]
    return counts


def timed_receivers(signal: Any) -> dict[str, float]:
    """Wrap each connected receiver of ``signal`` in a timer (same lookup keys: same senders)."""
    import weakref

    spent: dict[str, float] = defaultdict(float)
    wrapped = []
    for key, receiver, is_async in signal.receivers:
        function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if function is None:
            continue
        name = f"{function.__module__}.{function.__qualname__}"

        def timed(*args: Any, _function: Any = function, _name: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - started

        wrapped.append((key, timed, is_async))
    signal.receivers = wrapped
    signal.sender_receivers_cache.clear()
    return spent


def child(mode: str, path: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    from registry.services import registry_import
    from registry.signals import extraction_merged

    if mode == "without":
        extraction_merged.receivers = []
        extraction_merged.sender_receivers_cache.clear()
        spent: dict[str, float] = {}
    else:
        spent = timed_receivers(extraction_merged)
    with connection.cursor() as cursor:
        before = snapshot(cursor)
    started = time.perf_counter()
    result = registry_import(path=path, full=True, reject_report=gen.OUT / "daily_rejects.csv")
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        after = snapshot(cursor)
    written = {key: after.get(key, 0) - before.get(key, 0) for key in sorted(set(before) | set(after))}
    return {
        "mode": mode,
        "seconds": seconds,
        "receivers": dict(spent),
        "written": {key: n for key, n in written.items() if n},
        "import": {
            "rows": result.rows,
            "imported": result.imported,
            "updated": result.updated,
            "deactivated": result.deactivated,
            "rejected": result.rejected,
        },  # fmt: skip
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--professionals", type=int, default=PROFESSIONALS)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--child", choices=("with", "without"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.file))))
        return 0
    started = time.monotonic()
    for row in run(args.professionals, args.regenerate):
        print(json.dumps(row))
    log(f"{time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
