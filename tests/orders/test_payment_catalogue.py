"""The payments' French (``locale/fragments/payments.po``): complete, and loaded into the catalogue in tests.

Until the lead merges the fragment into ``locale/fr``, the French tests of payments load it with the fixture
``payments_french`` (the fragment's entries put in front of the active French catalogue, taken out after)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import trans_real

FRAGMENT = Path(__file__).resolve().parents[2] / "locale" / "fragments" / "payments.po"
_LINE = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(".*")\s*$')


def fragment_entries() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in FRAGMENT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            key = match.group(1)
            if (
                key in ("msgid", "msgctxt")
                and "msgid" in current
                and any(k.startswith("msgstr") for k in current)
            ):
                entries.append(current)
                current = {}
            current[key] = ast.literal_eval(match.group(2))
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
    if current:
        entries.append(current)
    return entries


def fragment_catalog() -> dict[object, str]:
    catalog: dict[object, str] = {}
    for entry in fragment_entries():
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            for index in range(2):
                catalog[(msgid, index)] = entry[f"msgstr[{index}]"]
        else:
            catalog[msgid] = entry["msgstr"]
    return catalog


@pytest.fixture
def payments_french() -> Iterator[None]:
    french = trans_real.translation("fr")
    catalog = french._catalog  # type: ignore[attr-defined]
    catalog._catalogs.insert(0, fragment_catalog())
    catalog._plurals.insert(0, lambda n: int(n > 1))
    try:
        with translation.override("fr"):
            yield
    finally:
        catalog._catalogs.pop(0)
        catalog._plurals.pop(0)


def test_every_entry_of_the_fragment_is_translated():
    entries = fragment_entries()
    assert len(entries) > 50
    for entry in entries:
        strings = [value for key, value in entry.items() if key.startswith("msgstr")]
        assert strings and all(strings), entry
        assert entry["msgid"].count("%(") == strings[0].count("%("), entry


def test_the_fragment_translates_the_invoice(payments_french):
    assert translation.gettext("Invoice %(number)s") == "Facture %(number)s"
