"""The platform's PKI: the root and issuing CAs, card certificate profiles and CRLs (OCSP: ``pki.ocsp``).

Every private key lives on a PKCS#11 token (``pki.hsm``) and every signature is made there: the database
holds only certificates, revocation data and published CRLs. The root signs only issuing-CA certificates and
its own CRL, in an operator's command (``pki_init``, ``pki_root``); the issuing CAs sign card certificates and
their CRLs in the signing service. The CRL and the OCSP responder read the same rows (Certificate.revoked_at).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit, crl, hsm, keys

# Where the PKI's objects are published (pki.locations), as this module's callers have always named them.
from .locations import ca_certificate_url as ca_certificate_url
from .locations import crl_url as crl_url
from .locations import delta_crl_url as delta_crl_url
from .locations import ocsp_url as ocsp_url
from .locations import pki_base_url as pki_base_url
from .models import AuditEvent, CertificateAuthority

ROOT_SLUG = "racine"
ISSUING_SLUG = "personnes"
STAFF_SLUG = "etablissements"
# The issuing CAs and the card types each certifies (IGC-Santé separates health professionals' cards from
# the cards of structures' staff).
ISSUING_CAS: dict[str, tuple[str, tuple[str, ...]]] = {
    ISSUING_SLUG: ("PERSONNES", ("CPS", "CPF")),
    STAFF_SLUG: ("ETABLISSEMENTS", ("CPE", "CDE", "CPA")),
}
CRL_LIFETIME = crl.CRL_LIFETIME  # base CRLs (deltas: crl.DELTA_LIFETIME)
ROOT_CRL_LIFETIME = crl.ROOT_CRL_LIFETIME
OCSP_LIFETIME = dt.timedelta(hours=4)


class PkiNotInitialized(Exception):
    """``manage.py pki_init`` has not been run."""


def _suffix() -> str:
    return "TEST" if settings.CPX_PKI_TEST_HIERARCHY else ""


def ca_names() -> dict[str, str]:
    suffix = f" {_suffix()}" if _suffix() else ""
    names = {ROOT_SLUG: f"AC RACINE IGC-SANTE{suffix}"}
    for slug, (part, _types) in ISSUING_CAS.items():
        names[slug] = f"AC IGC-SANTE{suffix} {part}"
    return names


def _ca_subject(common_name: str) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _suffix() or "ANS"))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE"))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


# --- CA keys (on their token) ----------------------------------------------------------------------


def signer(ca: CertificateAuthority) -> hsm.Signer:
    """The CA's key on its token: the only way anything in the platform signs as this CA."""
    return hsm.ca_signer(ca)


@functools.lru_cache(maxsize=64)
def _parse(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def ca_certificate(ca: CertificateAuthority) -> x509.Certificate:
    return _parse(bytes(ca.der))


# --- pki_init --------------------------------------------------------------------------------------


def _ca_certificate(
    subject: x509.Name,
    public_key: keys.PublicKey,
    issuer: x509.Certificate | None,
    issuer_signer: hsm.Signer,
    validity: dt.timedelta,
    path_length: int | None,
    issuer_ca: CertificateAuthority | None = None,
    policies: list[str] | None = None,
) -> x509.Certificate:
    now = timezone.now()
    not_after = now + validity
    if issuer is not None:
        not_after = min(not_after, issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    authority_key = issuer.public_key() if issuer else public_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key),  # type: ignore[arg-type]
        critical=False,
    )
    if policies:
        builder = builder.add_extension(certificate_policies(policies), critical=False)
    if issuer_ca is not None:
        # A subordinate CA says where its issuer's CRL (which lists it if revoked) and certificate are.
        builder = builder.add_extension(_distribution_points(issuer_ca), critical=False)
        builder = builder.add_extension(
            x509.AuthorityInformationAccess([_ca_issuers(issuer_ca)]), critical=False
        )
    return hsm.sign_certificate(builder, issuer_signer)


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


def _ca_key(role: str, label: str) -> tuple[keys.PublicKey, keys.Algorithm]:
    """The CA key labelled ``label`` on the role's token, generated there if missing. A key found without
    its record (a database rebuilt beside a kept token) is reused: a CA key is never overwritten."""
    tok = hsm.token(role)
    hsm.ensure_token(tok)
    existing = hsm.public_key(tok, label)
    if existing is not None:
        if not hsm.has_private_key(tok, label):
            raise PkiNotInitialized(
                f"the token {tok.label} has the public key {label} but not its private key"
            )
        return existing, keys.algorithm_of(existing)
    algorithm = keys.algorithm_for(role)
    return hsm.generate(tok, label, algorithm), algorithm


