"""Admin: the PKI is watched here, never edited (certificates are issued and revoked by pki.services)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import AuditEvent, Certificate, CertificateAuthority, Crl


@admin.register(Certificate)
class CertificateAdmin(ReadOnly):
    list_display = ["serial", "usage", "card_number", "not_after", "revoked_at", "revocation_reason"]
    list_filter = ["usage", "revocation_reason"]
    search_fields = ["serial", "card_number"]
    exclude = ["der"]


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnly):
    list_display = ["slug", "name", "token_role", "algorithm", "crl_number"]
    exclude = ["der"]


@admin.register(Crl)
class CrlAdmin(ReadOnly):
    list_display = ["authority", "kind", "number", "this_update", "next_update", "entries"]
    list_filter = ["authority", "kind"]
    exclude = ["der"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly):
    list_display = ["at", "operation", "authority", "actor", "request_id"]
    list_filter = ["operation", "authority"]
    search_fields = ["actor", "request_id"]
