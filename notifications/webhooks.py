"""Relying parties told at once: webhooks signed as Standard Webhooks (https://www.standardwebhooks.com).

Guarantees, and how they are kept:

- *Never lost*: ``webhooks_emit`` / ``webhooks_emit_bulk`` write one ``WebhookDelivery`` per subscription in
  the caller's transaction (the outbox); delivery is asked for on commit, and whatever is still pending
  (broker down, receiver down, a crashed worker) is taken again by the periodic sweep.
- *In order per card*: a message is claimed only when no earlier undelivered message (pending or failed)
  exists for the same subscription and card key. A failed message therefore holds back the later ones of its
  card until an operator sends it again: a relying party never learns "updated" before "opposed". The order
  is the messages' ids, so callers emit under the lock that orders their events (a card's transitions run on
  its locked row: ``cards.services.card_lock``).
- *Never sent twice by two workers*: claims lock the rows ``FOR UPDATE SKIP LOCKED`` (workers never wait on
  each other, nor take the same row) and push ``next_attempt_at`` forward by a lease with a fresh token; only
  the token's holder records the outcome. The window left is a worker stalled longer than the lease
  (``CPX_WEBHOOK_LEASE_SECONDS``) between the receiver's answer and its record: keep the lease well above the
  timeouts. A receiver may still see a message twice if its answer is lost on the way back (at least once,
  as the standard says): ``webhook-id`` is the same every time, for it to deduplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import kombu.exceptions
import redis.exceptions
import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import log
from core.errors import InvalidInput
from core.tasks import send_task

from .models import WebhookDelivery, WebhookEvent, WebhookSubscription
from .services import BrokerCircuit  # the outbox's: one breaker per process for every hand-off

logger = logging.getLogger(__name__)

State = WebhookDelivery.State
DELIVER_TASK = "notifications.webhooks_deliver"  # notifications.tasks.webhooks_deliver(ids)
SWEEP_TASK = "notifications.webhooks_sweep"
LOCAL_HOSTS = {"localhost"}


# --- subscriptions ---------------------------------------------------------------------------------------


def new_secret() -> str:
    """A Standard Webhooks signing key: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def url_check(url: str) -> str:
    """The endpoint, or ``InvalidInput``: https, or plain http to this machine where allowed (development,
    tests: ``CPX_WEBHOOK_ALLOW_LOCAL_HTTP``). Checked at creation and again before every send."""
    parts = urlsplit(url.strip())
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput(
            _("Give the endpoint's full address (https://…), without credentials."), field="url"
        )
    local_allowed = settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP and _is_local(parts.hostname)
    if parts.scheme == "https" and (local_allowed or not _internal(parts.hostname)):
        return url.strip()
    if parts.scheme == "https":
        # A relying party is on the internet: an endpoint on this machine or its private network would
        # make the platform's workers post wherever an operator's typo (or a forged form) points.
        raise InvalidInput(_("The endpoint must be a public address, not a private network's."), field="url")
    if parts.scheme == "http" and local_allowed:
        return url.strip()
    raise InvalidInput(_("The endpoint must use https."), field="url")


