"""Where relying parties fetch the PKI's objects: the URLs certificates and CRLs carry.

Always plain http:// (RFC 5280 §4.2.1.13, RFC 6960 A.1: signed objects, and TLS to check TLS would be a
loop), from CPX_PKI_BASE_URL, else CPX_BASE_URL with its scheme turned to http. One home for both the
certificates' extensions (``pki.signing``) and the CRLs' distribution points (``pki.crl``): openssl's IDP
check fails if they differ.
"""

from __future__ import annotations

from django.conf import settings

from .models import CertificateAuthority


def pki_base_url() -> str:
    base = (settings.CPX_PKI_BASE_URL or settings.CPX_BASE_URL).rstrip("/")
    if base.startswith("https://"):
        base = "http://" + base.removeprefix("https://")
    return base


def crl_url(ca: CertificateAuthority) -> str:
    return f"{pki_base_url()}/pki/crl/{ca.slug}.crl"


def delta_crl_url(ca: CertificateAuthority) -> str:
    return f"{pki_base_url()}/pki/crl/{ca.slug}-delta.crl"


def ca_certificate_url(ca: CertificateAuthority, extension: str = "crt") -> str:
    """Where the CA's certificate is published: ``.crt`` (DER, for AIA caIssuers) or ``.pem``."""
    return f"{pki_base_url()}/pki/ca/{ca.slug}.{extension}"


def ocsp_url() -> str:
    return f"{pki_base_url()}/pki/ocsp"
