"""The PKI's fixtures: a test CA hierarchy (keys made once per session), a holder, a card key."""

import base64
import datetime as dt
import os
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp as x509_ocsp

from pki import services, signing

TEST_PINS = {"root": "test-root-pin", "ca": "test-ca-pin", "ocsp": "test-ocsp-pin"}


@pytest.fixture(scope="session")
def ca_keys(tmp_path_factory):
    """The CA's SoftHSM2 stores (root, CA and OCSP tokens), one set per test session: the keys are made on
    the tokens by the first ``pki_init`` and reused by the next ones (fresh certificates per test)."""
    return tmp_path_factory.mktemp("hsm")


@pytest.fixture
def pki_dir(settings, ca_keys):
    settings.CPX_HSM_SOFTHSM_DIR = str(ca_keys)
    settings.CPX_ROOT_TOKEN_PIN = TEST_PINS["root"]
    settings.CPX_CA_TOKEN_PIN = TEST_PINS["ca"]
    settings.CPX_OCSP_TOKEN_PIN = TEST_PINS["ocsp"]
    settings.CPX_PKI_TEST_HIERARCHY = True
    return ca_keys


def hsm_env(settings) -> dict[str, str]:
    """The environment a child process needs to reach the same CA tokens."""
    return {
        "CPX_HSM_SOFTHSM_DIR": str(settings.CPX_HSM_SOFTHSM_DIR),
        "CPX_ROOT_TOKEN_PIN": settings.CPX_ROOT_TOKEN_PIN,
        "CPX_CA_TOKEN_PIN": settings.CPX_CA_TOKEN_PIN,
        "CPX_OCSP_TOKEN_PIN": settings.CPX_OCSP_TOKEN_PIN,
    }


@pytest.fixture
def hierarchy(db, pki_dir):
    root, issuing, _ = signing.pki_init()
    return root, issuing


@pytest.fixture
def holder():
    return signing.Holder(
        national_id="810107518424", surname="MARTIN", given_name="Claire", profession="Médecin"
    )


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
    chain.write_bytes(signing.chain_pem())
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(signing.ca_certificate(hierarchy[1]).public_bytes(serialization.Encoding.PEM))
    return chain, issuer


def write_cert_pem(path: Path, der: bytes) -> Path:
    subprocess.run(["openssl", "x509", "-inform", "DER", "-out", str(path)], input=der, check=True)
    return path


def ocsp_request(cert, issuer, algorithm=None, nonce=False) -> bytes:
    """An OCSP request (DER) for one certificate: SHA-1 CertID unless told, a random nonce if asked."""
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())  # noqa: S303
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def ocsp_get_path(request_der: bytes) -> str:
    """The RFC 5019 GET path of a request: base64, URL-encoded."""
    return "/pki/ocsp/" + urllib.parse.quote(base64.b64encode(request_der).decode(), safe="")


def card_certificate(row):
    return x509.load_der_x509_certificate(bytes(row.der))
