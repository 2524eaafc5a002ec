"""The passkey (WebAuthn) ceremonies as the platform runs them, for the registration (``ecps.enrolment``)
and the sign-in (``ecps.signin``): the relying party and its origins from the settings, user verification
required, one timeout. Challenges travel as base64url strings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

TIMEOUT_MS = 120_000


class PasskeyRejected(Exception):
    """The authenticator's answer does not verify (its text says why, for the log)."""


def registration_options(*, user_id: bytes, user_name: str, display_name: str) -> tuple[dict[str, Any], str]:
    """Options to create a discoverable credential (the phone offers it at sign-in without a user name),
    and the challenge to keep."""
    options = generate_registration_options(
        rp_id=settings.CPX_WEBAUTHN_RP_ID,
        rp_name=settings.CPX_WEBAUTHN_RP_NAME,
        user_id=user_id,
        user_name=user_name,
        user_display_name=display_name,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    return options_to_json_dict(options), bytes_to_base64url(options.challenge)


def verify_registration(*, credential: dict[str, Any], challenge: str) -> VerifiedRegistration:
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.CPX_WEBAUTHN_RP_ID,
            expected_origin=settings.CPX_WEBAUTHN_ORIGIN,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, KeyError, ValueError, TypeError) as exc:
        raise PasskeyRejected(str(exc)) from None


def authentication_options() -> tuple[dict[str, Any], str]:
    """Options for a discoverable-credential assertion, and the challenge to keep."""
    options = generate_authentication_options(
        rp_id=settings.CPX_WEBAUTHN_RP_ID,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options), bytes_to_base64url(options.challenge)


def verify_authentication(
    *, credential: dict[str, Any], challenge: str, public_key: bytes, sign_count: int
) -> VerifiedAuthentication:
    try:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.CPX_WEBAUTHN_RP_ID,
            expected_origin=settings.CPX_WEBAUTHN_ORIGIN,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, KeyError, ValueError, TypeError) as exc:
        raise PasskeyRejected(str(exc)) from None
