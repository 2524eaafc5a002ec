"""Every app's API routes under /api/v1/, and the API's root: an index of its resources."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path, reverse
from django.views.decorators.http import require_GET


@require_GET
def api_root(request: HttpRequest) -> JsonResponse:
    """The resources (every route of /api/v1/ without a path parameter), the schema and the docs, as links.
    Public: it holds only links; each resource says itself who may read it."""
    base = request.build_absolute_uri(reverse("api-root"))
    resources = {route.rstrip("/"): base + route for route in sorted(_static_routes(urlpatterns[1:], ""))}
    return JsonResponse(
        {
            "name": "CPx card platform API",
            "version": "v1",
            "resources": resources,
            "schema": request.build_absolute_uri(reverse("schema")),
            "docs": request.build_absolute_uri(reverse("api-docs")),
            "authentication": (
                "Authorization: Bearer <token> (OAuth 2.0 client credentials at /o/token/, "
                "docs/api_auth.md), or the portal's session"
            ),
        }
    )


def _static_routes(patterns: list, prefix: str) -> set[str]:
    routes: set[str] = set()
    for entry in patterns:
        route = prefix + str(entry.pattern).removeprefix("^").removesuffix("$")  # routers give regexes
        if any(char in route for char in "<>()[]?*+\\"):
            continue
        if isinstance(entry, URLResolver):
            routes |= _static_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route:
            routes.add(route)
    return routes


urlpatterns = [
    path("", api_root, name="api-root"),
    path("", include("registry.api_urls")),
    path("registry/imports/", include("registry.api_imports")),
    path("", include("orders.api_urls")),
    path("", include("stations.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("lifecycle.api_urls")),
    path("", include("ecps.api_urls")),
    path("", include("approvals.api_urls")),
]
