"""Admin: the audit log is read here, never written (append-only, in the database itself)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import AuditRecord, Checkpoint, CheckpointSigner


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnly):
    list_display = ["seq", "at", "action", "actor_name", "object_type", "object_id", "authority_id"]
    list_filter = ["action"]
    search_fields = ["=object_id", "actor_name", "=hash"]
    date_hierarchy = "at"
    show_full_result_count = False  # a count(*) over millions of rows on every page: no


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnly):
    list_display = ["day", "seq", "hash", "at", "signer"]
    exclude = ["document", "signature"]


@admin.register(CheckpointSigner)
class CheckpointSignerAdmin(ReadOnly):
    list_display = ["key_label", "serial", "algorithm", "not_before", "not_after"]
    exclude = ["der"]
