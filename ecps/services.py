"""Use cases of the e-CPS: activation (with the physical card, or by codes sent by e-mail and SMS), the
WebAuthn registration that creates the passkey, opposition and revocation, sign-in, relying parties.

Every entry point (portal pages, the API, the OpenID Connect provider, periodic tasks) calls these.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cards.models import Card
from core.roles import account_of, role_of
from pki import signing
from pki.models import Certificate
from registry.models import Account, Exercise, Professional

from . import errors
from .models import Activation, ECps, ECpsEvent, SignInEvent
from .scoping import ecps_visible_to
from .sms import SmsUnavailable, sms_sender

log = logging.getLogger(__name__)

User = Any  # a django.contrib.auth user with a registry Account
Role = Account.Role
LIVE = (ECps.State.ACTIVE, ECps.State.SUSPENDED)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from a screen, typed on a phone
REGISTRATION_WINDOW = dt.timedelta(minutes=3)
WEBAUTHN_TIMEOUT_MS = 120_000
DECLARE_ROLES = frozenset({Role.HOLDER, Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR, Role.SYSTEM})
RP_MANAGERS = frozenset({Role.ANS_OPERATOR, Role.SYSTEM})
RP_READERS = frozenset({Role.ANS_OPERATOR, Role.SYSTEM, Role.AUDITOR})


# --- common ------------------------------------------------------------------------------------------


def _keyed_hash(value: str) -> str:
    """A one-time code as stored: HMAC-SHA256 under the platform's secret (a 6-digit code's plain hash
    would be reversed by trying the million values)."""
    return salted_hmac("cpx.ecps.code", value, algorithm="sha256").hexdigest()


def _matches(value: str, stored: str) -> bool:
    return bool(stored) and constant_time_compare(_keyed_hash(value.strip()), stored)


def _later(seconds: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def _holder(actor: User) -> Professional:
    account = account_of(actor)
    if account is None or account.role != Role.HOLDER or account.professional is None:
        raise errors.NotPermitted(_("Only a card holder activates an e-CPS."))
    return account.professional


def _exercise(holder: Professional, exercise_id: int) -> Exercise:
    exercise = holder.exercises.select_related("profession").filter(pk=exercise_id).first()
    if exercise is None:
        raise errors.NotFound(_("No such professional exercise."))
    return exercise


def _event(ecps: ECps, kind: str, **detail: Any) -> ECpsEvent:
    return ECpsEvent.objects.create(ecps=ecps, kind=kind, detail=detail)


def ecps_usable(ecps_id: int | None) -> bool:
    """May this e-CPS sign in now? Active, and the registry still says its holder and exercise are active
    (checked at every use: a holder struck off is refused at once, before any revocation has run)."""
    if ecps_id is None:
        return False
    usable = ECps.objects.filter(
        pk=ecps_id, state=ECps.State.ACTIVE, holder__is_active=True, exercise__is_active=True
    )
    return usable.exists()


def ecps_for(*, actor: User, ecps_id: int) -> ECps:
    ecps = ecps_visible_to(actor).select_related("holder", "exercise__profession").filter(pk=ecps_id).first()
    if ecps is None:
        raise errors.NotFound()
    return ecps


def _check_can_activate(holder: Professional, exercise: Exercise) -> None:
    if not holder.is_active or not exercise.is_active:
        raise errors.ActivationRefused(
            _("The registry does not list you as practising this profession."), code="holder_inactive"
        )
    if ECps.objects.filter(exercise=exercise, state__in=LIVE).exists():
        raise errors.ActivationRefused(
            _("This exercise already has an e-CPS (one at a time): declare the old phone lost first."),
            code="already_has_ecps",
        )


# --- activation with the physical card ----------------------------------------------------------------


def activation_start_with_card(*, actor: User, exercise_id: int) -> Activation:
    """Issue a challenge for the holder's active card of this exercise to sign with its authentication key."""
    holder = _holder(actor)
    exercise = _exercise(holder, exercise_id)
    _check_can_activate(holder, exercise)
    card = (
        Card.objects.filter(professional=holder, exercise=exercise, state=Card.State.ACTIVE)
        .order_by("-valid_until")
        .first()
    )
    if card is None:
        raise errors.ActivationRefused(
            _("You have no active card for this profession: activate your card first."), code="no_active_card"
        )
    challenge = f"cpx-ecps-activation:{secrets.token_urlsafe(32)}"
    return Activation.objects.create(
        holder=holder,
        exercise=exercise,
        method=ECps.Method.CARD,
        card=card,
        challenge=challenge,
        expires_at=_later(settings.CPX_ECPS_CHALLENGE_SECONDS),
    )


