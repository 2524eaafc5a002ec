"""The end of an activation: the phone redeems the activation code (once, within its 90 seconds), registers
a passkey (WebAuthn, user verification required), and the e-CPS is created (one live per exercise, kept
by a database constraint)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from webauthn.helpers import bytes_to_base64url
from webauthn.registration.verify_registration_response import VerifiedRegistration

from core.errors import DomainError

from . import errors, passkeys
from .activation import check_can_activate, keyed_hash, normalize_code
from .models import Activation, ECps, ECpsEvent

log = logging.getLogger(__name__)

REGISTRATION_WINDOW = dt.timedelta(minutes=3)


def enrolment_begin(*, code: str) -> tuple[Activation, dict[str, Any]]:
    """Redeem an activation code (once, within its 90 seconds) for the WebAuthn registration options.

    The code is consumed here, by a conditional update: of two devices presenting it, one wins."""
    digest = keyed_hash(normalize_code(code))
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
        check_can_activate(activation.holder, activation.exercise)
        options = _registration_options(activation)
    return activation, options


def _registration_options(activation: Activation) -> dict[str, Any]:
    holder = activation.holder
    user_handle = secrets.token_bytes(32)
    options, challenge = passkeys.registration_options(
        user_id=user_handle,
        user_name=holder.national_id,
        display_name=f"{holder.full_name} — {activation.exercise.profession.label}",
    )
    activation.registration_challenge = challenge
    activation.user_handle = bytes_to_base64url(user_handle)
    activation.save(update_fields=["registration_challenge", "user_handle"])
    return options


def enrolment_finish(*, activation_id: int, credential: dict[str, Any]) -> ECps:
    """Verify the authenticator's answer (user verification required) and create the e-CPS."""
    with transaction.atomic():
        activation = Activation.objects.select_for_update().filter(pk=activation_id).first()
        if activation is None or activation.state != Activation.State.ENROLLING:
            raise errors.InvalidState(
                _("No registration is in progress: start again."), code="activation_closed"
            )
        verified = _verified(activation, credential)
        if isinstance(verified, VerifiedRegistration):
            return _create_ecps(activation, verified, credential)
        Activation.objects.filter(pk=activation.pk).update(
            state=Activation.State.FAILED, failure=verified.code
        )
    raise verified


def _verified(activation: Activation, credential: dict[str, Any]) -> VerifiedRegistration | DomainError:
    """The verified registration, or the error that closes the activation."""
    if activation.expires_at <= timezone.now():
        return errors.InvalidState(
            _("The registration took too long: start again."), code="activation_expired"
        )
    try:
        return passkeys.verify_registration(
            credential=credential, challenge=activation.registration_challenge
        )
    except passkeys.PasskeyRejected as exc:
        log.info("e-CPS registration refused for activation %s: %s", activation.pk, exc)
        return errors.ProofRejected(
            _("The phone's answer could not be verified."), code="registration_invalid"
        )


def _create_ecps(activation: Activation, verified: VerifiedRegistration, credential: dict[str, Any]) -> ECps:
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
    detail = {"method": activation.method, "activation": activation.pk, "card": activation.card_id}
    ECpsEvent.objects.create(ecps=ecps, kind="activated", detail=detail)
    activation.state, activation.ecps = Activation.State.DONE, ecps
    activation.save(update_fields=["state", "ecps"])
    return ecps
