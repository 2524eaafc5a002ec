"""Use cases of the outbox: write notifications, deliver them once, print the day's letters, read messages.

Guarantees, and how they are kept:

- *Never lost*: ``notify()`` writes the rows in the caller's transaction; delivery is scheduled on commit,
  and anything still pending (broker down, worker crashed, SMTP refused) is picked up by the periodic sweep.
- *Never sent twice*: a row is delivered only by whoever wins the conditional UPDATE that claims it (state
  pending, due, lease pushed forward, fresh token); the UPDATE that marks it sent also releases the claim and
  only matches the winner's token. The one window left is a worker that stalls longer than the lease
  (``CPX_NOTIFY_LEASE_SECONDS``) between handing the message to SMTP and marking it sent: keep the lease well
  above the SMTP timeout.
"""

import csv
import logging
import time as clock
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.tasks import send_task
from registry.models import Professional

from .events import EVENTS, FORBIDDEN_KEY_PARTS
from .models import Notification, PrintBatch
from .rendering import Undeliverable, postal_address, render_notification, write_letters

logger = logging.getLogger(__name__)

Channel = Notification.Channel
State = Notification.State


def notify(
    *,
    recipient: Professional,
    event: str,
    context: dict,
    dedup_key: str,
    channels: Iterable[str] | None = None,
    language: str | None = None,
) -> list[Notification]:
    """Write the notifications of one event, to be delivered once the caller's transaction commits.

    Call it inside the transaction that records the event. ``dedup_key`` names the occurrence for this
    recipient (for example ``order_approved:order:42``): calling again with the same key adds nothing, so a
    retried use case never tells anyone twice; the same key for another person is refused. ``channels``
    defaults to in-app always, e-mail when the person has an address, and a letter when they have none or
    the event is a formal notice. ``context`` is stored in clear in the database: only non-secret data
    (never a PIN, PUK or password; dates as ``*_on`` / ``*_at`` keys). Returns the rows of this key.
    """
    _check_context(event, context)
    language = language or settings.CPX_NOTIFY_DEFAULT_LANGUAGE
    if language not in Notification.Language.values:
        raise ValueError(f"no notification templates in {language!r}")
    wanted = choose_channels(recipient=recipient, event=event, channels=channels)
    rows = [_new_notification(recipient, event, context, dedup_key, channel, language) for channel in wanted]
    # ON CONFLICT DO NOTHING: a concurrent or repeated call with the same key is harmless.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    notifications = list(Notification.objects.filter(dedup_key=dedup_key, channel__in=wanted))
    if any(n.recipient_id != recipient.pk for n in notifications):
        # The key would silently swallow this person's message: a caller's bug, said loudly.
        raise ValueError(f"dedup_key {dedup_key!r} is already used for another recipient")
    pending = [n.pk for n in notifications if n.state == State.PENDING]
    if pending:
        transaction.on_commit(lambda: notification_enqueue(notification_ids=pending))
    return notifications


def choose_channels(*, recipient: Professional, event: str, channels: Iterable[str] | None) -> list[str]:
    """The channels a message goes by; an e-mail asked for someone without an address becomes a letter."""
    if channels is None:
        wanted = {Channel.IN_APP}
        wanted.add(Channel.EMAIL if recipient.email else Channel.LETTER)
        if EVENTS[event].paper:
            wanted.add(Channel.LETTER)
    else:
        wanted = {Channel(channel) for channel in channels}
        if Channel.EMAIL in wanted and not recipient.email:
            wanted = (wanted - {Channel.EMAIL}) | {Channel.LETTER}
    return sorted(wanted)


def _check_context(event: str, context: dict) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    missing = [field for field in EVENTS[event].fields if field not in context]
    if missing:
        raise ValueError(f"{event}: context lacks {', '.join(missing)}")
    if "amount" in context:
        try:
            Decimal(str(context["amount"]))
        except InvalidOperation:
            raise ValueError(f"{event}: amount {context['amount']!r} is not a decimal number")
    secret = [key for key in context if FORBIDDEN_KEY_PARTS & set(key.lower().split("_"))]
    if secret:
        raise ValueError(f"{event}: secrets do not belong in a notification ({', '.join(secret)})")


