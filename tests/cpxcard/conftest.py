"""The card agent's fixtures: development cards in a SoftHSM2 store of the test's own, the agent run as a
subprocess (bin/cpx-card, codes on its standard input), and the help desk's side of the unblock protocol,
written here from the protocol (docs/cpx-card.md), independently of the agent's code."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "bin" / "cpx-card"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _authority(name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, certificate)


@pytest.fixture(scope="session")
def authority():
    return _authority("CPx test CA personnes")


@pytest.fixture(scope="session")
def helpdesk_key():
    """The help desk's unblock key (pki.unblock's cpx-helpdesk-vN); its public half goes on the cards."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class DevCard:
    number: str
    pin: str
    puk: str
    certificates: dict[str, x509.Certificate]


@dataclass
class Store:
    """A SoftHSM2 token store of the test's own (concurrent writers on one store corrupt it)."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def tokendir(self) -> Path:
        return self.root / "tokens"

    @property
    def state_file(self) -> Path:
        return self.tokendir / "cpx-card-state.json"

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf), "PYTHONPATH": str(REPO), **extra}


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "softhsm")
    store.tokendir.mkdir(parents=True)
    store.conf.write_text(
        f"directories.tokendir = {store.tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    return store


def holder_data(number: str) -> dict:
    return {
        "v": 1,
        "issuer": "8025000001",
        "card_number": number,
        "card_type": "CPS",
        "issued": "2026-01-05",
        "expires": "2029-01-04",
        "holder": {
            "national_id": "810107518424",
            "id_type": "8",
            "rpps": "10107518424",
            "adeli": "",
            "civility": "DR",
            "last_name": "MARTIN",
            "first_name": "Claire",
        },
        "profession": {"code": "10", "label": "Médecin", "category": "C", "skill": ""},
        "situations": [{"mode": "L", "sector": "SA07", "structure_name": "Cabinet du Dr Martin"}],
    }


@pytest.fixture
def make_card(store, authority, helpdesk_key):
    """``make_card(number=…, pin=…, puk=…)``: a card built in its own process (tests/cpxcard/devcard.py)."""
    serial = iter(range(1, 100))

    def make(
        *,
        number: str | None = None,
        pin: str = "7316",
        puk: str = "40917263",
        unblock: bool = True,
        data: dict | None = None,
        data_number: str | None = None,
        tamper: bool = False,
        signer: Authority | None = None,
    ) -> DevCard:
        number = number or f"80250000019{next(serial):09d}"
        signer = signer or authority
        spki = helpdesk_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        spec = {
            "conf": str(store.conf),
            "number": number,
            "pin": pin,
            "puk": puk,
            "holder": "Claire MARTIN",
            "ca_key": signer.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "ca_cert": signer.pem().decode(),
            "holder_data": data if data is not None else holder_data(data_number or number),
            "tamper": tamper,
            "unblock_spki": base64.b64encode(spki).decode() if unblock else "",
        }
        result = subprocess.run(
            [sys.executable, "-m", "tests.cpxcard.devcard"],
            input=json.dumps(spec),
            env=store.env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        certificates = {
            usage: x509.load_pem_x509_certificate(pem.encode())
            for usage, pem in json.loads(result.stdout).items()
        }
        return DevCard(number, pin, puk, certificates)

    return make


@pytest.fixture
def agent(store):
    """``agent("show", codes=[…])``: bin/cpx-card on the store's SoftHSM2 module, codes one per line on
    standard input (not a terminal)."""

    def run(
        *args: str, codes: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(AGENT), "--module", SOFTHSM, *args],
            input="".join(f"{code}\n" for code in codes),
            env=env or store.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def start_agent(store: Store, *args: str) -> subprocess.Popen:
    """The agent as a process to talk to (the interactive help-desk form)."""
    return subprocess.Popen(
        [str(AGENT), "--module", SOFTHSM, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=store.env(),
        text=True,
    )


# --- the help desk's side (pki.unblock does it on the token; here from the protocol alone) ----------


def challenge_from(output: str) -> str:
    """The challenge the agent printed: the line of dash-separated groups of 4 base32 letters."""
    lines = [line.strip() for line in output.splitlines()]
    found = [line for line in lines if line.count("-") >= 12 and line.replace("-", "").isalnum()]
    assert len(found) == 1, output
    return found[0]


def helpdesk_response(key: ec.EllipticCurvePrivateKey, number: str, challenge: str, puk: str) -> str:
    """Brief, step 2: S = ECDH(help-desk key, E); K = HKDF-SHA256(S, salt b"", info
    "cpx-helpdesk-unblock|<number>", 8 bytes), big-endian; response = (PUK + K) mod 10**8, "1234 5678"."""
    text = challenge.replace("-", "").replace(" ", "").upper()
    point = base64.b32decode(text + "=" * (-len(text) % 8))
    assert len(point) == 33 and point[0] in (2, 3)
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    shared = key.exchange(ec.ECDH(), ephemeral)
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=8, salt=b"", info=b"cpx-helpdesk-unblock|" + number.encode()
    )
    value = (int(puk) + int.from_bytes(hkdf.derive(shared), "big")) % 10**8
    digits = f"{value:08d}"
    return f"{digits[:4]} {digits[4:]}"


def state(store: Store) -> dict:
    return json.loads(store.state_file.read_text()) if store.state_file.exists() else {}