def activation_prove_with_card(
    *, actor: User, activation_id: int, signature: bytes
) -> tuple[Activation, str]:
    """Check the card's signature of the challenge against the card's authentication certificate (the card
    active, the certificate issued by the platform's CA, current and not revoked). Returns the activation
    and its activation code, in clear this once."""
    with transaction.atomic():
        activation = _open_activation(actor, activation_id, ECps.Method.CARD)
        failure = _expired(activation) or _card_proof_failure(activation, signature)
        if failure is None:
            return activation, _proven(activation)
    raise failure  # after the commit of the attempt counted


def _card_proof_failure(activation: Activation, signature: bytes) -> errors.EcpsError | None:
    card = Card.objects.get(pk=activation.card_id)
    now = timezone.now()
    certificate = Certificate.objects.filter(
        card=card,
        usage=Certificate.Usage.AUTH,
        revoked_at__isnull=True,
        not_before__lte=now,
        not_after__gt=now,
    ).first()
    if card.state != Card.State.ACTIVE or certificate is None:
        return errors.ActivationRefused(
            _("This card is no longer active or its certificate is revoked."), code="card_not_usable"
        )
    if not _signed_by_card(certificate, activation.challenge.encode(), signature):
        _count_attempt(activation)
        return errors.ProofRejected(
            _("The card's signature does not match the challenge."), code="bad_signature"
        )
    return None


def _signed_by_card(certificate: Certificate, challenge: bytes, signature: bytes) -> bool:
    cert = x509.load_der_x509_certificate(bytes(certificate.der))
    try:
        cert.verify_directly_issued_by(signing.ca_certificate(certificate.authority))
        public_key = cert.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- activation by codes (RPPS holders) --------------------------------------------------------------


def activation_start_with_codes(*, actor: User, exercise_id: int) -> Activation:
    """Send one code to the e-mail address and another to the mobile number the registry knows.

    RPPS holders only: the ADELI registry's contact data are not verified enough to stand for the card."""
    holder = _holder(actor)
    exercise = _exercise(holder, exercise_id)
    _check_codes_allowed(holder)
    _check_can_activate(holder, exercise)
    email_code, sms_code = _otp(), _otp()
    with transaction.atomic():
        Activation.objects.filter(holder=holder, state=Activation.State.PENDING).update(
            state=Activation.State.FAILED, failure="superseded"
        )
        activation = Activation.objects.create(
            holder=holder,
            exercise=exercise,
            method=ECps.Method.CODES,
            email_code_hash=_keyed_hash(email_code),
            sms_code_hash=_keyed_hash(sms_code),
            expires_at=_later(settings.CPX_ECPS_OTP_SECONDS),
        )
    _send_codes(activation, holder, email_code=email_code, sms_code=sms_code)
    return activation


def _check_codes_allowed(holder: Professional) -> None:
    if holder.id_type != Professional.IdType.RPPS or not holder.rpps:
        raise errors.ActivationRefused(
            _(
                "Activation by e-mail and SMS is open to RPPS-registered professionals only. As an "
                "ADELI-registered professional, activate your e-CPS with your physical card."
            ),
            code="card_only",
        )
    if not holder.email or not holder.mobile:
        raise errors.ActivationRefused(
            _("The registry has no e-mail address or no mobile number for you: activate with your card."),
            code="no_contact",
        )
    since = timezone.now() - dt.timedelta(days=1)
    sent = Activation.objects.filter(holder=holder, method=ECps.Method.CODES, created_at__gte=since).count()
    if sent >= settings.CPX_ECPS_OTP_SENDS_PER_DAY:
        raise errors.ActivationRefused(
            _("Too many codes were sent today: try again tomorrow, or activate with your card."),
            code="too_many_requests",
        )


