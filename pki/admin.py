"""Admin: the PKI is watched here, never edited (certificates are issued and revoked by pki.services)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import Certificate, CertificateAuthority


@admin.register(Certificate)
class CertificateAdmin(ReadOnly):
    list_display = ["serial", "usage", "card_number", "not_after", "revoked_at", "revocation_reason"]
    list_filter = ["usage", "revocation_reason"]
    search_fields = ["serial", "card_number"]
    exclude = ["der"]


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnly):
    list_display = ["slug", "name", "crl_number", "crl_next_update"]
    exclude = ["der", "crl_der"]