def _new_notification(
    recipient: Professional, event: str, context: dict, dedup_key: str, channel: str, language: str
) -> Notification:
    now = timezone.now()
    # An in-app message is delivered by being written: the holder sees it once the transaction commits.
    in_app = channel == Channel.IN_APP
    return Notification(
        recipient=recipient,
        event=event,
        context=context,
        dedup_key=dedup_key,
        channel=channel,
        language=language,
        state=State.SENT if in_app else State.PENDING,
        sent_at=now if in_app else None,
        next_attempt_at=now,
    )


class BrokerCircuit:
    """When the broker is down, each publish spends seconds in connection retries. After one failure this
    process stops trying for a sweep period: the rows are safe in the outbox and the sweep delivers them."""

    down_until = 0.0
    pause_seconds = 30.0


# The task that delivers one row (notifications.tasks.deliver), sent by name: the tasks call the services.
DELIVER_TASK = "notifications.deliver"


def notification_enqueue(*, notification_ids: list[int]) -> None:
    """Hand the rows to the workers. If the broker is down they stay pending and the sweep delivers them."""
    if clock.monotonic() < BrokerCircuit.down_until:
        logger.info(
            "broker recently unavailable, %s notification(s) left for the sweep", len(notification_ids)
        )
        return
    for position, notification_id in enumerate(notification_ids):
        try:
            send_task(DELIVER_TASK, notification_id, retry=False)
        except (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError) as exc:
            BrokerCircuit.down_until = clock.monotonic() + BrokerCircuit.pause_seconds
            left = len(notification_ids) - position
            logger.warning("broker unavailable, %s notification(s) left for the sweep: %s", left, exc)
            return


# --- delivery -------------------------------------------------------------------------------------------


def notification_claim(*, notification_id: int) -> uuid.UUID | None:
    """Take the row for delivery, or None if it is not pending, not due, or another worker holds it.

    One conditional UPDATE: PostgreSQL re-checks the WHERE clause on the latest row version after waiting on
    a concurrent writer, so of two workers exactly one matches. The attempt is counted at claim time so that a
    worker that crashes mid-send still uses up an attempt (a poison message cannot loop forever).
    """
    token = uuid.uuid4()
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, state=State.PENDING, next_attempt_at__lte=now
    ).update(
        claim_token=token,
        next_attempt_at=now + timedelta(seconds=settings.CPX_NOTIFY_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


def notification_deliver(*, notification_id: int) -> bool:
    """Deliver one notification if it is due and nobody else is at it; True when this call sent it."""
    token = notification_claim(notification_id=notification_id)
    if token is None:
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    try:
        outcome = _send(notification)
    except Exception as exc:  # the outside world failed (SMTP, rendering): retry later, or give up
        _record_failure(notification, token, exc)
        return False
    return _mark_sent(notification, token, **outcome)


def _send(notification: Notification) -> dict[str, str]:
    if notification.channel == Channel.EMAIL:
        _send_email(notification)
    elif notification.channel == Channel.LETTER:
        # A letter is "sent" once it is ready for the next print batch. The address is resolved now and kept,
        # so the batch prints what was checked here, whatever the registry says by then.
        render_notification(notification)
        return {"postal_address": "\n".join(postal_address(notification.recipient))}
    return {}


def _send_email(notification: Notification) -> None:
    if not notification.recipient.email:
        raise Undeliverable(f"{notification.recipient.national_id} has no e-mail address")
    rendered = render_notification(notification)
    EmailMessage(
        subject=rendered.subject,
        body=rendered.body,
        to=[notification.recipient.email],
        headers={"X-CPx-Notification": str(notification.pk), "X-CPx-Event": notification.event},
    ).send()


def _mark_sent(notification: Notification, token: uuid.UUID, **fields: str) -> bool:
    # Marking sent and releasing the claim are one UPDATE, guarded by the token: a worker whose lease ran out
    # and was overtaken cannot overwrite the winner's outcome.
    done = Notification.objects.filter(pk=notification.pk, claim_token=token).update(
        state=State.SENT, sent_at=timezone.now(), claim_token=None, last_error="", **fields
    )
    if not done:
        logger.error(
            "notification %s: lease expired while sending; it may have gone out twice", notification.pk
        )
    return bool(done)


def _record_failure(notification: Notification, token: uuid.UUID, exc: Exception) -> None:
    permanent = isinstance(exc, Undeliverable) or notification.attempts >= settings.CPX_NOTIFY_MAX_ATTEMPTS
    error = f"{type(exc).__name__}: {exc}"[:2000]
    Notification.objects.filter(pk=notification.pk, claim_token=token).update(
        state=State.FAILED if permanent else State.PENDING,
        next_attempt_at=timezone.now() + backoff(notification.attempts),
        last_error=error,
        claim_token=None,
    )
    log = logger.error if permanent else logger.warning
    log(
        "notification %s attempt %s failed%s: %s",
        notification.pk,
        notification.attempts,
        " permanently" if permanent else "",
        error,
    )


def backoff(attempts: int) -> timedelta:
    """Exponential back-off after the n-th failed attempt: base, 2×base, 4×base, ... capped."""
    seconds = settings.CPX_NOTIFY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.CPX_NOTIFY_BACKOFF_MAX_SECONDS))


