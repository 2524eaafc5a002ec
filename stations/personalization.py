"""The personalization job: one order, one blank card, one reader, from blank to a recorded card.

Steps, each committed as a checkpoint on the PersonalizationJob row before the next begins:

    claimed -> initialized -> keys -> certified -> written -> verified -> done

The station holds no CA key: between ``keys`` and ``certified`` it sends the card's public keys, each with a
proof of possession signed by the card key, in a request signed with the station's own key, to the signing
service (``stations.signing_request``, ``stations.certification``), which certifies them for the order's
holder or refuses.

The card record, the blank's ``used`` state, the certificates' link to the card, the sealed PIN mailer and
the order's move to ``produced`` are written in *one* transaction at the end: there is never a card record
without a written card. The PIN is drawn at random and lives only in this function's memory and in the
sealed mailer; the PUK (the card's security officer PIN) is derived on the unblock token from the card
number and the current key version (``pki.unblock.puk_for``), recorded on the card as ``puk_key_version``,
and is never stored: a codes letter re-issued later derives it again. The card also carries the help-desk
key of that version (CPX_UNBLOCK). An attempt interrupted before that transaction cannot be resumed (its
PIN is gone): the next run of the job finds it unfinished, wipes its card, revokes its certificates, marks
the blank spoiled, and starts again on a new blank. A PostgreSQL session advisory lock per order tells
"interrupted" from "running elsewhere": it is released by the server when the process holding it dies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery.result import allow_join_result
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import load_der_x509_certificate
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cards import mailers
from cards import services as card_services
from cards.models import Card, CardEvent, Mailer
from core.formats import format_date
from core.tasks import run_signing_task
from orders import services as order_services
from orders.models import Order
from pki import services as pki_services
from pki import unblock
from pki.models import AuditEvent, Certificate
from registry.models import Activity, CardType, Exercise, Professional, Structure

from . import services, signing_request, tokens
from .models import BlankCard, PersonalizationJob, Reader, ReaderStation

log = logging.getLogger(__name__)

Step = PersonalizationJob.Step
MAX_SITUATIONS = 16
ORDER_LOCK_SPACE = 0x43505802  # advisory lock namespace: (space, order id)
CRASH_HOOK = "CPX_CRASH_AT"  # tests: SIGKILL this process right after committing that checkpoint
CERTIFY_TASK = "signing.certify_card"  # the signing service's task (stations.tasks), sent by name
SIGNING_TIMEOUT = 30.0  # seconds a job waits for the signing service (CPX_SIGNING_TIMEOUT_SECONDS)


class NoBlankCard(Exception):
    """The station's stock is empty: the order stays queued."""


class NoReaderFree(Exception):
    """Every reader of the station is busy: the task is retried."""


@dataclass(frozen=True)
class Request:
    """What the job needs from an order (read once, at the start)."""

    order_id: int
    professional: Professional
    exercise: Exercise | None
    structure: Structure | None
    card_type: str
    state: str  # the order's state when the job read it


# --- the orders side -------------------------------------------------------------------------------


def _request(order_id: int) -> Request:
    order = Order.objects.select_related("professional", "exercise__profession", "structure").get(pk=order_id)
    return Request(
        order.pk, order.professional, order.exercise, order.structure, order.card_type, order.state
    )


def _order_state(order_id: int) -> str:
    return str(Order.objects.values_list("state", flat=True).get(pk=order_id))


def _order_start(order_id: int) -> None:
    order_services.order_start_production(order=order_id)


def _order_produced(order_id: int, card: Card) -> None:
    order_services.order_mark_produced(order=order_id, card=card)


def _order_failed(order_id: int, reason: str) -> None:
    order_services.order_mark_failed(order=order_id, reason=reason[:500])


# --- locking and checkpoints -----------------------------------------------------------------------


def _try_lock(order_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ORDER_LOCK_SPACE, order_id])
        return bool(cursor.fetchone()[0])


def _unlock(order_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ORDER_LOCK_SPACE, order_id])


def _checkpoint(job: PersonalizationJob, step: str) -> None:
    """Record the step reached (commits unless inside a caller's transaction), then the crash hook."""
    job.step = step
    job.save(update_fields=["step", "updated_at"])
    if not connection.in_atomic_block:
        _crash_hook(step)


