"""`check --deploy` fails (an Error, not a Warning) on every secret left at a public default or missing:
one test per secret, the check run in process on otherwise good settings; then once through manage.py."""

from __future__ import annotations

import base64

import pytest
from django.core import checks

from cards.checks import check_sealing_key, derived_key
from config.checks import check_oidc_signing_key, check_secret_key, check_service_passwords
from pki.checks import check_ca_tokens
from tests.test_settings import _check_deploy, oidc_key, production_environment

GOOD_SECRET_KEY = "x8#kq2-vR7mZp0@Lw5!tYb3&nH9cJ4dF6gS1aQe*Uo_iP%zX-Mv2Rk7Yw"
GOOD_SEALING_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.fixture
def good(settings):
    """Settings whose every secret is good: each test spoils one."""
    settings.SECRET_KEY = GOOD_SECRET_KEY
    settings.CPX_SECRETS_KEY = GOOD_SEALING_KEY
    settings.CPX_ROOT_TOKEN_PIN = ""
    settings.CPX_CA_TOKEN_PIN = ""
    settings.CPX_UNBLOCK_TOKEN_PIN = ""
    settings.CPX_OCSP_TOKEN_PIN = "ocsp-Pin-7w9q2x"
    settings.CPX_SIGNING_INLINE = False
    settings.CPX_OIDC_KEY_GIVEN = True
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": KEY}
    settings.EMAIL_HOST_PASSWORD = "smtp-Pw-4k8z1"
    settings.CPX_PAYMENT_PROVIDER = ""
    settings.CPX_SYSTEMPAY_KEY = ""
    return settings


KEY = oidc_key()


def errors(*functions) -> set[str]:
    found = [m for function in functions for m in function()]
    assert all(m.level == checks.ERROR for m in found if m.id != "pki.W002" and m.id != "pki.W005"), found
    return {m.id for m in found if m.level >= checks.ERROR}


def test_good_secrets_pass(good):
    assert (
        errors(check_secret_key, check_oidc_signing_key, check_service_passwords, check_sealing_key) == set()
    )
    assert not [m for m in check_ca_tokens() if m.level >= checks.ERROR and m.id in ("pki.E001", "pki.E007")]


@pytest.mark.parametrize(
    "value",
    ["insecure-development-key-change-me", "change-me-to-50-random-characters", "short-but-random-7Yw"],
)
def test_the_secret_key_at_its_default_or_a_placeholder(good, value):
    good.SECRET_KEY = value
    assert errors(check_secret_key) == {"config.E001"}


def test_the_oidc_key_missing(good):
    good.CPX_OIDC_KEY_GIVEN = False  # CPX_OIDC_RSA_PRIVATE_KEY empty: a key generated on the host
    assert errors(check_oidc_signing_key) == {"config.E002"}


@pytest.mark.parametrize("pem", ["not a key", oidc_key(1024)])
def test_the_oidc_key_unusable(good, pem):
    good.OAUTH2_PROVIDER = {**good.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": pem}
    assert errors(check_oidc_signing_key) == {"config.E003"}


@pytest.mark.parametrize(
    ("name", "pin"),
    [
        ("CPX_ROOT_TOKEN_PIN", "dev-root-0000"),
        ("CPX_CA_TOKEN_PIN", "dev-ca-0000"),
        ("CPX_OCSP_TOKEN_PIN", "dev-ocsp-0000"),
        ("CPX_UNBLOCK_TOKEN_PIN", "dev-unblock-0000"),
        ("CPX_CA_TOKEN_PIN", "dev-ocsp-0000"),  # another token's development PIN
    ],
)
def test_a_token_pin_at_its_development_default(good, name, pin):
    setattr(good, name, pin)
    assert "pki.E001" in {m.id for m in check_ca_tokens() if m.level == checks.ERROR}


def test_two_tokens_sharing_a_pin(good):
    good.CPX_CA_TOKEN_PIN = good.CPX_OCSP_TOKEN_PIN
    assert "pki.E007" in {m.id for m in check_ca_tokens() if m.level == checks.ERROR}


def test_the_sealing_key_missing(good):
    good.CPX_SECRETS_KEY = ""
    assert errors(check_sealing_key) == {"cards.E001"}


@pytest.mark.parametrize("from_key", [GOOD_SECRET_KEY, "insecure-development-key-change-me"])
def test_the_sealing_key_derived_from_the_secret_key(good, from_key):
    good.CPX_SECRETS_KEY = derived_key(from_key)
    assert errors(check_sealing_key) == {"cards.E005"}


def test_the_derivation_is_the_mailers_own(good):
    from cards import mailers

    good.CPX_SECRETS_KEY = ""
    sealed = mailers.seal(b"%PDF")
    good.CPX_SECRETS_KEY = derived_key(GOOD_SECRET_KEY)
    assert mailers.unseal(sealed) == b"%PDF"


@pytest.mark.parametrize("value", ["secret", "change-me", "password"])
def test_the_smtp_password_left_at_the_example(good, value):
    good.EMAIL_HOST_PASSWORD = value
    assert errors(check_service_passwords) == {"config.E004"}


def test_the_database_password_left_at_the_example(good):
    good.DATABASES = {"default": {**good.DATABASES["default"], "PASSWORD": "secret"}}
    assert errors(check_service_passwords) == {"config.E004"}


def test_the_payment_provider_s_key_missing(good):
    good.CPX_PAYMENT_PROVIDER = "orders.providers.systempay.SystempayProvider"
    assert errors(check_service_passwords) == {"config.E005"}
    good.CPX_SYSTEMPAY_KEY = "changeme"
    assert errors(check_service_passwords) == {"config.E004"}


def test_manage_py_check_deploy_fails_on_a_default_secret_key_and_a_missing_oidc_key(tmp_path):
    env = production_environment(tmp_path)
    env.pop("DJANGO_SECRET_KEY_FILE")
    env.pop("CPX_OIDC_RSA_PRIVATE_KEY_FILE")
    # Errors, so it fails even at the default fail level (ERROR), where warnings pass.
    result = _check_deploy(env, fail_level="ERROR")
    assert result.returncode != 0
    assert "config.E001" in result.stderr and "config.E002" in result.stderr
