"""The pages every State site links from its footer: the accessibility statement, the legal notice and the
personal-data page. Public (no sign-in), static templates."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.views.generic import TemplateView

urlpatterns: list[URLPattern] = [
    path(
        "accessibility/",
        TemplateView.as_view(template_name="portal/legal/accessibility.html"),
        name="accessibility",
    ),
    path(
        "legal-notice/",
        TemplateView.as_view(template_name="portal/legal/legal_notice.html"),
        name="legal-notice",
    ),
    path(
        "personal-data/",
        TemplateView.as_view(template_name="portal/legal/personal_data.html"),
        name="personal-data",
    ),
]
