"""Portal routes of issue 16's pages (included by portal/urls.py under the portal namespace): the issuance
policies of an authority, and the holder's answer to a proposed card."""

from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import policies, proposals

urlpatterns: list[URLPattern] = [
    path("backoffice/policies/", policies.policies_page, name="policies"),
    path("orders/<int:pk>/confirm/", proposals.proposal_confirm, name="proposal-confirm"),
    path("orders/<int:pk>/decline/", proposals.proposal_decline, name="proposal-decline"),
]
