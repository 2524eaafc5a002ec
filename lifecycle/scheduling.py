"""The capacity plan (issue 16): when each automatic order goes to production.

An order the platform placed by an issuance policy and approved at once (``origin`` automatic, state
``approved``) waits for its day, ``release_on``. ``release_plan`` sets that day for all of them at once, in
one ``UPDATE`` whose window function ranks the orders earliest deadline first and fills the days from
today, each up to the share of the stations' capacity kept for the plan:

- the capacity is the stations' measured rate (``statistics.station_capacity`` over ``CAPACITY_DAYS``),
  never below ``CPX_CAPACITY_FLOOR_PER_DAY``, less the share ``CPX_CAPACITY_MANUAL_SHARE`` kept for the
  orders people place; today's part less what was already released today;
- an order's deadline is the day its new card must leave for production so that it reaches the holder
  before the card it replaces expires: that card's ``valid_until`` less ``CPX_PRODUCTION_LEAD_DAYS``; an
  order that replaces nothing (a first card) is due ``CPX_FIRST_CARD_RELEASE_DAYS`` after its creation.

Earliest deadline first, as early as capacity allows, is the order of days that misses the fewest
deadlines there are (unit jobs, the same capacity each day); an order that still misses its deadline is
released as early as possible and counted in the result, for the operators to see. The plan is made
again every day (and after each batch of automatic orders): yesterday's days for orders not yet released
move as the queue changes, and nothing keeps a state of its own.

``orders_release_due`` then queues, each morning, the orders whose day has come, at most one day's share,
set-based too: the orders' new state and their history (``OrderEvent``) in one statement, then each order
handed to the stations (``stations.schedule_production``, sent by name once the transaction commits). A
released order keeps, as ``release_on``, the day it was actually released: so "released today" is read
from the orders themselves.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.tasks import send_task
from orders.services import PRODUCTION_TASK, system_user

from . import statistics

# The history's reason for a release (the platform's own words, like orders.bulk.APPROVED_REASON).
RELEASE_REASON = "released to production by the capacity plan"


@dataclass(frozen=True)
class DailyCapacity:
    """How many automatic orders the plan releases a day, and how it came to that figure."""

    measured: float  # cards the stations made a day over the measured period
    floor: int  # CPX_CAPACITY_FLOOR_PER_DAY
    manual_share: float  # CPX_CAPACITY_MANUAL_SHARE
    per_day: int  # for the plan: max(measured, floor) less the manual share, at least 1

    @property
    def total(self) -> int:
        """The stations' whole day (the plan's share and the manual orders')."""
        return max(int(math.floor(max(self.measured, self.floor))), self.per_day)


def daily_capacity(*, capacity: statistics.Capacity | None = None) -> DailyCapacity:
    capacity = capacity if capacity is not None else statistics.station_capacity()
    floor = int(settings.CPX_CAPACITY_FLOOR_PER_DAY)
    share = min(max(float(settings.CPX_CAPACITY_MANUAL_SHARE), 0.0), 1.0)
    per_day = int(math.floor(max(capacity.per_day, floor) * (1.0 - share)))
    return DailyCapacity(measured=capacity.per_day, floor=floor, manual_share=share, per_day=max(per_day, 1))


@dataclass(frozen=True)
class Plan:
    """What ``release_plan`` did: ``orders`` planned, ``changed`` of them given a new day, ``late`` that
    cannot meet their deadline (released as early as possible), the ``last_day`` planned, the ``per_day``
    share it filled and how much of today was left."""

    orders: int
    changed: int
    late: int
    last_day: dt.date | None
    per_day: int
    today_left: int


# Released today: automatic orders that left ``approved`` today (``release_on`` is then the day of their
# release). ``state_changed_at`` (indexed) narrows the read to orders that moved today.
RELEASED_SQL = """
SELECT count(*) FROM orders_order
 WHERE origin = 'automatic' AND release_on = %(today)s AND state <> 'approved'
   AND state_changed_at >= %(day_start)s
"""

