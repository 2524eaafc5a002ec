"""Benchmark: orders driven submit → approve → queue through the service layer, by two worker processes.

    .venv/bin/python bench/bench_orders.py [--orders N]

Runs in its own database (``cpx_bench_orders`` on the server of DATABASE_URL, dropped and re-created each
run), in child processes (so Django is set up on that database whatever the caller did).

Ours: N draft first-CPS orders of N RPPS doctors (CNOM) are split between two worker processes; each calls
``order_submit`` (as the platform's system account) then ``order_approve`` (as a CNOM operator), which
re-checks eligibility and goes on to ``queue``: three transitions per order, each with its event row, the
row lock, the scope check and the eligibility queries, and the holder's two notifications (outbox rows of
``order_received`` and ``order_approved``, e-mail and in-app, which the limit below does not write).
``orders.services._schedule_production`` (the hand-off to the stations) is replaced by a no-op: only the order
workflow is measured.

The limit, measured in the same run on the same rows (reset to draft, events deleted): the same two
processes doing only what must reach the database, with the same transactions: per order one transaction
``UPDATE`` state + ``INSERT`` event (submit), then one transaction of two ``UPDATE`` + ``INSERT`` (approve,
queue), by raw psycopg over one connection per process.

Printed: transitions per second for both, and the ratio ours / limit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "cpx_bench_orders"
ORDERS = 2000
WORKERS = 2
TRANSITIONS_PER_ORDER = 3


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": bench_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
    }


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def run(orders: int = ORDERS) -> list[dict]:
    """Rows {"benchmark", "ours", "limit", "unit", "ratio", "note"}; prints the figures and the ratio."""
    env = child_env()
    me = str(Path(__file__).resolve())
    command = [PYTHON, me, "--prepare", "--orders", str(orders)]
    prepared = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    ids = json.loads(prepared.stdout.strip().splitlines()[-1])
    ours = drive(me, env, "--service", ids)
    subprocess.run([PYTHON, me, "--reset"], cwd=ROOT, env=env, check=True)
    limit = drive(me, env, "--bare", ids)
    transitions = TRANSITIONS_PER_ORDER * len(ids)
    ours_rate, limit_rate = transitions / ours, transitions / limit
    ratio = ours_rate / limit_rate
    print(
        f"orders: {len(ids)} orders, {transitions} transitions, {WORKERS} worker processes\n"
        f"  service layer: {ours:.2f} s, {ours_rate:,.0f} transitions/s\n"
        f"  bare UPDATE + INSERT: {limit:.2f} s, {limit_rate:,.0f} transitions/s\n"
        f"  ratio (service / bare): {ratio:.3f}",
        flush=True,
    )
    return [
        {
            "benchmark": "order transitions submit→approve→queue (2 processes)",
            "ours": ours_rate,
            "limit": limit_rate,
            "unit": "transitions/s",
            "ratio": ratio,
            "note": "limit: bare UPDATE + INSERT event of the same rows, same transactions",
        }
    ]


def drive(me: str, env: dict[str, str], mode: str, ids: list[int]) -> float:
    """Start the workers, let them set up, release them together; the wall time of the slowest."""
    halves = [ids[i::WORKERS] for i in range(WORKERS)]
    workers = [
        subprocess.Popen(
            [PYTHON, me, mode, ",".join(map(str, half))],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for half in halves
    ]
    for worker in workers:  # each prints "ready" once Django and its connection are set up
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    spans = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode:
            raise RuntimeError(f"{mode} worker failed ({worker.returncode})")
        spans.append(json.loads(out.strip().splitlines()[-1]))
    return max(end for _, end in spans) - min(start for start, _ in spans)


# --- children: everything below runs on the bench database ---------------------------------------------


def recreate_database() -> None:
    import psycopg

    admin = urlparse(bench_url())._replace(path="/postgres")
    with psycopg.connect(urlunparse(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(count: int) -> list[int]:
    recreate_database()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)
    from orders.models import Order
    from registry.identifiers import luhn_complete
    from registry.models import Authority, Exercise, Professional, ProfessionalCategory

    people = Professional.objects.bulk_create(
        Professional(
            national_id=f"8{rpps}", id_type="8", rpps=rpps, last_name=f"BENCH{n}", first_name="Claire"
        )
        for n in range(count)
        for rpps in [luhn_complete(f"1{n:09d}")]
    )
    civil = ProfessionalCategory.objects.get(code="C")
    exercises = Exercise.objects.bulk_create(
        Exercise(professional=p, profession_id="10", category=civil) for p in people
    )
    cnom = Authority.objects.get(code="CNOM")
    orders = Order.objects.bulk_create(
        Order(professional=e.professional, exercise=e, card_type="CPS", kind="first", authority=cnom)
        for e in exercises
    )
    return [o.pk for o in orders]


def reset() -> None:
    import psycopg

    with psycopg.connect(bench_url()) as conn:
        conn.execute("DELETE FROM orders_orderevent")
        conn.execute("UPDATE orders_order SET state = 'draft', fee = NULL")
    with psycopg.connect(bench_url(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE orders_order")
        conn.execute("VACUUM ANALYZE orders_orderevent")


def wait_for_go() -> float:
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    return time.time()


def service_worker(ids: list[int]) -> tuple[float, float]:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    import orders.services
    from orders import services
    from registry.models import Account, Authority

    orders.services._schedule_production = lambda order_id: None  # type: ignore[assignment]
    system = services.system_user()
    user, _ = get_user_model().objects.get_or_create(username=f"bench-cnom-{os.getpid()}")
    Account.objects.get_or_create(
        user=user, defaults={"role": "authority_operator", "authority": Authority.objects.get(code="CNOM")}
    )
    operator = get_user_model().objects.select_related("account").get(pk=user.pk)
    connection.ensure_connection()
    start = wait_for_go()
    for pk in ids:
        services.order_submit(order=pk, actor=system)
        services.order_approve(order=pk, actor=operator)
    return start, time.time()


BARE_EVENT = (
    "INSERT INTO orders_orderevent (order_id, at, actor_id, actor_role, transition, from_state, to_state, "
    "reason) VALUES (%s, now(), NULL, %s, %s, %s, %s, '')"
)
BARE_UPDATE = (
    "UPDATE orders_order SET state = %s, state_changed_at = now(), updated_at = now() "
    "WHERE id = %s AND state = %s"
)


def bare_worker(ids: list[int]) -> tuple[float, float]:
    import psycopg

    conn = psycopg.connect(bench_url())
    start = wait_for_go()
    for pk in ids:
        with conn.transaction():
            bare_transition(conn, pk, "submit", "draft", "submitted", "system")
        with conn.transaction():
            bare_transition(conn, pk, "approve", "submitted", "approved", "authority_operator")
            bare_transition(conn, pk, "queue", "approved", "queued", "authority_operator")
    end = time.time()
    conn.close()
    return start, end


def bare_transition(conn, pk: int, name: str, source: str, target: str, role: str) -> None:
    conn.execute(BARE_UPDATE, (target, pk, source))
    conn.execute(BARE_EVENT, (pk, role, name, source, target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--service")
    parser.add_argument("--bare")
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps(prepare(args.orders)))
    elif args.reset:
        reset()
    elif args.service or args.bare:
        worker = service_worker if args.service else bare_worker
        ids = [int(i) for i in (args.service or args.bare).split(",") if i]
        print(json.dumps(worker(ids)))
    else:
        run(args.orders)


if __name__ == "__main__":
    main()
