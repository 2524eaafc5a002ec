"""/pki/: an index, the certificate and CRL of each CA, and the OCSP responder."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.index, name="pki-index"),
    path("ca/<slug:slug>.crt", views.ca_certificate, {"encoding": "der"}, name="pki-ca-crt"),
    path("ca/<slug:slug>.pem", views.ca_certificate, {"encoding": "pem"}, name="pki-ca-pem"),
    path("crl/<slug:slug>.crl", views.crl, name="pki-crl"),
    path("ocsp", views.ocsp, name="pki-ocsp"),
    path("ocsp/", views.ocsp),
    re_path(r"^ocsp/(?P<encoded>[A-Za-z0-9+/=%]+)$", views.ocsp, name="pki-ocsp-get"),
]
