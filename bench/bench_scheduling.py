"""Benchmark: the capacity plan over a month of automatic renewals (issue 16: about 40,000 cards, under 10 s).

    .venv/bin/python bench/bench_scheduling.py [--orders N] [--background N]

Runs in its own database (``cpx_bench_scheduling`` on the server of DATABASE_URL, dropped and re-created
each run), in a child process, with the Celery broker set to ``memory://``.

Generated in SQL (``INSERT ... SELECT generate_series``): N médecins (CNOM), each with an exercise and an
active CPS expiring over a month, from 45 to 75 days ahead, and the approved automatic renewal of each card
(as ``orders.bulk`` leaves them, ``release_on`` NULL); beside them, ``--background`` orders of the past
(produced), so the plan reads its few rows out of a table of realistic size. The stations made nothing in
the bench database: the capacity is the floor, set to 2,500 cards a day (2,000 for the plan once the manual
share is kept), so the month fits in 20 days before every deadline.

Measured: ``lifecycle.scheduling.release_plan`` (one UPDATE ranking every order by deadline with a window
function), a second run the same day (nothing changes), then ``orders_release_due`` for the day (the first
2,000 queued with their history). Checked: no day over the share, no order after its deadline. The limit is
the issue's goal, 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate_national as gen  # noqa: E402
from bench.generate_national import log  # noqa: E402

PYTHON = sys.executable
BENCH_DB = "cpx_bench_scheduling"
ORDERS = 40_000
BACKGROUND = 400_000
GOAL_SECONDS = 10.0
FLOOR_PER_DAY = 2_500
ID_OFFSET = 10**9  # generated rows' ids, clear of the sequences the application uses


def bench_url() -> str:
    return gen.bench_url(BENCH_DB)


def run(orders: int = ORDERS, background: int = BACKGROUND) -> list[dict]:
    """Rows {"benchmark", "ours", "limit", "unit", "ratio", "note"} measured in a child process."""
    env = {
        **os.environ,
        "DATABASE_URL": bench_url(),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CPX_CAPACITY_FLOOR_PER_DAY": str(FLOOR_PER_DAY),
        "DJANGO_LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
    }
    args = [PYTHON, str(Path(__file__).resolve()), "--child", "--orders", str(orders)]
    args += ["--background", str(background)]
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the child: everything below runs on the bench database ------------------------------------------------


# Holders, exercises (médecin, category C), cards expiring 45..75 days ahead; for the first --orders rows the
# approved automatic renewal, for the others a produced order of the past.
GENERATE = f"""
INSERT INTO registry_professional (id, national_id, id_type, rpps, adeli, exercise_civility_code,
    exercise_civility, civility_code, civility, last_name, first_name, email, mobile, is_active, first_seen,
    updated_at, deactivation_reason)
SELECT {ID_OFFSET} + i, '8' || lpad(i::text, 11, '0'), '8', lpad(i::text, 11, '0'), NULL, '', 'Dr', '', '',
       'NOM' || i, 'Prénom', 'pro' || i || '@example.test', '', true, now(), now(), ''
  FROM generate_series(1, %(people)s) AS i;
INSERT INTO registry_exercise (id, professional_id, profession_id, category_id, skill_id,
    pharmacist_section_code, pharmacist_section, is_active)
SELECT {ID_OFFSET} + i, {ID_OFFSET} + i, '10', 'C', NULL, '', '', true
  FROM generate_series(1, %(people)s) AS i;
INSERT INTO cards_card (id, number, card_type, state, valid_from, valid_until, created_at, updated_at,
    professional_id, exercise_id, puk_key_version)
SELECT {ID_OFFSET} + i, '8025000001' || lpad(i::text, 10, '0'), 'CPS', 'active',
       %(today)s::date + 45 + ((i::bigint * 7919) %% 31)::int - 1095,
       %(today)s::date + 45 + ((i::bigint * 7919) %% 31)::int, now(), now(), {ID_OFFSET} + i,
       {ID_OFFSET} + i, 1
  FROM generate_series(1, %(people)s) AS i;
INSERT INTO orders_order (card_type, kind, replacement_reason, state, fee, failure_count, created_at,
    updated_at, state_changed_at, authority_id, created_by_id, exercise_id, produced_card_id,
    professional_id, replaces_id, structure_id, origin, decision, situation_diff, release_on)
