"""The agent on a card really personalized by a station: its holder data verifies against the platform's
published CA certificates, its signature verifies with the card's certificate, the mailer's PIN and PUK
work in it, and the help desk's response (pki.unblock) unblocks it."""

import base64
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from pki import signing, unblock
from stations import personalization
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

from .conftest import AGENT, REPO, challenge_from

pytestmark = pytest.mark.django_db


def _agent(made_by, *args, codes=()):
    return subprocess.run(
        [str(AGENT), "--module", SOFTHSM, *args],
        input="".join(f"{code}\n" for code in codes),
        env={**os.environ, "SOFTHSM2_CONF": made_by.softhsm_conf, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_agent_on_a_card_made_by_a_station(station, queued_order, tmp_path):  # noqa: F811
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, puk = pin_and_puk(card)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(signing.chain_pem())

    show = _agent(station, "show", "--ca-file", str(chain))
    assert show.returncode == 0, show.stdout + show.stderr
    assert f"Carte {card.number}" in show.stdout and "signature vérifiée avec les autorités" in show.stdout
    assert "MODIFIABLE" not in show.stdout and "SUPPRIMABLE" not in show.stdout

    challenge = f"cpx-card-activation|{card.number}|n0nce"
    signed = _agent(station, "sign", "--card", card.number, challenge, codes=[pin])
    assert signed.returncode == 0, signed.stderr
    certificate = x509.load_der_x509_certificate(bytes(card.certificates.get(usage="auth").der))
    certificate.public_key().verify(
        base64.b64decode(signed.stdout), challenge.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    sign_key = _agent(station, "sign", "--key", "sign", "document", codes=[pin])
    assert sign_key.returncode == 0, sign_key.stderr

    assert _agent(station, "change-pin", codes=[pin, "5829", "5829"]).returncode == 0
    assert _agent(station, "unblock", codes=[puk, "4682", "4682"]).returncode == 0
    assert _agent(station, "sign", "x", codes=["4682"]).returncode == 0

    kept = challenge_from(_agent(station, "helpdesk", "--challenge").stdout)
    response = unblock.helpdesk_response(card.number, card.puk_key_version, kept)
    answered = _agent(station, "helpdesk", "--response", codes=[response, "3957", "3957"])
    assert answered.returncode == 0, answered.stderr
    assert _agent(station, "sign", "x", codes=["3957"]).returncode == 0
