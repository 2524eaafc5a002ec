"""Benchmark: import_registry on a 1,000,000-row synthetic extraction, against the physical limit measured
in the same run: a raw ``COPY`` of the same file into an UNLOGGED table of text columns.

    .venv/bin/python bench/bench_import.py [--rows N]

Runs in its own database (``cpx_bench_import`` on the server of DATABASE_URL), never touching others. The
file is cached under bench/out/. Our import runs in a child process (the real service function), so its
peak memory is the child's ru_maxrss: first into an empty registry, then the same file again and a file
with 0.5 % of the people changed, both ``--full`` as the daily extraction is imported.
The synthetic file has 1% bad rows, all of kinds that keep 56 columns (a row with a wrong column count
would make the raw COPY fail).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
BENCH_DB = "cpx_bench_import"  # its own: cpx_bench is bench/generate_national.py's
RATIO_GOAL = 0.5
MEMORY_LIMIT_MB = 300
BAD_KINDS = "rpps_key,adeli_key,siret_key,siren_key,finess_key,profession,type_mismatch,duplicate"
REGISTRY_TABLES = "registry_activity, registry_exercise, registry_professional, registry_structure"

CHILD = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from pathlib import Path
from registry.services import registry_import
started = time.monotonic()
result = registry_import(path=Path(sys.argv[1]), reject_report=Path(sys.argv[2]), full=sys.argv[3] == "full")
summary = f"{result.summary}, deactivated {result.deactivated}"
print(json.dumps({"seconds": time.monotonic() - started, "rows": result.rows, "summary": summary}))
"""


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def ensure_database(url: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    manage("migrate", "--verbosity", "0")


def manage(*args: str) -> str:
    env = {**os.environ, "DATABASE_URL": bench_url(), "DJANGO_LOG_LEVEL": "WARNING"}
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def sample_file(rows: int) -> Path:
    path = OUT / f"PS_LibreAcces_Personne_activite_bench_{rows}.txt"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        print(f"   generating {path.name} ...", flush=True)
        manage(
            "make_registry_sample",
            *("--rows", str(rows), "--out", str(partial), "--seed", "1", "--bad-kinds", BAD_KINDS),
        )
        partial.rename(path)
    return path


def raw_copy_seconds(url: str, path: Path) -> float:
    """COPY the file, as is, into an UNLOGGED table of 57 text columns (the rows end with a ``|``)."""
    import psycopg

    columns = ", ".join(f"c{i} text" for i in range(57))
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(f"CREATE UNLOGGED TABLE bench_raw ({columns})")
        conn.commit()
        started = time.monotonic()
        query = "COPY bench_raw FROM STDIN (FORMAT csv, DELIMITER '|', QUOTE E'\\x01', HEADER true)"
        with conn.cursor() as cursor, cursor.copy(query) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return seconds


def empty_registry(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {REGISTRY_TABLES}, registry_registryimport CASCADE")


def our_import(path: Path, *, full: bool = False) -> tuple[dict, float]:
    """Run the import in a child process; return its own report and its peak RSS in MB."""
    env = {**os.environ, "DATABASE_URL": bench_url(), "DJANGO_LOG_LEVEL": "WARNING"}
    report = OUT / "bench_rejects.csv"
    args = [PYTHON, "-c", CHILD, str(path), str(report), "full" if full else "partial"]
    child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"the import failed (exit {child.returncode})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


CHANGED_EVERY = 200  # the daily file: one person in 200 renamed (0.5 % of the people, all their rows)


def changed_file(path: Path) -> Path:
    """The same extraction with 0.5 % of the people renamed on every row of theirs (cached)."""
    out = path.with_name(path.stem + "_changed.txt")
    if not out.exists():
        partial = out.with_suffix(".partial")
        with path.open(encoding="utf-8") as source, partial.open("w", encoding="utf-8") as target:
            target.write(next(source))
            for line in source:
                fields = line.split("|")
                if len(fields) > 8 and zlib.crc32(fields[2].encode()) % CHANGED_EVERY == 0:
                    fields[7] = (fields[7] + "-B")[:60]
                    line = "|".join(fields)
                target.write(line)
        partial.rename(out)
    return out


# (name, goal ratio to raw COPY): the goals for each case
CASES = {
    "first import into an empty registry": 0.25,
    "daily --full import, the same file (nothing changed)": 0.5,
    "daily --full import, 0.5 % of the people changed": 0.4,
}


def run(rows: int = 1_000_000) -> list[dict]:
    url = bench_url()
    ensure_database(url)
    path = sample_file(rows)
    changed = changed_file(path)
    empty_registry(url)
    size_mb = path.stat().st_size / 1e6
    print(f"   file: {path.name}, {rows:,} rows, {size_mb:,.0f} MB")
    results = []
    for (name, goal), (file, full) in zip(
        CASES.items(), [(path, False), (path, True), (changed, True)], strict=True
    ):
        # The limit measured right before each case, so that both see the machine in the same state.
        raw_seconds = raw_copy_seconds(url, path)
        print(
            f"   raw COPY into an UNLOGGED table: {raw_seconds:6.1f} s  {rows / raw_seconds:>10,.0f} rows/s"
        )
        ours, peak_mb = our_import(file, full=full)
        ratio = raw_seconds / ours["seconds"]
        print(
            f"   {name}: {ours['seconds']:6.1f} s, ratio {ratio:.2f} (goal >= {goal}), peak {peak_mb:,.0f} MB"
        )
        print(f"      {ours['summary']}")
        results += [
            {
                "benchmark": f"import_registry {rows:,} rows, {name}, vs raw COPY",
                "ours": rows / ours["seconds"],
                "limit": rows / raw_seconds,
                "unit": "rows/s",
                "ratio": ratio,
                "note": f"{ours['seconds']:.1f} s vs {raw_seconds:.1f} s; {ours['summary']}; "
                f"goal ratio >= {goal}",
            },
            {
                "benchmark": f"import_registry peak memory, {name}",
                "ours": peak_mb,
                "limit": float(MEMORY_LIMIT_MB),
                "unit": "MB",
                "ratio": peak_mb / MEMORY_LIMIT_MB,
                "note": "child ru_maxrss; goal ratio < 1",
            },
        ]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.monotonic()
    rows = run(args.rows)
    for row in rows:
        print(json.dumps(row))
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"   ({time.monotonic() - started:.0f} s in all; this process {own_mb} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
