from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services, webhooks
from .models import Notification, PrintBatch, WebhookDelivery, WebhookSubscription


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Operators watch the outbox here: failed messages, their last error, and a retry once fixed."""

    list_display = ["id", "event", "channel", "recipient", "state", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["state", "channel", "event", "language"]
    search_fields = ["recipient__national_id", "recipient__last_name", "dedup_key"]
    raw_id_fields = ["recipient", "print_batch"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send the selected failed messages again")
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        retried = sum(
            services.notification_retry(notification_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{retried} message(s) back in the outbox.", messages.SUCCESS)


@admin.register(PrintBatch)
class PrintBatchAdmin(admin.ModelAdmin):
    list_display = ["day", "letter_count", "pdf_path", "manifest_path", "created_at"]
    readonly_fields = ["day", "letter_count", "pdf_path", "manifest_path", "created_at"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Read-only here: subscriptions are made on ANS's webhook page (which shows the secret once, and
    audits); never the secret, which is a signing key."""

    list_display = ["name", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    fields = ("name", "url", "events", "active", "created_by", "created_at")
    readonly_fields = fields
    actions = ["deactivate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Deactivate the selected subscriptions")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        done = sum(webhooks.subscription_deactivate(subscription=s, actor=request.user) for s in queryset)
        self.message_user(request, f"{done} subscription(s) deactivated.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["message_id", "subscription", "event", "card_key", "state", "attempts", "last_status"]
    list_filter = ["state", "event"]
    search_fields = ["message_id", "card_key"]
    raw_id_fields = ["subscription"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send the selected failed messages again")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = sum(webhooks.delivery_retry(delivery=d, actor=request.user) for d in queryset)
        self.message_user(request, f"{done} message(s) back in the outbox.", messages.SUCCESS)
