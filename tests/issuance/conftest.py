import datetime as dt
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from issuance import pki, services

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="session")
def ca_keys():
    """CA keys are slow to make (RSA-3072): one pair per test session, fresh certificates per test."""
    return {bits: pki.new_ca_key(bits) for bits in (2048, 3072)}


@pytest.fixture
def pki_dir(settings, tmp_path, ca_keys, monkeypatch):
    monkeypatch.setattr(pki, "new_ca_key", lambda bits: ca_keys[bits])
    settings.CPX_PKI_DIR = tmp_path / "pki"
    settings.CPX_PKI_PASSPHRASE = "test-passphrase"
    settings.CPX_PKI_TEST_HIERARCHY = True
    return settings.CPX_PKI_DIR


@pytest.fixture
def hierarchy(db, pki_dir):
    root, issuing, _ = pki.pki_init()
    return root, issuing


@pytest.fixture
def holder():
    return pki.Holder(national_id="810107518424", surname="MARTIN", given_name="Claire", profession="Médecin")


@pytest.fixture(scope="session")
def card_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def issue(hierarchy, holder, card_key):
    def issue(usage="auth", card_number="80250000010000000001"):
        return services.certificate_issue(
            usage=usage,
            public_key=card_key.public_key(),
            holder=holder,
            valid_until=dt.date.today() + dt.timedelta(days=3 * 365),
            card_number=card_number,
        )

    return issue


@pytest.fixture
def pem_files(tmp_path, hierarchy):
    """Write the CA chain and the issuing CA as PEM files for openssl."""
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.chain_pem())
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(pki.ca_certificate(hierarchy[1]).public_bytes(serialization.Encoding.PEM))
    return chain, issuer


def write_cert_pem(path: Path, der: bytes) -> Path:
    subprocess.run(["openssl", "x509", "-inform", "DER", "-out", str(path)], input=der, check=True)
    return path


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def scheduled(monkeypatch):
    """Tasks sent to stations are recorded, not put on a broker (tests run the job themselves)."""
    from stations import tasks

    sent = []
    monkeypatch.setattr(tasks.personalize, "apply_async", lambda *a, **k: sent.append((a, k)))
    return sent


@pytest.fixture
def station(db, settings, tmp_path, hierarchy):
    from django.core.management import call_command

    from stations.models import ReaderStation

    # A name of its own per test: its queue (station.<name>) on the shared Redis never meets another run's.
    name = f"t{uuid.uuid4().hex[:10]}"
    settings.CPX_STATIONS_DIR = tmp_path / "stations"
    call_command("station_register", name, "--readers", "2", "--blanks", "4", "--module", SOFTHSM)
    return ReaderStation.objects.get(name=name)


@pytest.fixture
def queued_order(db):
    from orders.models import Order
    from tests.factories import ActivityFactory, OrderFactory

    activity = ActivityFactory()
    ActivityFactory(exercise=activity.exercise, mode_id="S", activity_key="S|second")
    return OrderFactory(exercise=activity.exercise, state=Order.State.QUEUED)


def pin_and_puk(card):
    """Read the codes back from the PIN mailer: the only place they exist once the job is over."""
    import re

    from issuance import services

    pdf = services.pin_mailer_open(mailer=card.mailers.get(kind="pin"))
    pin = re.search(rb"PIN\\\) : (\d{4})", pdf).group(1).decode()
    puk = re.search(rb"PUK\\\) : (\d{8})", pdf).group(1).decode()
    return pin, puk


def token_labels(station):
    """Labels of the initialized tokens in the station's SoftHSM2 store, seen by an outside process."""
    import os

    out = subprocess.run(
        ["softhsm2-util", "--show-slots"],
        env={**os.environ, "SOFTHSM2_CONF": station.softhsm_conf},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(
        line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith("Label:") and line.split(":", 1)[1].strip()
    )
