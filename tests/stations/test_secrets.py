"""PIN and PUK exist in clear only in memory and in the PIN mailer: never in a table, never in a log."""

import logging
import re

import pytest
from django.db import connection

from cards import mailers
from cards import services as card_services
from cards.models import Mailer
from pki import unblock
from stations import personalization

from .conftest import card_login, pin_and_puk

pytestmark = pytest.mark.django_db

# Codes chosen so that they cannot come from anything else in the dump (dates, card numbers, identifiers).
PIN, PUK = "7391", "58204617"


def standalone(secret: str) -> re.Pattern[str]:
    """The code as a value of its own, not four digits inside a longer run (a timestamp's microseconds,
    a serial number): a code kept in clear would stand alone, in a column, a JSON field or a log line."""
    return re.compile(rf"(?<![0-9]){secret}(?![0-9])")


def standalone_bytes(secret: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![0-9])" + secret.encode() + rb"(?![0-9])")


def _database_dump() -> tuple[str, bytes]:
    """Every row of every table: text columns as text, binary columns as their raw bytes."""
    text, binary = [], []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the catalogue
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        binary.append(bytes(value))
                    else:
                        text.append(str(value))
    return "\n".join(text), b"\n".join(binary)


def test_pin_and_puk_are_nowhere_in_the_database_nor_the_logs(station, queued_order, monkeypatch, caplog):
    monkeypatch.setattr(card_services, "new_pin", lambda: PIN)
    monkeypatch.setattr(unblock, "puk_for", lambda number, version: PUK)  # (derived on the unblock token)
    caplog.set_level(logging.DEBUG)
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert not card_login(station, card, "0000")  # a wrong PIN tried on the card leaves no trace either
    assert pin_and_puk(card) == (PIN, PUK)  # the sealed mailer does carry them

    text, binary = _database_dump()
    assert card.number in text and len(binary) > 5_000  # the dump did read the tables
    for secret in (PIN, PUK):
        assert not standalone(secret).search(text)
        assert not standalone_bytes(secret).search(binary)
        assert not standalone(secret).search(caplog.text)
    # The sealed mailer is the only place: opened, it holds the PIN once.
    sealed = bytes(Mailer.objects.get(card=card, kind="pin").content)
    assert PIN.encode() not in sealed and mailers.unseal(sealed).count(PIN.encode()) == 1


def test_ca_private_keys_are_not_in_the_database(hierarchy, settings):
    """CA keys live on their tokens only: sensitive, never extractable, their value unreadable; no private
    key in the database, and no key file under the platform's directories."""
    from pathlib import Path

    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import PKCS11Error

    from pki import hsm
    from pki.models import CertificateAuthority

    cas = list(CertificateAuthority.objects.all())
    assert len(cas) >= 3
    for ca in cas:
        with hsm.session(hsm.token(ca.token_role)) as session:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ca.key_label)
            assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE]
            assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
            secret = Attribute.VALUE if ca.algorithm.startswith("ec") else Attribute.PRIVATE_EXPONENT
            with pytest.raises(PKCS11Error):
                key[secret]

    text, binary = _database_dump()
    assert "PRIVATE KEY" not in text and b"PRIVATE KEY" not in binary
    roots = {Path(settings.CPX_HSM_SOFTHSM_DIR), Path(settings.VAR_DIR), Path(settings.CPX_STATIONS_DIR)}
    # Not CA keys: the stations' credentials, and the OpenID provider's signing key (its own setting).
    others = {Path(settings.CPX_OIDC_KEY_FILE).resolve()}
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            if not path.is_file() or path.name == "station-key.pem" or path.resolve() in others:
                continue
            if path.name.endswith(".key.pem") or b"PRIVATE KEY-----" in path.read_bytes():
                found.append(path)
    assert not found


def test_pin_and_puk_are_random_and_well_formed():
    pins = {card_services.new_pin() for _ in range(200)}
    puks = {card_services.new_puk() for _ in range(200)}
    assert all(len(p) == 4 and p.isdigit() for p in pins) and len(pins) > 150
    assert all(len(p) == 8 and p.isdigit() for p in puks) and len(puks) == 200


def test_the_search_finds_a_code_kept_in_clear_but_not_digits_inside_a_timestamp():
    assert standalone(PIN).search('{"pin": "7391"}') and standalone(PIN).search("pin=7391 for card")
    assert not standalone(PIN).search("2026-11-26 16:49:36.573918+00:00")
    assert standalone_bytes(PUK).search(b"\x00PUK 58204617\x00")
