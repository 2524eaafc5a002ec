"""Webhooks (notifications.webhooks): written in the caller's transaction, signed as Standard Webhooks, sent
in order per card, retried with back-off, failed for good after the last attempt, sent again by an operator.

A real receiver (``bench.bench_webhooks.Receiver``: http.server on 127.0.0.1) checks each signature as a
relying party would. The delivery functions the Celery tasks call are called here directly; the worker test
(test_webhooks_worker.py) runs them in a real worker.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditRecord
from bench.bench_webhooks import Receiver, order_breaks, verify
from cards import services as card_services
from cards.models import Card
from core.errors import InvalidInput
from lifecycle.opposition import card_declare_opposition
from notifications import tasks, webhooks
from notifications.models import WebhookDelivery, WebhookSubscription
from tests.factories import persona
from tests.lifecycle.conftest import card_of_an_order, tariff  # noqa: F401 (fixture)
from tests.pki.conftest import ca_keys, hierarchy, pem_files, pki_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
State = WebhookDelivery.State


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = True
    settings.CPX_WEBHOOK_BACKOFF_SECONDS = 10
    settings.CPX_WEBHOOK_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture(autouse=True)
def handed_off(monkeypatch) -> list[tuple]:
    """The tasks asked for on commit, recorded (never put on the shared broker)."""
    sent: list[tuple] = []
    monkeypatch.setattr(webhooks, "_send_task", lambda name, *args: sent.append((name, *args)))
    return sent


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def subscribed(receiver):
    """A relying party subscribed to every event, its receiver knowing the secret."""
    subscription, secret = webhooks.subscription_create(
        name="Hôpital Nord",
        url=receiver.url,
        events=["card.opposed", "card.revoked", "card.updated"],
        actor="t",
    )
    receiver.secret = secret
    return subscription


def make_due() -> None:
    """The back-off waited out."""
    WebhookDelivery.objects.filter(state=State.PENDING).update(next_attempt_at=timezone.now())


# --- signatures ---------------------------------------------------------------------------------------------


def test_the_signature_is_the_standards_reference_example():
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = webhooks.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_secret_is_32_random_bytes_and_each_subscription_has_its_own(receiver):
    first, secret = webhooks.subscription_create(
        name="a", url=receiver.url, events=["card.opposed"], actor="t"
    )
    _second, other = webhooks.subscription_create(
        name="b", url=receiver.url, events=["card.opposed"], actor="t"
    )
    assert secret.startswith("whsec_") and len(webhooks.base64.b64decode(secret[6:])) == 32
    assert secret != other and first.secret == secret


# --- emission: the outbox -----------------------------------------------------------------------------------


def test_emit_writes_a_message_per_active_subscriber_of_the_event(receiver, subscribed):
    other, _ = webhooks.subscription_create(
        name="x", url=receiver.url, events=["holder.struck_off"], actor="t"
    )
    gone, _ = webhooks.subscription_create(name="y", url=receiver.url, events=["card.opposed"], actor="t")
    webhooks.subscription_deactivate(subscription=gone, actor="t")

    ids = webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={"card_number": "C1"})

    rows = list(WebhookDelivery.objects.filter(pk__in=ids))
    assert [r.subscription_id for r in rows] == [subscribed.pk]
    assert rows[0].message_id.startswith("msg_") and rows[0].state == State.PENDING


def test_a_rolled_back_change_writes_no_message_and_asks_for_no_delivery(subscribed, handed_off):
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={})
        raise RuntimeError
    assert not WebhookDelivery.objects.exists()
    assert handed_off == []


def test_the_delivery_is_asked_for_once_the_change_commits(
    subscribed, handed_off, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ids = webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={})
        assert handed_off == []
    assert handed_off == [(webhooks.DELIVER_TASK, ids)]


def test_an_unknown_event_is_refused():
    with pytest.raises(ValueError):
        webhooks.webhooks_emit(event="card.lost", card_key="C1", payload={})


def test_bulk_emission_writes_a_message_per_row_and_subscriber_in_the_rows_order(
    receiver, subscribed, handed_off, django_capture_on_commit_callbacks
):
    second, _ = webhooks.subscription_create(name="z", url=receiver.url, events=["card.revoked"], actor="t")
    source = (
        "SELECT 'K' || n, jsonb_build_object('card_number', 'K' || n, 'seq', n) FROM generate_series(1, %s) n"
    )
    with django_capture_on_commit_callbacks(execute=True), connection.cursor() as cursor:
        written = webhooks.webhooks_emit_bulk(
            cursor=cursor, event="card.revoked", source_sql=source, params=[3]
        )
    assert written == 6
    rows = list(WebhookDelivery.objects.order_by("id").values_list("subscription_id", "card_key", "payload"))
    assert rows[:2] == [(subscribed.pk, "K1", {"card_number": "K1", "seq": 1}), (second.pk, "K1", rows[1][2])]
    assert [r[1] for r in rows] == ["K1", "K1", "K2", "K2", "K3", "K3"]
    assert handed_off == [(webhooks.SWEEP_TASK,)]
    assert len(set(WebhookDelivery.objects.values_list("message_id", flat=True))) == 6


# --- delivery -----------------------------------------------------------------------------------------------


def test_a_message_arrives_signed_with_the_standards_headers_and_body(receiver, subscribed):
    webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={"card_number": "C1", "seq": 0})

    assert tasks.webhooks_sweep() == 1

    [record] = receiver.received
    delivery = WebhookDelivery.objects.get()
    assert record["valid"] and record["id"] == delivery.message_id
    assert record["message"] == {
        "type": "card.opposed",
        "timestamp": delivery.created_at.isoformat(),
        "data": {"card_number": "C1", "seq": 0},
    }
    assert (delivery.state, delivery.attempts, delivery.last_status) == (State.DELIVERED, 1, 200)
    assert delivery.delivered_at is not None


def test_a_signature_made_with_another_secret_does_not_verify(receiver, subscribed):
    receiver.secret = webhooks.new_secret()
    webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={"card_number": "C1", "seq": 0})
    tasks.webhooks_sweep()
    assert [r["valid"] for r in receiver.received] == [False]


def test_messages_of_one_card_go_out_in_order_and_others_are_not_held_back(receiver, subscribed):
    for seq in range(3):
        for card in ("A", "B"):
            webhooks.webhooks_emit(
                event="card.updated", card_key=card, payload={"card_number": card, "seq": seq}
            )

    # One round claims only the first message of each card: the next waits for it to be delivered.
    assert webhooks.deliveries_send() == 2
    assert sorted(r["message"]["data"]["card_number"] for r in receiver.received) == ["A", "B"]
    webhooks.webhooks_sweep()
    assert len(receiver.received) == 6 and order_breaks(receiver.received) == 0


def test_a_failed_attempt_backs_off_then_fails_for_good_and_holds_back_its_card(receiver, subscribed):
    receiver.status = 503
    webhooks.webhooks_emit(event="card.opposed", card_key="A", payload={"card_number": "A", "seq": 0})
    webhooks.webhooks_emit(event="card.updated", card_key="A", payload={"card_number": "A", "seq": 1})
    first, second = WebhookDelivery.objects.order_by("id")

    before = timezone.now()
    webhooks.webhooks_sweep()
    first.refresh_from_db()
    assert (first.state, first.attempts, first.last_status) == (State.PENDING, 1, 503)
    assert "HTTP 503" in first.last_error
    assert first.next_attempt_at >= before + dt.timedelta(seconds=10)
    assert webhooks.webhooks_sweep() == 0  # not due yet

    for _attempt in range(2):
        make_due()
        webhooks.webhooks_sweep()
    first.refresh_from_db()
    assert (first.state, first.attempts) == (State.FAILED, 3)
    assert webhooks.backoff(2) == dt.timedelta(seconds=20)

    # The receiver is back: card B goes out; card A's second message waits behind the failed first.
    receiver.status = 200
    webhooks.webhooks_emit(event="card.opposed", card_key="B", payload={"card_number": "B", "seq": 0})
    other = WebhookDelivery.objects.get(card_key="B")
    make_due()
    webhooks.webhooks_sweep()
    assert [r["id"] for r in receiver.received] == [other.message_id]
    second.refresh_from_db()
    assert second.state == State.PENDING

    # An operator sends the failed one again: it goes, then the one behind it, in order.
    ans = persona("ans_operator")
    assert webhooks.delivery_retry(delivery=first, actor=ans)
    assert not webhooks.delivery_retry(delivery=first, actor=ans)  # no longer failed
    webhooks.webhooks_sweep()
    assert [r["id"] for r in receiver.received] == [other.message_id, first.message_id, second.message_id]
    assert AuditRecord.objects.filter(action="webhook_delivery.retried").count() == 1


def test_a_receiver_that_is_down_is_tried_again_and_gets_each_message_once(receiver, subscribed):
    receiver.stop()
    for n in range(4):
        webhooks.webhooks_emit(
            event="card.opposed", card_key=f"C{n}", payload={"card_number": f"C{n}", "seq": 0}
        )
    assert webhooks.webhooks_sweep() == 0
    assert set(WebhookDelivery.objects.values_list("state", "attempts")) == {(State.PENDING, 1)}
    assert "ConnectionError" in WebhookDelivery.objects.first().last_error

    receiver.start()
    make_due()
    assert webhooks.webhooks_sweep() == 4
    assert webhooks.webhooks_sweep() == 0
    assert sorted(receiver.ids()) == sorted(WebhookDelivery.objects.values_list("message_id", flat=True))


def test_a_redirect_is_a_failure_and_is_never_followed(receiver, subscribed):
    receiver.status = 302
    receiver.location = receiver.url.replace("/hook", "/elsewhere")
    webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={"card_number": "C1", "seq": 0})
    webhooks.webhooks_sweep()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status) == (State.PENDING, 302)
    assert receiver.hits == {"/hook": 1}


def test_the_delivery_task_sends_only_what_it_is_given_and_then_the_next_of_its_card(
    receiver, subscribed, handed_off
):
    ids = [
        webhooks.webhooks_emit(event="card.updated", card_key="A", payload={"card_number": "A", "seq": n})[0]
        for n in range(2)
    ]
    webhooks.webhooks_emit(event="card.updated", card_key="B", payload={"card_number": "B", "seq": 0})
    assert tasks.webhooks_deliver(ids) == 1  # the second waits for the first
    assert handed_off == [(webhooks.DELIVER_TASK, [ids[1]])]  # ... and is asked for as soon as it went
    assert tasks.webhooks_deliver([ids[1]]) == 1
    assert [r["message"]["data"]["seq"] for r in receiver.received] == [0, 1]


# --- endpoints ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "local_http", "allowed"),
    [
        ("https://rp.example.fr/hooks", False, True),
        ("http://rp.example.fr/hooks", True, False),
        ("http://127.0.0.1:8000/hook", True, True),
        ("http://localhost/hook", True, True),
        ("http://127.0.0.1:8000/hook", False, False),
        ("https://user:pw@rp.example.fr/", False, False),
        ("ftp://rp.example.fr/", True, False),
        ("rp.example.fr", True, False),
        # A relying party is on the internet: never this machine nor a private network over https.
        ("https://127.0.0.1/hook", False, False),
        ("https://localhost/hook", False, False),
        ("https://10.1.2.3/hook", False, False),
        ("https://192.168.0.10/hook", False, False),
        ("https://169.254.169.254/latest/meta-data/", False, False),
        ("https://[::1]/hook", False, False),
        ("https://[fd00::1]/hook", False, False),
        ("https://127.0.0.1:8443/hook", True, True),  # development: this machine where allowed
        ("https://93.184.216.34/hook", False, True),
    ],
)
def test_an_endpoint_must_be_https_but_for_this_machine_where_allowed(settings, url, local_http, allowed):
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = local_http
    if allowed:
        assert webhooks.url_check(url) == url
    else:
        with pytest.raises(InvalidInput):
            webhooks.url_check(url)


def test_an_endpoint_no_longer_allowed_is_not_posted_to(settings, receiver, subscribed):
    webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={})
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = False
    webhooks.webhooks_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.PENDING and "https" in delivery.last_error
    assert receiver.hits == {}


def test_a_subscription_needs_a_name_and_known_events(receiver):
    with pytest.raises(InvalidInput):
        webhooks.subscription_create(name="x", url=receiver.url, events=[], actor="t")
    with pytest.raises(InvalidInput):
        webhooks.subscription_create(name="x", url=receiver.url, events=["card.lost"], actor="t")
    with pytest.raises(InvalidInput):
        webhooks.subscription_create(name=" ", url=receiver.url, events=["card.opposed"], actor="t")
    assert not WebhookSubscription.objects.exists()


def test_creation_and_deactivation_are_audited_without_the_secret(receiver):
    subscription, secret = webhooks.subscription_create(
        name="a", url=receiver.url, events=["card.opposed"], actor="t"
    )
    assert webhooks.subscription_deactivate(subscription=subscription, actor="t")
    assert not webhooks.subscription_deactivate(subscription=subscription, actor="t")
    rows = list(
        AuditRecord.objects.filter(object_type="webhook_subscription").values_list("action", "detail")
    )
    assert [r[0] for r in rows] == ["webhook_subscription.created", "webhook_subscription.deactivated"]
    assert secret not in json.dumps([r[1] for r in rows])


# --- what the product emits ---------------------------------------------------------------------------------


def test_oppositions_and_revocations_tell_the_relying_parties(receiver, subscribed, hierarchy):  # noqa: F811
    opposed, damaged = card_of_an_order(), card_of_an_order()
    holder = persona("holder", professional=opposed.professional)
    card_declare_opposition(card=opposed, reason="lost", actor=holder, channel="online")
    card_declare_opposition(
        card=damaged,
        reason="damaged",
        actor=persona("holder", professional=damaged.professional),
        channel="online",
    )

    webhooks.webhooks_sweep()

    messages = {r["message"]["data"]["card_number"]: r["message"] for r in receiver.received}
    assert all(r["valid"] for r in receiver.received)
    assert messages[opposed.number]["type"] == "card.opposed"
    assert messages[opposed.number]["data"]["state"] == Card.State.OPPOSED
    assert messages[opposed.number]["data"]["reason"] == "keyCompromise"
    assert messages[opposed.number]["data"]["holder"] == {"national_id": opposed.professional.national_id}
    assert messages[damaged.number]["type"] == "card.revoked"
    assert set(WebhookDelivery.objects.values_list("card_key", flat=True)) == {opposed.number, damaged.number}


def test_a_card_revoked_directly_is_told_too(receiver, subscribed, hierarchy):  # noqa: F811
    from orders.services import system_user

    card = card_of_an_order()
    with transaction.atomic():
        card_services.card_revoke(
            card=card_services.card_lock(card), actor=system_user(), crl_reason="superseded"
        )
    webhooks.webhooks_sweep()
    [record] = receiver.received
    assert record["message"]["type"] == "card.revoked" and record["message"]["data"]["reason"] == "superseded"


def test_verify_refuses_a_stale_timestamp():
    secret = webhooks.new_secret()
    old = int(timezone.now().timestamp()) - 3600
    header = webhooks.signature(secret, "msg_1", old, b"{}")
    assert not verify(secret, "msg_1", str(old), b"{}", header)


def test_e_cps_revoked_for_a_struck_off_holder_are_told_keyed_by_the_holder(receiver):
    from ecps import services as ecps_services
    from registry.models import Professional
    from tests.ecps.helpers import ecps_row, rpps_doctor

    subscription, receiver.secret = webhooks.subscription_create(
        name="RP", url=receiver.url, events=["ecps.revoked"], actor="t"
    )
    exercise = rpps_doctor()
    ecps = ecps_row(exercise)
    Professional.objects.filter(pk=exercise.professional_id).update(is_active=False)
    assert ecps_services.ecps_revoke_for_inactive_holders() == 1

    webhooks.webhooks_sweep()
    [record] = receiver.received
    national_id = exercise.professional.national_id
    assert record["valid"] and record["message"]["type"] == "ecps.revoked"
    assert record["message"]["data"]["ecps_id"] == ecps.pk
    assert record["message"]["data"]["holder"] == {"national_id": national_id}
    assert record["message"]["data"]["reason"] == "holder_inactive"
    assert WebhookDelivery.objects.get().card_key == national_id


def test_a_card_made_after_a_change_of_situation_is_told_as_updated(receiver, subscribed):
    from orders.models import Order
    from orders.services import order_mark_produced
    from tests.factories import ActivityFactory, CardFactory, OrderFactory

    old = card_of_an_order()
    written = {"profession": {"code": "10"}, "situations": [{"structure": "R1"}]}
    new = CardFactory(exercise=old.exercise, state=Card.State.PERSONALIZED, written=written)
    update = OrderFactory(
        exercise=old.exercise, kind=Order.Kind.UPDATE, state=Order.State.IN_PRODUCTION, replaces=old
    )
    order_mark_produced(order=update, card=new)
    elsewhere = ActivityFactory().exercise
    first = OrderFactory(exercise=elsewhere, state=Order.State.IN_PRODUCTION)
    order_mark_produced(order=first, card=CardFactory(exercise=elsewhere, state=Card.State.PERSONALIZED))
    # ... a first card is not an update: nothing told of it

    webhooks.webhooks_sweep()
    [record] = receiver.received
    assert record["message"]["type"] == "card.updated"
    data = record["message"]["data"]
    assert (data["card_number"], data["replaces"], data["written"]) == (new.number, old.number, written)
    assert data["order_id"] == update.pk and data["state"] == "personalized"