def _otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _send_codes(activation: Activation, holder: Professional, *, email_code: str, sms_code: str) -> None:
    """The codes leave the platform only here (never through the outbox, which keeps messages in clear)."""
    minutes = settings.CPX_ECPS_OTP_SECONDS // 60
    try:
        sms_sender().send(
            to=holder.mobile, text=_("CPx e-CPS: your SMS code is %(code)s") % {"code": sms_code}
        )
    except SmsUnavailable:
        Activation.objects.filter(pk=activation.pk).update(state=Activation.State.FAILED, failure="sms")
        raise errors.ActivationRefused(
            _("Text messages cannot be sent now: activate with your card."), code="sms_unavailable"
        ) from None
    body = _(
        "Your e-CPS activation code (e-mail) is %(code)s. It is valid for %(minutes)s minutes. "
        "If you did not ask for it, tell the CPx service."
    ) % {"code": email_code, "minutes": minutes}
    send_mail(_("Your e-CPS activation code"), body, None, [holder.email])


def activation_prove_with_codes(
    *, actor: User, activation_id: int, email_code: str, sms_code: str
) -> tuple[Activation, str]:
    """Both codes right, in time, within the attempts: the activation code is issued (in clear this once)."""
    with transaction.atomic():
        activation = _open_activation(actor, activation_id, ECps.Method.CODES)
        failure = _expired(activation) or _codes_failure(activation, email_code, sms_code)
        if failure is None:
            return activation, _proven(activation)
    raise failure  # after the commit of the attempt counted


def _codes_failure(activation: Activation, email_code: str, sms_code: str) -> errors.EcpsError | None:
    email_ok = _matches(email_code, activation.email_code_hash)
    sms_ok = _matches(sms_code, activation.sms_code_hash)
    if email_ok and sms_ok:
        return None
    left = _count_attempt(activation)
    if left == 0:
        return errors.ActivationRefused(
            _("Too many wrong codes: this activation is closed; ask for new codes."), code="too_many_attempts"
        )
    return errors.ProofRejected(
        _("Wrong code. %(left)s attempt(s) left.") % {"left": left}, code="wrong_code"
    )


# --- the proof's common path ---------------------------------------------------------------------------


def _open_activation(actor: User, activation_id: int, method: str) -> Activation:
    """The holder's pending activation, locked (inside the caller's transaction)."""
    holder = _holder(actor)
    activation = (
        Activation.objects.select_for_update().filter(pk=activation_id, holder=holder, method=method).first()
    )
    if activation is None:
        raise errors.NotFound(_("No such activation."))
    if activation.state != Activation.State.PENDING:
        raise errors.InvalidState(_("This activation is closed: start again."), code="activation_closed")
    return activation


def _expired(activation: Activation) -> errors.EcpsError | None:
    """Past its time, the activation is closed (the caller commits that, then raises the error)."""
    if activation.expires_at > timezone.now():
        return None
    activation.state, activation.failure = Activation.State.FAILED, "expired"
    activation.save(update_fields=["state", "failure"])
    return errors.InvalidState(_("This activation has expired: start again."), code="activation_expired")


def _count_attempt(activation: Activation) -> int:
    """One more failed attempt; at the limit the activation is closed. Returns the attempts left."""
    activation.attempts += 1
    left = max(settings.CPX_ECPS_OTP_ATTEMPTS - activation.attempts, 0)
    if left == 0:
        activation.state, activation.failure = Activation.State.FAILED, "too_many_attempts"
    activation.save(update_fields=["attempts", "state", "failure"])
    return left


def _proven(activation: Activation) -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    activation.state = Activation.State.PROVEN
    activation.proven_at = timezone.now()
    activation.code_hash = _keyed_hash(code)
    seconds = settings.CPX_ECPS_ACTIVATION_CODE_SECONDS
    activation.code_expires_at = activation.proven_at + dt.timedelta(seconds=seconds)
    activation.save(update_fields=["state", "proven_at", "code_hash", "code_expires_at"])
    return code


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


# --- WebAuthn registration ------------------------------------------------------------------------------


def enrolment_begin(*, code: str) -> tuple[Activation, dict[str, Any]]:
    """Redeem an activation code (once, within its 90 seconds) for the WebAuthn registration options.

    The code is consumed here, by a conditional update: of two devices presenting it, one wins."""
    digest = _keyed_hash(normalize_code(code))
    now = timezone.now()
    with transaction.atomic():
        won = Activation.objects.filter(
            code_hash=digest,
            state=Activation.State.PROVEN,
            code_used_at__isnull=True,
            code_expires_at__gt=now,
        ).update(state=Activation.State.ENROLLING, code_used_at=now, expires_at=now + REGISTRATION_WINDOW)
        if not won:
            raise errors.ActivationRefused(
                _("This activation code is not valid, was already used, or has expired: start again."),
                code="activation_code_invalid",
            )
        activation = Activation.objects.select_related("holder", "exercise__profession").get(code_hash=digest)
        _check_can_activate(activation.holder, activation.exercise)
        options = _registration_options(activation)
    return activation, options