# One statement: rank every approved automatic order earliest deadline first (ties: the oldest order),
# give rank r the day today + 0 while today's share lasts, then one day per ``per_day`` orders; write the
# days that changed; report the counts. The CTE ``written`` runs once whether or not the outer SELECT reads
# it (PostgreSQL executes data-modifying CTEs to completion).
PLAN_SQL = """
WITH ranked AS (
    SELECT o.id, o.release_on,
           COALESCE(c.valid_until - %(lead)s, o.created_at::date + %(first_days)s) AS deadline,
           row_number() OVER (
               ORDER BY COALESCE(c.valid_until - %(lead)s, o.created_at::date + %(first_days)s), o.id
           ) - 1 AS rank
      FROM orders_order o
      LEFT JOIN cards_card c ON c.id = o.replaces_id
     WHERE o.state = 'approved' AND o.origin = 'automatic'
),
planned AS (
    SELECT id, release_on, deadline,
           %(today)s::date + CASE WHEN rank < %(today_left)s THEN 0
                                  ELSE 1 + (rank - %(today_left)s) / %(per_day)s END::int AS day
      FROM ranked
),
written AS (
    UPDATE orders_order o SET release_on = p.day
      FROM planned p
     WHERE o.id = p.id AND o.release_on IS DISTINCT FROM p.day
    RETURNING o.id
)
SELECT count(*), count(*) FILTER (WHERE day > deadline), max(day), (SELECT count(*) FROM written)
  FROM planned
"""


def release_plan(*, today: dt.date | None = None, capacity: DailyCapacity | None = None) -> Plan:
    """Give every approved automatic order not yet released its day of release (see the module's
    docstring); idempotent: a second run the same day changes nothing."""
    today = today or timezone.localdate()
    capacity = capacity or daily_capacity()
    with transaction.atomic(), connection.cursor() as cursor:
        released = _released_on(cursor, today)
        today_left = max(capacity.per_day - released, 0)
        params: dict[str, Any] = {
            "today": today,
            "lead": int(settings.CPX_PRODUCTION_LEAD_DAYS),
            "first_days": int(settings.CPX_FIRST_CARD_RELEASE_DAYS),
            "per_day": capacity.per_day,
            "today_left": today_left,
        }
        cursor.execute(PLAN_SQL, params)
        total, late, last_day, changed = cursor.fetchone()
    return Plan(
        orders=total,
        changed=changed,
        late=late,
        last_day=last_day,
        per_day=capacity.per_day,
        today_left=today_left,
    )


def _released_on(cursor: Any, day: dt.date) -> int:
    day_start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    cursor.execute(RELEASED_SQL, {"today": day, "day_start": day_start})
    return int(cursor.fetchone()[0])


# The orders whose day has come, oldest day first, at most ``limit``; rows another run holds are skipped
# (``SKIP LOCKED``), so two runs at once release disjoint orders. The new state and the history's row of
# each in the same statement, as ``orders.services`` would write them one ``queue`` at a time.
RELEASE_SQL = """
WITH due AS (
    SELECT id FROM orders_order
     WHERE state = 'approved' AND origin = 'automatic' AND fee IS NULL AND release_on <= %(today)s
     ORDER BY release_on, id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
),
moved AS (
    UPDATE orders_order o
       SET state = 'queued', release_on = %(today)s, state_changed_at = %(now)s, updated_at = %(now)s
      FROM due WHERE o.id = due.id
    RETURNING o.id
),
history AS (
    INSERT INTO orders_orderevent (at, actor_role, transition, from_state, to_state, reason, actor_id,
                                   order_id)
    SELECT %(now)s, %(role)s, 'queue', 'approved', 'queued', %(reason)s, %(actor)s, m.id FROM moved m
)
SELECT id FROM moved ORDER BY id
"""


def orders_release_due(*, today: dt.date | None = None, capacity: DailyCapacity | None = None) -> int:
    """Queue for production the automatic orders whose release day has come, at most what is left of
    today's share; each is handed to the stations once the transaction commits. Returns how many."""
    today = today or timezone.localdate()
    capacity = capacity or daily_capacity()
    actor = system_user()
    with transaction.atomic(), connection.cursor() as cursor:
        limit = max(capacity.per_day - _released_on(cursor, today), 0)
        if not limit:
            return 0
        params = {
            "today": today,
            "limit": limit,
            "now": timezone.now(),
            "role": actor.account.role,
            "reason": RELEASE_REASON,
            "actor": actor.pk,
        }
        cursor.execute(RELEASE_SQL, params)
        ids = [row[0] for row in cursor.fetchall()]
        if ids:
            transaction.on_commit(lambda: _hand_to_stations(ids), robust=True)
    return len(ids)


def _hand_to_stations(ids: list[int]) -> None:
    """Stations sit above lifecycle: told by a task sent by name (``stations.production_sweep`` picks up
    any the broker lost)."""
    for pk in ids:
        send_task(PRODUCTION_TASK, pk)
