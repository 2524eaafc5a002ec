"""A national-scale database for the issue 16 benchmarks, and the extraction files that go with it.

    .venv/bin/python bench/generate_national.py [--professionals N] [--db cpx_bench] [--cards N]
        [--orders N] [--notifications N] [--certificates-per-card 2] [--seed 1] [--keep]

Builds, in a database it drops and re-creates (``cpx_bench`` on the server of DATABASE_URL by default):

- the registry: N professionals (1,000,000 by default) with their exercises, activities and structures,
  written as an official ``PS_LibreAcces_Personne_activite`` extraction (registry/sample.py's row maker,
  no bad rows) and loaded by the real import (``registry.services.registry_import``: COPY and set-based
  merge), so the registry is exactly what the file says and a re-import of that file is a day where
  nothing changed;
- live cards (one per active exercise, CPF for students, CPS otherwise, expiring evenly over the next three
  years) whose ``Card.written`` is built in SQL from the registry in the shape
  ``stations.personalization.holder_data`` writes (``profession`` and up to 16 ``situations``), then
  expired cards of the same exercises up to ``--cards``;
- certificates (auth and sign per card, issued by the persons' CA of ``pki_init``), produced orders (one
  per card, then cancelled ones up to ``--orders``) and sent notifications, all with
  ``INSERT ... SELECT generate_series`` (never the ORM row by row);
- the "daily" file: the same extraction with 0.5 % of the people changed, a third each: struck off (no
  longer listed), a changed situation (one activity moved to another structure), new (a person the
  registry does not know yet). Its import with ``--full`` against the generated database is the daily case.

Sizes default to issue 17's proportions (1.3 M professionals: 1.5 M cards, 3 M certificates, 1 M orders,
500,000 notifications). The files are cached under bench/out/ by size and seed. Prints one JSON line:
the counts and how long each step took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
BENCH_DB = "cpx_bench"
PROFESSIONALS = 1_300_000  # issue 17: a country's registry
# issue 17: 1.3 M professionals, 1.5 M cards, 3 M certificates, 1 M orders, 500,000 notifications
CARDS_PER_PROFESSIONAL = 1.5 / 1.3
ORDERS_PER_PROFESSIONAL = 1.0 / 1.3
NOTIFICATIONS_PER_PROFESSIONAL = 0.5 / 1.3
# The daily file: one person in CHANGE_PERIOD of each kind (3 kinds: 0.5 % of the people changed).
CHANGE_PERIOD = 600
STRUCK_OFF, CHANGED, NEW = 0, 200, 400
NEW_RPPS_BASE = 950_000_000  # new people's RPPS numbers: clear of the row maker's (offset + n < 10**8 + n)
CARD_PREFIX, HISTORY_PREFIX = "80250000", "80250001"  # 8 + 12 digits: 20-digit card numbers
SERIAL_BASE = "x'c0000000'::bigint << 24"  # generated serials, clear of random 159-bit ones


@dataclass
class Sizes:
    professionals: int = PROFESSIONALS
    cards: int | None = None
    orders: int | None = None
    notifications: int | None = None
    certificates_per_card: int = 2
    seed: int = 1

    def __post_init__(self) -> None:
        self.cards = (
            self.cards if self.cards is not None else round(self.professionals * CARDS_PER_PROFESSIONAL)
        )
        if self.orders is None:
            self.orders = round(self.professionals * ORDERS_PER_PROFESSIONAL)
        if self.notifications is None:
            self.notifications = round(self.professionals * NOTIFICATIONS_PER_PROFESSIONAL)


@dataclass
class FileCounts:
    professionals: int = 0
    rows: int = 0
    daily_rows: int = 0
    struck_off: list[str] = field(default_factory=list)  # national ids
    changed: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


def bench_url(db: str = BENCH_DB) -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{db}"))


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


# --- the extraction files --------------------------------------------------------------------------------


def file_paths(sizes: Sizes) -> tuple[Path, Path, Path]:
    stem = f"PS_LibreAcces_Personne_activite_national_{sizes.professionals}_s{sizes.seed}"
    return OUT / f"{stem}.txt", OUT / f"{stem}_daily.txt", OUT / f"{stem}.json"


def _line(row: list[str]) -> str:
    return "|".join(row) + "|\n"


def _moved(rows: list[list[str]], index: int, structures: int) -> list[list[str]]:
    """The person's rows with the first activity moved to another structure (one they do not work at)."""
    from registry.sample import MODE_LABELS, SECTORS, structure_fields

    used = {row[23] for row in rows}
    number = (index * 7919 + 1) % structures
    while structure_fields(number)[4] in used:
        number = (number + 1) % structures
    first = list(rows[0])
    first[19:47] = structure_fields(number)
    if number % 10 == 9 or number % 10 < 6:
        first[17] = "S" if number % 10 == 9 else "L"
        first[18] = MODE_LABELS[first[17]]
    first[48], first[49] = SECTORS[2] if number % 10 == 9 else SECTORS[number % 2]
    return [first, *rows[1:]]