def _registration_options(activation: Activation) -> dict[str, Any]:
    holder = activation.holder
    user_handle = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=settings.CPX_WEBAUTHN_RP_ID,
        rp_name=settings.CPX_WEBAUTHN_RP_NAME,
        user_id=user_handle,
        user_name=holder.national_id,
        user_display_name=f"{holder.full_name} — {activation.exercise.profession.label}",
        timeout=WEBAUTHN_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    activation.registration_challenge = bytes_to_base64url(options.challenge)
    activation.user_handle = bytes_to_base64url(user_handle)
    activation.save(update_fields=["registration_challenge", "user_handle"])
    return options_to_json_dict(options)


def enrolment_finish(*, activation_id: int, credential: dict[str, Any]) -> ECps:
    """Verify the authenticator's answer (user verification required) and create the e-CPS."""
    with transaction.atomic():
        activation = Activation.objects.select_for_update().filter(pk=activation_id).first()
        if activation is None or activation.state != Activation.State.ENROLLING:
            raise errors.InvalidState(
                _("No registration is in progress: start again."), code="activation_closed"
            )
        failure = _registration_failure(activation, credential)
        if failure is None:
            return _create_ecps(activation, credential)
        Activation.objects.filter(pk=activation.pk).update(
            state=Activation.State.FAILED, failure=failure.code
        )
    raise failure


def _registration_failure(activation: Activation, credential: dict[str, Any]) -> errors.EcpsError | None:
    if activation.expires_at <= timezone.now():
        return errors.InvalidState(
            _("The registration took too long: start again."), code="activation_expired"
        )
    try:
        activation.verified = verify_registration_response(  # type: ignore[attr-defined]
            credential=credential,
            expected_challenge=base64url_to_bytes(activation.registration_challenge),
            expected_rp_id=settings.CPX_WEBAUTHN_RP_ID,
            expected_origin=settings.CPX_WEBAUTHN_ORIGIN,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, KeyError, ValueError, TypeError) as exc:
        log.info("e-CPS registration refused for activation %s: %s", activation.pk, exc)
        return errors.ProofRejected(
            _("The phone's answer could not be verified."), code="registration_invalid"
        )
    return None


def _create_ecps(activation: Activation, credential: dict[str, Any]) -> ECps:
    verified = activation.verified  # type: ignore[attr-defined]
    transports = (credential.get("response") or {}).get("transports") or []
    ecps = ECps(
        holder_id=activation.holder_id,
        exercise_id=activation.exercise_id,
        activation_method=activation.method,
        activated_with_card_id=activation.card_id,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports][:8],
        user_handle=activation.user_handle,
        aaguid=str(verified.aaguid or ""),
    )
    try:
        with transaction.atomic():
            ecps.save()
    except IntegrityError:
        raise errors.ActivationRefused(
            _("This exercise already has an e-CPS (one at a time)."), code="already_has_ecps"
        ) from None
    _event(ecps, "activated", method=activation.method, activation=activation.pk, card=activation.card_id)
    activation.state, activation.ecps = Activation.State.DONE, ecps
    activation.save(update_fields=["state", "ecps"])
    return ecps


# --- opposition, suspension, revocation -----------------------------------------------------------------


def _lock(ecps: ECps | int) -> ECps:
    pk = ecps if isinstance(ecps, int) else ecps.pk
    return ECps.objects.select_for_update().get(pk=pk)


def _fire(ecps: ECps, name: str, **detail: Any) -> ECps:
    method = getattr(ecps, name)
    if not can_proceed(method):
        raise errors.InvalidState(
            _("An e-CPS in state “%(state)s” cannot be %(action)s.") % {"state": ecps.state, "action": name}
        )
    from_state = ecps.state
    method()
    if ecps.state == ECps.State.REVOKED:
        ecps.revoked_at = timezone.now()
        ecps.revocation_reason = detail.get("reason", "")
    ecps.save()
    _event(ecps, ecps.state, **{"from": from_state, **detail})
    return ecps


def _check_actor(actor: User, ecps: ECps, roles: frozenset[str]) -> None:
    ecps_for(actor=actor, ecps_id=ecps.pk)  # not visible: not found
    if role_of(actor) not in roles:
        raise errors.NotPermitted()


