"""Activation of an e-CPS, up to the activation code: the holder proves who they are with the physical card
(the card agent signs a challenge with it, ``cpx-card sign``, in the format of ``cards.proof``) or, for RPPS
holders, with two codes sent by e-mail and SMS; the proof earns a single-use activation code that the phone
redeems to register its passkey (``ecps.enrolment``).

Secrets are stored only as keyed hashes (``keyed_hash``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from cards import proof
from cards.models import Card
from core.errors import DomainError, NotFound, NotPermitted
from core.roles import Role, account_of
from registry.models import Exercise, Professional

from . import errors
from .models import Activation, ECps
from .sms import SmsUnavailable, sms_sender

User = Any  # a django.contrib.auth user with a registry Account
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from a screen, typed on a phone


# --- common ------------------------------------------------------------------------------------------


def keyed_hash(value: str) -> str:
    """A one-time code as stored: HMAC-SHA256 under the platform's secret (a 6-digit code's plain hash
    would be reversed by trying the million values)."""
    return salted_hmac("cpx.ecps.code", value, algorithm="sha256").hexdigest()


def _matches(value: str, stored: str) -> bool:
    return bool(stored) and constant_time_compare(keyed_hash(value.strip()), stored)


def _later(seconds: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def _holder(actor: User) -> Professional:
    account = account_of(actor)
    if account is None or account.role != Role.HOLDER or account.professional is None:
        raise NotPermitted(_("Only a card holder activates an e-CPS."))
    return account.professional


def _exercise(holder: Professional, exercise_id: int) -> Exercise:
    exercise = holder.exercises.select_related("profession").filter(pk=exercise_id).first()
    if exercise is None:
        raise NotFound(_("No such professional exercise."))
    return exercise


def check_can_activate(holder: Professional, exercise: Exercise) -> None:
    """The registry lists the holder practising this exercise, and the exercise has no live e-CPS (checked
    at the start and again when the phone redeems the activation code)."""
    if not holder.is_active or not exercise.is_active:
        raise errors.ActivationRefused(
            _("The registry does not list you as practising this profession."), code="holder_inactive"
        )
    if ECps.objects.filter(exercise=exercise, state__in=ECps.LIVE_STATES).exists():
        raise errors.ActivationRefused(
            _("This exercise already has an e-CPS (one at a time): declare the old phone lost first."),
            code="already_has_ecps",
        )


# --- activation with the physical card ----------------------------------------------------------------


def activation_start_with_card(*, actor: User, exercise_id: int) -> Activation:
    """Issue a challenge for the holder's active card of this exercise to sign with its authentication key."""
    holder = _holder(actor)
    exercise = _exercise(holder, exercise_id)
    check_can_activate(holder, exercise)
    card = (
        Card.objects.filter(professional=holder, exercise=exercise, state=Card.State.ACTIVE)
        .order_by("-valid_until")
        .first()
    )
    if card is None:
        raise errors.ActivationRefused(
            _("You have no active card for this profession: activate your card first."), code="no_active_card"
        )
    # Bound to the card, and never confused with a card activation challenge (cpx-card-activation|...).
    challenge = f"cpx-ecps-activation|{card.number}|{secrets.token_urlsafe(32)}"
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


def _card_proof_failure(activation: Activation, signature: bytes) -> DomainError | None:
    card = Card.objects.get(pk=activation.card_id)
    certificate = proof.auth_certificate(card)
    if card.state != Card.State.ACTIVE or certificate is None:
        return errors.ActivationRefused(
            _("This card is no longer active or its certificate is revoked."), code="card_not_usable"
        )
    if not proof.signed_by_card(certificate, activation.challenge.encode(), signature):
        _count_attempt(activation)
        return errors.ProofRejected(
            _("The card's signature does not match the challenge."), code="bad_signature"
        )
    return None


def sign_command(activation: Activation) -> str:
    """What the holder runs on their computer with the card in its reader (the card agent asks for the PIN
    and prints the signature): ``cpx-card sign --card <number> '<challenge>'``."""
    assert activation.card is not None  # an activation with the card names it
    return proof.sign_command(activation.card.number, activation.challenge)


# --- activation by codes (RPPS holders) --------------------------------------------------------------


def activation_start_with_codes(*, actor: User, exercise_id: int) -> Activation:
    """Send one code to the e-mail address and another to the mobile number the registry knows.

    RPPS holders only: the ADELI registry's contact data are not verified enough to stand for the card."""
    holder = _holder(actor)
    exercise = _exercise(holder, exercise_id)
    _check_codes_allowed(holder)
    check_can_activate(holder, exercise)
    email_code, sms_code = _otp(), _otp()
    with transaction.atomic():
        Activation.objects.filter(holder=holder, state=Activation.State.PENDING).update(
            state=Activation.State.FAILED, failure="superseded"
        )
        activation = Activation.objects.create(
            holder=holder,
            exercise=exercise,
            method=ECps.Method.CODES,
            email_code_hash=keyed_hash(email_code),
            sms_code_hash=keyed_hash(sms_code),
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


def _codes_failure(activation: Activation, email_code: str, sms_code: str) -> DomainError | None:
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
        raise NotFound(_("No such activation."))
    if activation.state != Activation.State.PENDING:
        raise errors.InvalidState(_("This activation is closed: start again."), code="activation_closed")
    return activation


def _expired(activation: Activation) -> DomainError | None:
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
    activation.code_hash = keyed_hash(code)
    seconds = settings.CPX_ECPS_ACTIVATION_CODE_SECONDS
    activation.code_expires_at = activation.proven_at + dt.timedelta(seconds=seconds)
    activation.save(update_fields=["state", "proven_at", "code_hash", "code_expires_at"])
    return code


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())
