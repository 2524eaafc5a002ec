"""The site's error answers, in every mode: the portal's pages in the person's language, JSON under /api/.

- ``bad_request``, ``permission_denied``, ``not_found``, ``server_error``: Django's handlers
  (``handler400``... in config/urls.py). Under ``/api/`` they answer in the API's error shape
  ``{"code", "message"}`` (``core.api``); a request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 there.
- ``ErrorPageMiddleware``: what the handlers never see. An empty 405 (``require_POST``'s
  ``HttpResponseNotAllowed``) becomes the 405 page; DEBUG's technical 404 becomes the portal's 404 page
  (unless ``DJANGO_DEBUG_404=technical``); under ``/api/`` every error answer that is not JSON already
  becomes JSON, and an unexpected exception a JSON 500.
- The 500 page needs neither the database nor a request context (``500.html`` is a standalone page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.template.exceptions import TemplateDoesNotExist
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.web import API_PREFIXES

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "not_permitted",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_message(status: int) -> str:
    messages = {
        400: _("The request is malformed."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request body is too large."),
        500: _("An unexpected error occurred; it has been recorded."),
    }
    if status in messages:
        return messages[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _("Error.")


def api_error(status: int, message: str | None = None) -> JsonResponse:
    code = CODES.get(status, "error")
    return JsonResponse({"code": code, "message": message or api_message(status)}, status=status)


def error_page(request: HttpRequest, status: int, **context: object) -> HttpResponse:
    """The portal's page for ``status`` (``<status>.html``, extending portal/base.html)."""
    try:
        template = loader.get_template(f"{status}.html")
    except TemplateDoesNotExist:
        return HttpResponse(status=status)
    response = HttpResponse(template.render({"status": status, **context}, request), status=status)
    response.cpx_error_page = True  # type: ignore[attr-defined]
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        if is_api(request):
            return api_error(413)
        return error_page(request, 400, too_large=True)
    if is_api(request):
        return api_error(400)
    return error_page(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_error(403)
    return error_page(request, 403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_error(404)
    return error_page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """No database, no context processors: the page renders whatever broke."""
    if is_api(request):
        return api_error(500)
    try:
        body = loader.get_template("500.html").render({"LANGUAGE_CODE": get_language() or "fr"})
    except Exception:  # the last resort must not fail
        logger.exception("the 500 page could not be rendered")
        body = "<!doctype html><title>500</title><h1>Erreur du serveur / Server error</h1>"
    return HttpResponse(body, status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the 403 page (the form's page expired or was opened elsewhere)."""
    if is_api(request):
        return api_error(403, _("CSRF check failed: reload the page and try again."))
    return error_page(request, 403, csrf=True)


class ErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request) and self.too_large(request):
            return api_error(413)
        response = self.get_response(request)
        if response.status_code < 400 or getattr(response, "cpx_error_page", False):
            return response
        if is_api(request):
            if response.get("Content-Type", "").startswith(("application/json", "application/problem+json")):
                return response
            return self.keep_headers(response, api_error(response.status_code))
        if request.path.startswith(API_PREFIXES):
            return response  # machine endpoints (/pki/, /o/...): their own answers, never a page
        if response.status_code == 405 and not response.content:
            return self.keep_headers(response, error_page(request, 405))
        if (
            response.status_code == 404
            and settings.DEBUG
            and settings.CPX_DEBUG_404 != "technical"
            and getattr(request, "resolver_match", None) is None
        ):
            return error_page(request, 404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api(request):
            if isinstance(exception, DomainError):
                return JsonResponse(exception.body(), status=exception.status)
            if isinstance(exception, Http404):
                return api_error(404)
            if isinstance(exception, PermissionDenied):
                return api_error(403)
            if isinstance(exception, RequestDataTooBig):
                return api_error(413)
            if isinstance(exception, SuspiciousOperation | BadRequest):
                return api_error(400)
            logger.error(
                "Internal Server Error: %s", request.path, exc_info=exception, extra={"status_code": 500}
            )
            return api_error(500)
        if not settings.DEBUG:
            return None  # the handlers answer
        if isinstance(exception, Http404) and settings.CPX_DEBUG_404 != "technical":
            return error_page(request, 404)
        return None

    @staticmethod
    def too_large(request: HttpRequest) -> bool:
        """A non-file body over DATA_UPLOAD_MAX_MEMORY_SIZE (uploads are limited by their own views)."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or request.content_type in ("multipart/form-data", "application/octet-stream"):
            return False
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        return length > limit

    @staticmethod
    def keep_headers(original: HttpResponse, replacement: HttpResponse) -> HttpResponse:
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in original:
                replacement[header] = original[header]
        return replacement
