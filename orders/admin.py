"""Read-only admin for orders: the history is looked at here, never changed (transitions go through
orders.services)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import Order, OrderEvent, Payment, Tariff


class EventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "actor_role", "transition", "from_state", "to_state", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnly):
    list_display = ["id", "professional", "card_type", "kind", "authority", "state", "state_changed_at"]
    list_filter = ["state", "kind", "card_type", "authority"]
    search_fields = ["professional__national_id", "professional__last_name"]
    raw_id_fields = ["professional", "exercise", "structure", "replaces", "produced_card"]
    inlines = [EventInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnly):
    list_display = ["id", "order", "amount", "method", "reference", "recorded_by", "at"]
    search_fields = ["reference"]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    """Prices are dated: add a row to change the price from a date; past rows stay as they were."""

    list_display = ["valid_from", "amount", "currency"]

    def has_delete_permission(self, request, obj=None):
        return False