def notifications_sweep(*, limit: int | None = None) -> int:
    """Deliver what is pending and due (lost task, broker outage, retry time); returns how many went out.

    Rows are delivered through the same claim as the task, so the sweep and the workers never both send one.
    """
    due = (
        Notification.objects.filter(state=State.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: limit or settings.CPX_NOTIFY_SWEEP_BATCH]
    )
    return sum(notification_deliver(notification_id=pk) for pk in list(due))


def notification_retry(*, notification_id: int) -> bool:
    """An operator sends a permanently failed message again (after fixing an address, say)."""
    return bool(
        Notification.objects.filter(pk=notification_id, state=State.FAILED).update(
            state=State.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
    )


# --- the daily print batch ------------------------------------------------------------------------------


def print_batch_build(*, day: date) -> PrintBatch:
    """Gather every letter made ready up to the end of ``day`` and not yet printed into that day's batch.

    The letters are attached to the batch by one set-based UPDATE in the transaction that writes the files,
    so a letter lands in exactly one batch, and running the task again for the same day changes nothing.
    """
    with transaction.atomic():
        batch, created = PrintBatch.objects.select_for_update().get_or_create(day=day)
        if not created:
            return batch
        end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
        batch.letter_count = Notification.objects.filter(
            channel=Channel.LETTER, state=State.SENT, print_batch__isnull=True, sent_at__lt=end
        ).update(print_batch=batch)
        _write_batch_files(batch)
        batch.save(update_fields=["letter_count", "pdf_path", "manifest_path"])
    return batch


def _write_batch_files(batch: PrintBatch) -> None:
    folder = Path(settings.MEDIA_ROOT) / "letters" / batch.day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    letters = batch.letters.select_related("recipient").order_by("pk")
    with open(folder / "letters.pdf", "wb") as out:
        write_letters(out, letters.iterator(chunk_size=500))
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["page", "national_id", "name", "event", "notification_id"])
        for page, letter in enumerate(letters.iterator(chunk_size=500), start=1):
            writer.writerow(
                [page, letter.recipient.national_id, letter.recipient.full_name, letter.event, letter.pk]
            )
    batch.pdf_path = str(folder / "letters.pdf")
    batch.manifest_path = str(folder / "manifest.csv")


# --- in-app messages ------------------------------------------------------------------------------------


def inbox(*, professional: Professional | None) -> QuerySet[Notification]:
    """The in-app messages of one person, newest first (nothing for an account that is not a person)."""
    if professional is None:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=professional, channel=Channel.IN_APP, state=State.SENT)


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark an in-app message read; reading it again keeps the first reading time."""
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    notification.refresh_from_db(fields=["read_at"])
    return notification


def inbox_mark_all_read(*, professional: Professional) -> int:
    return inbox(professional=professional).filter(read_at__isnull=True).update(read_at=timezone.now())
