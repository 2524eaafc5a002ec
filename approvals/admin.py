from django.contrib import admin

from core.admin import ReadOnly

from .models import ApprovalDecision, ApprovalRequest


class DecisionInline(admin.TabularInline):
    model = ApprovalDecision
    extra = 0
    can_delete = False
    readonly_fields = ["approver", "approve", "comment", "at"]

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnly):
    list_display = ["id", "action", "summary", "requested_by", "state", "created_at", "expires_at"]
    list_filter = ["state", "action"]
    search_fields = ["summary", "object_id"]
    inlines = [DecisionInline]
