"""Use cases of card production: revocation, the platform's PIN check, stations, blank stock, scheduling.

The personalization job itself is in issuance.personalization (it talks to cards); everything here is
database work that views, the API, commands and tasks call.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Q, When
from django.utils import timezone

from . import mailers, pki, tokens
from .models import (
    BlankCard,
    Card,
    CardEvent,
    Certificate,
    CertificateAuthority,
    Mailer,
    PersonalizationJob,
    Reader,
    ReaderStation,
)

log = logging.getLogger(__name__)

CARD_ISSUER = "8025000001"
PIN_TRIES = 3
STATION_ALIVE = dt.timedelta(minutes=2)
BLANK_STOCK_LOCK = 0x43505801  # "CPX" + 1: pg advisory lock key for numbering blanks


class PinBlocked(Exception):
    """Three wrong PINs in a row: only the PUK unblocks the card."""


# --- certificates ----------------------------------------------------------------------------------


def certificate_issue(
    *,
    usage: str,
    public_key: rsa.RSAPublicKey,
    holder: pki.Holder,
    valid_until: dt.date,
    card_number: str,
    ca: CertificateAuthority | None = None,
) -> Certificate:
    """Have the issuing CA certify a card key, and record the certificate (tied to the card number, so a
    blank that fails later can have its certificates found and revoked)."""
    ca = ca or pki.issuing_ca()
    cert = pki.issue_card_certificate(
        ca, usage=usage, public_key=public_key, holder=holder, valid_until=valid_until
    )
    return Certificate.objects.create(
        authority=ca,
        serial=format(cert.serial_number, "x"),
        card_number=card_number,
        usage=usage,
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        der=cert.public_bytes(serialization.Encoding.DER),
    )


# --- revocation ------------------------------------------------------------------------------------


def certificate_revoke(
    *,
    certificate: Certificate | None = None,
    card: Card | None = None,
    card_number: str = "",
    reason: str = Certificate.Reason.UNSPECIFIED,
) -> int:
    """Revoke a certificate, or every certificate of a card, and publish a fresh CRL at once.

    Idempotent: an already revoked certificate keeps its first revocation date and reason.
    Returns how many certificates this call revoked.
    """
    if reason not in Certificate.Reason.values:
        raise ValueError(f"unknown revocation reason {reason!r}")
    rows = Certificate.objects.filter(revoked_at__isnull=True)
    if certificate is not None:
        rows = rows.filter(pk=certificate.pk)
    elif card is not None:
        rows = rows.filter(Q(card=card) | Q(card_number=card.number))
    elif card_number:
        rows = rows.filter(card_number=card_number)
    else:
        raise ValueError("give a certificate, a card or a card number")
    with transaction.atomic():
        authorities = set(rows.values_list("authority_id", flat=True))
        count = rows.update(revoked_at=timezone.now(), revocation_reason=reason)
        for ca in CertificateAuthority.objects.filter(pk__in=authorities):
            pki.publish_crl(ca)
    return count


# --- the platform's PIN counter --------------------------------------------------------------------


def _station_reader(card: Card) -> tokens.Reader:
    station = card.station
    if station is None:
        raise tokens.TokenError(f"card {card.number} was not produced by a known station")
    return tokens.Reader(station.module, station.softhsm_conf)


def _pin_event(card: Card, kind: str, **detail: object) -> None:
    CardEvent.objects.create(card=card, kind=kind, detail=detail)


def card_pin_verify(*, card: Card, pin: str) -> bool:
    """Check a PIN by logging in on the card. The platform counts failures (SoftHSM2 and some middleware
    do not): three in a row block the card until the PUK resets the PIN. A correct PIN resets the count."""
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        if card.pin_blocked_at is not None:
            raise PinBlocked(card.number)
        ok = tokens.verify_pin(_station_reader(card), card.number, pin)
        card.pin_failures = 0 if ok else card.pin_failures + 1
        if card.pin_failures >= PIN_TRIES:
            card.pin_blocked_at = timezone.now()
        card.save(update_fields=["pin_failures", "pin_blocked_at", "updated_at"])
        _pin_event(card, "pin_ok" if ok else "pin_failed", failures=card.pin_failures)
        if card.pin_blocked_at:
            _pin_event(card, "pin_blocked")
    return ok


def card_pin_unblock(*, card: Card, puk: str, new_pin: str) -> bool:
    """The PUK (security officer PIN) sets a new PIN (C_InitPIN) and clears the failure count."""
    if not (new_pin.isdigit() and len(new_pin) == 4):
        raise ValueError("a PIN is 4 digits")
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        ok = tokens.reset_pin(_station_reader(card), card.number, puk, new_pin)
        if ok:
            card.pin_failures, card.pin_blocked_at = 0, None
            card.save(update_fields=["pin_failures", "pin_blocked_at", "updated_at"])
        _pin_event(card, "pin_unblocked" if ok else "puk_failed")
    return ok


def new_pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def new_puk() -> str:
    return f"{secrets.randbelow(100_000_000):08d}"


# --- letters --------------------------------------------------------------------------------------


def pin_mailer_open(*, mailer: Mailer) -> bytes:
    """The PIN mailer's PDF in clear, for the print run only (it stays sealed in the database)."""
    if mailer.kind != Mailer.Kind.PIN or mailer.content is None:
        raise ValueError("this PIN mailer was printed and purged")
    return mailers.unseal(bytes(mailer.content))


