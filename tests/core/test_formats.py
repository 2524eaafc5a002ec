"""One way to write amounts and dates (core.formats), in both languages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from core.formats import format_date, format_money

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("value", "french", "english"),
    [
        (Decimal("36"), f"36,00{NBSP}€", "€36.00"),
        ("36.5", f"36,50{NBSP}€", "€36.50"),
        (0, f"0,00{NBSP}€", "€0.00"),
        (15, f"15,00{NBSP}€", "€15.00"),
        (Decimal("1234567.891"), f"1{NNBSP}234{NNBSP}567,89{NBSP}€", "€1,234,567.89"),
        (Decimal("-36"), f"-36,00{NBSP}€", "-€36.00"),
        (2.675, f"2,68{NBSP}€", "€2.68"),
    ],
)
def test_an_amount_is_written_one_way_per_language(value, french, english):
    assert format_money(value, language="fr") == french
    assert format_money(value, language="en") == english


def test_the_active_language_decides_and_french_is_the_default():
    with translation.override("en"):
        assert format_money(36) == "€36.00"
    with translation.override("fr"):
        assert format_money(36) == f"36,00{NBSP}€"
    translation.deactivate_all()
    try:
        assert format_money(36) == f"36,00{NBSP}€"
    finally:
        translation.activate("fr")


def test_never_the_currency_code_for_euros_but_for_other_currencies():
    assert "EUR" not in format_money(36, "EUR", language="fr") + format_money(36, "EUR", language="en")
    assert format_money(36, "CHF", language="fr") == f"36,00{NBSP}CHF"


def test_no_amount_is_an_empty_text_and_garbage_is_refused():
    assert format_money(None) == "" and format_money("") == ""
    with pytest.raises(ValueError):
        format_money("thirty-six")


def test_a_date_is_written_in_full():
    day = dt.date(2026, 12, 1)
    assert format_date(day, language="fr") == "1 décembre 2026"
    assert format_date(day, language="en") == "Dec. 1, 2026"
    assert format_date(None) == ""


def test_a_moment_is_dated_in_the_platform_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    late = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 December in Paris
    assert format_date(late, language="fr") == "1 décembre 2026"
    assert format_date(dt.datetime(2026, 12, 1, 10, 0), language="fr") == "1 décembre 2026"  # naive: as is