def ecps_declare_opposition(*, ecps: ECps, actor: User, reason: str = ECps.Reason.LOST) -> ECps:
    """Loss or theft of the phone: the e-CPS is revoked at once and for good (a new one is activated
    afterwards). Tokens it obtained stop working at their next check (introspection, userinfo)."""
    if reason not in (ECps.Reason.LOST, ECps.Reason.STOLEN):
        raise errors.EcpsError(_("The reason is lost or stolen."), code="invalid")
    _check_actor(actor, ecps, DECLARE_ROLES)
    with transaction.atomic():
        locked = _lock(ecps)
        if locked.state == ECps.State.REVOKED:
            raise errors.InvalidState(_("This e-CPS is already revoked."), code="already_revoked")
        return _fire(locked, "revoke", reason=reason, actor_id=actor.pk, actor_role=role_of(actor) or "")


def ecps_suspend(*, ecps: ECps, actor: User) -> ECps:
    """The holder cannot find the phone for now: sign-in is refused until reinstated."""
    _check_actor(actor, ecps, frozenset({Role.HOLDER}))
    with transaction.atomic():
        return _fire(_lock(ecps), "suspend", actor_id=actor.pk)


def ecps_reinstate(*, ecps: ECps, actor: User) -> ECps:
    _check_actor(actor, ecps, frozenset({Role.HOLDER}))
    with transaction.atomic():
        return _fire(_lock(ecps), "reinstate", actor_id=actor.pk)


REVOKE_WHEN = (
    (ECps.Reason.HOLDER_INACTIVE, Q(holder__is_active=False)),
    (ECps.Reason.EXERCISE_INACTIVE, Q(holder__is_active=True, exercise__is_active=False)),
)


def ecps_revoke_for_inactive_holders(*, chunk: int = 500) -> int:
    """Revoke every live e-CPS whose holder (struck off, left the registry) or exercise the registry marks
    inactive. Set-based: a chunk of ids locked (SKIP LOCKED, so concurrent runs share the work), one
    UPDATE and one bulk INSERT of events per chunk; memory is one chunk's whatever the table size.
    Sign-in already refuses these holders: this makes the refusal final and visible."""
    revoked = 0
    for reason, condition in REVOKE_WHEN:
        while True:
            count = _revoke_chunk(reason, condition, chunk)
            revoked += count
            if count < chunk:
                break
    return revoked


