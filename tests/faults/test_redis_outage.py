"""Stop the broker (a private redis-server of this test's own, never the shared one) while operators
approve orders and ANS ships cards, start it again: the web keeps answering, nothing is lost (the sweeps
hand back what could not be published), no card is made twice, every holder is told once."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import (
    Stack,
    ans_token,
    approve,
    assert_the_three_promises,
    fault_environment,
    operator_token,
    prepare_host,
    ship,
    submitted_orders,
    wait_notifications_sent,
    wait_produced,
)
from tests.processes import Api, manage, private_redis, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BLANKS = 6
SWEEP_NOW = (
    "import datetime; from stations.services import production_sweep; "
    "print(production_sweep(older_than=datetime.timedelta(0)))"
)


def test_a_broker_outage_delays_but_loses_nothing(tmp_path):
    with private_redis(tmp_path / "redis") as redis:
        env, port = fault_environment(tmp_path, redis.url)
        prepare_host(env, BLANKS)
        first, during = submitted_orders(1), submitted_orders(2)
        stack = Stack(tmp_path, env, port)
        try:
            stack.start("web", "worker", "beat", "signer", "station")
            wait_for(lambda: "ready" in stack.running["station"].output(), 60, "the station worker")
            operator, ans = Api(stack.url, operator_token()), Api(stack.url, ans_token())
            approve(operator, first)
            wait_produced(stack, first)

            redis.stop()
            started = time.monotonic()
            approve(operator, during)  # the web still answers: the hand-off waits in the database
            ship(ans, first, "FAULT-REDIS-1")  # the holder's message waits in the outbox
            assert time.monotonic() - started < 60
            time.sleep(3)
            redis.start()

            # The beat's production sweep (every 5 minutes, for orders queued 10 minutes) would hand the
            # orders approved during the outage back; run it now. The notification sweep runs every 30 s.
            handed_back = int(manage(env, "shell", "--no-imports", "-c", SWEEP_NOW).strip())
            assert handed_back <= len(during)
            wait_produced(stack, first + during, timeout=150)
            ship(ans, during, "FAULT-REDIS-2")
            wait_notifications_sent(stack, timeout=120)
            assert_the_three_promises(first + during, BLANKS)
            assert all(process.alive() for process in stack.running.values()), stack.logs()
        finally:
            stack.stop_all()
