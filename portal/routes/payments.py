"""Portal routes of one area (included by portal/urls.py under the portal namespace)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
