from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Notification, PrintBatch


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
