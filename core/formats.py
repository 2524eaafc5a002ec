"""How the platform writes amounts and dates for people (pages, letters, invoices, messages): one format each.

- Amounts: ``36,00 €`` in French (comma, thousands grouped by a narrow no-break space, a no-break space
  before the symbol so that it never starts a line), ``€36.00`` in English. Never ``36.00 EUR``.
- Dates: written in full, ``1 décembre 2026`` / ``Dec. 1, 2026`` (each language's ``DATE_FORMAT``); a
  moment (an aware datetime) is first brought to the platform's time zone, so that 23:30 UTC on 30 November
  is the 1 December it already is in Paris.

Templates use the same functions: ``{{ amount|money }}`` (portal/templatetags/portal.py) and
``{{ day|date:"DATE_FORMAT" }}`` or ``format_date``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import formats, timezone, translation

SYMBOLS = {"EUR": "€"}
NO_BREAK_SPACE = "\u00a0"
NARROW_NO_BREAK_SPACE = "\u202f"


def _language(language: str | None) -> str:
    return (language or translation.get_language() or "fr")[:2]


def format_money(value: Any, currency: str = "EUR", *, language: str | None = None) -> str:
    """``36,00 €`` in French, ``€36.00`` in English (another currency: its code, ``36,00 CHF``).

    ``value`` is a Decimal, an int, a float or a decimal string; None or "" give "" (no amount)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    symbol = SYMBOLS.get(currency, currency)
    sign = "-" if amount < 0 else ""
    if _language(language) == "fr":
        whole, _, cents = f"{abs(amount):.2f}".partition(".")
        grouped = f"{int(whole):,}".replace(",", NARROW_NO_BREAK_SPACE)
        return f"{sign}{grouped},{cents}{NO_BREAK_SPACE}{symbol}"
    return f"{sign}{symbol}{abs(amount):,.2f}"


def format_date(value: datetime.date | datetime.datetime | None, *, language: str | None = None) -> str:
    """A date written in full: ``1 décembre 2026`` / ``Dec. 1, 2026`` (the language's DATE_FORMAT)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    if language:
        with translation.override(language):
            return formats.date_format(value, "DATE_FORMAT")
    return formats.date_format(value, "DATE_FORMAT")
