"""The signing service's side of card certification: the only code that asks the issuing CA to certify a
card key, run by the signing service (``manage.py run_signer``, the one process given the CA token's PIN)
through the task ``signing.certify_card``.

A request (``stations.signing_request``) is honoured only if every check passes, in this order; the first
that fails refuses it, with an audit row (operation "refuse", the request id, the reason code) written in
its own transaction, and nothing is certified:

    malformed         the envelope or the request is not what version 1 says
    unknown_station   no such station, or a station without a registered key
    bad_signature     the envelope's signature does not verify with the station's registered key
    stale             issued_at too far in the past or the future (CPX_SIGNING_REQUEST_MAX_AGE_SECONDS)
    replayed          a request with this id was already seen (issued or refused)
    unknown_job       no such personalization job
    other_station     the job belongs to another station
    job_state         the job is finished, or not at the step where keys await certification
    other_order       the request's order is not the job's
    order_state       the order is not in production
    card_mismatch     the card number is not the job's blank
    already_certified the blank already has certificates (one issuance per job and usage)
    bad_usages        keys and proofs are not for the same, known usages
    bad_key           a key is not a parsable SubjectPublicKeyInfo
    bad_proof         a proof of possession does not verify with its key
    key_policy        a key is outside the key policy (pki.keys.check_card_key)

The holder, the card type and the validity are the service's own, read from the order: a request says
which job, card and keys, never who the certificate is for.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cards import services as card_services
from orders.models import Order
from pki import audit, keys, signing
from pki import services as pki_services
from pki.models import AuditEvent, Certificate

from . import personalization, signing_request
from .models import PersonalizationJob, ReaderStation

log = logging.getLogger(__name__)

USAGES = tuple(Certificate.Usage.values)
DEFAULT_MAX_AGE = 600  # seconds


class Refused(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class _Parsed:
    request_id: uuid.UUID | None = None
    station: str = ""
    job: Any = None

    @property
    def actor(self) -> str:
        station = self.station if self.station else "?"
        return f"station:{station} job {self.job if self.job is not None else '?'}"[:200]


def holder_for(order: Order) -> signing.Holder:
    """Who a card certificate is for: the order's professional (and profession), as the registry says."""
    person = order.professional
    profession = order.exercise.profession.label if order.exercise else ""
    return signing.Holder(
        person.national_id, person.last_name, person.first_name, profession, email=person.email or ""
    )


def certify_card(envelope: Any) -> dict[str, Any]:
    """Check a station's signing request and certify its card keys. Returns ``{"request_id", "serials":
    {usage: hex serial}, "holder_data": base64 CMS SignedData}``, or ``{"request_id", "refused": <reason>}``
    after recording the refusal."""
    parsed = _Parsed()
    try:
        with transaction.atomic():
            serials, holder_data = _certify(envelope, parsed)
    except Refused as refusal:
        log.warning("signing request %s refused: %s %s", parsed.request_id, refusal.reason, refusal.detail)
        with transaction.atomic():
            detail = {"reason": refusal.reason}
            if refusal.detail:
                detail["detail"] = refusal.detail[:500]
            audit.record(
                AuditEvent.Operation.REFUSE, actor=parsed.actor, request_id=parsed.request_id, detail=detail
            )
        return {"request_id": str(parsed.request_id or ""), "refused": refusal.reason}
    return {"request_id": str(parsed.request_id), "serials": serials, "holder_data": holder_data}


