"""The CA hierarchy: made once by the root ceremony, its keys made on PKCS#11 tokens, never leaving them."""

from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.management import call_command
from pkcs11 import Attribute, ObjectClass

from pki import hsm, signing
from pki.models import AuditEvent, CertificateAuthority, Crl, OcspResponder

pytestmark = pytest.mark.django_db


def _cn(cert):
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_pki_init_creates_the_hierarchy_once(pki_dir, capsys):
    call_command("pki_init")
    call_command("pki_init")
    assert "already present" in capsys.readouterr().out
    cas = {ca.slug: ca for ca in CertificateAuthority.objects.all()}
    assert set(cas) == {"racine", "personnes", "etablissements"}
    root = signing.ca_certificate(cas["racine"])
    assert _cn(root) == "AC RACINE IGC-SANTE TEST" and cas["racine"].token_role == "root"
    assert (
        isinstance(root.public_key(), ec.EllipticCurvePublicKey)
        and root.public_key().curve.name == "secp384r1"
    )
    for slug, types in (("personnes", ["CPS", "CPF"]), ("etablissements", ["CPE", "CDE", "CPA"])):
        issuing = signing.ca_certificate(cas[slug])
        assert _cn(issuing) == f"AC IGC-SANTE TEST {slug.upper()}"
        assert issuing.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "TEST"
        assert issuing.issuer == root.subject
        issuing.verify_directly_issued_by(root)
        assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
        assert issuing.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
        assert issuing.not_valid_after_utc <= root.not_valid_after_utc
        assert cas[slug].card_types == types and cas[slug].token_role == "ca"
    assert (
        signing.issuing_ca("CPE").slug == "etablissements" and signing.issuing_ca("CPF").slug == "personnes"
    )
    created = AuditEvent.objects.filter(operation=AuditEvent.Operation.CA_CREATE)
    assert created.count() == 3 and set(created.values_list("actor", flat=True)) == {"command pki_init"}


def _private_key(role, label):
    tok = hsm.token(role)
    with hsm.session(tok) as session:
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)


def test_ca_keys_are_on_their_tokens_sensitive_and_never_extractable(hierarchy):
    for role, label in (("root", "racine"), ("ca", "personnes"), ("ca", "etablissements")):
        key = _private_key(role, label)
        assert (
            key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
        )
        assert key[Attribute.ALWAYS_SENSITIVE] and key[Attribute.SIGN] and not key[Attribute.DECRYPT]
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key.__getitem__(Attribute.VALUE)
    # The root's key is on its own token: the CA token does not hold it.
    with hsm.session(hsm.token("ca")) as session, pytest.raises(pkcs11.exceptions.NoSuchKey):
        session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="racine")


def test_no_ca_private_key_exists_in_a_file(hierarchy, tmp_path):
    """Whatever PEM private key lies under the platform's directories or the token stores, none is a CA's."""
    ca_keys = {
        signing.ca_certificate(ca)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for ca in CertificateAuthority.objects.all()
    }
    roots = [Path(settings.BASE_DIR) / "var", Path(settings.CPX_HSM_SOFTHSM_DIR), tmp_path]
    for root in roots:
        for path in root.rglob("*") if root.exists() else []:
            if not path.is_file() or path.stat().st_size > 1_000_000:
                continue
            data = path.read_bytes()
            if b"-----BEGIN" in data and b"PRIVATE KEY-----" in data and b"ENCRYPTED" not in data:
                key = serialization.load_pem_private_key(data, None)
                spki = key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                assert spki not in ca_keys, path
    assert not list(Path(settings.BASE_DIR).glob("var/pki/*.key.pem"))


def test_it_never_overwrites_a_kept_ca_key(hierarchy):
    root, issuing = hierarchy
    kept = {ca.slug: signing.ca_certificate(ca).public_key() for ca in CertificateAuthority.objects.all()}
    # A database rebuilt beside kept tokens: the records go, the keys stay.
    AuditEvent.objects.all().delete()
    Crl.objects.all().delete()
    OcspResponder.objects.all().delete()
    CertificateAuthority.objects.exclude(parent=None).delete()
    CertificateAuthority.objects.all().delete()
    signing.pki_init()
    for ca in CertificateAuthority.objects.all():
        assert signing.ca_certificate(ca).public_key() == kept[ca.slug]


def test_it_refuses_a_hierarchy_whose_key_is_gone(pki_dir, settings, tmp_path):
    settings.CPX_HSM_SOFTHSM_DIR = str(tmp_path / "hsm")  # a store of its own: this test destroys a key
    signing.pki_init()
    with hsm.session(hsm.token("ca")) as session:
        for obj in session.get_objects({Attribute.LABEL: "personnes"}):
            obj.destroy()
    with pytest.raises(signing.PkiNotInitialized, match="personnes"):
        signing.pki_init()


def test_a_process_without_the_ca_pin_cannot_sign_as_the_ca(hierarchy, settings):
    _root, issuing = hierarchy
    settings.CPX_CA_TOKEN_PIN = ""
    with pytest.raises(hsm.TokenUnavailable, match="CPX_CA_TOKEN_PIN"):
        signing.signer(issuing).sign(b"anything")
    settings.CPX_ROOT_TOKEN_PIN = ""
    with pytest.raises(hsm.TokenUnavailable, match="CPX_ROOT_TOKEN_PIN"):
        signing.signer(hierarchy[0]).sign(b"anything")


def test_a_wrong_pin_is_refused(pki_dir, settings, tmp_path):
    settings.CPX_HSM_SOFTHSM_DIR = str(tmp_path / "hsm")
    signing.pki_init()
    settings.CPX_CA_TOKEN_PIN = "not-the-pin"
    with pytest.raises(hsm.TokenUnavailable, match="not the PIN"):
        signing.signer(signing.issuing_ca()).sign(b"anything")


def test_the_key_policy_table_refuses_a_weak_algorithm(pki_dir, settings, tmp_path):
    from pki import keys

    settings.CPX_HSM_SOFTHSM_DIR = str(tmp_path / "hsm")
    settings.CPX_PKI_CA_ALGORITHM = "rsa-2048"
    with pytest.raises(keys.KeyPolicyError, match="rsa-2048"):
        signing.pki_init()
    settings.CPX_PKI_ROOT_ALGORITHM = "ec-p256"
    with pytest.raises(keys.KeyPolicyError, match="root keys"):
        keys.algorithm_for("root")