def _newcomer(rows: list[list[str]], index: int) -> list[list[str]]:
    """A person the registry does not know: an RPPS person's rows under a new RPPS number."""
    from registry.identifiers import luhn_complete

    number = luhn_complete(f"1{NEW_RPPS_BASE + index:09d}")
    return [["8", number, "8" + number, *row[3:]] for row in rows]


def extractions_write(sizes: Sizes, base: Path, daily: Path) -> FileCounts:
    """Write the extraction of ``sizes.professionals`` people and its daily variant in one pass (the row
    maker is seeded: the same people in both files, in the same order)."""
    from registry.sample import HEADER, RowMaker

    counts = FileCounts()
    maker = RowMaker(rows=int(sizes.professionals * 1.45), seed=sizes.seed)
    base.parent.mkdir(parents=True, exist_ok=True)
    owed_newcomer = False
    with (
        base.open("w", encoding="utf-8", newline="") as one,
        daily.open("w", encoding="utf-8", newline="") as two,
    ):
        one.write(HEADER + "\n")
        two.write(HEADER + "\n")
        out_one: list[str] = []
        out_two: list[str] = []
        for index in range(sizes.professionals):
            rows = maker.person()
            national_id = rows[0][2]
            out_one.extend(_line(row) for row in rows)
            counts.rows += len(rows)
            turn = index % CHANGE_PERIOD
            changed = rows
            if turn == STRUCK_OFF:
                counts.struck_off.append(national_id)
                changed = []
            elif turn == CHANGED:
                counts.changed.append(national_id)
                changed = _moved(rows, index, maker.structures)
            owed_newcomer = owed_newcomer or turn == NEW
            if owed_newcomer and rows[0][0] == "8":  # an RPPS person's rows, under a new number
                changed = changed + _newcomer(rows, index)
                counts.new.append(changed[-1][2])
                owed_newcomer = False
            out_two.extend(_line(row) for row in changed)
            counts.daily_rows += len(changed)
            if len(out_one) >= 5000:
                one.write("".join(out_one))
                two.write("".join(out_two))
                out_one.clear()
                out_two.clear()
        one.write("".join(out_one))
        two.write("".join(out_two))
    counts.professionals = maker.people
    return counts


def extractions(sizes: Sizes) -> tuple[Path, Path, FileCounts]:
    """The cached files (written if missing)."""
    base, daily, meta = file_paths(sizes)
    if base.exists() and daily.exists() and meta.exists():
        return base, daily, FileCounts(**json.loads(meta.read_text()))
    started = time.monotonic()
    partial = (base.with_suffix(".partial"), daily.with_suffix(".partial"))
    counts = extractions_write(sizes, *partial)
    partial[0].rename(base)
    partial[1].rename(daily)
    meta.write_text(json.dumps(asdict(counts)))
    log(f"files written in {time.monotonic() - started:.1f} s: {base.name}, {daily.name}")
    return base, daily, counts


# --- the rest of the platform, in SQL --------------------------------------------------------------------

# The shape of stations.personalization.holder_data's ``profession`` and ``situations`` (MAX_SITUATIONS
# active activities by id; a situation without a structure has only its mode and sector).
WRITTEN_SQL = """
CREATE TEMP TABLE gen_situations ON COMMIT DROP AS
SELECT exercise_id, jsonb_agg(situation ORDER BY id) AS situations
  FROM (SELECT a.exercise_id, a.id,
               row_number() OVER (PARTITION BY a.exercise_id ORDER BY a.id) AS rank,
               jsonb_build_object('mode', coalesce(a.mode_id, ''), 'sector', a.sector_code)
               || CASE WHEN s.id IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('structure_id', s.technical_id, 'siret', s.siret,
                                               'finess', s.finess_site, 'structure_name', s.name,
                                               'postcode', s.postcode, 'commune', s.commune) END
                  AS situation
          FROM registry_activity a
          LEFT JOIN registry_structure s ON s.id = a.structure_id
         WHERE a.is_active) AS x
 WHERE rank <= %(max_situations)s
 GROUP BY exercise_id;
CREATE UNIQUE INDEX ON gen_situations (exercise_id);
ANALYZE gen_situations;
CREATE TEMP TABLE gen_exercises ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY e.id) AS n, e.id AS exercise_id, e.professional_id,
       CASE WHEN e.category_id = 'E' THEN 'CPF' ELSE 'CPS' END AS card_type,
       CASE WHEN p.rpps IS NOT NULL AND pr.authority_id IS NOT NULL THEN pr.authority_id
            ELSE %(ans)s END AS authority_id,
       jsonb_build_object(
           'profession', jsonb_build_object('code', e.profession_id, 'label', pr.label,
                                            'category', coalesce(e.category_id, ''),
                                            'skill', coalesce(e.skill_id, '')),
           'situations', coalesce(gs.situations, '[]'::jsonb)) AS written
  FROM registry_exercise e
  JOIN registry_professional p ON p.id = e.professional_id
  JOIN registry_profession pr ON pr.code = e.profession_id
  LEFT JOIN gen_situations gs ON gs.exercise_id = e.id
 WHERE e.is_active AND p.is_active;
CREATE UNIQUE INDEX ON gen_exercises (n);
CREATE UNIQUE INDEX ON gen_exercises (exercise_id);
ANALYZE gen_exercises;
"""

