"""The e-CPS in the admin, read-only: they change only through ecps' services (events, checks)."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import ECps, ECpsEvent, SignInEvent


@admin.register(ECps)
class ECpsAdmin(ReadOnly):
    list_display = ["id", "holder", "exercise", "state", "activation_method", "created_at", "revoked_at"]
    list_filter = ["state", "activation_method"]
    search_fields = ["holder__national_id", "holder__last_name"]
    exclude = ["public_key"]


@admin.register(ECpsEvent)
class ECpsEventAdmin(ReadOnly):
    list_display = ["at", "ecps", "kind"]


@admin.register(SignInEvent)
class SignInEventAdmin(ReadOnly):
    list_display = ["at", "professional", "client_id", "result", "reason"]
    list_filter = ["result", "reason"]
