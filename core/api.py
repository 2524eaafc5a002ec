"""The API conventions every endpoint of the platform shares.

Every error is JSON ``{"code": ..., "message": ...}``: ``code`` is stable for programs, ``message`` is for
people; validation errors add ``fields``; a domain error (``core.errors.DomainError``) adds its own extra
fields and answers with its own status. Objects outside the user's scope answer 404, never 403.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from .auth import IntegratorTokenAuthentication
from .errors import DomainError
from .pagination import Pagination, bounded_int
from .parsers import UNSAFE_TEXT, JSONParser, safe_name, unsafe_text_message
from .schema import AutoSchema

MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id cannot exist (and must not reach the database)


# --- errors --------------------------------------------------------------------------------------------


class ApiErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="Human-readable explanation.")


class ApiValidationErrorSerializer(ApiErrorSerializer):
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per input field.",
    )


CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "not_permitted",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "invalid",
}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Field errors as ``{"field": [messages]}``; nested ones get dotted paths (``cards.0.tracking_ref``)."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for position, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}{position}."))
        return flat
    messages = [str(m) for m in (detail if isinstance(detail, list) else [detail])]
    return {prefix.rstrip(".") or "non_field_errors": messages} if messages else {}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with every error body in the shape ``{"code", "message"[, "fields"]}``; a domain
    error answers with its own status and body."""
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), None)
    code = code or getattr(exc, "default_code", "error")
    if isinstance(exc, Http404):
        code = "not_found"
        response.data = {"code": code, "message": not_found_message(context.get("view"))}
    elif isinstance(exc, exceptions.ValidationError):
        response.data = {"code": code, "message": str(_("Invalid input.")), "fields": _flatten(exc.detail)}
    elif isinstance(exc, ReferencedNotFound):
        response.data = {"code": code, "message": str(exc.detail), "fields": _flatten(exc.fields)}
    else:
        detail = getattr(exc, "detail", None) or response.data.get("detail", "")
        response.data = {"code": code, "message": str(detail)}
    return response


def not_found_message(view: Any) -> str:
    """One style for every 404: "No such <object>." as the apps' own errors say it (``OrderNotFound``...),
    rather than Django's "No Card matches the given query." (English only, and a model's class name)."""
    try:
        model = view.get_queryset().model
    except Exception:  # not a model view, or one whose queryset cannot be built: the kind is unknown
        return str(_("Not found."))
    return capfirst(_("No such %(object)s.") % {"object": model._meta.verbose_name})


def validate_or_404(serializer: serializers.Serializer) -> None:
    """Validate; when the only problem is that referenced objects do not exist (or are not visible to the
    user, which is the same), answer 404 like a path to an invisible object would, else 400."""
    if serializer.is_valid():
        return
    codes = serializer_error_codes(serializer.errors)
    if codes and codes <= {"does_not_exist"}:
        raise ReferencedNotFound(serializer.errors)
    raise exceptions.ValidationError(serializer.errors)


def serializer_error_codes(errors: Any) -> set[str]:
    if isinstance(errors, dict):
        return set().union(*(serializer_error_codes(v) for v in errors.values())) if errors else set()
    if isinstance(errors, list):
        return set().union(*(serializer_error_codes(v) for v in errors)) if errors else set()
    return {getattr(errors, "code", "invalid")}


class ReferencedNotFound(exceptions.NotFound):
    def __init__(self, fields: Any) -> None:
        super().__init__(_("A referenced object does not exist."))
        self.fields = fields


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: ("Invalid input.", ApiValidationErrorSerializer),
        401: ("Not signed in.", ApiErrorSerializer),
        403: ("Not permitted.", ApiErrorSerializer),
        404: ("Not found, or not visible to you.", ApiErrorSerializer),
    }
    return {s: OpenApiResponse(descriptions[s][1], description=descriptions[s][0]) for s in statuses}


class BooleanField(serializers.BooleanField):
    """A boolean of a JSON body: ``true`` or ``false`` only (DRF's own also takes ``0``, ``"yes"``, ``"on"``:
    a client sending those has a bug the API should show, not guess around)."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class QueryBooleanField(serializers.BooleanField):
    """A boolean of a query string or a form, where everything is text: ``true`` or ``false`` (as
    OpenAPI writes a boolean parameter), in any case."""

    TEXT = {"true": True, "false": False}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in self.TEXT:
            return self.TEXT[data.lower()]
        self.fail("invalid", input=data)


def loose_booleans(fields: Any, data: Any, prefix: str = "") -> dict[str, list[str]]:
    """The body's booleans that are not JSON booleans (``{"enabled": 0}``), for a serializer whose fields
    are DRF's lenient ``BooleanField``: ``ApiView.validated`` refuses them for every view that uses it."""
    if not isinstance(data, dict):
        return {}
    found: dict[str, list[str]] = {}
    for name, field in fields.items():
        value = data.get(name)
        if name not in data or field.read_only:
            continue
        if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
            if value is not None or not field.allow_null:
                found[prefix + name] = [str(serializers.BooleanField.default_error_messages["invalid"])]
        elif isinstance(field, serializers.Serializer):
            found.update(loose_booleans(field.fields, value, f"{prefix}{name}."))
    return found


class ApiView(APIView):
    # The conventions of every CPx endpoint (mixed into DRF views). A comment, not a docstring: OpenAPI
    # would show a docstring as the description of every endpoint that has none of its own.

    # Integrator Bearer tokens first (core.auth), so an anonymous request is told how to authenticate (401,
    # not 403).
    authentication_classes: Any = [IntegratorTokenAuthentication, SessionAuthentication]
    renderer_classes: Any = [JSONRenderer]
    parser_classes: Any = [JSONParser]
    pagination_class: Any = Pagination
    schema: Any = AutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_unsafe_query(request)

    def validated(self, serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        """The request body, which must be a JSON object, validated by ``serializer_class`` (400 if not);
        its booleans must be JSON booleans."""
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        serializer = serializer_class(data=data)
        loose = loose_booleans(serializer.fields, data)
        if loose:
            raise exceptions.ValidationError(loose)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def check_id(self, value: Any) -> int:
        """A path id as an int; out of range ids are simply not found."""
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise Http404 from None
        if not 0 < number <= MAX_ID:
            raise Http404
        return number


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within bounds; anything else is a 400 naming the parameter. A list
    paged by hand must not go past ``Pagination``'s bounds (``limit`` 1 to 500, ``offset`` 0 to 10⁹)."""
    if name in Pagination.BOUNDS:
        low, high = max(low, Pagination.BOUNDS[name][0]), min(high, Pagination.BOUNDS[name][1])
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return bounded_int(name, raw, low, high)


def refuse_unsafe_query(request: Request) -> None:
    """A query parameter holding NUL (PostgreSQL refuses it in text) is a 400 naming it, before any view
    filters on it. (Django already replaces undecodable bytes, so no lone surrogate gets here.)"""
    unsafe = {
        safe_name(name): [unsafe_text_message()]
        for name, values in request.query_params.lists()
        if UNSAFE_TEXT.search(name) or any(UNSAFE_TEXT.search(value) for value in values)
    }
    if unsafe:
        raise exceptions.ValidationError(unsafe)