LIVE_CARDS_SQL = f"""
INSERT INTO cards_card (number, card_type, state, valid_from, valid_until, created_at, updated_at,
                        exercise_id, professional_id, structure_id, puk_key_version, written)
SELECT '{CARD_PREFIX}' || lpad(n::text, 12, '0'), card_type, 'active',
       %(today)s::date + 1 + ((n * 7919) %% 1095)::int - 1095,
       %(today)s::date + 1 + ((n * 7919) %% 1095)::int,
       now(), now(), exercise_id, professional_id, NULL, 1, written
  FROM gen_exercises
 WHERE n <= %(count)s
"""

HISTORY_CARDS_SQL = f"""
INSERT INTO cards_card (number, card_type, state, valid_from, valid_until, created_at, updated_at,
                        exercise_id, professional_id, structure_id, puk_key_version, written)
SELECT '{HISTORY_PREFIX}' || lpad(i::text, 12, '0'), g.card_type, 'expired',
       %(today)s::date - 1 - (i %% 1000)::int - 1095, %(today)s::date - 1 - (i %% 1000)::int,
       now(), now(), g.exercise_id, g.professional_id, NULL, 1, NULL
  FROM generate_series(1, %(count)s) AS i
  JOIN gen_exercises g ON g.n = (i - 1) %% %(exercises)s + 1
"""

CERTIFICATES_SQL = f"""
INSERT INTO pki_certificate (authority_id, serial, card_id, card_number, usage, subject, not_before,
                             not_after, revoked_at, revocation_reason, der)
SELECT %(ca)s, to_hex(({SERIAL_BASE}) + c.id * 4 + u.k), c.id, c.number, u.usage,
       'CN=' || p.first_name || ' ' || p.last_name, c.valid_from, c.valid_until + 1, NULL, '', ''::bytea
  FROM cards_card c
  JOIN registry_professional p ON p.id = c.professional_id
  JOIN (VALUES (0, 'auth'), (1, 'sign'), (2, 'auth'), (3, 'sign')) AS u(k, usage) ON u.k < %(per_card)s
"""

# One produced order per card (oldest cards first), then cancelled ones up to the count.
ORDERS_SQL = """
INSERT INTO orders_order (card_type, kind, replacement_reason, state, fee, failure_count, created_at,
                          updated_at, state_changed_at, authority_id, created_by_id, exercise_id,
                          produced_card_id, professional_id, replaces_id, structure_id, origin, decision,
                          situation_diff, release_on)
SELECT c.card_type, 'first', '', 'produced', NULL, 0, c.valid_from - 30, c.valid_from, c.valid_from,
       g.authority_id, NULL, c.exercise_id, c.id, c.professional_id, NULL, NULL, 'requested', '{}'::jsonb,
       '{}'::jsonb, NULL
  FROM cards_card c
  JOIN gen_exercises g ON g.exercise_id = c.exercise_id
 ORDER BY c.id
 LIMIT %(count)s
"""

CANCELLED_ORDERS_SQL = """
INSERT INTO orders_order (card_type, kind, replacement_reason, state, fee, failure_count, created_at,
                          updated_at, state_changed_at, authority_id, created_by_id, exercise_id,
                          produced_card_id, professional_id, replaces_id, structure_id, origin, decision,
                          situation_diff, release_on)
SELECT g.card_type, 'first', '', 'cancelled', NULL, 0, now() - interval '400 days', now(), now(),
       g.authority_id, NULL, g.exercise_id, NULL, g.professional_id, NULL, NULL, 'requested', '{}'::jsonb,
       '{}'::jsonb, NULL
  FROM generate_series(1, %(count)s) AS i
  JOIN gen_exercises g ON g.n = (i - 1) %% %(exercises)s + 1
"""

