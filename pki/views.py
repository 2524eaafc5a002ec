"""Public PKI endpoints: an index, each CA's certificate, base and delta CRLs (the OCSP responder is in
``pki.ocsp_views``). No authentication: relying parties (card readers, servers checking a card) fetch them
anonymously. CRLs are served as the signing service stored them: the web never signs one."""

from cryptography.hazmat.primitives import serialization
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import http_date
from django.views.decorators.http import require_GET

from . import crl as crls
from . import signing
from .models import CertificateAuthority, Crl

CA_CONTENT_TYPES = {"der": "application/pkix-cert", "pem": "application/x-pem-file"}


def _delta_link(ca: CertificateAuthority) -> str:
    if ca.parent_id is None:
        return ""  # the root publishes no delta CRL
    return format_html(', <a href="{}">delta-LCR</a>', signing.delta_crl_url(ca))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The CAs, each with its certificate (DER and PEM), CRL and delta CRL (issuing CAs), and the OCSP
    responder: what an outside checker needs to verify a card certificate."""
    rows = format_html_join(
        "\n",
        '<li id="{}">{} : <a href="{}">certificat (DER)</a>, <a href="{}">certificat (PEM)</a>, '
        '<a href="{}">LCR</a>{}</li>',
        (
            (
                ca.slug,
                ca.name,
                signing.ca_certificate_url(ca),
                signing.ca_certificate_url(ca, "pem"),
                signing.crl_url(ca),
                _delta_link(ca),
            )
            for ca in CertificateAuthority.objects.order_by("id")
        ),
    )
    page = format_html(
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>IGC</title></head><body>\n'
        "<h1>Autorités de certification</h1>\n<ul>\n{}\n</ul>\n"
        '<p>Répondeur OCSP : <a href="{}">{}</a></p>\n'
        '<p>Journal d\'audit, points de contrôle signés : <a href="{}/pki/audit/">{}/pki/audit/</a></p>\n'
        "</body></html>\n",
        rows,
        signing.ocsp_url(),
        signing.ocsp_url(),
        signing.pki_base_url(),
        signing.pki_base_url(),
    )
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def ca_certificate(request: HttpRequest, slug: str, encoding: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, slug=slug)
    cert = signing.ca_certificate(ca)
    body = cert.public_bytes(serialization.Encoding.DER if encoding == "der" else serialization.Encoding.PEM)
    response = HttpResponse(body, content_type=CA_CONTENT_TYPES[encoding])
    response["Content-Disposition"] = f'inline; filename="{ca.slug}.{"crt" if encoding == "der" else "pem"}"'
    response["Cache-Control"] = "max-age=3600"
    return response


# How long a cache may keep a CRL: until its nextUpdate, but no more than this (a new delta follows each
# revocation within the second; a new base comes daily, and the deltas cover it meanwhile).
BASE_MAX_AGE = 3600
DELTA_MAX_AGE = 60


def _serve_crl(request: HttpRequest, slug: str, kind: str, cap: int) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, slug=slug)
    row = crls.latest(ca, kind)
    if row is None:
        raise Http404(f"{ca.name} publishes no {kind} CRL")
    max_age = max(0, min(int((row.next_update - timezone.now()).total_seconds()), cap))
    etag = f'"{ca.slug}-{row.number}"'
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "ETag": etag,
        "Last-Modified": http_date(row.published_at.timestamp()),
        "Expires": http_date(row.next_update.timestamp()),
    }
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        return HttpResponse(status=304, headers=headers)
    filename = f"{ca.slug}-delta.crl" if kind == Crl.Kind.DELTA else f"{ca.slug}.crl"
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return HttpResponse(crls.der(row), content_type="application/pkix-crl", headers=headers)


@require_GET
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    """The CA's newest base CRL."""
    return _serve_crl(request, slug, Crl.Kind.BASE, BASE_MAX_AGE)


@require_GET
def delta_crl(request: HttpRequest, slug: str) -> HttpResponse:
    """The CA's newest delta CRL (RFC 5280 §5.2.4); 404 for the root, which publishes none."""
    return _serve_crl(request, slug, Crl.Kind.DELTA, DELTA_MAX_AGE)
