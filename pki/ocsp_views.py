"""The OCSP responder over HTTP (RFC 6960 appendix A, RFC 5019 §5 and §6): anonymous, plain HTTP.

GET ``/pki/ocsp/<url-encoded base64 of the DER request>`` (a '/' of the base64 is part of the path) and POST
``/pki/ocsp`` (``application/ocsp-request``). A successful answer without a nonce carries the RFC 5019 §6.2
caching headers, consistent with its thisUpdate/nextUpdate; an answer to a nonce is ``no-cache``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email.utils import format_datetime

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import ocsp

OCSP_MAX_REQUEST = 10_000  # bytes: a request about OCSP_MAX_CERTS certificates is about 4 kB
CONTENT_TYPE = "application/ocsp-response"


def decode_get(encoded: str) -> bytes | None:
    """The DER request of a GET path (already percent-decoded by the server). Also accepts the URL-safe
    alphabet, missing padding, and a '+' turned into a space by a careless client."""
    text = encoded.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def cache_headers(answer: ocsp.Answer, now: dt.datetime) -> list[tuple[str, str]]:
    """The caching headers of an answer (RFC 5019 §6.2): errors and answers to a nonce are never kept by a
    cache; the others may be until their nextUpdate. The same for the Django view and ``pki.ocsp_server``."""
    if not answer.cacheable or answer.next_update is None or answer.this_update is None:
        return [("Cache-Control", "no-cache")]
    max_age = max(0, int((answer.next_update - now).total_seconds()))
    return [
        ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
        ("Last-Modified", http_date(answer.this_update)),
        ("Expires", http_date(answer.next_update)),
        ("ETag", answer.etag),
    ]


def not_modified(answer: ocsp.Answer, method: str, if_none_match: str) -> bool:
    """A GET whose If-None-Match names this cacheable answer: 304."""
    return (
        answer.cacheable and method == "GET" and bool(if_none_match) and matches(if_none_match, answer.etag)
    )


def _response(answer: ocsp.Answer, request: HttpRequest) -> HttpResponse:
    if not_modified(answer, request.method or "", request.headers.get("If-None-Match", "")):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(answer.der, content_type=CONTENT_TYPE)
    for name, value in cache_headers(answer, timezone.now()):
        response[name] = value
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp_view(request: HttpRequest, encoded: str = "") -> HttpResponse:
    if request.method == "POST":
        if request.content_type != "application/ocsp-request":
            return HttpResponse(status=415)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > OCSP_MAX_REQUEST:
            return HttpResponse(status=413)
        body = request.read(OCSP_MAX_REQUEST + 1)
        if len(body) > OCSP_MAX_REQUEST:
            return HttpResponse(status=413)
    else:
        decoded = decode_get(encoded)
        if decoded is None or len(decoded) > OCSP_MAX_REQUEST:
            return _response(ocsp.respond(b""), request)  # malformedRequest
        body = decoded
    return _response(ocsp.respond(body), request)
