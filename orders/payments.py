"""The tariff, the interface to an online payment provider, and how an order is paid by transfer.

A provider is a class named by the setting ``CPX_PAYMENT_PROVIDER`` that satisfies ``PaymentProvider``
(``orders.providers``: the development provider, and Lyra/Systempay's payment form); the platform asks it to
start a checkout and, when the holder comes back (or the provider calls back), asks it to confirm, then
records the payment through the same service an operator uses (``orders.payment_services``). A provider
whose return is signed (``SignedReturns``) verifies the parameters it sent back instead. The fee of an order
is fixed at its submission (``orders.services``), from ``tariff_on``.

A transfer quotes the order's reference (``transfer_reference``: ``CPX-<order id>-<check digits>``), which
bank-statement reconciliation (``orders.reconciliation``) reads back (``read_transfer_reference``); the payee
(``payee``) comes from the settings.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Tariff


@dataclass(frozen=True)
class Checkout:
    reference: str
    redirect_url: str
    # A provider whose checkout is opened by a form posted to it (Lyra/Systempay's vads_* fields): the
    # fields to post to ``redirect_url``; empty: the payer is simply sent there.
    form_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Confirmation:
    reference: str
    paid: bool
    amount: Decimal
    currency: str = "EUR"
    # The order the checkout was opened for, when the provider reports it (providers carry the merchant's
    # reference): a checkout paid for one order is then never recorded for another.
    order_id: int | None = None
    # The payer gave up at the provider's page (nothing was paid, the order still awaits payment).
    cancelled: bool = False


class PaymentProvider(Protocol):
    def start(self, *, order_id: int, amount: Decimal, currency: str, return_url: str) -> Checkout: ...

    def confirm(self, *, reference: str) -> Confirmation: ...


@runtime_checkable
class SignedReturns(Protocol):
    """A provider that signs what it sends back (the payer's return, its notification): ``verify`` checks
    the signature of ``params`` and says what they report (``payment_services.payment_confirm_signed``)."""

    def verify(self, *, params: Mapping[str, str]) -> Confirmation: ...


def configured_provider() -> PaymentProvider | None:
    if not settings.CPX_PAYMENT_PROVIDER:
        return None
    return import_string(settings.CPX_PAYMENT_PROVIDER)()


def tariff_on(day: datetime.date) -> Tariff | None:
    """The price in force on ``day``: the latest one that started on or before it."""
    return Tariff.objects.filter(valid_from__lte=day).order_by("-valid_from").first()


# --- bank transfers --------------------------------------------------------------------------------------

REFERENCE_PREFIX = "CPX"
# As a payer may type it: any case, a hyphen, space or nothing between the parts.
_REFERENCE = re.compile(r"(?<![A-Z0-9])CPX[-\s]?(\d{1,12})[-\s]?(\d{2})(?!\d)", re.IGNORECASE)


def _check_digits(order_id: int) -> str:
    """ISO 7064 MOD 97-10 (as IBANs and RF creditor references): a mistyped reference never names another
    order."""
    return f"{98 - (order_id * 100) % 97:02d}"


def transfer_reference(order_id: int) -> str:
    """The reference a payer quotes on a transfer for this order: ``CPX-<order id>-<check digits>``."""
    return f"{REFERENCE_PREFIX}-{order_id}-{_check_digits(order_id)}"


def read_transfer_reference(text: str) -> int | None:
    """The order id of the first valid reference quoted in ``text`` (a transfer's remittance information),
    or None: a reference whose check digits are wrong is not read."""
    for match in _REFERENCE.finditer(text or ""):
        order_id = int(match.group(1))
        if _check_digits(order_id) == match.group(2):
            return order_id
    return None


@dataclass(frozen=True)
class Payee:
    name: str
    iban: str
    bic: str
    bank: str
    address: tuple[str, ...]

    @property
    def iban_display(self) -> str:
        """The IBAN in groups of four, as printed on a RIB."""
        compact = self.iban.replace(" ", "").upper()
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def payee() -> Payee:
    """Who is paid by transfer or cheque (the settings ``CPX_PAYEE_*``; checked by ``orders.checks``)."""
    return Payee(
        name=settings.CPX_PAYEE_NAME,
        iban=settings.CPX_PAYEE_IBAN.replace(" ", "").upper(),
        bic=settings.CPX_PAYEE_BIC.replace(" ", "").upper(),
        bank=settings.CPX_PAYEE_BANK,
        address=tuple(line for line in settings.CPX_PAYEE_ADDRESS if line.strip()),
    )
