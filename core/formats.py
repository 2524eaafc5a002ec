"""How the platform writes amounts and dates for people (pages, letters, invoices): one format each."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import formats, translation

SYMBOLS = {"EUR": "€"}


def format_money(value: Any, currency: str = "EUR", *, language: str | None = None) -> str:
    """``36,00 €`` in French (a narrow no-break space before the symbol), ``€36.00`` in English."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    symbol = SYMBOLS.get(currency, currency)
    lang = (language or translation.get_language() or "fr")[:2]
    if lang == "fr":
        whole, _, cents = f"{abs(amount):.2f}".partition(".")
        grouped = f"{int(whole):,}".replace(",", "\u202f")
        sign = "-" if amount < 0 else ""
        return f"{sign}{grouped},{cents}\u00a0{symbol}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def format_date(value: datetime.date | datetime.datetime | None, *, language: str | None = None) -> str:
    """A date written in full: ``1 décembre 2026`` / ``1 December 2026`` (the format of DATE_FORMAT)."""
    if value is None:
        return ""
    if language:
        with translation.override(language):
            return formats.date_format(value, "DATE_FORMAT")
    return formats.date_format(value, "DATE_FORMAT")
