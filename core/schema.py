"""The OpenAPI schema says what the API's input rules are, for every operation at once.

- ``postprocess_input_rules`` (a drf-spectacular postprocessing hook): an operation that takes query
  parameters or a body declares its 400 answer (limit/offset, a bad filter...), every one its 429 (rate
  limits); text in a body or a query parameter may not hold NUL (``core.parsers``), which the schema says
  with a ``pattern``.
- ``AutoSchema`` (``ApiView.schema``): a nested list that may not be empty (``many=True, allow_empty=False``)
  says ``minItems: 1``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import is_list_serializer

NO_NUL = r"^[^\u0000]*$"
VALIDATION_ERROR = "ApiValidationError"
METHODS = ("get", "put", "post", "patch", "delete")


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if is_list_serializer(field) and not field.allow_empty and schema and schema.get("type") == "array":
            schema.setdefault("minItems", 1)
        return schema


def postprocess_input_rules(result: dict, generator: Any, request: Any, public: bool) -> dict:
    components = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            queries = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            body = operation.get("requestBody", {}).get("content", {})
            responses = operation.setdefault("responses", {})
            if queries or body:
                responses.setdefault("400", validation_error(components))
            responses.setdefault("429", throttled(components))
            for parameter in queries:
                forbid_nul(parameter.get("schema", {}), components, set())
            for content in body.values():
                forbid_nul(content.get("schema", {}), components, set())
    return result


def validation_error(components: dict) -> dict:
    if VALIDATION_ERROR in components:
        schema: dict = {"$ref": f"#/components/schemas/{VALIDATION_ERROR}"}
    else:
        schema = {"type": "object", "required": ["code", "message"]}
    return {"description": "Invalid input.", "content": {"application/json": {"schema": schema}}}


def throttled(components: dict) -> dict:
    """Any API request may be over a rate limit (core.ratelimit: unauthenticated callers, above all)."""
    schema = {"$ref": "#/components/schemas/ApiError"} if "ApiError" in components else {"type": "object"}
    description = "Too many requests: retry after the Retry-After header's seconds."
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def forbid_nul(schema: dict, components: dict, seen: set[str]) -> None:
    """Give every free text of ``schema`` (no pattern, enum or format of its own) the NO_NUL pattern."""
    ref = schema.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            forbid_nul(components[name], components, seen)
        return
    if schema.get("type") == "string" and not ({"pattern", "enum", "format"} & set(schema)):
        schema["pattern"] = NO_NUL
    for nested in schema.get("properties", {}).values():
        forbid_nul(nested, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            forbid_nul(schema[key], components, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for nested in schema.get(key, []):
            forbid_nul(nested, components, seen)
