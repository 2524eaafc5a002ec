from django.contrib import admin

from core.admin import ReadOnly

from .models import AutoRenewalPolicy, Opposition, RenewalReminder, Shipment, ShippingBatch


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    raw_id_fields = ["card"]
    readonly_fields = ["pin_release_on", "pin_released_at"]


@admin.register(ShippingBatch)
class ShippingBatchAdmin(admin.ModelAdmin):
    list_display = ["reference", "carrier", "shipped_at"]
    search_fields = ["reference"]
    inlines = [ShipmentInline]


@admin.register(Opposition)
class OppositionAdmin(ReadOnly):
    # Oppositions are declared through lifecycle.opposition only (it blocks the card and revokes
    # certificates).
    list_display = ["card", "reason", "channel", "declared_by_role", "declared_at", "replacement_order_id"]
    list_filter = ["reason", "channel"]
    raw_id_fields = ["card", "declared_by"]


@admin.register(RenewalReminder)
class RenewalReminderAdmin(admin.ModelAdmin):
    list_display = ["card", "threshold", "sent_at", "automatic", "link_used_at", "renewal_order_id"]
    list_filter = ["threshold", "automatic"]
    raw_id_fields = ["card"]


@admin.register(AutoRenewalPolicy)
class AutoRenewalPolicyAdmin(admin.ModelAdmin):
    list_display = ["authority", "profession", "enabled", "created_at"]
    list_filter = ["authority", "enabled"]
