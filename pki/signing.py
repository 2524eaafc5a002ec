"""The platform's PKI: a root CA, an issuing CA, card certificate profiles and CRLs (OCSP: ``pki.ocsp``).

CA private keys live in files under CPX_PKI_DIR, encrypted with CPX_PKI_PASSPHRASE; the database holds only
certificates and revocation data. The CRL and the OCSP responder read the same rows (Certificate.revoked_at).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import CertificateAuthority

ROOT_SLUG = "racine"
ISSUING_SLUG = "personnes"
CRL_LIFETIME = dt.timedelta(days=7)
OCSP_LIFETIME = dt.timedelta(hours=4)


class PkiNotInitialized(Exception):
    """``manage.py pki_init`` has not been run."""


def _suffix() -> str:
    return "TEST" if settings.CPX_PKI_TEST_HIERARCHY else ""


def ca_names() -> dict[str, str]:
    suffix = f" {_suffix()}" if _suffix() else ""
    return {
        ROOT_SLUG: f"AC RACINE IGC-SANTE{suffix}",
        ISSUING_SLUG: f"AC IGC-SANTE{suffix} PERSONNES",
    }


def _ca_subject(common_name: str) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _suffix() or "ANS"))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE"))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


# --- CA keys (files, encrypted) -------------------------------------------------------------------


def _key_path(slug: str) -> Path:
    return Path(settings.CPX_PKI_DIR) / f"{slug}.key.pem"


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encryption = serialization.BestAvailableEncryption(settings.CPX_PKI_PASSPHRASE.encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path.touch(mode=0o600)
    path.write_bytes(pem)


@functools.lru_cache(maxsize=8)
def _load_key(path: str, mtime: float) -> rsa.RSAPrivateKey:
    pem = Path(path).read_bytes()
    key = serialization.load_pem_private_key(pem, settings.CPX_PKI_PASSPHRASE.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ca_key(ca: CertificateAuthority) -> rsa.RSAPrivateKey:
    path = Path(ca.key_path)
    return _load_key(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def _parse(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def ca_certificate(ca: CertificateAuthority) -> x509.Certificate:
    return _parse(bytes(ca.der))


# --- pki_init --------------------------------------------------------------------------------------


def _ca_certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    years: int,
    path_length: int | None,
    issuer_ca: CertificateAuthority | None = None,
) -> x509.Certificate:
    now = timezone.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    authority_key = issuer.public_key() if issuer else key.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key),  # type: ignore[arg-type]
        critical=False,
    )
    if issuer_ca is not None:
        # A subordinate CA says where its issuer's CRL (which lists it if revoked) and certificate are.
        builder = builder.add_extension(_distribution_points(issuer_ca), critical=False)
        builder = builder.add_extension(
            x509.AuthorityInformationAccess([_ca_issuers(issuer_ca)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _create_ca(
    slug: str, parent: CertificateAuthority | None, years: int, path_length: int | None
) -> CertificateAuthority:
    path = _key_path(slug)
    if path.exists():
        # A key without its record (a database rebuilt beside kept keys): never overwrite a CA key.
        key = _load_key(str(path), path.stat().st_mtime)
    else:
        key = new_ca_key(3072 if parent is None else 2048)
        _write_key(path, key)
    issuer = ca_certificate(parent) if parent else None
    issuer_key = ca_key(parent) if parent else key
    subject = _ca_subject(ca_names()[slug])
    cert = _ca_certificate(subject, key, issuer, issuer_key, years, path_length, issuer_ca=parent)
    return CertificateAuthority.objects.create(
        slug=slug,
        name=ca_names()[slug],
        parent=parent,
        der=cert.public_bytes(serialization.Encoding.DER),
        key_path=str(path),
        is_test=settings.CPX_PKI_TEST_HIERARCHY,
    )


def new_ca_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _usable(ca: CertificateAuthority) -> bool:
    path = Path(ca.key_path)
    if not path.exists():
        return False
    certified = ca_certificate(ca).public_key()
    return isinstance(certified, rsa.RSAPublicKey) and ca_key(ca).public_key().public_numbers() == (
        certified.public_numbers()
    )


def pki_init() -> tuple[CertificateAuthority, CertificateAuthority, bool]:
    """Create the root and issuing CAs if missing. Idempotent: an existing hierarchy is kept as is, after
    checking that each CA's key file is there and matches its certificate."""
    with transaction.atomic():
        existing = {ca.slug: ca for ca in CertificateAuthority.objects.select_for_update()}
        created = False
        root = existing.get(ROOT_SLUG)
        if root is None:
            root, created = _create_ca(ROOT_SLUG, None, 20, 1), True
        issuing = existing.get(ISSUING_SLUG)
        if issuing is None:
            issuing, created = _create_ca(ISSUING_SLUG, root, 10, 0), True
        for ca in (root, issuing):
            if not _usable(ca):
                raise PkiNotInitialized(f"the key of {ca.name} is missing or does not match ({ca.key_path})")
        if created:
            publish_crl(root)
            publish_crl(issuing)
        return root, issuing, created


def issuing_ca() -> CertificateAuthority:
    try:
        return CertificateAuthority.objects.get(slug=ISSUING_SLUG)
    except CertificateAuthority.DoesNotExist:
        raise PkiNotInitialized("run `manage.py pki_init` first")