def _certify(envelope: Any, parsed: _Parsed) -> tuple[dict[str, str], str]:
    text, signature = _envelope(envelope)
    request = _request(text, parsed)
    station = ReaderStation.objects.filter(name=parsed.station).first()
    if station is None or not station.public_key:
        raise Refused("unknown_station")
    try:
        public = serialization.load_der_public_key(bytes(station.public_key))
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, text.encode())
    except (InvalidSignature, ValueError, AssertionError):
        raise Refused("bad_signature") from None
    _fresh(request["issued_at"])
    if AuditEvent.objects.filter(request_id=parsed.request_id).exists():
        raise Refused("replayed")
    job = (
        PersonalizationJob.objects.select_for_update(of=("self",))
        .select_related("station", "blank")
        .filter(pk=request["job"])
        .first()
    )
    if job is None:
        raise Refused("unknown_job")
    if job.station_id != station.pk:
        raise Refused("other_station")
    if job.step != PersonalizationJob.Step.KEYS:
        raise Refused("job_state", f"job is {job.step}")
    if job.order_id != request["order"]:
        raise Refused("other_order")
    order = Order.objects.select_related("professional", "exercise__profession").get(pk=job.order_id)
    if order.state != Order.State.IN_PRODUCTION:
        raise Refused("order_state", f"order is {order.state}")
    if job.blank is None or request["card_number"] != job.blank.number:
        raise Refused("card_mismatch")
    if Certificate.objects.filter(card_number=job.blank.number).exists():
        raise Refused("already_certified")
    card_keys = _keys(request, parsed, job.blank.number)
    card_type = order.card_type or "CPS"
    years = card_services.card_validity_years(card_type)
    valid_from = timezone.localdate()
    valid_until = signing_request.card_valid_until(valid_from, years)
    not_after = dt.datetime.combine(valid_until, dt.time(23, 59, 59), tzinfo=dt.UTC)
    for key in card_keys.values():
        try:
            keys.check_card_key(key, not_after)
        except keys.KeyPolicyError as exc:
            raise Refused("key_policy", str(exc)) from None
    holder = holder_for(order)
    serials = {}
    for usage, key in sorted(card_keys.items()):
        row = pki_services.certificate_issue(
            usage=usage,
            public_key=key,
            holder=holder,
            valid_until=valid_until,
            card_number=job.blank.number,
            card_type=card_type,
            actor=parsed.actor,
            request_id=parsed.request_id,
        )
        serials[usage] = row.serial
    # The card's holder data, built from the order and signed by the issuing CA (docs/card_data.md).
    content = personalization.holder_data(
        personalization._request(order.pk), job.blank.number, valid_from, valid_until
    )
    ca = signing.issuing_ca(card_type)
    signed = signing_request.b64(signing.sign_data(ca, content))
    audit.record(
        AuditEvent.Operation.SIGN_DATA,
        actor=parsed.actor,
        authority=ca,
        request_id=parsed.request_id,
        detail={"card_number": job.blank.number, "holder_data": signed},
    )
    return serials, signed


def _envelope(envelope: Any) -> tuple[str, bytes]:
    if not isinstance(envelope, dict) or set(envelope) != {"request", "signature"}:
        raise Refused("malformed", "envelope")
    text = envelope["request"]
    if not isinstance(text, str) or len(text) > 64_000:
        raise Refused("malformed", "request text")
    try:
        return text, signing_request.unb64(envelope["signature"])
    except ValueError:
        raise Refused("malformed", "signature encoding") from None


_FIELDS = {
    "v": int,
    "id": str,
    "station": str,
    "job": int,
    "order": int,
    "card_number": str,
    "keys": dict,
    "proofs": dict,
    "issued_at": str,
}


def _request(text: str, parsed: _Parsed) -> dict[str, Any]:
    try:
        request = json.loads(text)
    except ValueError:
        raise Refused("malformed", "not JSON") from None
    if not isinstance(request, dict):
        raise Refused("malformed", "not an object")
    # What the audit row says about the request, taken before the checks (a forged request is audited
    # under the station and job it claims).
    if isinstance(request.get("station"), str):
        parsed.station = request["station"][:60]
    if isinstance(request.get("job"), int):
        parsed.job = request["job"]
    try:
        parsed.request_id = uuid.UUID(str(request.get("id")))
    except ValueError:
        raise Refused("malformed", "id") from None
    if set(request) != set(_FIELDS) or request["v"] != signing_request.VERSION:
        raise Refused("malformed", "fields or version")
    for name, kind in _FIELDS.items():
        if not isinstance(request[name], kind) or (kind is int and isinstance(request[name], bool)):
            raise Refused("malformed", name)
    return request


def _fresh(issued_at: str) -> None:
    try:
        when = dt.datetime.fromisoformat(issued_at)
    except ValueError:
        raise Refused("malformed", "issued_at") from None
    if when.tzinfo is None:
        raise Refused("malformed", "issued_at without a time zone")
    max_age = int(getattr(settings, "CPX_SIGNING_REQUEST_MAX_AGE_SECONDS", DEFAULT_MAX_AGE))
    age = (timezone.now() - when).total_seconds()
    if age > max_age or age < -60:
        raise Refused("stale", f"issued {age:.0f} s ago")


def _keys(request: dict[str, Any], parsed: _Parsed, card_number: str) -> dict[str, keys.PublicKey]:
    wanted = request["keys"]
    if not wanted or set(wanted) != set(request["proofs"]) or not set(wanted) <= set(USAGES):
        raise Refused("bad_usages")
    found: dict[str, keys.PublicKey] = {}
    for usage, encoded in wanted.items():
        try:
            spki = signing_request.unb64(encoded)
            key = serialization.load_der_public_key(spki)
            proof = signing_request.unb64(request["proofs"][usage])
        except ValueError:
            raise Refused("bad_key", usage) from None
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise Refused("key_policy", f"{usage}: {type(key).__name__}")
        message = signing_request.proof_message(
            request_id=str(request["id"]),
            station=request["station"],
            job=request["job"],
            card_number=card_number,
            usage=usage,
            spki=spki,
        )
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(proof, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                key.verify(proof, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refused("bad_proof", usage) from None
        found[usage] = key
    return found