def _create_root() -> CertificateAuthority:
    public_key, algorithm = _ca_key("root", ROOT_SLUG)
    root_signer = hsm.Signer(hsm.token("root"), ROOT_SLUG, algorithm)
    subject = _ca_subject(ca_names()[ROOT_SLUG])
    cert = _ca_certificate(
        subject, public_key, None, root_signer, keys.VALIDITY["root"], 1, policies=[ANY_POLICY]
    )
    return _record_ca(ROOT_SLUG, None, cert, "root", algorithm, [])


def _create_issuing(slug: str, root: CertificateAuthority) -> CertificateAuthority:
    public_key, algorithm = _ca_key("ca", slug)
    card_types = list(ISSUING_CAS[slug][1])
    subject = _ca_subject(ca_names()[slug])
    policies = sorted({policy_oid(t, u) for t in card_types for u in ("auth", "sign")})
    cert = _ca_certificate(
        subject,
        public_key,
        ca_certificate(root),
        signer(root),
        keys.VALIDITY["ca"],
        0,
        issuer_ca=root,
        policies=policies,
    )
    return _record_ca(slug, root, cert, "ca", algorithm, card_types)


def _record_ca(
    slug: str,
    parent: CertificateAuthority | None,
    cert: x509.Certificate,
    role: str,
    algorithm: keys.Algorithm,
    card_types: list[str],
) -> CertificateAuthority:
    ca = CertificateAuthority.objects.create(
        slug=slug,
        name=ca_names()[slug],
        parent=parent,
        der=cert.public_bytes(serialization.Encoding.DER),
        token_role=role,
        key_label=slug,
        algorithm=algorithm.name,
        card_types=card_types,
        is_test=settings.CPX_PKI_TEST_HIERARCHY,
    )
    audit.record(
        AuditEvent.Operation.CA_CREATE,
        actor="command pki_init",
        authority=parent or ca,
        serials=[format(cert.serial_number, "x")],
        detail={"ca": slug, "algorithm": algorithm.name, "not_after": cert.not_valid_after_utc.isoformat()},
    )
    return ca


def _usable(ca: CertificateAuthority) -> bool:
    tok = hsm.token(ca.token_role)
    on_token = hsm.public_key(tok, ca.key_label)
    if on_token is None or not hsm.has_private_key(tok, ca.key_label):
        return False
    certified = ca_certificate(ca).public_key()
    return on_token.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == certified.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pki_init() -> tuple[CertificateAuthority, CertificateAuthority, bool]:
    """The root ceremony: create the root and the issuing CAs if missing (keys generated on their tokens;
    needs the root token's PIN and the CA token's), sign the root's CRL and the first CRLs. Idempotent: an
    existing hierarchy is kept as is, after checking that each CA's key is on its token and matches its
    certificate. Returns the root, the persons' issuing CA, and whether anything was created."""
    with transaction.atomic():
        existing = {ca.slug: ca for ca in CertificateAuthority.objects.select_for_update()}
        created: list[CertificateAuthority] = []
        root = existing.get(ROOT_SLUG)
        if root is None:
            root = _create_root()
            created.append(root)
        for slug in ISSUING_CAS:
            if slug not in existing:
                existing[slug] = _create_issuing(slug, root)
                created.append(existing[slug])
        existing[ROOT_SLUG] = root
        for ca in existing.values():
            if not _usable(ca):
                raise PkiNotInitialized(
                    f"the key {ca.key_label} of {ca.name} is missing from the {ca.token_role} token "
                    "or does not match its certificate"
                )
        for ca in created:  # the first CRLs: the root's (this ceremony has the root's PIN), base + delta
            if ca.parent_id is None:
                crl.publish_root_crl(ca, actor="command pki_init")
            else:
                crl.publish_base(ca, actor="command pki_init")
                crl.publish_delta(ca, actor="command pki_init")
        from .ocsp import ensure_responders  # pki.ocsp builds on this module

        ensure_responders(actor="command pki_init")
        return root, existing[ISSUING_SLUG], bool(created)


def issuing_ca(card_type: str = "") -> CertificateAuthority:
    """The issuing CA of a card type (the persons' CA when none is given)."""
    slug = ISSUING_SLUG
    for candidate, (_part, types) in ISSUING_CAS.items():
        if card_type in types:
            slug = candidate
    try:
        return CertificateAuthority.objects.get(slug=slug)
    except CertificateAuthority.DoesNotExist:
        raise PkiNotInitialized("run `manage.py pki_init` first")


def chain_pem() -> bytes:
    """The root and issuing CA certificates, PEM: what relying parties put in their CA file."""
    cas = CertificateAuthority.objects.order_by("id")
    return b"".join(ca_certificate(ca).public_bytes(serialization.Encoding.PEM) for ca in cas)


# --- certificate policies --------------------------------------------------------------------------