NOTIFICATIONS_SQL = """
INSERT INTO notifications_notification (channel, event, language, context, dedup_key, state, attempts,
                                        next_attempt_at, claim_token, last_error, sent_at, read_at,
                                        postal_address, created_at, recipient_id, print_batch_id)
SELECT CASE WHEN i %% 3 = 0 THEN 'email' ELSE 'in_app' END, 'card_shipped', 'fr',
       jsonb_build_object('card_number', c.number, 'card_type', c.card_type), 'bench:shipped:' || i,
       'sent', 1, now() - interval '30 days', NULL, '', now() - interval '30 days',
       CASE WHEN i %% 2 = 0 THEN now() - interval '29 days' END, '', now() - interval '30 days',
       c.professional_id, NULL
  FROM generate_series(1, %(count)s) AS i
  JOIN cards_card c ON c.number = '{prefix}' || lpad(((i - 1) %% %(live)s + 1)::text, 12, '0')
""".replace("{prefix}", CARD_PREFIX)


def populate(cursor: Any, sizes: Sizes, *, ca_id: int, today: Any, ans_id: int) -> dict[str, Any]:
    """Cards, certificates, orders and notifications for the registry in the database (set-based SQL, one
    transaction: the caller's). Returns the counts written and the seconds each step took."""
    from stations.personalization import MAX_SITUATIONS

    assert sizes.cards is not None and sizes.orders is not None and sizes.notifications is not None
    timings: dict[str, float] = {}

    def step(name: str, sql: str, params: dict[str, Any]) -> int:
        started = time.monotonic()
        cursor.execute(sql, params)
        timings[name] = round(time.monotonic() - started, 2)
        return cursor.rowcount

    step("situations", WRITTEN_SQL, {"max_situations": MAX_SITUATIONS, "ans": ans_id})
    cursor.execute("SELECT count(*) FROM gen_exercises")
    exercises = cursor.fetchone()[0]
    live = step("live_cards", LIVE_CARDS_SQL, {"today": today, "count": sizes.cards})
    history = 0
    if sizes.cards > live and exercises:
        history = step(
            "history_cards",
            HISTORY_CARDS_SQL,
            {"today": today, "count": sizes.cards - live, "exercises": exercises},
        )
    cursor.execute("ANALYZE cards_card")  # the planner must know the table is no longer empty
    certificates = step(
        "certificates", CERTIFICATES_SQL, {"ca": ca_id, "per_card": sizes.certificates_per_card}
    )
    orders = step("orders", ORDERS_SQL, {"count": sizes.orders})
    if sizes.orders > orders and exercises:
        extra = {"count": sizes.orders - orders, "exercises": exercises}
        orders += step("cancelled_orders", CANCELLED_ORDERS_SQL, extra)
    notifications = 0
    if sizes.notifications and live:
        notifications = step("notifications", NOTIFICATIONS_SQL, {"count": sizes.notifications, "live": live})
    return {
        "exercises_active": exercises,
        "live_cards": live,
        "history_cards": history,
        "certificates": certificates,
        "orders": orders,
        "notifications": notifications,
        "seconds": timings,
    }


# --- the child: runs on the bench database ---------------------------------------------------------------


