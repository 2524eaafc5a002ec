"""``manage.py check --deploy``: the platform's own secrets, none left at a public default or missing.

Errors, not warnings: a production process must not start with a secret anyone can read in this
repository (the settings' defaults, deploy/.env.example's placeholders). The token PINs are checked by
pki.checks, the PIN mailers' sealing key by cards.checks, the development payment provider by orders.checks.
Registered by config.settings (this module imports no app).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.core import checks

# The settings' development default and deploy/.env.example's placeholder.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - the public default, refused
PLACEHOLDERS = {"secret", "password", "changeme", "change-me"}
MIN_SECRET_KEY_LENGTH = 50
MIN_OIDC_KEY_BITS = 2048


def placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDERS or "change-me" in lowered or "changeme" in lowered


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    key = settings.SECRET_KEY
    if key == DEVELOPMENT_SECRET_KEY or placeholder(key) or len(key) < MIN_SECRET_KEY_LENGTH:
        return [
            checks.Error(
                "DJANGO_SECRET_KEY is the development default, a placeholder, or shorter than "
                f"{MIN_SECRET_KEY_LENGTH} characters: sessions, password-reset and renewal links could be "
                "forged.",
                hint="Give at least 50 random characters as DJANGO_SECRET_KEY_FILE (a secret file).",
                id="config.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_oidc_signing_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    hint = (
        "Give the provider's RS256 key (PEM, at least 2048 bits) as CPX_OIDC_RSA_PRIVATE_KEY_FILE; the "
        "generated file (CPX_OIDC_KEY_FILE) is for development."
    )
    if not settings.CPX_OIDC_KEY_GIVEN:
        return [
            checks.Error(
                "CPX_OIDC_RSA_PRIVATE_KEY is not set: the OpenID Connect provider would sign ID tokens "
                "with a key generated on this host (each host its own, lost with it).",
                hint=hint,
                id="config.E002",
            )
        ]
    problem = _rsa_key_problem(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
    if problem:
        return [checks.Error(f"CPX_OIDC_RSA_PRIVATE_KEY {problem}.", hint=hint, id="config.E003")]
    return []


def _rsa_key_problem(pem: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return "is not an unencrypted PEM private key"
    if not isinstance(key, rsa.RSAPrivateKey):
        return "is not an RSA key (ID tokens are signed RS256)"
    if key.key_size < MIN_OIDC_KEY_BITS:
        return f"has {key.key_size} bits, fewer than {MIN_OIDC_KEY_BITS}"
    return ""


@checks.register(checks.Tags.security, deploy=True)
def check_service_passwords(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The database, SMTP and payment provider secrets: not deploy/.env.example's placeholders, and the
    payment provider's key present when that provider is configured."""
    messages: list[checks.CheckMessage] = []
    database_password = settings.DATABASES["default"].get("PASSWORD") or ""
    found = {
        "DATABASE_URL's password": database_password,
        "EMAIL_HOST_PASSWORD": settings.EMAIL_HOST_PASSWORD,
        "CPX_SYSTEMPAY_KEY": settings.CPX_SYSTEMPAY_KEY,
    }
    for name, value in found.items():
        if value and placeholder(unquote(value)):
            messages.append(
                checks.Error(
                    f"{name} is deploy/.env.example's placeholder.",
                    hint="Give the real secret through its *_FILE variable.",
                    id="config.E004",
                )
            )
    if "systempay" in settings.CPX_PAYMENT_PROVIDER.lower() and not settings.CPX_SYSTEMPAY_KEY:
        messages.append(
            checks.Error(
                "CPX_PAYMENT_PROVIDER is Systempay but CPX_SYSTEMPAY_KEY is empty: payment answers could "
                "not be authenticated.",
                hint="Give the shop's key as CPX_SYSTEMPAY_KEY_FILE.",
                id="config.E005",
            )
        )
    return messages
