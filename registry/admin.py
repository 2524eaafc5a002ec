"""Admin: operator (and other) accounts, created and changed by a superuser, and the integrator clients
that let programs act as an account on the API. Every change goes through the services (registry.accounts,
registry.integrators), which audit it; nothing here is deleted but an integrator client (its revocation)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.errors import DomainError

from .accounts import account_create, account_link_errors, account_snapshot, account_update
from .integrators import integrator_client_create, integrator_client_revoke
from .models import Account, IntegratorClient


class SuperuserOnly(admin.ModelAdmin):
    """Accounts and credentials decide what people and programs may do: superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AccountLinksForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["role", "professional", "structure", "authority"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("role"):
            links = {name: data.get(name) for name in ("professional", "structure", "authority")}
            for field, message in account_link_errors(role=data["role"], **links).items():
                self.add_error(field, message)
        return data


class AccountCreationForm(AccountLinksForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("E-mail"))
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password (again)"), strip=False, widget=forms.PasswordInput)

    class Meta(AccountLinksForm.Meta):
        fields = ["username", "email", "password1", "password2", *AccountLinksForm.Meta.fields]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(_("A user with that username already exists."))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password1")
        if password and password != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class AccountChangeForm(AccountLinksForm):
    email = forms.EmailField(label=_("E-mail"))
    is_active = forms.BooleanField(label=pgettext_lazy("account", "Active"), required=False)

    class Meta(AccountLinksForm.Meta):
        fields = ["email", "is_active", *AccountLinksForm.Meta.fields]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["email"].initial = self.instance.user.email
            self.fields["is_active"].initial = self.instance.user.is_active


@admin.register(Account)
class AccountAdmin(SuperuserOnly):
    list_display = ["user", "role", "authority", "structure", "professional"]
    list_filter = ["role", "authority"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "authority", "structure", "professional"]
    raw_id_fields = ["professional", "structure"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = AccountChangeForm if obj is not None else AccountCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        form = AccountChangeForm if obj is not None else AccountCreationForm
        return list(form.Meta.fields)

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        data = form.cleaned_data
        links = {name: data.get(name) for name in ("professional", "structure", "authority")}
        if not change:
            created = account_create(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                role=data["role"],
                actor=request.user,
                **links,
            )
            obj.pk, obj.user = created.pk, created.user
            return
        before = account_snapshot(obj)
        obj.user.email, obj.user.is_active = data["email"], data["is_active"]
        account_update(account=obj, actor=request.user, before=before)


class IntegratorClientForm(forms.ModelForm):
    name = forms.CharField(label=_("Name"), max_length=255, help_text=_("What program uses it."))

    class Meta:
        model = IntegratorClient
        fields = ["account", "name"]


@admin.register(IntegratorClient)
class IntegratorClientAdmin(SuperuserOnly):
    list_display = ["__str__", "client_id", "account", "created_at"]
    list_select_related = ["application", "account__user"]
    search_fields = ["application__name", "application__client_id", "account__user__username"]
    raw_id_fields = ["account"]
    actions = ["revoke"]

    @admin.display(description=_("Client id"))
    def client_id(self, obj: IntegratorClient) -> str:
        return obj.application.client_id

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = IntegratorClientForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["account", "client_id", "created_at"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["account", "client_id", "created_at"] if obj is not None else ["account", "name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a client is created or revoked, never edited

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if request.method != "POST" or not self.has_add_permission(request):
            return super().add_view(request, form_url, extra_context)
        form = IntegratorClientForm(request.POST)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)
        try:
            client, secret = integrator_client_create(
                account=form.cleaned_data["account"], name=form.cleaned_data["name"], actor=request.user
            )
        except DomainError as exc:  # a role without scopes
            self.message_user(request, str(exc), level="error")
            return super().add_view(request, form_url, extra_context)
        # The secret is shown in this answer only (no-store), never in a message, a URL or a log.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Integrator client created"),
            "client": client,
            "client_id": client.application.client_id,
            "client_secret": secret,
        }
        return TemplateResponse(request, "admin/registry/integratorclient/created.html", context)

    @admin.action(description=_("Revoke the selected clients and their tokens"))
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for client in queryset.select_related("application", "account"):
            integrator_client_revoke(client=client, actor=request.user)
        self.message_user(request, _("Revoked."))
