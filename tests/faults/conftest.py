"""The stack under faults: the real processes, orders approved over HTTP, and the three promises checked
from the database afterwards (no lost order, no duplicate card, no lost notification)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cards.models import Card
from notifications.models import Notification
from orders.models import Order
from registry.models import Account
from stations.models import BlankCard, PersonalizationJob
from tests.factories import OrderFactory, persona
from tests.processes import (
    Api,
    Process,
    free_port,
    http_status,
    integrator_credentials,
    manage,
    procfile,
    stack_environment,
    wait_for,
)

STATION = "faults"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


class Stack:
    """Processes of deploy/Procfile that a test may kill and start again by name."""

    def __init__(self, tmp_path: Path, env: dict[str, str], port: int):
        self.tmp, self.env, self.port = tmp_path, env, port
        self.url = f"http://127.0.0.1:{port}"
        self.commands = procfile()
        self.running: dict[str, Process] = {}
        self.starts: Counter[str] = Counter()

    def start(self, *names: str) -> None:
        for name in names:
            self.starts[name] += 1
            label = name if self.starts[name] == 1 else f"{name}-{self.starts[name]}"
            self.running[name] = Process(label, self.commands[name], self.env, self.tmp)
        if "web" in names:
            wait_for(lambda: http_status(f"{self.url}/healthz") == 200, 60, "gunicorn to answer")

    def stop_all(self) -> None:
        for process in self.running.values():
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-2500:]}" for n, p in self.running.items())


def prepare_host(env: dict[str, str], blanks: int) -> None:
    """What an operator does once on the host: the PKI and a station with two SoftHSM2 readers."""
    manage(env, "pki_init")
    manage(env, "station_register", STATION, "--readers", "2", "--blanks", str(blanks), "--module", SOFTHSM)


def fault_environment(tmp_path: Path, broker: str, **extra: str) -> tuple[dict[str, str], int]:
    port = free_port()
    env = stack_environment(
        tmp_path,
        broker,
        CPX_WEB_BIND=f"127.0.0.1:{port}",
        CPX_WEB_WORKERS="2",
        CPX_WORKER_CONCURRENCY="2",
        CPX_STATION_NAME=STATION,
        CPX_BASE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    return env, port


def submitted_orders(count: int) -> list[int]:
    """First CPS orders of RPPS doctors, submitted: a CNOM operator reviews them."""
    return [OrderFactory(state="submitted").pk for _ in range(count)]  # type: ignore[attr-defined]


def operator_token() -> str:
    """A CNOM operator's integrator credentials (``client_id:secret``, for ``Api``)."""
    return integrator_credentials(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))


def approve(api: Api, order_ids: list[int]) -> None:
    for order_id in order_ids:
        api.post(f"/api/v1/orders/{order_id}/approve/", {"reason": "faults"})


def wait_produced(stack: Stack, order_ids: list[int], timeout: float = 120) -> None:
    def done() -> bool:
        states = set(Order.objects.filter(pk__in=order_ids).values_list("state", flat=True))
        return bool(states) and states <= {"produced"}

    try:
        wait_for(done, timeout, f"orders {order_ids} to be produced", interval=0.5)
    except AssertionError as exc:
        states = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "state"))
        jobs = list(PersonalizationJob.objects.values_list("order_id", "step", "error"))
        raise AssertionError(f"{exc}: {states}\njobs: {jobs}\n{stack.logs()}") from None


def wait_notifications_sent(stack: Stack, timeout: float = 90) -> None:
    def settled() -> bool:
        return not Notification.objects.exclude(state=Notification.State.SENT).exists()

    try:
        wait_for(settled, timeout, "every notification to be delivered", interval=1)
    except AssertionError as exc:
        left = list(
            Notification.objects.exclude(state="sent").values_list("pk", "event", "state", "attempts")
        )
        raise AssertionError(f"{exc}: {left}\n{stack.logs()}") from None


def assert_the_three_promises(order_ids: list[int], blanks: int) -> None:
    """No lost order, no duplicate card, no lost notification; every blank accounted for."""
    orders = Order.objects.filter(pk__in=order_ids)
    assert orders.count() == len(order_ids)
    # The order ends at "produced"; its card, shipped, carries on.
    assert set(orders.values_list("state", flat=True)) == {"produced"}
    produced = list(orders.values_list("produced_card_id", flat=True))
    assert None not in produced and len(set(produced)) == len(order_ids)
    # No second card made for an order: every card of the platform is some order's one card.
    assert Card.objects.count() == len(order_ids), f"{Card.objects.count()} cards for {len(order_ids)} orders"
    assert set(Card.objects.values_list("state", flat=True)) == {"shipped"}
    assert BlankCard.objects.count() == blanks
    used = BlankCard.objects.filter(state="used").count()
    assert used == len(order_ids)
    assert not BlankCard.objects.filter(state="in_use").exists()
    assert not Notification.objects.exclude(state="sent").exists()
    keys = Counter(Notification.objects.values_list("dedup_key", "channel"))
    assert not keys or max(keys.values()) == 1
    # Orders tell nobody (orders.services never calls notify): the shipment is the event that writes.
    shipped = Notification.objects.filter(event="card_shipped", channel="in_app")
    assert shipped.count() == len(order_ids), list(shipped.values_list("dedup_key", flat=True))


def ship(api: Api, order_ids: list[int], reference: str) -> None:
    """ANS hands the cards to the carrier (each holder is told: card_shipped)."""
    cards = Card.objects.filter(order__pk__in=order_ids).order_by("pk").values_list("pk", flat=True)
    lines = [{"card": pk, "tracking_reference": f"{reference}-{pk}"} for pk in cards]
    api.post(
        "/api/v1/shipping-batches/", {"carrier": "La Poste", "reference": reference, "cards": lines}, 201
    )


def ans_token() -> str:
    """An ANS operator's integrator credentials (``client_id:secret``, for ``Api``)."""
    return integrator_credentials(persona(Account.Role.ANS_OPERATOR))
