"""Public PKI endpoints: the CRL of each CA and the OCSP responder (RFC 6960). No authentication: relying
parties (card readers, servers checking a card) fetch them anonymously."""

import base64
import binascii

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import pki
from .models import CertificateAuthority

OCSP_MAX_REQUEST = 10_000


@require_GET
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, slug=slug)
    response = HttpResponse(pki.current_crl(ca), content_type="application/pkix-crl")
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
    answer = pki.ocsp_respond(body)
    return HttpResponse(answer, content_type="application/ocsp-response")
