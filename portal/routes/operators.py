"""Portal routes of the operators' pages (included by portal/urls.py under the portal namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import backoffice, production

urlpatterns: list[URLPattern] = [
    path("backoffice/imports/<int:pk>/", production.import_detail, name="import"),
    path("backoffice/holders/<int:pk>/order/", backoffice.holder_order, name="bo-holder-order"),
    path("backoffice/orders/<int:pk>/submit/", backoffice.order_submit_draft, name="bo-submit"),
    path("backoffice/orders/<int:pk>/comment/", backoffice.order_comment, name="bo-comment"),
    path("backoffice/print-runs/", production.print_runs, name="print-runs"),
    path("backoffice/print-runs/mailers/<str:day>/<str:kind>/", production.mailer_run, name="mailer-run"),
    path("backoffice/print-runs/letters/<int:pk>/", production.letter_batch, name="letter-batch"),
    path(
        "backoffice/stations/<slug:name>/threshold/", production.station_threshold, name="station-threshold"
    ),
]
