"""docs/pki_profile.md is what the code issues: each table compared with a certificate made by the code."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from pki import services, signing

from .profile import describe, documented

CARD_TYPES = {"CPS": 1, "CPF": 2, "CPE": 3, "CDE": 4, "CPA": 5}


def _check(section, cert, **placeholders):
    actual = describe(cert, base=signing.pki_base_url(), arc=settings.CPX_PKI_POLICY_ARC)
    expected = documented(section)
    for name, value in placeholders.items():
        expected = {k: (c, v.replace(f"<{name}>", str(value))) for k, (c, v) in expected.items()}
    assert actual == expected, f"{section}: the code issues {actual}"


def test_the_root_and_issuing_ca_certificates_are_as_documented(hierarchy):
    root, _ = hierarchy
    _check("Root CA", signing.ca_certificate(root))
    for slug in signing.ISSUING_CAS:
        ca = signing.issuing_ca(signing.ISSUING_CAS[slug][1][0])
        types = sorted(CARD_TYPES[t] for t in signing.ISSUING_CAS[slug][1])
        policies = ", ".join(f"<arc>.{t}.{u}" for t in types for u in (1, 2))
        _check("Issuing CA", signing.ca_certificate(ca), policies=policies)


@pytest.mark.parametrize("card_type", sorted(CARD_TYPES))
@pytest.mark.parametrize(("usage", "section"), [("auth", "Card authentication"), ("sign", "Card signature")])
def test_card_certificates_are_as_documented(hierarchy, holder, card_key, card_type, usage, section):
    row = services.certificate_issue(
        usage=usage,
        public_key=card_key.public_key(),
        holder=signing.Holder(
            holder.national_id, holder.surname, holder.given_name, holder.profession, "c@x.fr"
        ),
        valid_until=dt.date.today() + dt.timedelta(days=3 * 365),
        card_number="80250000010000000009",
        card_type=card_type,
    )
    ca = signing.issuing_ca(card_type)
    _check(section, x509.load_der_x509_certificate(bytes(row.der)), ca=ca.slug, type=CARD_TYPES[card_type])


def test_a_card_key_beyond_the_rgs_date_must_be_larger(hierarchy, holder, card_key):
    with pytest.raises(ValueError, match="2030"):
        services.certificate_issue(
            usage="auth",
            public_key=card_key.public_key(),
            holder=holder,
            valid_until=dt.date(2031, 6, 1),
            card_number="80250000010000000010",
        )
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused, the point)
    with pytest.raises(ValueError):
        services.certificate_issue(
            usage="auth",
            public_key=small.public_key(),
            holder=holder,
            valid_until=dt.date.today() + dt.timedelta(days=365),
            card_number="80250000010000000011",
        )


def test_an_issuing_ca_refuses_a_card_type_it_does_not_certify(hierarchy, holder, card_key):
    persons = signing.issuing_ca("CPS")
    with pytest.raises(ValueError, match="CPE"):
        signing.issue_card_certificate(
            persons,
            usage="auth",
            public_key=card_key.public_key(),
            holder=holder,
            valid_until=dt.date.today() + dt.timedelta(days=365),
            card_type="CPE",
        )


def test_the_ocsp_responder_certificates_are_as_documented(hierarchy):
    from pki.models import OcspResponder

    for responder in OcspResponder.objects.select_related("authority"):
        cert = x509.load_der_x509_certificate(bytes(responder.der))
        section = "OCSP responder (root)" if responder.authority.parent_id is None else "OCSP responder"
        _check(section, cert)
