"""System checks of payments: the development provider never in production, a payee account that exists.

``check`` (every run): the payee's IBAN and BIC must be valid (``schwifty``: checksum, country format,
length) or transfers would be sent nowhere. ``check --deploy``: the development provider (its checkout
takes test cards, no money moves) is refused when DEBUG is off, as is the development payee account.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

# The settings' defaults: a development account (a valid IBAN of no one's).
DEVELOPMENT_IBAN = "FR7630001007941234567890185"


@checks.register(checks.Tags.security, deploy=True)
def check_no_dev_provider_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .providers.dev import is_configured

    if is_configured() and not settings.DEBUG:
        return [
            checks.Error(
                "CPX_PAYMENT_PROVIDER is the development provider with DEBUG off: its checkout takes test "
                "cards and no money moves.",
                hint="Configure a real provider (e.g. orders.providers.systempay.SystempayProvider) or none.",
                id="orders.E001",
            )
        ]
    return []


@checks.register()
def check_payee_account(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        IBAN(settings.CPX_PAYEE_IBAN)
    except SchwiftyException as error:
        errors.append(
            checks.Error(
                f"CPX_PAYEE_IBAN is not a valid IBAN ({error}).",
                hint="Give the IBAN of the account transfers are paid into.",
                id="orders.E003",
            )
        )
    try:
        BIC(settings.CPX_PAYEE_BIC)
    except SchwiftyException as error:
        errors.append(
            checks.Error(
                f"CPX_PAYEE_BIC is not a valid BIC ({error}).",
                hint="Give the BIC of the bank holding CPX_PAYEE_IBAN.",
                id="orders.E004",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_payee_is_not_the_development_account(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.CPX_PAYEE_IBAN.replace(" ", "").upper() == DEVELOPMENT_IBAN:
        return [
            checks.Error(
                "CPX_PAYEE_IBAN is the development default: payers would transfer to an account of no one's.",
                hint="Set CPX_PAYEE_NAME, CPX_PAYEE_IBAN, CPX_PAYEE_BIC, CPX_PAYEE_ADDRESS to the payee's.",
                id="orders.E005",
            )
        ]
    return []
