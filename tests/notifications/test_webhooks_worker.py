"""Webhooks through a real Celery worker and a real Redis, to a real receiver: a batch of oppositions while
the receiver is down arrives, once it is back, exactly once each, in order per card, each signature valid. And
deliverers racing never send one message twice.

The worker (tests/notifications/test_worker.py's fixture) uses this test's database, so it sees committed rows
only: hence ``transaction=True``.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from bench.bench_webhooks import Receiver, order_breaks
from lifecycle.opposition import card_declare_opposition
from notifications import tasks, webhooks
from notifications.models import WebhookDelivery
from tests.factories import persona
from tests.lifecycle.conftest import card_of_an_order, tariff  # noqa: F401 (fixture)
from tests.pki.conftest import ca_keys, hierarchy, pem_files, pki_dir  # noqa: F401 (fixtures)

from .conftest import broker
from .test_worker import private_redis, wait_for, worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def webhook_worker(monkeypatch, request):
    """The real worker, allowed to post to this machine over http, backing off one second at a time."""
    monkeypatch.setenv("CPX_WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    monkeypatch.setenv("CPX_WEBHOOK_BACKOFF_SECONDS", "1")
    monkeypatch.setenv("CPX_WEBHOOK_BACKOFF_MAX_SECONDS", "2")
    monkeypatch.setenv("CPX_WEBHOOK_MAX_ATTEMPTS", "30")
    return request.getfixturevalue("worker")


@pytest.fixture
def receiver(settings):
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = True
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def subscribe(receiver: Receiver, events: list[str]):
    subscription, receiver.secret = webhooks.subscription_create(
        name="Hôpital Nord", url=receiver.url, events=events, actor="tests"
    )
    return subscription


def all_delivered() -> bool:
    return not WebhookDelivery.objects.exclude(state=WebhookDelivery.State.DELIVERED).exists()


def test_oppositions_while_the_receiver_is_down_arrive_once_each_in_order_once_it_is_back(
    private_redis,  # noqa: F811 (the fixture)
    webhook_worker,
    receiver,
    hierarchy,  # noqa: F811
):
    process, log, _mail = webhook_worker
    subscribe(receiver, ["card.opposed", "card.updated"])
    cards = [card_of_an_order() for _ in range(6)]
    receiver.stop()

    with broker(private_redis.url):
        for card in cards:
            holder = persona("holder", professional=card.professional)
            card_declare_opposition(card=card, reason="stolen", actor=holder, channel="online")
        for card in cards:  # a later message of each card, which must not overtake the first
            with transaction.atomic():
                webhooks.webhooks_emit(
                    event="card.updated", card_key=card.number, payload={"card_number": card.number, "seq": 1}
                )
        # The worker tried each card's first message and backs off; the second waits behind it.
        wait_for(
            lambda: WebhookDelivery.objects.filter(event="card.opposed", attempts__gte=1).count() == 6,
            60,
            f"the worker's first attempts (log: {log})",
        )
        assert receiver.received == []
        assert not WebhookDelivery.objects.filter(event="card.updated", attempts__gt=0).exists()

        receiver.start()  # the same port again

        def delivered_after_a_sweep() -> bool:
            tasks.webhooks_sweep.delay()  # what beat does every 30 s
            return all_delivered()

        wait_for(delivered_after_a_sweep, 90, f"the deliveries once the receiver is back (log: {log})")

    written = Counter(WebhookDelivery.objects.values_list("message_id", flat=True))
    assert Counter(receiver.ids()) == written  # each exactly once
    assert all(record["valid"] for record in receiver.received)
    seq = {"card.opposed": 0, "card.updated": 1}
    for record in receiver.received:  # the product's message has no seq: its type says its place
        record["message"]["data"].setdefault("seq", seq[record["message"]["type"]])
    assert order_breaks(receiver.received) == 0
    assert {r["message"]["data"]["card_number"] for r in receiver.received} == {c.number for c in cards}
    assert process.poll() is None, log.read_text()


def test_three_deliverers_racing_send_each_message_once(receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "_send_task", lambda name, *args: None)  # the threads below deliver
    subscribe(receiver, ["card.opposed"])
    with transaction.atomic():
        for n in range(300):
            key = f"K{n % 60}"
            webhooks.webhooks_emit(
                event="card.opposed", card_key=key, payload={"card_number": key, "seq": n // 60}
            )
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            while not all_delivered():
                webhooks.deliveries_send(limit=25)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    ids = receiver.ids()
    assert len(ids) == 300 and len(set(ids)) == 300
    assert order_breaks(receiver.received) == 0
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}, list(
        WebhookDelivery.objects.filter(attempts__gt=1).values_list("last_error", flat=True)[:3]
    )