def _crash_hook(step: str) -> None:
    """Tests kill the process here. With CPX_CRASH_MARKER set, only once (the marker file records it), so a
    real worker redelivering the task gets past the step on its second try."""
    if os.environ.get(CRASH_HOOK) != step:
        return
    marker = os.environ.get("CPX_CRASH_MARKER")
    if marker:
        if os.path.exists(marker):
            return
        with open(marker, "w") as handle:
            handle.write(step)
    log.warning("crash hook: killing the worker after %s", step)
    os.kill(os.getpid(), signal.SIGKILL)


def _reader(station: ReaderStation, reader: Reader | None = None) -> tokens.Reader:
    """How to reach the card: SoftHSM2's free slot in the station's store, or the reader's own slot."""
    slot = reader.slot if reader is not None and not station.softhsm_conf else None
    return tokens.Reader(station.module, station.softhsm_conf, slot)


# --- recovery --------------------------------------------------------------------------------------


def _abandon(job: PersonalizationJob, step: str, error: str) -> None:
    """Account for an attempt that will not finish: wipe the card, revoke what was certified for it,
    spoil the blank. Safe to repeat."""
    blank = job.blank
    if blank is not None:
        tokens.wipe_token(_reader(job.station, job.reader), blank.number)
        with allow_join_result():  # the revocation asks the signing service for a delta CRL (maybe inline)
            pki_services.certificate_revoke(card_number=blank.number, reason=Certificate.Reason.CESSATION)
    with transaction.atomic():
        if blank is not None:
            BlankCard.objects.filter(pk=blank.pk).update(state=BlankCard.State.SPOILED)
        _release(job)
        job.step, job.error = step, error[:2000]
        job.save(update_fields=["step", "error", "updated_at"])


def _release(job: PersonalizationJob) -> None:
    if job.reader_id is not None:
        Reader.objects.filter(pk=job.reader_id).update(state=Reader.State.IDLE)


def station_recover(*, station: ReaderStation) -> list[int]:
    """At station start-up: account for the attempts its dead processes left (no live process holds their
    order's lock), then hand their orders back to production. Returns the orders handed back."""
    orders = []
    final = [str(step) for step in PersonalizationJob.FINAL_STEPS]
    for order_id in station.jobs.exclude(step__in=final).values_list("order_id", flat=True).distinct():
        if not _try_lock(order_id):
            continue  # alive somewhere
        try:
            _recover_interrupted(order_id)
        finally:
            _unlock(order_id)
        if _order_state(order_id) in ("queued", "in_production"):
            orders.append(order_id)
    # (NOT IN with a NULL in the list matches nothing: keep only jobs that hold a reader.)
    busy = station.jobs.exclude(step__in=final).filter(reader__isnull=False).values("reader_id")
    station.readers.exclude(pk__in=busy).update(state=Reader.State.IDLE)
    for order_id in orders:
        services.production_schedule(order_id=order_id)
    return orders


def _recover_interrupted(order_id: int) -> None:
    final = [str(step) for step in PersonalizationJob.FINAL_STEPS]
    for job in PersonalizationJob.objects.filter(order_id=order_id).exclude(step__in=final):
        log.warning(
            "order %s: attempt %s was interrupted at %s; spoiling its blank", order_id, job.pk, job.step
        )
        _abandon(job, Step.INTERRUPTED, f"interrupted after {job.step}")


# --- the job ---------------------------------------------------------------------------------------


def personalize_order(*, order_id: int, station: ReaderStation) -> Card | None:
    """Produce the card of a queued order on one of the station's blanks. Idempotent: returns the order's
    card if it exists, None if another worker holds the order or there is nothing to do."""
    existing = Card.objects.filter(order__pk=order_id).first()
    if existing is not None:
        return existing
    if not _try_lock(order_id):
        log.info("order %s is being personalized by another worker", order_id)
        return None
    try:
        _recover_interrupted(order_id)
        return _run(order_id, station)
    finally:
        _unlock(order_id)


