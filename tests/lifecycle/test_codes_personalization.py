"""A card personalized by a station: its PUK is derived (pki.unblock.puk_for), never drawn nor stored, and the
card carries the help-desk key of its version (CPX_UNBLOCK), write-protected like everything on it."""

import logging
import os
import re
import subprocess

import pytest
from django.db import connection

from pki import unblock
from stations import personalization, tokens
from tests.stations.conftest import (  # noqa: F401 (fixtures)
    SOFTHSM,
    ca_keys,
    card_key,
    fast_passwords,
    hierarchy,
    holder,
    pin_and_puk,
    pki_dir,
    queued_order,
    scheduled,
    station,
)


def _unblock_object(station, card, pin):  # noqa: F811
    token = tokens.find_token(tokens.Reader(station.module, station.softhsm_conf), card.number)
    with token.open(user_pin=pin) as session:
        found = list(session.get_objects({tokens.Attribute.LABEL: tokens.UNBLOCK_LABEL}))
        assert len(found) == 1
        obj = found[0]
        return {
            "value": bytes(obj[tokens.Attribute.VALUE]),
            "application": obj[tokens.Attribute.APPLICATION],
            "private": obj[tokens.Attribute.PRIVATE],
            "modifiable": obj[tokens.Attribute.MODIFIABLE],
            "destroyable": obj[tokens.Attribute.DESTROYABLE],
        }


@pytest.mark.django_db
def test_the_puk_is_derived_from_the_card_number_and_version_one(station, queued_order):  # noqa: F811
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, puk = pin_and_puk(card)
    assert card.puk_key_version == 1
    assert puk == unblock.puk_for(card.number, 1)
    token = tokens.find_token(tokens.Reader(station.module, station.softhsm_conf), card.number)
    with token.open(rw=True, so_pin=puk):  # the PUK is the card's security officer PIN
        pass


@pytest.mark.django_db
def test_the_card_carries_the_help_desk_key_write_protected(station, queued_order):  # noqa: F811
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _ = pin_and_puk(card)
    found = _unblock_object(station, card, pin)
    assert found["value"] == unblock.helpdesk_public_key(1)
    assert found["application"] == "CPx help-desk unblock v1"
    assert not found["private"] and not found["modifiable"] and not found["destroyable"]
    env = {**os.environ, "SOFTHSM2_CONF": station.softhsm_conf}
    base = ["pkcs11-tool", "--module", SOFTHSM, "--token-label", card.number]
    for login in ([], ["--login", "--pin", pin]):
        result = subprocess.run(
            [*base, *login, "--delete-object", "--type", "data", "--label", tokens.UNBLOCK_LABEL],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0 and "C_DestroyObject() failed" in result.stderr, result.stderr
    assert _unblock_object(station, card, pin)["value"] == unblock.helpdesk_public_key(1)


@pytest.mark.django_db
def test_a_new_key_version_gives_new_cards_their_puk_and_help_desk_key(station, queued_order, settings):  # noqa: F811
    settings.CPX_UNBLOCK_KEY_VERSION = 2
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, puk = pin_and_puk(card)
    assert card.puk_key_version == 2 and puk == unblock.puk_for(card.number, 2) != unblock.puk_for(
        card.number, 1
    )
    assert _unblock_object(station, card, pin)["value"] == unblock.helpdesk_public_key(2)


def _pg_dump() -> str:
    db = connection.settings_dict
    result = subprocess.run(
        ["pg_dump", "--data-only", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
        + ["-U", db["USER"] or "postgres", db["NAME"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_puk_is_stored_nowhere(station, queued_order, caplog):  # noqa: F811
    """A dump of the whole database (pg_dump, another connection: the job's work is committed) and the
    logs: the PUK appears in neither; the sealed mailer holds it, opened only for the print run."""
    caplog.set_level(logging.DEBUG)
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    _pin, puk = pin_and_puk(card)
    dump = _pg_dump()
    assert card.number in dump and len(dump) > 20_000  # the dump did hold the card's rows
    standalone = re.compile(rf"(?<![0-9]){puk}(?![0-9])")
    assert not standalone.search(dump)
    assert not standalone.search(caplog.text)
    assert "puk" not in {f.name for f in type(card)._meta.get_fields()}
