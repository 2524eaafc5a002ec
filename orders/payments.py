"""The tariff, and the interface to an online payment provider.

No real provider ships: none can be exercised from here. A provider is a class named by the setting
``CPX_PAYMENT_PROVIDER`` that satisfies ``PaymentProvider``; the platform asks it to start a checkout and,
when the holder comes back (or the provider calls back), asks it to confirm, then records the payment
through the same service an operator uses (``orders.payment_services``). The fee of an order is fixed at
its submission (``orders.services``), from ``tariff_on``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Tariff


@dataclass(frozen=True)
class Checkout:
    reference: str
    redirect_url: str


@dataclass(frozen=True)
class Confirmation:
    reference: str
    paid: bool
    amount: Decimal
    currency: str = "EUR"
    # The order the checkout was opened for, when the provider reports it (providers carry the merchant's
    # reference): a checkout paid for one order is then never recorded for another.
    order_id: int | None = None


class PaymentProvider(Protocol):
    def start(self, *, order_id: int, amount: Decimal, currency: str, return_url: str) -> Checkout: ...

    def confirm(self, *, reference: str) -> Confirmation: ...


def configured_provider() -> PaymentProvider | None:
    if not settings.CPX_PAYMENT_PROVIDER:
        return None
    return import_string(settings.CPX_PAYMENT_PROVIDER)()


def tariff_on(day: datetime.date) -> Tariff | None:
    """The price in force on ``day``: the latest one that started on or before it."""
    return Tariff.objects.filter(valid_from__lte=day).order_by("-valid_from").first()
