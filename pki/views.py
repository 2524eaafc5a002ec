"""Public PKI endpoints: an index, each CA's certificate and CRL, and the OCSP responder (RFC 6960). No
authentication: relying parties (card readers, servers checking a card) fetch them anonymously."""

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import signing
from .models import CertificateAuthority
from .ocsp import ocsp_respond

OCSP_MAX_REQUEST = 10_000


CA_CONTENT_TYPES = {"der": "application/pkix-cert", "pem": "application/x-pem-file"}


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The CAs, each with its certificate (DER and PEM) and CRL, and the OCSP responder: what an outside
    checker needs to verify a card certificate."""
    rows = format_html_join(
        "\n",
        '<li id="{}">{} : <a href="{}">certificat (DER)</a>, <a href="{}">certificat (PEM)</a>, '
        '<a href="{}">LCR</a></li>',
        (
            (
                ca.slug,
                ca.name,
                signing.ca_certificate_url(ca),
                signing.ca_certificate_url(ca, "pem"),
                signing.crl_url(ca),
            )
            for ca in CertificateAuthority.objects.order_by("id")
        ),
    )
    page = format_html(
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>IGC</title></head><body>\n'
        "<h1>Autorités de certification</h1>\n<ul>\n{}\n</ul>\n"
        '<p>Répondeur OCSP : <a href="{}">{}</a></p>\n</body></html>\n',
        rows,
        signing.ocsp_url(),
        signing.ocsp_url(),
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


@require_GET
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, slug=slug)
    response = HttpResponse(signing.current_crl(ca), content_type="application/pkix-crl")
    response["Cache-Control"] = "max-age=60"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp(request: HttpRequest, encoded: str = "") -> HttpResponse:
    if request.method == "POST":
        if request.content_type != "application/ocsp-request":
            return HttpResponse(status=415)
        body = request.body[:OCSP_MAX_REQUEST]
    else:
        try:
            body = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise Http404("malformed OCSP request")
    answer = ocsp_respond(body)
    return HttpResponse(answer, content_type="application/ocsp-response")
