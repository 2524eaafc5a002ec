"""Portal routes of the structure area: the manager declares and ends staff, orders cards in batch.

(``structure/`` and ``structure/order/`` themselves are in ``portal/urls.py``.)"""

from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import manager

urlpatterns: list[URLPattern] = [
    path("structure/staff/new/", manager.staff_declare, name="structure-staff-new"),
    path("structure/staff/<int:pk>/end/", manager.staff_end, name="structure-staff-end"),
    path("structure/batch/", manager.batch_upload, name="structure-batch"),
    path("structure/batch/template.csv", manager.batch_template, name="structure-batch-template"),
    path("structure/batch/confirm/", manager.batch_confirm, name="structure-batch-confirm"),
    path("structure/batch/<str:sha256>/", manager.batch_preview, name="structure-batch-preview"),
]