def _internal(host: str) -> bool:
    """Whether ``host`` is, or resolves to, an address that is not a public one (loopback, private,
    link-local, multicast, reserved). A name that does not resolve here is not refused: its delivery fails
    and is retried like any unreachable endpoint."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    return any(not address.is_global for address in addresses)


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def subscription_create(
    *, name: str, url: str, events: Sequence[str], actor: Any
) -> tuple[WebhookSubscription, str]:
    """A new subscription; returns it and its signing secret, to be shown this once."""
    unknown = set(events) - set(WebhookEvent.values)
    if not events or unknown:
        raise InvalidInput(_("Choose at least one event among those offered."), field="events")
    if not name.strip():
        raise InvalidInput(_("Give the subscription a name."), field="name")
    secret = new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=name.strip()[:200],
            url=url_check(url),
            events=sorted(set(events)),
            secret=secret,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        _audit("webhook_subscription.created", subscription, actor, url=subscription.url, events=events)
    return subscription, secret


def subscription_deactivate(*, subscription: WebhookSubscription, actor: Any) -> bool:
    """No new message for it (those already written still go out); False if it was already inactive."""
    with transaction.atomic():
        changed = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(active=False)
        if changed:
            _audit("webhook_subscription.deactivated", subscription, actor)
    return bool(changed)


def delivery_retry(*, delivery: WebhookDelivery, actor: Any) -> bool:
    """An operator sends a failed message again (the receiver fixed): attempts start over."""
    with transaction.atomic():
        changed = WebhookDelivery.objects.filter(pk=delivery.pk, state=State.FAILED).update(
            state=State.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        if changed:
            _audit("webhook_delivery.retried", delivery.subscription, actor, message_id=delivery.message_id)
            transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=[delivery.pk]))
    return bool(changed)


def _audit(action: str, subscription: WebhookSubscription, actor: Any, **detail: Any) -> None:
    log.append(
        action,
        actor=actor,
        object_type="webhook_subscription",
        object_id=subscription.pk,
        detail={"name": subscription.name, **detail},
    )


# --- emission: the outbox --------------------------------------------------------------------------------


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def webhooks_emit(*, event: str, card_key: str, payload: dict[str, Any]) -> list[int]:
    """Write the message of ``event`` for every active subscription to it, in the caller's transaction;
    sent once it commits. ``payload`` is the message's ``data`` (JSON-able; never a secret). Returns the
    messages' ids (none when nobody subscribes)."""
    return webhooks_emit_many(event=event, messages=[(card_key, payload)])


# One statement whatever the number of messages and subscribers: (card key, payload) pairs in their order,
# times the active subscriptions to the event.
INSERT_MANY = """
INSERT INTO notifications_webhookdelivery
    (subscription_id, event, message_id, card_key, payload, state, attempts, next_attempt_at, last_error,
     created_at)
SELECT s.id, %s, 'msg_' || replace(gen_random_uuid()::text, '-', ''), m.card_key, m.payload::jsonb,
       'pending', 0, %s, '', %s
FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS m (card_key, payload, n)
JOIN notifications_webhooksubscription s ON s.active AND %s = ANY (s.events)
ORDER BY m.n, s.id
RETURNING id
"""


def webhooks_emit_many(*, event: str, messages: Sequence[tuple[str, dict[str, Any]]]) -> list[int]:
    """``webhooks_emit`` for a few messages at once (an e-CPS revocation's chunk, say), in one statement."""
    WebhookEvent(event)  # an unknown event is a caller's bug, said loudly
    if not messages:
        return []
    now = timezone.now()
    keys = [key for key, _payload in messages]
    payloads = [json.dumps(payload, cls=DjangoJSONEncoder) for _key, payload in messages]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_MANY, [event, now, now, keys, payloads, event])
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=ids))
    return ids


INSERT_BULK = """
INSERT INTO notifications_webhookdelivery
    (subscription_id, event, message_id, card_key, payload, state, attempts, next_attempt_at, last_error,
     created_at)
SELECT s.id, %s, 'msg_' || replace(gen_random_uuid()::text, '-', ''), src.card_key, src.payload,
       'pending', 0, %s, '', %s
FROM (SELECT card_key, payload, row_number() OVER () AS n FROM ({source}) AS given (card_key, payload)) src
JOIN notifications_webhooksubscription s ON s.active AND %s = ANY (s.events)
ORDER BY src.n, s.id
"""


def webhooks_emit_bulk(*, cursor: Any, event: str, source_sql: str, params: Sequence[Any] = ()) -> int:
    """``webhooks_emit`` for many at once: ``source_sql`` (run with ``params`` on the caller's ``cursor``,
    in its transaction) yields ``card_key text, payload jsonb``; one INSERT ... SELECT writes a message per
    row and subscription, in the rows' order. Returns how many; the sweep task is sent on commit."""
    WebhookEvent(event)
    now = timezone.now()
    cursor.execute(INSERT_BULK.format(source=source_sql), [event, now, now, *params, event])
    written = max(cursor.rowcount, 0)
    if written:
        transaction.on_commit(webhooks_sweep_enqueue)
    return written


