"""Admin: production is watched here, never edited (every change goes through stations.services)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import BlankCard, PersonalizationJob, Reader, ReaderStation


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