def recreate_database(db: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url(db))._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def child(sizes: Sizes, db: str) -> dict[str, Any]:
    recreate_database(db)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from pki import signing
    from registry.models import Authority
    from registry.services import registry_import

    report: dict[str, Any] = {"database": db, "sizes": asdict(sizes), "seconds": {}}
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    report["seconds"]["migrate"] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    base, daily, counts = extractions(sizes)
    report["seconds"]["files"] = round(time.monotonic() - started, 1)
    report["files"] = {
        "base": str(base),
        "daily": str(daily),
        "rows": counts.rows,
        "daily_rows": counts.daily_rows,
    }
    report["daily_changes"] = {k: len(getattr(counts, k)) for k in ("struck_off", "changed", "new")}

    started = time.monotonic()
    result = registry_import(path=base, reject_report=OUT / f"{base.stem}_rejects.csv")
    report["seconds"]["import"] = round(time.monotonic() - started, 1)
    report["import"] = {"rows": result.rows, "imported": result.imported, "rejected": result.rejected}

    started = time.monotonic()
    signing.pki_init()
    ca = signing.issuing_ca("CPS")
    report["seconds"]["pki_init"] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        ans_id = Authority.objects.get(code="ANS").pk
        report["generated"] = populate(cursor, sizes, ca_id=ca.pk, today=timezone.localdate(), ans_id=ans_id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    report["seconds"]["generate"] = round(time.monotonic() - started, 1)
    report["counts"] = table_counts(connection)
    return report


COUNTED = (
    "registry_professional",
    "registry_exercise",
    "registry_activity",
    "registry_structure",
    "cards_card",
    "pki_certificate",
    "orders_order",
    "notifications_notification",
)


def table_counts(connection: Any, tables: Iterable[str] = COUNTED) -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            counts[table] = cursor.fetchone()[0]
        return counts


def hsm_dir(db: str) -> Path:
    """The SoftHSM2 store of the generated database's CAs (kept with it: the benchmarks that revoke need
    the same keys)."""
    return OUT / f"hsm-{db}"


def child_env(db: str, keys_of: str | None = None) -> dict[str, str]:
    """The environment of a child process on ``db`` (with the CA keys of ``keys_of``'s generation)."""
    hsm = hsm_dir(keys_of or db)
    return {
        **os.environ,
        "DATABASE_URL": bench_url(db),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "CELERY_BROKER_URL": "memory://",
        "CPX_HSM_SOFTHSM_DIR": str(hsm),
        "CPX_ROOT_TOKEN_PIN": "bench-root-pin",
        "CPX_CA_TOKEN_PIN": "bench-ca-pin",
        "CPX_OCSP_TOKEN_PIN": "bench-ocsp-pin",
        "CPX_PKI_TEST_HIERARCHY": "true",
        "CPX_SIGNING_INLINE": "true",
        "DJANGO_LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
    }


def generate(sizes: Sizes, db: str = BENCH_DB, timeout: float = 3600) -> dict[str, Any]:
    """Run the generator in a child process (Django set up on ``db``); returns its report."""
    import shutil

    shutil.rmtree(hsm_dir(db), ignore_errors=True)  # a new database: new CA keys
    hsm_dir(db).mkdir(parents=True, exist_ok=True)
    args = [PYTHON, str(Path(__file__).resolve()), "--child", "--db", db, *size_args(sizes)]
    done = subprocess.run(
        args, cwd=ROOT, env=child_env(db), stdout=subprocess.PIPE, text=True, timeout=timeout
    )
    if done.returncode:
        raise RuntimeError(f"the generator failed (exit {done.returncode})")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report_path(db).write_text(json.dumps(report, indent=1))
    return report


def report_path(db: str) -> Path:
    """The last generator report of ``db`` (what it holds, its files): the benchmarks read it."""
    return OUT / f"{db}.json"


def generated(db: str = BENCH_DB) -> dict[str, Any] | None:
    """The report of the database ``db`` if it was generated and still exists, else None."""
    import psycopg

    path = report_path(db)
    if not path.exists():
        return None
    admin = urlunparse(urlparse(bench_url(db))._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            return None
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def copy_database(template: str, copy: str) -> float:
    """``copy`` re-created as a copy of ``template`` (CREATE DATABASE ... TEMPLATE); returns the seconds."""
    import psycopg

    admin = urlunparse(urlparse(bench_url(template))._replace(path="/postgres"))
    started = time.monotonic()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
    return time.monotonic() - started


def drop_database(db: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url(db))._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def size_args(sizes: Sizes) -> list[str]:
    return [
        *("--professionals", str(sizes.professionals), "--cards", str(sizes.cards)),
        *("--orders", str(sizes.orders), "--notifications", str(sizes.notifications)),
        *("--certificates-per-card", str(sizes.certificates_per_card), "--seed", str(sizes.seed)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--professionals", type=int, default=PROFESSIONALS)
    parser.add_argument("--cards", type=int)
    parser.add_argument("--orders", type=int)
    parser.add_argument("--notifications", type=int)
    parser.add_argument("--certificates-per-card", type=int, default=2, choices=(0, 1, 2, 3, 4))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=BENCH_DB)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before the run is stopped")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = Sizes(
        professionals=args.professionals,
        cards=args.cards,
        orders=args.orders,
        notifications=args.notifications,
        certificates_per_card=args.certificates_per_card,
        seed=args.seed,
    )
    if args.child:
        sys.path.insert(0, str(ROOT))
        started = time.monotonic()
        report = child(sizes, args.db)
        report["seconds"]["total"] = round(time.monotonic() - started, 1)
        print(json.dumps(report))
        return 0
    started = time.monotonic()
    report = generate(sizes, args.db, args.timeout)
    log(f"{time.monotonic() - started:.0f} s in all")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
