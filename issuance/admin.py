"""Admin: production is watched here, never edited (every change goes through issuance.services).
PIN mailers' sealed content is never shown."""

from django.contrib import admin

from .models import (
    BlankCard,
    Card,
    Certificate,
    CertificateAuthority,
    PersonalizationJob,
    Reader,
    ReaderStation,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


class ReaderInline(admin.TabularInline):
    model = Reader
    extra = 0
    can_delete = False


@admin.register(ReaderStation)
class ReaderStationAdmin(ReadOnly):
    list_display = ["name", "state", "last_heartbeat", "module"]
    inlines = [ReaderInline]


@admin.register(BlankCard)
class BlankCardAdmin(ReadOnly):
    list_display = ["number", "station", "state", "updated_at"]
    list_filter = ["station", "state"]
    search_fields = ["number"]


@admin.register(PersonalizationJob)
class PersonalizationJobAdmin(ReadOnly):
    list_display = ["order_id", "station", "blank", "step", "started_at", "duration_ms"]
    list_filter = ["station", "step"]
    search_fields = ["order_id", "blank__number"]


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


@admin.register(Card)
class CardAdmin(ReadOnly):
    list_display = ["number", "card_type", "professional", "state", "valid_until", "pin_blocked_at"]
    list_filter = ["card_type", "state"]
    search_fields = ["number", "professional__national_id", "professional__last_name"]
