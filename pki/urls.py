"""/pki/: an index, the certificate and CRL of each CA, and the OCSP responder."""

from django.urls import path, re_path

from . import ocsp_views, views

urlpatterns = [
    path("", views.index, name="pki-index"),
    path("ca/<slug:slug>.crt", views.ca_certificate, {"encoding": "der"}, name="pki-ca-crt"),
    path("ca/<slug:slug>.pem", views.ca_certificate, {"encoding": "pem"}, name="pki-ca-pem"),
    # The delta before the base: a slug may hold '-'.
    path("crl/<slug:slug>-delta.crl", views.delta_crl, name="pki-delta-crl"),
    path("crl/<slug:slug>.crl", views.crl, name="pki-crl"),
    # OCSP: POST to /pki/ocsp, or GET /pki/ocsp/<base64 of the DER request> (RFC 5019 §5: the base64 may hold
    # '/', and arrives percent-decoded; also the URL-safe alphabet).
    path("ocsp", ocsp_views.ocsp_view, name="pki-ocsp"),
    path("ocsp/", ocsp_views.ocsp_view),
    re_path(r"^ocsp/(?P<encoded>[A-Za-z0-9+/=%_ -]+)$", ocsp_views.ocsp_view, name="pki-ocsp-get"),
]
