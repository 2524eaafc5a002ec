"""What a certificate is, in the words of docs/pki_profile.md: one row per field or extension."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

PROFILE = Path(__file__).resolve().parents[2] / "docs" / "pki_profile.md"

_NAMES = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.TITLE: "title",
}
_KEY_USAGES = [
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
]
_EXTENSIONS = {
    ExtensionOID.BASIC_CONSTRAINTS: "basicConstraints",
    ExtensionOID.KEY_USAGE: "keyUsage",
    ExtensionOID.EXTENDED_KEY_USAGE: "extendedKeyUsage",
    ExtensionOID.CERTIFICATE_POLICIES: "certificatePolicies",
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "subjectKeyIdentifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "authorityKeyIdentifier",
    ExtensionOID.CRL_DISTRIBUTION_POINTS: "cRLDistributionPoints",
    ExtensionOID.FRESHEST_CRL: "freshestCRL",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "authorityInfoAccess",
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: "subjectAltName",
    ExtensionOID.OCSP_NO_CHECK: "ocspNoCheck",
}


def _subject(name: x509.Name) -> str:
    """The attribute types, RDN by RDN; a multi-valued RDN is a SET (DER sorts it), written CN + SN + GN."""
    order = list(_NAMES.values())
    return ", ".join(
        " + ".join(sorted((_NAMES[a.oid] for a in rdn), key=lambda n: (n != "CN", order.index(n))))
        for rdn in name.rdns
    )


def _key(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC P-256", "secp384r1": "EC P-384"}[key.curve.name]
    assert isinstance(key, rsa.RSAPublicKey)
    return f"RSA {key.key_size}"


def _uris(names: list[x509.GeneralName], base: str) -> str:
    return " ".join(str(n.value).replace(base, "<pki>") for n in names)


def _value(ext: x509.Extension, base: str, arc: str) -> str:
    v = ext.value
    if isinstance(v, x509.BasicConstraints):
        return f"CA, pathLen {v.path_length}" if v.ca else "not a CA"
    if isinstance(v, x509.KeyUsage):
        return ", ".join(label for attr, label in _KEY_USAGES if getattr(v, attr))
    if isinstance(v, x509.ExtendedKeyUsage):
        return ", ".join(oid._name for oid in v)
    if isinstance(v, x509.CertificatePolicies):
        oids = [p.policy_identifier.dotted_string for p in v]
        return ", ".join("anyPolicy" if o == "2.5.29.32.0" else o.replace(arc, "<arc>") for o in oids)
    if isinstance(v, x509.SubjectKeyIdentifier):
        return "SHA-1 of the subject's public key"
    if isinstance(v, x509.AuthorityKeyIdentifier):
        return "the issuer's subjectKeyIdentifier"
    if isinstance(v, x509.CRLDistributionPoints | x509.FreshestCRL):
        return " ".join(_uris(list(p.full_name or []), base) for p in v)
    if isinstance(v, x509.AuthorityInformationAccess):
        return "; ".join(f"{d.access_method._name} {_uris([d.access_location], base)}" for d in v)
    if isinstance(v, x509.SubjectAlternativeName):
        return "rfc822Name: the holder's e-mail address"
    if isinstance(v, x509.OCSPNoCheck):
        return "NULL"
    raise AssertionError(f"undocumented extension {ext.oid}")


def _validity(cert: x509.Certificate) -> str:
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    years = round(days / 365.25)
    if days < 360:
        return f"{days} days"
    return f"{years} year" if years == 1 else f"{years} years"


def describe(cert: x509.Certificate, *, base: str, arc: str) -> dict[str, tuple[str, str]]:
    """Field or extension -> (critical, value), as the profile's tables write them."""
    rows = {
        "version": ("", "v3"),
        "signature": ("", cert.signature_algorithm_oid._name),
        "subject": ("", _subject(cert.subject)),
        "subjectPublicKeyInfo": ("", _key(cert)),
        "validity": ("", _validity(cert)),
    }
    for ext in cert.extensions:
        rows[_EXTENSIONS[ext.oid]] = ("yes" if ext.critical else "no", _value(ext, base, arc))
    return rows


def documented(section: str) -> dict[str, tuple[str, str]]:
    """The table under the profile's heading ``## <section>``."""
    text = PROFILE.read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/pki_profile.md has no section {section!r}"
    rows = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] and not set(cells[0]) <= {"-"} and cells[0] != "Field":
            rows[cells[0].strip("`")] = (cells[1], cells[2].replace("`", ""))
    return rows
