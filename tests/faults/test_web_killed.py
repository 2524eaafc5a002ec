"""SIGKILL the gunicorn master while operators approve orders, start it again: clients see errors only
while it is down, and no order is half-done (each is either untouched or approved and queued, with its
events), and every order the clients retried ends approved once."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time

import pytest

from orders.models import Order, OrderEvent
from tests.faults.conftest import Stack, fault_environment, operator_token, submitted_orders
from tests.processes import Api, http_status, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER = "redis://127.0.0.1:6379/15"  # a Redis database number of this test's own
CLIENTS = 4


class Operator(threading.Thread):
    """Approves the next order until none is left or told to stop; records each outcome with its time."""

    def __init__(
        self, port: int, authorization: str, queue: list[int], lock: threading.Lock, stop: threading.Event
    ):
        super().__init__(daemon=True)
        self.port, self.authorization, self.queue, self.lock, self.stop = (
            port,
            authorization,
            queue,
            lock,
            stop,
        )
        self.outcomes: list[tuple[float, int, object]] = []  # (time, order, status or error)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                if not self.queue:
                    return
                order_id = self.queue.pop()
            while not self.stop.is_set():  # a client retries until it has an answer
                outcome = self.approve(order_id)
                self.outcomes.append((time.monotonic(), order_id, outcome))
                if outcome in (200, 409):
                    break
                time.sleep(0.2)
            time.sleep(0.02)

    def approve(self, order_id: int) -> object:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(
                "POST",
                f"/api/v1/orders/{order_id}/approve/",
                body=json.dumps({}),
                headers={"Authorization": self.authorization, "Content-Type": "application/json"},
            )
            return conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return type(exc).__name__
        finally:
            conn.close()


def test_killing_the_web_server_under_load_leaves_no_half_done_order(tmp_path):
    subprocess.run(["redis-cli", "-n", "15", "FLUSHDB"], check=True, capture_output=True)
    env, port = fault_environment(tmp_path, BROKER)
    orders = submitted_orders(120)
    credentials = operator_token()
    stack = Stack(tmp_path, env, port)
    queue, lock, stop = list(orders), threading.Lock(), threading.Event()
    try:
        stack.start("web", "worker")
        # One Bearer token (client credentials) for the whole run, which lasts well under its 300 s.
        authorization = Api(stack.url, credentials).authorization()
        operators = [Operator(port, authorization, queue, lock, stop) for _ in range(CLIENTS)]
        for operator in operators:
            operator.start()
        wait_for(lambda: len(queue) < 90, 60, "some approvals before the kill")

        killed_at = time.monotonic()
        stack.running["web"].popen.send_signal(signal.SIGKILL)  # the master only, as a crash would
        stack.running["web"].popen.wait(timeout=10)
        wait_for(lambda: http_status(f"{stack.url}/ping") is None, 30, "the old workers to go")
        time.sleep(1)
        restarted_at = time.monotonic()
        stack.start("web")
        back_at = time.monotonic()
        for operator in operators:
            operator.join(timeout=120)
        assert not any(operator.is_alive() for operator in operators)
    finally:
        stop.set()
        stack.stop_all()

    outcomes = sorted(o for operator in operators for o in operator.outcomes)
    failed = [(at, order, what) for at, order, what in outcomes if what not in (200, 409)]
    final = {order: what for _at, order, what in outcomes}
    assert set(final) == set(orders) and set(final.values()) <= {200, 409}, final
    assert any(at < killed_at and what == 200 for at, _o, what in outcomes)
    assert any(at > back_at and what == 200 for at, _o, what in outcomes)
    # Errors only while the server was down (a request sent just before the kill may die with it; one in
    # flight when it came back may still meet the old socket).
    outside = [(at - killed_at, o, w) for at, o, w in failed if not killed_at - 10 <= at <= back_at + 3]
    assert not outside, (outside[:10], back_at - killed_at)
    assert all(what != 200 for at, _o, what in outcomes if killed_at + 0.5 < at < restarted_at)

    # No order half-done: untouched (submitted, no event) or approved and queued with both events.
    for order in Order.objects.filter(pk__in=orders):
        transitions = list(OrderEvent.objects.filter(order=order).values_list("transition", flat=True))
        if order.state == "submitted":
            assert "approve" not in transitions and "queue" not in transitions, (order.pk, transitions)
        else:
            assert order.state == "queued", (order.pk, order.state)
            assert transitions.count("approve") == 1 and transitions.count("queue") == 1, transitions
    # Every order ends approved once: a 409 answers a retry whose first attempt had gone through.
    assert set(Order.objects.filter(pk__in=orders).values_list("state", flat=True)) == {"queued"}