def deliveries_enqueue(*, delivery_ids: list[int]) -> None:
    """Ask a worker to send these; if the broker is down they stay pending for the sweep."""
    _send_task(DELIVER_TASK, delivery_ids)


def webhooks_sweep_enqueue() -> None:
    _send_task(SWEEP_TASK)


def _send_task(name: str, *args: Any) -> None:
    if time.monotonic() < BrokerCircuit.down_until:
        return
    try:
        send_task(name, *args, retry=False)
    except (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError) as exc:
        BrokerCircuit.down_until = time.monotonic() + BrokerCircuit.pause_seconds
        logger.warning("broker unavailable, webhooks left for the sweep: %s", exc)


# --- delivery --------------------------------------------------------------------------------------------

# The due messages that are first of their (subscription, card key) among the undelivered ones, locked
# without waiting (another worker's claim is skipped, never waited for), then leased to this worker.
CLAIM = """
WITH due AS (
    SELECT d.id FROM notifications_webhookdelivery d
    WHERE d.state = 'pending' AND d.next_attempt_at <= %s {only}
      AND NOT EXISTS (
          SELECT 1 FROM notifications_webhookdelivery e
          WHERE e.subscription_id = d.subscription_id AND e.card_key = d.card_key
            AND e.id < d.id AND e.state <> 'delivered')
    ORDER BY d.next_attempt_at, d.id
    LIMIT %s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE notifications_webhookdelivery w
SET next_attempt_at = %s, attempts = w.attempts + 1, claim_token = %s
FROM due WHERE w.id = due.id
RETURNING w.id
"""


def deliveries_claim(*, limit: int, only: Sequence[int] | None = None) -> tuple[uuid.UUID, list[int]]:
    """Lease up to ``limit`` due messages (among ``only`` if given) to this call: its token and their ids.
    The attempt is counted at claim time, so a worker that dies mid-send still uses one up."""
    token, now = uuid.uuid4(), timezone.now()  # the application's clock, as for every other due time
    where = "AND d.id = ANY (%s)" if only is not None else ""
    params: list[Any] = [now, *([list(only)] if only is not None else []), limit]
    lease = now + timedelta(seconds=settings.CPX_WEBHOOK_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLAIM.format(only=where), [*params, lease, str(token)])
        ids = sorted(row[0] for row in cursor.fetchall())
    return token, ids


@dataclass
class Outcome:
    delivery_id: int
    status: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def deliveries_send(*, delivery_ids: Sequence[int] | None = None, limit: int | None = None) -> int:
    """Claim and send one batch of due messages (those of ``delivery_ids`` only, if given), their POSTs in
    parallel (a batch holds at most one message per card key, so order is kept). Returns how many were
    delivered; the next message of each delivered card key is sent for at once."""
    token, ids = deliveries_claim(limit=limit or settings.CPX_WEBHOOK_BATCH, only=delivery_ids)
    if not ids:
        return 0
    deliveries = list(WebhookDelivery.objects.filter(pk__in=ids).select_related("subscription"))
    with ThreadPoolExecutor(max_workers=max(1, min(settings.CPX_WEBHOOK_THREADS, len(deliveries)))) as pool:
        outcomes = list(pool.map(_attempt, deliveries))
    _record(token, deliveries, outcomes)
    delivered = [d for d, o in zip(deliveries, outcomes, strict=True) if o.delivered]
    _send_successors(delivered)
    return len(delivered)


def webhooks_sweep(*, max_batches: int = 50) -> int:
    """Send what is due, batch after batch, until nothing is left (or ``max_batches``): the periodic
    safety net, and the task a bulk emission asks for. Returns how many were delivered."""
    delivered = 0
    for _batch in range(max_batches):
        sent = deliveries_send()
        delivered += sent
        if not sent:
            break
    return delivered


