"""The stations' fixtures: a registered station with SoftHSM2 readers and blanks, a queued order, the PKI
hierarchy its cards are certified by (tests/pki), and what the jobs leave behind (mailer codes, tokens)."""

import os
import re
import subprocess
import sys
import uuid

import pytest
from django.core.management import call_command

from cards import services as card_services
from orders.models import Order
from stations import services
from stations.models import ReaderStation
from tests.factories import ActivityFactory, OrderFactory
from tests.pki.conftest import ca_keys, card_key, hierarchy, holder, pki_dir  # noqa: F401 (fixtures)

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def scheduled(monkeypatch):
    """The tasks the stations' services send by name (a personalization job to a station's queue) are
    recorded as (name, args, options), not put on a broker: tests run the job themselves."""
    sent = []
    monkeypatch.setattr(
        services, "send_task", lambda name, *args, **options: sent.append((name, args, options))
    )
    return sent


@pytest.fixture
def station(db, settings, tmp_path, hierarchy):  # noqa: F811 (the fixture imported above)
    # A name of its own per test: its queue (station.<name>) on the shared Redis never meets another run's.
    name = f"t{uuid.uuid4().hex[:10]}"
    settings.CPX_STATIONS_DIR = tmp_path / "stations"
    call_command("station_register", name, "--readers", "2", "--blanks", "4", "--module", SOFTHSM)
    return ReaderStation.objects.get(name=name)


@pytest.fixture
def queued_order(db):
    activity = ActivityFactory()
    ActivityFactory(exercise=activity.exercise, mode_id="S", activity_key="S|second")
    return OrderFactory(exercise=activity.exercise, state=Order.State.QUEUED)


def pin_and_puk(card):
    """Read the codes back from the PIN mailer: the only place they exist once the job is over."""
    pdf = card_services.pin_mailer_open(mailer=card.mailers.get(kind="pin"))
    pin = re.search(rb"PIN\\\) : (\d{4})", pdf).group(1).decode()
    puk = re.search(rb"PUK\\\) : (\d{8})", pdf).group(1).decode()
    return pin, puk


# What the holder's side does with a card, in a process of its own (as pkcs11-tool or the card agent would):
# the platform's processes never log into a card that has left its station.
CARD_SCRIPT = r"""
import base64, sys
import pkcs11
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PinIncorrect
module, label, action, text = sys.argv[1:5]
pin = sys.stdin.readline().strip()
token = pkcs11.lib(module).get_token(token_label=label)
try:
    with token.open(user_pin=pin) as session:
        if action == "sign":
            key = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label="CPS_AUTH")
            signature = key.sign(text.encode(), mechanism=Mechanism.SHA256_RSA_PKCS)
            print(base64.b64encode(signature).decode())
except PinIncorrect:
    sys.exit(2)
"""


def _on_card(station, card, pin: str, action: str, text: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CARD_SCRIPT, SOFTHSM, card.number, action, text],
        input=pin + "\n",
        env={**os.environ, "SOFTHSM2_CONF": station.softhsm_conf},
        capture_output=True,
        text=True,
        timeout=60,
    )


def card_login(station, card, pin: str) -> bool:
    """Whether the card takes this PIN (a C_Login as its holder)."""
    result = _on_card(station, card, pin, "login")
    assert result.returncode in (0, 2), result.stderr
    return result.returncode == 0


def card_sign(station, card, pin: str, text: str) -> str:
    """What ``cpx-card sign`` prints: the card's authentication key's signature (RSA PKCS#1 v1.5, SHA-256) of
    the text's UTF-8 bytes, one line of standard base64."""
    result = _on_card(station, card, pin, "sign", text)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def token_labels(station):
    """Labels of the initialized tokens in the station's SoftHSM2 store, seen by an outside process."""
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
