"""Every app's API routes under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("registry.api_urls")),
    path("registry/imports/", include("registry.api_imports")),
    path("", include("orders.api_urls")),
    path("", include("stations.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("lifecycle.api_urls")),
    path("", include("ecps.api_urls")),
    path("", include("approvals.api_urls")),
]