def _attempt(delivery: WebhookDelivery) -> Outcome:
    try:
        url = url_check(delivery.subscription.url)
        body = message_body(delivery)
        headers = sign(delivery.subscription.secret, delivery.message_id, int(time.time()), body)
        response = _session().post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "CPx-Webhooks/1", **headers},
            timeout=(settings.CPX_WEBHOOK_CONNECT_TIMEOUT, settings.CPX_WEBHOOK_READ_TIMEOUT),
            allow_redirects=False,  # a redirect is a failure: a message goes only where it was told to
        )
    except (requests.RequestException, InvalidInput) as exc:
        return Outcome(delivery.pk, None, f"{type(exc).__name__}: {exc}"[:2000])
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}: {response.text[:500]}"
    response.close()
    return Outcome(delivery.pk, response.status_code, error)


_local = threading.local()


def _session() -> requests.Session:
    """One connection pool per thread (the receiver's connection kept alive between messages)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = False  # no proxy from the environment, no .netrc credentials
    return session


def message_body(delivery: WebhookDelivery) -> bytes:
    """The message as the standard lays it out: ``type``, ``timestamp`` (when it happened), ``data``. The
    same bytes on every attempt."""
    message = {"type": delivery.event, "timestamp": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(message, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed by the secret's base64 part."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def _record(token: uuid.UUID, deliveries: list[WebhookDelivery], outcomes: list[Outcome]) -> None:
    """The outcomes, in one transaction; each UPDATE matches only rows still leased to this token."""
    now = timezone.now()
    with transaction.atomic():
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            rows = WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token)
            if outcome.delivered:
                done = rows.update(
                    state=State.DELIVERED,
                    delivered_at=now,
                    last_status=outcome.status,
                    last_error="",
                    claim_token=None,
                )
            else:
                done = rows.update(**_failure(delivery, outcome, now))
            if not done:
                logger.error("webhook %s: lease ran out while sending; it may go twice", delivery.message_id)


def _failure(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> dict[str, Any]:
    permanent = delivery.attempts >= settings.CPX_WEBHOOK_MAX_ATTEMPTS  # read after the claim counted it
    if permanent:
        logger.error("webhook %s failed for good: %s", delivery.message_id, outcome.error)
    return {
        "state": State.FAILED if permanent else State.PENDING,
        "next_attempt_at": now + backoff(delivery.attempts),
        "last_status": outcome.status,
        "last_error": outcome.error,
        "claim_token": None,
    }


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: base, 2×base, 4×base, ... capped."""
    seconds = settings.CPX_WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.CPX_WEBHOOK_BACKOFF_MAX_SECONDS))


def _send_successors(delivered: list[WebhookDelivery]) -> None:
    """The next pending message of each card key just delivered, sent for now rather than at the sweep."""
    if not delivered:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (d.subscription_id, d.card_key) d.id
            FROM notifications_webhookdelivery d
            JOIN unnest(%s::bigint[], %s::text[]) AS k (subscription_id, card_key)
              ON d.subscription_id = k.subscription_id AND d.card_key = k.card_key
            WHERE d.state = 'pending'
            ORDER BY d.subscription_id, d.card_key, d.id
            """,
            [[d.subscription_id for d in delivered], [d.card_key for d in delivered]],
        )
        following = [row[0] for row in cursor.fetchall()]
    if following:
        deliveries_enqueue(delivery_ids=following)


# --- what the messages say ------------------------------------------------------------------------------


def card_payload(card: Any, **extra: Any) -> dict[str, Any]:
    """The ``data`` of a card's message: what the national directory publishes of it, and its holder."""
    return {
        "card_number": card.number,
        "card_type": card.card_type,
        "state": str(card.state),
        "valid_from": card.valid_from,
        "valid_until": card.valid_until,
        "holder": {"national_id": card.professional.national_id},
        **extra,
    }
