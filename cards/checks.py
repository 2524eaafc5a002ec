"""``manage.py check --deploy``: the PIN mailers' sealing key is a secret of its own.

Without CPX_SECRETS_KEY the key is derived from SECRET_KEY (development only): whoever has the one could
open every sealed PIN mailer. A production platform gives it as CPX_SECRETS_KEY_FILE, a Fernet key.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_sealing_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    key = settings.CPX_SECRETS_KEY
    hint = (
        "Make one with cryptography's Fernet.generate_key() and give it as CPX_SECRETS_KEY_FILE (never in "
        "the environment of a process that does not seal or print PIN mailers)."
    )
    if not key:
        return [
            checks.Error(
                "CPX_SECRETS_KEY is not set: the PIN mailers' sealing key would be derived from SECRET_KEY.",
                hint=hint,
                id="cards.E001",
            )
        ]
    try:
        Fernet(key)
    except ValueError:
        return [
            checks.Error(
                "CPX_SECRETS_KEY is not a Fernet key (32 bytes, url-safe base64).", hint=hint, id="cards.E002"
            )
        ]
    if key == settings.SECRET_KEY:
        return [
            checks.Error(
                "CPX_SECRETS_KEY is SECRET_KEY: it must be a secret of its own.", hint=hint, id="cards.E003"
            )
        ]
    if key in {derived_key(settings.SECRET_KEY), derived_key(DEVELOPMENT_SECRET_KEY)}:
        return [
            checks.Error(
                "CPX_SECRETS_KEY is the key derived from SECRET_KEY (or from its development default): "
                "whoever has SECRET_KEY could open the PIN mailers.",
                hint=hint,
                id="cards.E005",
            )
        ]
    return []


DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - config.settings' public default


def derived_key(secret_key: str) -> str:
    """The key cards.mailers derives from SECRET_KEY when CPX_SECRETS_KEY is empty (development)."""
    digest = hashlib.sha256(f"cpx-pin-mailer:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


# The default opposition number is in a range ARCEP reserves for fiction: a letter printed with it would send
# a holder whose card was stolen nowhere.
FICTION_PHONE = "01 99 00 12 34"


@checks.register(checks.Tags.security, deploy=True)
def check_opposition_phone(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.CPX_OPPOSITION_PHONE.strip() in ("", FICTION_PHONE):
        return [
            checks.Error(
                "CPX_OPPOSITION_PHONE is the development default: the letters would print a number that "
                "answers nobody.",
                hint="Set CPX_OPPOSITION_PHONE to the number that opposes a card (printed on every letter).",
                id="cards.E004",
            )
        ]
    return []