def mailer_mark_printed(*, mailer: Mailer) -> None:
    """Printed: the PIN mailer's sealed content is purged for good (the carrier letter is kept)."""
    purge = {"content": None} if mailer.kind == Mailer.Kind.PIN else {}
    Mailer.objects.filter(pk=mailer.pk).update(printed_at=timezone.now(), **purge)


# --- stations and blank stock ----------------------------------------------------------------------


def station_register(*, name: str, module: str, readers: int, softhsm_conf: str = "") -> ReaderStation:
    """Create or update a station and its readers (slots 0..readers-1). Idempotent."""
    station, _ = ReaderStation.objects.update_or_create(
        name=name, defaults={"module": module, "softhsm_conf": softhsm_conf}
    )
    for slot in range(readers):
        Reader.objects.get_or_create(station=station, slot=slot)
    return station


def softhsm_store(name: str) -> str:
    """A station's own SoftHSM2 token store (development): var/stations/<name>/softhsm2.conf + tokens/.
    One store per station, so stations never share a token directory (concurrent writers corrupt it)."""
    root = Path(getattr(settings, "CPX_STATIONS_DIR", settings.VAR_DIR / "stations")) / name
    (root / "tokens").mkdir(parents=True, exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    return str(conf)


def blank_stock_add(*, station: ReaderStation, count: int) -> list[BlankCard]:
    """Receive ``count`` blanks into the station's stock, numbered after the highest existing serial."""
    with transaction.atomic():
        # A transaction-scoped advisory lock keeps two receptions from taking the same serials.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BLANK_STOCK_LOCK])
        last = BlankCard.objects.order_by("-number").values_list("number", flat=True)
        start = int(last[0][10:]) + 1 if last else 1
        numbers = [f"{CARD_ISSUER}{serial:010d}" for serial in range(start, start + count)]
        return BlankCard.objects.bulk_create(BlankCard(station=station, number=n) for n in numbers)


def station_heartbeat(*, station: ReaderStation) -> None:
    ReaderStation.objects.filter(pk=station.pk).update(
        last_heartbeat=timezone.now(), state=ReaderStation.State.ONLINE
    )


def station_state(*, station: ReaderStation) -> str:
    """What the station is doing now: a station whose heartbeat stopped is offline, whatever it last said
    (a killed station never gets to say goodbye)."""
    if station.state == ReaderStation.State.ONLINE and (
        station.last_heartbeat is None or station.last_heartbeat < timezone.now() - STATION_ALIVE
    ):
        return ReaderStation.State.OFFLINE
    return station.state


def station_stats(*, station: ReaderStation, since_minutes: int = 60) -> dict[str, object]:
    """What an operator watches: stock, throughput over the last period, failures, readers."""
    since = timezone.now() - dt.timedelta(minutes=since_minutes)
    stock = dict(station.blanks.values_list("state").annotate(n=Count("id")))
    recent = station.jobs.filter(updated_at__gte=since)
    return {
        "name": station.name,
        "queue": station.queue,
        "state": station_state(station=station),
        "last_heartbeat": station.last_heartbeat,
        "readers": list(station.readers.order_by("slot").values("slot", "state")),
        "blanks": {state: stock.get(state, 0) for state in BlankCard.State.values},
        "cards_last_period": recent.filter(step=PersonalizationJob.Step.DONE).count(),
        "failures_last_period": recent.filter(
            step__in=[PersonalizationJob.Step.FAILED, PersonalizationJob.Step.INTERRUPTED]
        ).count(),
        "period_minutes": since_minutes,
    }


def station_choose() -> ReaderStation | None:
    """Where a job goes: among stations with blanks and not paused, those alive (a heartbeat within
    STATION_ALIVE) first, then the most available blanks. A station that is down still gets work when
    no other can take it: its queue waits for it."""
    alive_since = timezone.now() - STATION_ALIVE
    return (
        ReaderStation.objects.exclude(state=ReaderStation.State.PAUSED)
        .annotate(
            available=Count("blanks", filter=Q(blanks__state=BlankCard.State.AVAILABLE)),
            alive=Case(When(last_heartbeat__gte=alive_since, then=1), default=0),
        )
        .filter(available__gt=0)
        .order_by("-alive", "-available", "name")
        .first()
    )


def production_sweep(*, older_than: dt.timedelta = dt.timedelta(minutes=10)) -> int:
    """Hand back to production the queued orders nobody is working on (no station had blanks when they
    were queued, or the broker lost the message). Idempotent: a duplicate task finds the card made."""
    from orders.models import Order

    final = [str(step) for step in PersonalizationJob.FINAL_STEPS]
    running = PersonalizationJob.objects.exclude(step__in=final).values("order_id")
    stale = Order.objects.filter(state=Order.State.QUEUED, state_changed_at__lt=timezone.now() - older_than)
    count = 0
    for order_id in stale.exclude(pk__in=running).values_list("pk", flat=True).iterator():
        production_schedule(order_id=order_id)
        count += 1
    return count


def production_schedule(*, order_id: int) -> None:
    """Hand a queued order to a reader station (called by orders on commit when an order reaches `queued`).

    Interface contract between orders and issuance. The task goes to the chosen station's own queue;
    with no station able to take it, the order stays queued and the sweep reschedules it.
    """
    from .tasks import personalize

    station = station_choose()
    if station is None:
        log.warning("order %s: no station with blank cards; it stays queued", order_id)
        return
    personalize.apply_async(args=[order_id, station.name], queue=station.queue)


def card_validity_years(card_type: str) -> int:
    return settings.CPX_CARD_VALIDITY_YEARS.get(card_type, 3)