ANY_POLICY = "2.5.29.32.0"
_TYPE_ARCS = {"CPS": 1, "CPF": 2, "CPE": 3, "CDE": 4, "CPA": 5}
_USAGE_ARCS = {"auth": 1, "sign": 2}


def policy_oid(card_type: str, usage: str) -> str:
    """``<CPX_PKI_POLICY_ARC>.<card type>.<usage>``, one per card type and key use (docs/pki_profile.md)."""
    return f"{settings.CPX_PKI_POLICY_ARC}.{_TYPE_ARCS.get(card_type, 1)}.{_USAGE_ARCS[usage]}"


def certificate_policies(oids: list[str]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in oids]
    )


# --- card certificate profiles ---------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """What a card certificate says about its holder (DOMAIN §5)."""

    national_id: str
    surname: str
    given_name: str
    profession: str
    email: str = ""  # subjectAltName rfc822Name, when the holder has one on file


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


def issue_card_certificate(
    ca: CertificateAuthority,
    *,
    usage: str,
    public_key: keys.PublicKey,
    holder: Holder,
    valid_until: dt.date,
    card_type: str = "CPS",
) -> x509.Certificate:
    """Certify a card key under the profile for its card type and usage (docs/pki_profile.md); the
    certificate ends with the card's validity, and never after its CA's."""
    if card_type not in ca.card_types:
        raise keys.KeyPolicyError(f"{ca.name} does not certify {card_type} cards")
    issuer = ca_certificate(ca)
    now = timezone.now()
    not_after = min(
        dt.datetime.combine(valid_until, dt.time(23, 59, 59), tzinfo=dt.UTC), issuer.not_valid_after_utc
    )
    keys.check_card_key(public_key, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(card_subject(holder))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_card_key_usage(usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage(PROFILE_EKUS[usage]), critical=False)
        .add_extension(certificate_policies([policy_oid(card_type, usage)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(_distribution_points(ca), critical=False)
        .add_extension(_freshest_crl(ca), critical=False)
        .add_extension(_authority_info(ca), critical=False)
    )
    if holder.email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(holder.email)]), critical=False
        )
    return hsm.sign_certificate(builder, signer(ca))


def _distribution_points(ca: CertificateAuthority) -> x509.CRLDistributionPoints:
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url(ca))], None, None, None)
    return x509.CRLDistributionPoints([point])


def _freshest_crl(ca: CertificateAuthority) -> x509.FreshestCRL:
    """Where the CA's delta CRL is (RFC 5280 §4.2.1.15; non-critical)."""
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(delta_crl_url(ca))], None, None, None)
    return x509.FreshestCRL([point])


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
# Base and delta CRLs and the root's CRL: ``pki.crl``, published by the signing service (``pki.tasks``)
# and, for the root, by the operator's ``pki_root crl``.


# --- signed data (CMS) -------------------------------------------------------------------------------


def sign_data(ca: CertificateAuthority, content: bytes) -> bytes:
    """``content`` in a CMS SignedData (RFC 5652) signed on the token by the CA itself: encapsulated
    id-data content, signed attributes (contentType, messageDigest, signingTime), the CA's certificate
    included. ``openssl cms -verify -binary -inform DER -CAfile <chain> -purpose any`` checks it and prints
    the content. What the card carries as its holder data (docs/card_data.md)."""
    from asn1crypto import algos as asn1_algos
    from asn1crypto import cms as asn1_cms
    from asn1crypto import x509 as asn1_x509

    ca_signer = signer(ca)
    algorithm = ca_signer.algorithm
    digest_name = "sha384" if algorithm.bits >= 384 else "sha256"
    digest = hashes.Hash(algorithm.hash())
    digest.update(content)
    certificate = asn1_x509.Certificate.load(bytes(ca.der))
    signed_attrs = asn1_cms.CMSAttributes(
        [
            asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            asn1_cms.CMSAttribute({"type": "message_digest", "values": [digest.finalize()]}),
            asn1_cms.CMSAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time({"utc_time": timezone.now()})]}
            ),
        ]
    )
    signature = ca_signer.sign(signed_attrs.dump())  # the DER of the SET OF attributes (RFC 5652 §5.4)
    signature_algorithm: dict[str, object] = {"algorithm": algorithm.signature_name}
    signer_info = asn1_cms.SignerInfo(
        {
            "version": "v1",
            "sid": asn1_cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=asn1_cms.IssuerAndSerialNumber(
                    {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                ),
            ),
            "digest_algorithm": asn1_algos.DigestAlgorithm({"algorithm": digest_name}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": asn1_algos.SignedDigestAlgorithm(signature_algorithm),
            "signature": signature,
        }
    )
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [asn1_algos.DigestAlgorithm({"algorithm": digest_name})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
