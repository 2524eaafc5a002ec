"""The API conventions every endpoint of the platform shares.

Every error is JSON ``{"code": ..., "message": ...}``: ``code`` is stable for programs, ``message`` is for
people; validation errors add ``fields``; a domain error (``core.errors.DomainError``) adds its own extra
fields and answers with its own status. Objects outside the user's scope answer 404, never 403.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from .errors import DomainError

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
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, Http404):
        code = "not_found"
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": code, "message": str(_("Invalid input.")), "fields": _flatten(exc.detail)}
    elif isinstance(exc, ReferencedNotFound):
        response.data = {"code": code, "message": str(exc.detail), "fields": _flatten(exc.fields)}
    else:
        detail = getattr(exc, "detail", None) or response.data.get("detail", "")
        response.data = {"code": code, "message": str(detail)}
    return response


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


class Pagination(LimitOffsetPagination):
    """limit/offset, strictly validated: a bad value is a 400, not silently replaced."""

    default_limit = 50
    max_limit = 500
    MAX_OFFSET = 10**9
    BOUNDS = {"limit": (1, max_limit), "offset": (0, MAX_OFFSET)}

    def _param(self, request: Any, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        low, high = self.BOUNDS[name]
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise exceptions.ValidationError({name: [f"Expected an integer from {low} to {high}."]})
        return value

    def get_limit(self, request: Any) -> int:
        return self._param(request, "limit", self.default_limit)

    def get_offset(self, request: Any) -> int:
        return self._param(request, "offset", 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = self.BOUNDS[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters


class ApiView(APIView):
    # The conventions of every CPx endpoint (mixed into DRF views). A comment, not a docstring: OpenAPI
    # would show a docstring as the description of every endpoint that has none of its own.

    # Token first, so an anonymous request is told how to authenticate (401, not 403).
    authentication_classes: Any = [TokenAuthentication, SessionAuthentication]
    renderer_classes: Any = [JSONRenderer]
    parser_classes: Any = [JSONParser]
    pagination_class: Any = Pagination

    def validated(self, serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        """The request body, which must be a JSON object, validated by ``serializer_class`` (400 if not)."""
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        serializer = serializer_class(data=data)
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
    """An integer query parameter within bounds; anything else is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: ["An integer is required."]}) from None
    if not low <= value <= high:
        raise exceptions.ValidationError({name: [f"Between {low} and {high}."]})
    return value
