"""Only this app's API, at its real prefix: the API tests do not depend on the other apps' routes."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("notifications.api_urls"))]