def _run(order_id: int, station: ReaderStation) -> Card | None:
    request = _request(order_id)
    if request.state not in ("queued", "in_production"):
        log.info("order %s is %s: nothing to personalize", order_id, request.state)
        return None
    job = _claim(order_id, station, start=request.state == "queued")
    _crash_hook(Step.CLAIMED)
    started = time.monotonic()
    try:
        card = _personalize(job, request)
    except Exception as exc:
        log.exception("order %s: personalization failed at %s", order_id, job.step)
        _abandon(job, Step.FAILED, f"{type(exc).__name__}: {exc}")
        _order_failed(order_id, f"personalization failed at {job.step}: {type(exc).__name__}")
        return None
    PersonalizationJob.objects.filter(pk=job.pk).update(duration_ms=int((time.monotonic() - started) * 1000))
    return card


def _claim(order_id: int, station: ReaderStation, *, start: bool) -> PersonalizationJob:
    """Take a free reader and a blank from the station's stock, and move the order to in_production,
    together. SKIP LOCKED: two workers of a station never wait on, nor take, the same row."""
    with transaction.atomic():
        readers = station.readers.select_for_update(skip_locked=True).filter(state=Reader.State.IDLE)
        reader = readers.order_by("slot").first()
        if reader is None:
            raise NoReaderFree(station.name)
        blanks = station.blanks.select_for_update(skip_locked=True).filter(state=BlankCard.State.AVAILABLE)
        blank = blanks.order_by("number").first()
        if blank is None:
            raise NoBlankCard(station.name)
        reader.state, blank.state = Reader.State.BUSY, BlankCard.State.IN_USE
        reader.save(update_fields=["state"])
        blank.save(update_fields=["state", "updated_at"])
        if start:
            _order_start(order_id)
        return PersonalizationJob.objects.create(
            order_id=order_id, station=station, blank=blank, reader=reader
        )


def _personalize(job: PersonalizationJob, request: Request) -> Card:
    assert job.blank is not None
    reader, number = _reader(job.station, job.reader), job.blank.number
    version = unblock.current_version()
    pin, puk = card_services.new_pin(), unblock.puk_for(number, version)
    unblock_key = unblock.helpdesk_public_key(version)
    valid_from = timezone.localdate()
    valid_until = _valid_until(valid_from, request.card_type)
    tokens.initialize_token(reader, label=number, so_pin=puk, user_pin=pin)
    _checkpoint(job, Step.INITIALIZED)
    token = tokens.find_token(reader, number)
    if token is None:
        raise tokens.TokenError(f"card {number} left the reader")
    with token.open(rw=True, user_pin=pin) as session:
        keys = {usage: tokens.generate_keypair(session, usage) for usage in ("auth", "sign")}
        _checkpoint(job, Step.KEYS)
        pending = _ask_certification(job, keys, session, pin)
        # While the signing service works: the letters' PDFs (kept in memory until the card is recorded).
        letters = _letters(request, number, valid_until, pin=pin, puk=puk)
        del puk
        certs, data = _certified(job, keys, pending)
        for usage, row in certs.items():
            der = bytes(row.der)
            subject = load_der_x509_certificate(der).subject.public_bytes()
            tokens.write_certificate(session, usage, der, subject)
        tokens.write_data(session, data)
        tokens.write_unblock_key(session, unblock_key)
        _checkpoint(job, Step.WRITTEN)
        _prove(session, certs, pin)  # (the signature key wants the PIN for each signature)
        del pin
    _checkpoint(job, Step.VERIFIED)
    return _record(job, request, certs, letters, (valid_from, valid_until), version)


def _valid_until(start: dt.date, card_type: str) -> dt.date:
    """The card's last day (the signing service computes its certificates' the same way)."""
    return signing_request.card_valid_until(start, card_services.card_validity_years(card_type or "CPS"))


def _ask_certification(
    job: PersonalizationJob, keys: dict[str, rsa.RSAPublicKey], session: Any, pin: str
) -> tuple[str, dict[str, Any] | None]:
    """Ask the signing service to certify the card's keys (stations.signing_request): the station proves it
    holds each key (a signature by the card key, in the card session already open) and signs the request
    with its own credential. The service decides who the certificates are for, from the order. Returns the
    request id and, inline, the service's answer (None: sent to its queue, answer awaited by _certified)."""
    station, blank = job.station, job.blank
    assert blank is not None
    if not station.public_key:
        raise signing_request.NoStationCredential(f"station {station.name} has no registered key")
    credential = signing_request.station_key(station.name, station.key_file)
    request_id = str(uuid.uuid4())
    spkis = {usage: signing_request.spki_der(key) for usage, key in keys.items()}
    proofs = {}
    for usage, spki in spkis.items():
        message = signing_request.proof_message(
            request_id=request_id,
            station=station.name,
            job=job.pk,
            card_number=blank.number,
            usage=usage,
            spki=spki,
        )
        proofs[usage] = signing_request.b64(tokens.sign(session, usage, message, pin=pin))
    request = {
        "v": signing_request.VERSION,
        "id": request_id,
        "station": station.name,
        "job": job.pk,
        "order": job.order_id,
        "card_number": blank.number,
        "keys": {usage: signing_request.b64(spki) for usage, spki in spkis.items()},
        "proofs": proofs,
        "issued_at": timezone.now().isoformat(),
    }
    with allow_join_result():  # inline (CPX_SIGNING_INLINE) in a station worker: the task runs here
        return request_id, run_signing_task(CERTIFY_TASK, signing_request.seal(request, credential))