def _revoke_chunk(reason: str, condition: Q, chunk: int) -> int:
    with transaction.atomic():
        ids = list(
            ECps.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(condition, state__in=LIVE)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return 0
        ECps.objects.filter(pk__in=ids).update(
            state=ECps.State.REVOKED, revoked_at=timezone.now(), revocation_reason=reason
        )
        ECpsEvent.objects.bulk_create(
            ECpsEvent(ecps_id=pk, kind=ECps.State.REVOKED, detail={"reason": reason}) for pk in ids
        )
    return len(ids)


# --- sign-in ------------------------------------------------------------------------------------------


def signin_options() -> tuple[dict[str, Any], str]:
    """Options for a discoverable-credential assertion (the phone offers the holder's e-CPS), with user
    verification required. Returns the options and the challenge to keep in the session."""
    options = generate_authentication_options(
        rp_id=settings.CPX_WEBAUTHN_RP_ID,
        timeout=WEBAUTHN_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options), bytes_to_base64url(options.challenge)


REFUSALS = {
    "unknown_credential": gettext_lazy("This passkey is not a known e-CPS."),
    "verification_failed": gettext_lazy("The e-CPS signature could not be verified."),
    "ecps_revoked": gettext_lazy("This e-CPS is revoked (opposition or striking off)."),
    "ecps_suspended": gettext_lazy("This e-CPS is suspended."),
    "holder_inactive": gettext_lazy("The registry no longer lists you as practising: sign-in refused."),
    "exercise_inactive": gettext_lazy(
        "The registry no longer lists this professional exercise: sign-in refused."
    ),
    "no_challenge": gettext_lazy("The sign-in expired: try again."),
}


def signin_verify(
    *, credential: dict[str, Any], challenge: str, client_id: str = "", ip_address: str | None = None
) -> ECps:
    """Check an assertion of an e-CPS, then the registry; audit the attempt whatever its outcome."""
    ecps = (
        ECps.objects.select_related("holder", "exercise")
        .filter(credential_id=_credential_id(credential))
        .first()
    )
    reason = _signin_refusal(ecps, credential, challenge)
    event = SignInEvent(
        ecps=ecps,
        professional=ecps.holder if ecps else None,
        application=get_application_model().objects.filter(client_id=client_id).first()
        if client_id
        else None,
        client_id=client_id[:100],
        result=SignInEvent.Result.REFUSED if reason else SignInEvent.Result.SUCCESS,
        reason=reason or "",
        ip_address=ip_address,
    )
    event.save()
    if reason or ecps is None:
        raise errors.SignInRefused(
            str(REFUSALS.get(reason or "", REFUSALS["unknown_credential"])), code=reason
        )
    return ecps


def _credential_id(credential: dict[str, Any]) -> str:
    value = credential.get("id") or credential.get("rawId") or ""
    return value if isinstance(value, str) else ""


def _signin_refusal(ecps: ECps | None, credential: dict[str, Any], challenge: str) -> str | None:
    """The signature first (a bare credential id must not reveal an e-CPS's state), then the registry."""
    if ecps is None:
        return "unknown_credential"
    if not challenge:
        return "no_challenge"
    if not _assertion_valid(ecps, credential, challenge):
        return "verification_failed"
    if not ecps.holder.is_active:
        return "holder_inactive"
    if not ecps.exercise.is_active:
        return "exercise_inactive"
    if ecps.state != ECps.State.ACTIVE:
        return "ecps_revoked" if ecps.state == ECps.State.REVOKED else "ecps_suspended"
    return None


def _assertion_valid(ecps: ECps, credential: dict[str, Any], challenge: str) -> bool:
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.CPX_WEBAUTHN_RP_ID,
            expected_origin=settings.CPX_WEBAUTHN_ORIGIN,
            credential_public_key=bytes(ecps.public_key),
            credential_current_sign_count=ecps.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, KeyError, ValueError, TypeError) as exc:
        log.info("e-CPS %s: assertion refused: %s", ecps.pk, exc)
        return False
    ECps.objects.filter(pk=ecps.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    return True


def signin_refused_at_consent(*, ecps_id: int | None, client_id: str, reason: str) -> None:
    ecps = ECps.objects.filter(pk=ecps_id).first() if ecps_id else None
    SignInEvent.objects.create(
        ecps=ecps,
        professional_id=ecps.holder_id if ecps else None,
        application=get_application_model().objects.filter(client_id=client_id).first(),
        client_id=client_id[:100],
        result=SignInEvent.Result.REFUSED,
        reason=reason,
    )


def holder_user(professional: Professional) -> Any:
    """The platform user who stands for the holder at the provider (their portal account, or a new one
    without a password: this one signs in only with the e-CPS)."""
    account = (
        Account.objects.filter(role=Role.HOLDER, professional=professional)
        .select_related("user")
        .order_by("pk")
    ).first()
    if account is not None:
        return account.user
    user = get_user_model().objects.create_user(username=f"ecps-{professional.national_id}", password=None)
    Account.objects.create(user=user, role=Role.HOLDER, professional=professional)
    return user


def sign_ins_of(*, professional: Professional, limit: int = 20) -> QuerySet[SignInEvent]:
    return SignInEvent.objects.filter(professional=professional).select_related("application")[:limit]


# --- relying parties ------------------------------------------------------------------------------------


def relying_parties_for(*, actor: User) -> QuerySet[Any]:
    if role_of(actor) not in RP_READERS:
        raise errors.NotPermitted(_("Relying parties are registered by ANS operators."))
    return get_application_model().objects.order_by("name", "pk")


def relying_party_register(*, actor: User, name: str, redirect_uris: list[str]) -> tuple[Any, str]:
    """Register a health service as an OpenID Connect client (authorization code with PKCE, ID tokens
    signed RS256). Returns the application and its client secret, in clear this once (stored hashed)."""
    if role_of(actor) not in RP_MANAGERS:
        raise errors.NotPermitted(_("Relying parties are registered by ANS operators."))
    application_model = get_application_model()
    secret = generate_client_secret()
    application = application_model(
        name=name.strip()[:255],
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(uri.strip() for uri in redirect_uris if uri.strip()),
        algorithm=application_model.RS256_ALGORITHM,
        client_secret=secret,
        skip_authorization=False,
    )
    try:
        application.full_clean(exclude=["user", "client_secret"])
    except ValidationError as exc:
        raise errors.EcpsError("; ".join(exc.messages), code="invalid") from None
    application.save()
    return application, secret
