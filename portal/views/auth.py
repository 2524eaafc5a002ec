"""Sign in and out, and the home page that sends each role to its own pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.roles import Role, role_of

HOME_OF_ROLE: dict[str, str] = {
    Role.HOLDER: "portal:cards",
    Role.STRUCTURE_MANAGER: "portal:structure",
    Role.AUTHORITY_OPERATOR: "portal:dashboard",
    Role.ANS_OPERATOR: "portal:dashboard",
    Role.AUDITOR: "portal:dashboard",
}


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    next_page = "login"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    target = HOME_OF_ROLE.get(role_of(request.user) or "")
    if target:
        return redirect(target)
    if request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "portal/no_role.html")