def _certified(
    job: PersonalizationJob, keys: dict[str, rsa.RSAPublicKey], pending: tuple[str, dict[str, Any] | None]
) -> tuple[dict[str, Certificate], bytes]:
    """The signing service's answer to the request (awaited when it was sent to its queue): the
    certificates, and the holder data it signed (CMS SignedData, DER) for the card's data object."""
    request_id, result = pending
    if result is None:  # sent to the signing service's queue: its audit rows tell the outcome
        result = _await_certification(job, request_id, set(keys))
    if result.get("refused"):
        raise signing_request.CertificationRefused(str(result["refused"]))
    serials: dict[str, str] = result["serials"]
    rows = {row.serial: row for row in Certificate.objects.filter(serial__in=serials.values())}
    if set(serials) != set(keys) or len(rows) != len(keys):
        raise tokens.TokenError(f"the signing service answered {sorted(serials)} for {sorted(keys)}")
    if not result.get("holder_data"):
        raise tokens.TokenError("the signing service sent no signed holder data")
    _checkpoint(job, Step.CERTIFIED)
    return {usage: rows[serial] for usage, serial in serials.items()}, signing_request.unb64(
        result["holder_data"]
    )


def _await_certification(job: PersonalizationJob, request_id: str, usages: set[str]) -> dict[str, Any]:
    """Wait for the signing service's answer to a request: its audit rows (issue, one per usage, written
    together; or refuse), polled with short sleeps, within CPX_SIGNING_TIMEOUT_SECONDS."""
    timeout = float(getattr(settings, "CPX_SIGNING_TIMEOUT_SECONDS", SIGNING_TIMEOUT))
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        issued: dict[str, str] = {}
        refused = holder = ""
        rows = AuditEvent.objects.filter(request_id=request_id).values_list("operation", "serials", "detail")
        for operation, row_serials, detail in rows:
            if operation == AuditEvent.Operation.ISSUE:
                usage = (detail or {}).get("usage", "")
                if row_serials:
                    issued[usage] = row_serials[0]
            elif operation == AuditEvent.Operation.SIGN_DATA:
                holder = str((detail or {}).get("holder_data", ""))
            elif operation == AuditEvent.Operation.REFUSE:
                refused = refused or str((detail or {}).get("reason", "refused"))
        if set(issued) >= usages and holder:  # written in one transaction: all there, or none
            return {"serials": {usage: issued[usage] for usage in usages}, "holder_data": holder}
        if refused and not issued:
            return {"refused": refused}
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
    # No answer: the job is marked failed under its lock first, so a service that gets to the request later
    # refuses it (job_state), and one that got there already has its certificates revoked by _abandon.
    with transaction.atomic():
        PersonalizationJob.objects.select_for_update().filter(pk=job.pk).update(step=Step.FAILED)
    raise tokens.TokenError(f"no answer from the signing service within {timeout:.0f} s")


def _prove(session: Any, certs: dict[str, Certificate], pin: str) -> None:
    """Sign a fresh challenge with each key on the card and verify it with the issued certificate."""
    for usage, row in certs.items():
        challenge = secrets.token_bytes(32)
        signature = tokens.sign(session, usage, challenge, pin=pin)
        public_key = load_der_x509_certificate(bytes(row.der)).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())


