"""/pki/: an index, the certificate and CRL of each CA, the OCSP responder, the audit log's checkpoints."""

from django.urls import path, re_path

from . import audit_views, ocsp_views, views

urlpatterns = [
    path("", views.index, name="pki-index"),
    path("ca/<slug:slug>.crt", views.ca_certificate, {"encoding": "der"}, name="pki-ca-crt"),
    path("ca/<slug:slug>.pem", views.ca_certificate, {"encoding": "pem"}, name="pki-ca-pem"),
    # The delta before the base: a slug may hold '-'.
    path("crl/<slug:slug>-delta.crl", views.delta_crl, name="pki-delta-crl"),
    path("crl/<slug:slug>.crl", views.crl, name="pki-crl"),
    # The audit log's signed checkpoints (pki.audit_views).
    path("audit/", audit_views.index, name="pki-audit-index"),
    path("audit/index.json", audit_views.index_json, name="pki-audit-index-json"),
    path("audit/latest.json", audit_views.latest, name="pki-audit-latest"),
    path("audit/latest.json.p7s", audit_views.latest, {"signature": True}, name="pki-audit-latest-p7s"),
    re_path(
        r"^audit/checkpoint-(?P<day>\d{4}-\d{2}-\d{2})\.json$",
        audit_views.checkpoint,
        name="pki-audit-checkpoint",
    ),
    re_path(
        r"^audit/checkpoint-(?P<day>\d{4}-\d{2}-\d{2})\.json\.p7s$",
        audit_views.checkpoint,
        {"signature": True},
        name="pki-audit-checkpoint-p7s",
    ),
    # OCSP: POST to /pki/ocsp, or GET /pki/ocsp/<base64 of the DER request> (RFC 5019 §5: the base64 may hold
    # '/', and arrives percent-decoded; also the URL-safe alphabet).
    path("ocsp", ocsp_views.ocsp_view, name="pki-ocsp"),
    path("ocsp/", ocsp_views.ocsp_view),
    re_path(r"^ocsp/(?P<encoded>[A-Za-z0-9+/=%_ -]+)$", ocsp_views.ocsp_view, name="pki-ocsp-get"),
]
