"""`make bench`: run every benchmark and print one table (ours, the limit measured beside it, the ratio).

Each bench/bench_*.py module exposes ``run() -> list[dict]`` with rows
``{"benchmark", "ours", "limit", "unit", "ratio"}`` (plus optional "note"); the table is also written to
bench/results.md.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["bench_import", "bench_orders", "bench_personalize", "bench_lifecycle", "bench_load"]
MODULES.insert(MODULES.index("bench_lifecycle") + 1, "bench_revocation")  # 1,000,000 revoked: delta CRL, OCSP
MODULES.append("bench_ocsp")  # OCSP under load vs openssl ocsp -index; revoked at the next request
MODULES.append("bench_webhooks")  # 10,000 webhook events, receiver down mid-way: lost 0, duplicated 0
MODULES.append("bench_registry_driven")  # issue 16: the work after a daily import vs the import
MODULES.append("bench_scheduling")  # issue 16: the capacity plan of a month of automatic renewals
MODULES.append("bench_daily_jobs")  # issue 17: renewal scan, expiry, outbox sweep, CRL at national scale
MODULES.append("bench_pages")  # issue 17: every page's p99 on the national database
# The table goes between these lines of bench/results.md; what the file says around it is kept.
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    rows: list[dict] = []
    failures = []
    for name in MODULES:
        if not (ROOT / "bench" / f"{name}.py").exists():
            continue
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            rows.extend(module.run())
        except Exception:
            traceback.print_exc()
            failures.append(name)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    header = "| benchmark | ours | limit | unit | ratio | note |\n|---|---:|---:|---|---:|---|\n"
    body = "".join(
        f"| {r['benchmark']} | {fmt(r['ours'])} | {fmt(r['limit'])} | {r['unit']} | {fmt(r['ratio'])} "
        f"| {r.get('note', '')} |\n"
        for r in rows
    )
    table = header + body
    print("\n" + table)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = f"{BEGIN}\nMeasured by `make bench` on {stamp} ({os.cpu_count()} cores).\n\n{table}{END}"
    write_results(ROOT / "bench" / "results.md", section)
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def write_results(path: Path, section: str) -> None:
    """Put the table between the markers, keeping the rest of the file (the notes on where time goes)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        head, _, tail = text.partition("\n\n")
        text = f"{head}\n\n{section}\n\n{tail}"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