def holder_data(request: Request, number: str, valid_from: dt.date, valid_until: dt.date) -> bytes:
    """The card's holder data (JSON, format version 1, docs/card_data.md): identity and up to 16 active
    situations. The signing service builds it from the order and signs it as the issuing CA (CMS)."""
    person = request.professional
    data = {
        "v": 1,
        "issuer": services.CARD_ISSUER,
        "card_number": number,
        "card_type": request.card_type,
        "issued": valid_from.isoformat(),
        "expires": valid_until.isoformat(),
        "holder": {
            "national_id": person.national_id,
            "id_type": person.id_type,
            "rpps": person.rpps or "",
            "adeli": person.adeli or "",
            "civility": person.exercise_civility or person.civility,
            "last_name": person.last_name,
            "first_name": person.first_name,
        },
        **card_written(request),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def card_written(request: Request) -> dict[str, Any]:
    """What the card carries of the holder's situation (``Card.written``): the profession and up to 16 active
    situations, as in its holder data. The registry-diff update (``lifecycle.registry_driven``) compares it
    with the registry's current data, built in SQL in the same shape."""
    return {"profession": _profession(request.exercise), "situations": _situations(request)}


def _profession(exercise: Exercise | None) -> dict[str, str]:
    if exercise is None:
        return {}
    return {
        "code": exercise.profession_id,
        "label": exercise.profession.label,
        "category": exercise.category_id or "",
        "skill": exercise.skill_id or "",
    }


def _situations(request: Request) -> list[dict[str, str]]:
    if request.exercise is None:
        return [_structure(request.structure)] if request.structure else []
    activities = (
        Activity.objects.filter(exercise=request.exercise, is_active=True)
        .select_related("structure", "mode")
        .order_by("id")[:MAX_SITUATIONS]
    )
    return [{"mode": a.mode_id or "", "sector": a.sector_code, **_structure(a.structure)} for a in activities]


def _structure(structure: Structure | None) -> dict[str, str]:
    if structure is None:
        return {}
    return {
        "structure_id": structure.technical_id,
        "siret": structure.siret,
        "finess": structure.finess_site,
        "structure_name": structure.name,
        "postcode": structure.postcode,
        "commune": structure.commune,
    }


def _addressee(request: Request, number: str, valid_until: dt.date) -> mailers.Addressee:
    person = request.professional
    structure = request.structure
    if structure is None and request.exercise is not None:
        activity = request.exercise.activities.filter(is_active=True, structure__isnull=False).first()
        structure = activity.structure if activity else None
    lines = tuple(structure.address_lines) if structure else ()
    name = f"{person.exercise_civility or person.civility} {person.full_name}".strip()
    return mailers.Addressee(name, lines, number, request.card_type, format_date(valid_until, language="fr"))


def _letters(request: Request, number: str, valid_until: dt.date, *, pin: str, puk: str) -> dict[str, bytes]:
    to = _addressee(request, number, valid_until)
    sealed = mailers.seal(mailers.render_pin_mailer(to, pin=pin, puk=puk))
    return {Mailer.Kind.PIN: sealed, Mailer.Kind.CARRIER: mailers.render_carrier(to)}


def _record(
    job: PersonalizationJob,
    request: Request,
    certs: dict[str, Certificate],
    letters: dict[str, bytes],
    validity: tuple[dt.date, dt.date],
    puk_key_version: int,
) -> Card:
    """The one transaction that makes the card exist for the platform."""
    assert job.blank is not None
    valid_from, valid_until = validity
    with transaction.atomic():
        card = Card.objects.create(
            number=job.blank.number,
            card_type=request.card_type or CardType.CPS,
            professional=request.professional,
            exercise=request.exercise,
            structure=request.structure,
            valid_from=valid_from,
            valid_until=valid_until,
            puk_key_version=puk_key_version,
            written=card_written(request),
        )
        Certificate.objects.filter(pk__in=[c.pk for c in certs.values()]).update(card=card)
        BlankCard.objects.filter(pk=job.blank.pk).update(state=BlankCard.State.USED)
        _release(job)
        Mailer.objects.bulk_create(Mailer(card=card, kind=kind, content=pdf) for kind, pdf in letters.items())
        serials = {usage: row.serial for usage, row in certs.items()}
        CardEvent.objects.create(card=card, kind="personalized", detail={"order": job.order_id, **serials})
        job.card = card
        job.save(update_fields=["card", "updated_at"])
        _order_produced(request.order_id, card)
        _checkpoint(job, Step.DONE)
    _crash_hook(Step.DONE)
    return card
