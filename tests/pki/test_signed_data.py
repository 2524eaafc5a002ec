"""Data signed by an issuing CA as CMS SignedData: what relying software checks with openssl and the
published CA certificates."""

import subprocess

import pytest

from pki import signing

pytestmark = pytest.mark.django_db


def test_openssl_verifies_data_signed_by_the_issuing_ca(hierarchy, pem_files, tmp_path):
    chain, _issuer = pem_files
    content = b'{"v":1,"holder":"MARTIN Claire"}'
    for card_type in ("CPS", "CPE"):
        der = signing.sign_data(signing.issuing_ca(card_type), content)
        path = tmp_path / f"{card_type}.p7"
        path.write_bytes(der)
        result = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(path)]
            + ["-CAfile", str(chain), "-purpose", "any"],
            capture_output=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == content
        tampered = der.replace(b"MARTIN", b"DURAND")
        path.write_bytes(tampered)
        bad = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(path)]
            + ["-CAfile", str(chain), "-purpose", "any"],
            capture_output=True,
            timeout=30,
        )
        assert bad.returncode != 0
