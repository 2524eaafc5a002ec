"""Within one second of a declaration, the published delta CRL lists the card's certificates and the OCSP
responder answers ``revoked``: checked with the real openssl (base + delta, -use_deltas) against a live
server."""

import subprocess
import time
import urllib.request

import pytest
from cryptography import x509

from lifecycle.opposition import card_declare_opposition
from pki.models import Certificate

pytestmark = pytest.mark.django_db(transaction=True)

OPENSSL_REASON = {"keyCompromise": "Key Compromise", "superseded": "Superseded"}


def _pem(tmp_path, name, der):
    path = tmp_path / name
    subprocess.run(["openssl", "x509", "-inform", "DER", "-out", str(path)], input=der, check=True)
    return path


def _crl(live_server, tmp_path, name="personnes.crl"):
    with urllib.request.urlopen(f"{live_server.url}/pki/crl/{name}", timeout=5) as response:  # noqa: S310
        der = response.read()
    path = tmp_path / name
    subprocess.run(["openssl", "crl", "-inform", "DER", "-out", str(path)], input=der, check=True)
    return path


def _crls(live_server, tmp_path):
    """The base CRL and the delta CRL (where a revocation appears first), in one PEM file for openssl."""
    base, delta = _crl(live_server, tmp_path), _crl(live_server, tmp_path, "personnes-delta.crl")
    both = tmp_path / "crls.pem"
    both.write_bytes(base.read_bytes() + delta.read_bytes())
    return both, delta


def _verify(chain, crl, cert):
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-crl_check",
            "-use_deltas",
            "-CAfile",
            str(chain),
            "-CRLfile",
            str(crl),
            str(cert),
        ],
        capture_output=True,
        text=True,
    )
    return result.stdout + result.stderr


def _ocsp(live_server, issuer, chain, cert):
    result = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(cert), "-CAfile", str(chain)]
        + ["-url", f"{live_server.url}/pki/ocsp"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize(("reason", "crl_reason"), [("stolen", "keyCompromise"), ("defective", "superseded")])
def test_crl_and_ocsp_show_the_revocation_within_a_second(
    live_server, card, certify, holder_of, pem_files, tmp_path, reason, crl_reason
):
    chain, issuer = pem_files
    certs = [_pem(tmp_path, f"{c.usage}.pem", bytes(c.der)) for c in certify(card)]
    crl, _delta = _crls(live_server, tmp_path)
    for cert in certs:
        assert ": OK" in _verify(chain, crl, cert)
        assert f"{cert}: good" in _ocsp(live_server, issuer, chain, cert)
    holder = holder_of(card)

    # The clock runs from the declaration to the published CRLs fetched and the first OCSP answer received
    # (the checks of what they say come after; they are what the elapsed time saw).
    started = time.monotonic()
    card_declare_opposition(card=card, reason=reason, actor=holder, channel="online")
    crl, delta = _crls(live_server, tmp_path)
    first_answer = _ocsp(live_server, issuer, chain, certs[0])
    elapsed = time.monotonic() - started
    verified = [_verify(chain, crl, cert) for cert in certs]
    answers = [first_answer, *[_ocsp(live_server, issuer, chain, cert) for cert in certs[1:]]]

    for out in verified:
        assert "certificate revoked" in out, out
    for cert, out in zip(certs, answers, strict=True):
        assert "Response verify OK" in out and f"{cert}: revoked" in out, out
        assert f"Reason: {crl_reason}" in out, out
    crl_text = subprocess.run(
        ["openssl", "crl", "-in", str(delta), "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout
    assert "Delta CRL Indicator" in crl_text
    assert crl_text.count(OPENSSL_REASON[crl_reason]) == 2
    published = x509.load_pem_x509_crl(delta.read_bytes())
    for row in Certificate.objects.filter(card_number=card.number):
        assert published.get_revoked_certificate_by_serial_number(int(row.serial, 16)) is not None
    assert elapsed < 1.0, f"revocation visible after {elapsed:.3f} s"