SELECT 'CPS', 'renewal', '', 'approved', NULL, 0, now(), now(), now(), %(cnom)s, NULL, {ID_OFFSET} + i,
       NULL, {ID_OFFSET} + i, {ID_OFFSET} + i, NULL, 'automatic',
       jsonb_build_object('rule', 'renewal', 'mode', 'automatic', 'approved', true), '{{}}'::jsonb, NULL
  FROM generate_series(1, %(orders)s) AS i;
INSERT INTO orders_order (card_type, kind, replacement_reason, state, fee, failure_count, created_at,
    updated_at, state_changed_at, authority_id, created_by_id, exercise_id, produced_card_id,
    professional_id, replaces_id, structure_id, origin, decision, situation_diff, release_on)
SELECT 'CPS', 'first', '', 'produced', NULL, 0, now() - interval '3 years', now() - interval '3 years',
       now() - interval '3 years', %(cnom)s, NULL, {ID_OFFSET} + i, NULL, {ID_OFFSET} + i, NULL, NULL,
       'requested', '{{}}'::jsonb, '{{}}'::jsonb, NULL
  FROM generate_series(%(orders)s + 1, %(people)s) AS i;
"""

CHECK = """
SELECT max(n), count(*) FILTER (WHERE late) FROM (
    SELECT o.release_on, count(*) AS n, bool_or(o.release_on > c.valid_until - %(lead)s) AS late
      FROM orders_order o JOIN cards_card c ON c.id = o.replaces_id
     WHERE o.origin = 'automatic' AND o.release_on IS NOT NULL
     GROUP BY o.release_on
) d
"""


def generate(orders: int, background: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from registry.models import Authority

    params: dict[str, Any] = {
        "people": orders + background,
        "orders": orders,
        "today": timezone.localdate(),
        "cnom": Authority.objects.get(code="CNOM").pk,
    }
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(GENERATE, params)
        for table in ("registry_professional", "registry_exercise", "cards_card", "orders_order"):
            cursor.execute(f"VACUUM ANALYZE {table}")  # noqa: S608 - fixed table names
    took = time.monotonic() - started
    log(f"generated {orders:,} approved automatic renewals (+{background:,}) in {took:.1f} s")


def timed(function: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(**kwargs)
    return time.perf_counter() - started, result


def measure(orders: int) -> list[dict]:
    from django.conf import settings
    from django.db import connection

    from lifecycle import scheduling

    capacity = scheduling.daily_capacity()
    seconds, plan = timed(scheduling.release_plan)
    log(f"release_plan: {plan} in {seconds:.3f} s")
    again, second = timed(scheduling.release_plan)
    log(f"release_plan again: {second} in {again:.3f} s")
    with connection.cursor() as cursor:
        cursor.execute(CHECK, {"lead": settings.CPX_PRODUCTION_LEAD_DAYS})
        busiest, late_days = cursor.fetchone()
    assert plan.orders == orders and plan.changed == orders, plan
    assert second.changed == 0, second
    assert busiest <= capacity.per_day and late_days == 0 and plan.late == 0, (busiest, late_days, plan)
    released_in, released = timed(scheduling.orders_release_due)
    assert released == capacity.per_day, released
    log(f"orders_release_due: {released:,} queued in {released_in:.3f} s")
    days = (plan.last_day - scheduling.timezone.localdate()).days + 1 if plan.last_day else 0
    note = (
        f"{orders:,} orders over {days} days, at most {busiest:,}/day (share {capacity.per_day:,}), "
        "none late; "
        f"second run {again:.2f} s; release of a day's {released:,}: {released_in:.2f} s"
    )
    return [row(f"release plan: {orders:,} automatic renewals", seconds, GOAL_SECONDS, "s", note)]


def row(name: str, ours: float, limit: float, unit: str, note: str = "") -> dict:
    return {
        "benchmark": name,
        "ours": round(ours, 4),
        "limit": round(limit, 4),
        "unit": unit,
        "ratio": round(ours / limit, 2) if limit else None,
        "note": note,
    }


def child(orders: int, background: int) -> None:
    gen.recreate_database(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    generate(orders, background)
    print(json.dumps(measure(orders)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--background", type=int, default=BACKGROUND)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.orders, args.background)
        return 0
    for r in run(args.orders, args.background):
        print(f"{r['benchmark']:<48} {r['ours']:>8} s (limit {r['limit']} s) ×{r['ratio']}  {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
