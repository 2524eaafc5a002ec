"""An RFC 5280 linter nobody here wrote (pkilint) finds nothing in what the PKI issues: CA and card
certificates, CRLs (base and delta) and OCSP answers."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from pki import services, signing
from pki.models import CertificateAuthority, Crl

pytestmark = pytest.mark.django_db

BIN = Path(sys.executable).parent


def lint(tool: str, der: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / f"{tool}.der"
    path.write_bytes(der)
    result = subprocess.run(
        [str(BIN / tool), "lint", *args, "-s", "WARNING", "--document-format", "DER", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip()


def test_ca_certificates_lint_clean(hierarchy, tmp_path):
    for ca in CertificateAuthority.objects.all():
        assert lint("lint_pkix_cert", bytes(ca.der), tmp_path) == "", ca.slug


@pytest.mark.parametrize("card_type", ["CPS", "CPE"])
@pytest.mark.parametrize("usage", ["auth", "sign"])
def test_card_certificates_lint_clean(hierarchy, holder, card_key, tmp_path, usage, card_type):
    row = services.certificate_issue(
        usage=usage,
        public_key=card_key.public_key(),
        holder=signing.Holder(
            holder.national_id, holder.surname, holder.given_name, holder.profession, "c@x.fr"
        ),
        valid_until=dt.date.today() + dt.timedelta(days=3 * 365),
        card_number="80250000010000000021",
        card_type=card_type,
    )
    assert lint("lint_pkix_cert", bytes(row.der), tmp_path) == ""
    issuer = signing.ca_certificate(signing.issuing_ca(card_type))
    assert chain_lint(issuer.public_bytes(serialization.Encoding.DER), bytes(row.der), tmp_path) == ""


def chain_lint(issuer: bytes, subject: bytes, tmp_path: Path) -> str:
    (tmp_path / "issuer.der").write_bytes(issuer)
    (tmp_path / "subject.der").write_bytes(subject)
    result = subprocess.run(
        [str(BIN / "lint_pkix_signer_signee_cert_chain"), "lint", "-s", "WARNING", "--document-format", "DER"]
        + [str(tmp_path / "issuer.der"), str(tmp_path / "subject.der")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip()


def test_the_hierarchy_links_lint_clean(hierarchy, tmp_path):
    root = CertificateAuthority.objects.get(parent=None)
    for ca in CertificateAuthority.objects.exclude(parent=None):
        assert chain_lint(bytes(root.der), bytes(ca.der), tmp_path) == "", ca.slug


def test_crls_lint_clean(hierarchy, issue, tmp_path):
    issue("auth", card_number="80250000010000000022")
    services.certificate_revoke(card_number="80250000010000000022", reason="keyCompromise")
    for crl in Crl.objects.all():
        assert lint("lint_crl", bytes(crl.der), tmp_path, "-t", "CRL", "-p", "PKIX") == "", (
            crl.kind,
            crl.authority,
        )


def test_ocsp_answers_and_responder_certificates_lint_clean(hierarchy, issue, tmp_path):
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp as cocsp

    from pki import ocsp
    from pki.models import OcspResponder

    for responder in OcspResponder.objects.all():
        assert lint("lint_pkix_cert", bytes(responder.der), tmp_path) == "", responder.authority_id
        assert chain_lint(bytes(responder.authority.der), bytes(responder.der), tmp_path) == ""
    good = issue("auth", card_number="80250000010000000023")
    revoked = issue("sign", card_number="80250000010000000024")
    services.certificate_revoke(card_number="80250000010000000024", reason="keyCompromise")
    issuer = signing.ca_certificate(signing.issuing_ca())
    for row in (good, revoked):
        cert = cx509.load_der_x509_certificate(bytes(row.der))
        for nonce in (False, True):
            builder = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
            if nonce:
                builder = builder.add_extension(cx509.OCSPNonce(b"0123456789abcdef"), critical=False)
            der = ocsp.ocsp_respond(builder.build().public_bytes(serialization.Encoding.DER))
            assert lint("lint_ocsp_response", der, tmp_path) == "", (row.usage, nonce)
