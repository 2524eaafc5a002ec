"""Paying by transfer: the order's reference (stable, with check digits), the payee from the settings, and the
checks of its IBAN and BIC (schwifty) and of the development defaults in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from orders import checks
from orders.payments import payee, read_transfer_reference, transfer_reference


def test_the_reference_is_stable_and_carries_check_digits():
    assert transfer_reference(42) == "CPX-42-69" == transfer_reference(42)
    assert transfer_reference(1) == "CPX-1-95"
    # ISO 7064 MOD 97-10: the order id followed by its check digits is 1 modulo 97.
    for order_id in (1, 7, 42, 1234, 987654):
        digits = transfer_reference(order_id).split("-")[2]
        assert int(f"{order_id}{digits}") % 97 == 1


@pytest.mark.parametrize(
    "text",
    ["CPX-42-69", "cpx-42-69", "Virement CPX 42 69 carte", "CPX4269", "REF:CPX-42-69/CARTE"],
)
def test_the_reference_is_read_as_a_payer_types_it(text):
    assert read_transfer_reference(text) == 42


@pytest.mark.parametrize("text", ["CPX-42-68", "CPX-43-69", "ACPX-42-69", "CPX-42-690", "42", "", "CPX-"])
def test_a_mistyped_reference_names_no_order(text):
    assert read_transfer_reference(text) is None


def test_the_payee_comes_from_the_settings(settings):
    settings.CPX_PAYEE_NAME = "Régie CPx"
    settings.CPX_PAYEE_IBAN = "fr76 1007 1000 0075 0000 0000 168"
    settings.CPX_PAYEE_BIC = "trpufrp1"
    settings.CPX_PAYEE_ADDRESS = ["Régie CPx", "", "75015 Paris"]
    found = payee()
    assert found.name == "Régie CPx"
    assert found.iban == "FR7610071000007500000000168"
    assert found.iban_display == "FR76 1007 1000 0075 0000 0000 168"
    assert found.bic == "TRPUFRP1"
    assert found.address == ("Régie CPx", "75015 Paris")


def test_the_default_payee_account_is_valid_but_refused_in_production(settings):
    assert checks.check_payee_account() == []
    assert [error.id for error in checks.check_payee_is_not_the_development_account()] == ["orders.E005"]
    settings.CPX_PAYEE_IBAN = "FR76 1007 1000 0075 0000 0000 168"
    assert checks.check_payee_is_not_the_development_account() == []


def test_an_invalid_iban_or_bic_is_an_error(settings):
    settings.CPX_PAYEE_IBAN = "FR76 1007 1000 0075 0000 0000 169"  # one digit off: the checksum fails
    settings.CPX_PAYEE_BIC = "TRPU"
    assert [error.id for error in checks.check_payee_account()] == ["orders.E003", "orders.E004"]


def test_the_development_provider_is_refused_with_debug_off(settings):
    settings.CPX_PAYMENT_PROVIDER = ""
    assert checks.check_no_dev_provider_in_production() == []
    settings.CPX_PAYMENT_PROVIDER = "orders.providers.dev.DevProvider"
    settings.DEBUG = True
    assert checks.check_no_dev_provider_in_production() == []
    settings.DEBUG = False
    assert [error.id for error in checks.check_no_dev_provider_in_production()] == ["orders.E001"]
    settings.CPX_PAYMENT_PROVIDER = "orders.providers.systempay.SystempayProvider"
    assert checks.check_no_dev_provider_in_production() == []


def test_the_checks_are_registered_and_the_dev_provider_is_off_by_default():
    from django.conf import settings as django_settings
    from django.core import checks as django_checks

    registered = {
        check.__name__ for check in django_checks.registry.registry.get_checks(include_deployment_checks=True)
    }
    assert {"check_no_dev_provider_in_production", "check_payee_account"} <= registered
    import config.settings as module

    source = Path(module.__file__).read_text()
    assert 'CPX_PAYMENT_PROVIDER = env("CPX_PAYMENT_PROVIDER", "")' in source
    assert "DevProvider" not in source.split("CPX_PAYMENT_PROVIDER = ")[1].splitlines()[0]
    assert django_settings.CPX_DEV_PAYMENT_SECRET == "" or django_settings.DEBUG
