"""``manage.py check --deploy``: the CA's tokens, PINs and publication settings.

A PIN left unset falls back to the public development PIN: refused. A PIN set *empty* is how a process is
kept away from a token (the web processes have no CA, root or unblock PIN; only the signing service has the
CA's, only the operator's ceremonies the root's, only the stations and the signing service the unblock
token's).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

PIN_SETTINGS = {
    "root": "CPX_ROOT_TOKEN_PIN",
    "ca": "CPX_CA_TOKEN_PIN",
    "ocsp": "CPX_OCSP_TOKEN_PIN",
    "unblock": "CPX_UNBLOCK_TOKEN_PIN",
}
MIN_PIN_LENGTH = 8


def _weak(pin: str) -> str:
    if pin in settings.CPX_HSM_DEV_PINS.values():
        return "is the public development PIN (unset, or copied from the defaults)"
    if "change-me" in pin.lower():
        return "is the example's placeholder"
    if len(pin) < MIN_PIN_LENGTH:
        return f"is shorter than {MIN_PIN_LENGTH} characters"
    return ""


@checks.register(checks.Tags.security, deploy=True)
def check_ca_tokens(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for role, name in PIN_SETTINGS.items():
        pin = getattr(settings, name)
        if pin and (problem := _weak(pin)):
            messages.append(
                checks.Error(
                    f"{name} {problem}.",
                    hint=f"Give the {role} token's PIN through {name}_FILE (a secret file) to the process "
                    f"that needs it, and set {name}= (empty) for every other process.",
                    id="pki.E001",
                )
            )
    given = {name: getattr(settings, name) for name in PIN_SETTINGS.values() if getattr(settings, name)}
    shared = sorted(name for name, pin in given.items() if list(given.values()).count(pin) > 1)
    if shared:
        messages.append(
            checks.Error(
                f"{', '.join(shared)} are one PIN: a process given one token's PIN could open the others'.",
                hint="Give each token a PIN of its own (the OCSP token's, on every web host, must never "
                "open the CA's).",
                id="pki.E007",
            )
        )
    if not settings.CPX_OCSP_TOKEN_PIN:
        messages.append(
            checks.Warning(
                "CPX_OCSP_TOKEN_PIN is empty: this process cannot sign OCSP answers.",
                hint="The web processes answer /pki/ocsp with the delegated responder's key "
                "(CPX_OCSP_TOKEN_PIN_FILE).",
                id="pki.W002",
            )
        )
    if settings.CPX_SIGNING_INLINE:
        messages.append(
            checks.Error(
                "CPX_SIGNING_INLINE is true: this process would sign as the CA itself.",
                hint="Only the signing service (`manage.py run_signer`) opens the CA token: unset "
                "CPX_SIGNING_INLINE.",
                id="pki.E003",
            )
        )
    if settings.CPX_HSM_SOFTHSM_DIR and not settings.CPX_PKI_TEST_HIERARCHY:
        messages.append(
            checks.Error(
                "A production hierarchy (CPX_PKI_TEST_HIERARCHY=false) with its keys in a SoftHSM2 store.",
                hint="Set CPX_HSM_MODULE to the HSM's PKCS#11 module and CPX_HSM_SOFTHSM_DIR= (empty).",
                id="pki.E004",
            )
        )
    base = settings.CPX_PKI_BASE_URL or settings.CPX_BASE_URL
    if settings.CPX_PKI_BASE_URL.startswith("https://"):
        messages.append(
            checks.Warning(
                "CPX_PKI_BASE_URL is https://: certificates carry http:// URLs all the same.",
                hint="CRLs, CA certificates and OCSP are fetched over plain HTTP (RFC 5280 §4.2.1.13, "
                "RFC 6960 A.1).",
                id="pki.W005",
            )
        )
    if not base:
        messages.append(
            checks.Error("CPX_BASE_URL is empty: certificates need CRL and OCSP URLs.", id="pki.E006")
        )
    return messages