def chain_pem() -> bytes:
    """The root and issuing CA certificates, PEM: what relying parties put in their CA file."""
    cas = CertificateAuthority.objects.order_by("id")
    return b"".join(ca_certificate(ca).public_bytes(serialization.Encoding.PEM) for ca in cas)


# --- card certificate profiles ---------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """What a card certificate says about its holder (DOMAIN §5)."""

    national_id: str
    surname: str
    given_name: str
    profession: str


def card_subject(holder: Holder) -> x509.Name:
    """``C=FR, O=TEST, title=<profession>, CN=<national id>+SN=<surname>+GN=<given name>``."""
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])]
    if _suffix():
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, _suffix())
        rdns.append(x509.RelativeDistinguishedName([org]))
    if holder.profession:
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, holder.profession)]))
    names = [x509.NameAttribute(NameOID.COMMON_NAME, holder.national_id)]
    names.append(x509.NameAttribute(NameOID.SURNAME, holder.surname))
    if holder.given_name:
        names.append(x509.NameAttribute(NameOID.GIVEN_NAME, holder.given_name))
    rdns.append(x509.RelativeDistinguishedName(names))
    return x509.Name(rdns)


def _card_key_usage(usage: str) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=usage == "auth",
        content_commitment=usage == "sign",
        key_encipherment=usage == "auth",
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


PROFILE_EKUS = {
    "auth": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "sign": [ExtendedKeyUsageOID.EMAIL_PROTECTION],
}


def crl_url(ca: CertificateAuthority) -> str:
    return f"{settings.CPX_BASE_URL.rstrip('/')}/pki/crl/{ca.slug}.crl"


def ca_certificate_url(ca: CertificateAuthority, extension: str = "crt") -> str:
    """Where the CA's certificate is published: ``.crt`` (DER, for AIA caIssuers) or ``.pem``."""
    return f"{settings.CPX_BASE_URL.rstrip('/')}/pki/ca/{ca.slug}.{extension}"


def ocsp_url() -> str:
    return f"{settings.CPX_BASE_URL.rstrip('/')}/pki/ocsp"


def issue_card_certificate(
    ca: CertificateAuthority,
    *,
    usage: str,
    public_key: rsa.RSAPublicKey,
    holder: Holder,
    valid_until: dt.date,
) -> x509.Certificate:
    """Certify a card key under the profile for its usage; the certificate ends with the card's validity."""
    issuer = ca_certificate(ca)
    now = timezone.now()
    not_after = dt.datetime.combine(valid_until, dt.time(23, 59, 59), tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(card_subject(holder))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(min(not_after, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_card_key_usage(usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage(PROFILE_EKUS[usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(_distribution_points(ca), critical=False)
        .add_extension(_authority_info(ca), critical=False)
    )
    return builder.sign(ca_key(ca), hashes.SHA256())


def _distribution_points(ca: CertificateAuthority) -> x509.CRLDistributionPoints:
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url(ca))], None, None, None)
    return x509.CRLDistributionPoints([point])


def _ca_issuers(ca: CertificateAuthority) -> x509.AccessDescription:
    location = x509.UniformResourceIdentifier(ca_certificate_url(ca))
    return x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, location)


def _authority_info(ca: CertificateAuthority) -> x509.AuthorityInformationAccess:
    """The OCSP responder, then the issuing CA's certificate (caIssuers, DER) to build the chain."""
    location = x509.UniformResourceIdentifier(ocsp_url())
    return x509.AuthorityInformationAccess(
        [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, location), _ca_issuers(ca)]
    )


# --- CRL -------------------------------------------------------------------------------------------


def _revoked_entries(ca: CertificateAuthority):  # noqa: ANN202 - a generator of cryptography objects
    """The CA's revoked certificates, streamed (the CRL is built in one pass, memory bounded by rows)."""
    rows = ca.certificates.filter(revoked_at__isnull=False).values_list(
        "serial", "revoked_at", "revocation_reason"
    )
    for serial, revoked_at, reason in rows.iterator(chunk_size=2000):
        entry = x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
        entry = entry.revocation_date(revoked_at)  # type: ignore[arg-type]  # filtered: never None
        if reason and reason != "unspecified":
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags(reason)), critical=False)
        yield entry.build()


def publish_crl(ca: CertificateAuthority) -> bytes:
    """Build, sign and store a fresh CRL for the CA (called on every revocation, in its transaction)."""
    ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
    now = timezone.now()
    issuer = ca_certificate(ca)
    ca.crl_number += 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(ca.crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for entry in _revoked_entries(ca):
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key(ca), hashes.SHA256())
    ca.crl_der = crl.public_bytes(serialization.Encoding.DER)
    ca.crl_next_update = now + CRL_LIFETIME
    ca.save(update_fields=["crl_number", "crl_der", "crl_next_update"])
    return bytes(ca.crl_der)


def current_crl(ca: CertificateAuthority) -> bytes:
    """The stored CRL, renewed when missing or past half its lifetime (so a reader never gets a stale one)."""
    fresh_until = (ca.crl_next_update or timezone.now()) - CRL_LIFETIME / 2
    if ca.crl_der is None or timezone.now() >= fresh_until:
        with transaction.atomic():
            return publish_crl(ca)
    return bytes(ca.crl_der)
