"""Portal routes of the dashboard area: the dashboards per role and the exports of every list."""

from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import dashboard, exports

urlpatterns: list[URLPattern] = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("exports/<slug:name>.csv", exports.export_csv, name="export-csv"),
    path("exports/<slug:name>.xlsx", exports.export_xlsx, name="export-xlsx"),
]
