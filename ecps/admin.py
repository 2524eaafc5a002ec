from django.contrib import admin

from .models import ECps, ECpsEvent, SignInEvent


class ReadOnly(admin.ModelAdmin):
    """The e-CPS change only through ecps.services (events, checks): the admin only shows them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


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
