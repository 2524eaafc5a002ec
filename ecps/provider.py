"""The OpenID Connect provider's views that differ from django-oauth-toolkit's: authorization needs a
fresh sign-in with an e-CPS passkey (not a password session), and binds the code to that e-CPS;
introspection answers inactive as soon as the e-CPS or its holder's registration is revoked."""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from oauth2_provider.views import AuthorizationView, IntrospectTokenView

from . import services, signin
from .oidc import token_value_usable

SESSION_KEY = "ecps_signin"


def mark_signed_in(request: HttpRequest, *, ecps_id: int) -> None:
    request.session[SESSION_KEY] = {"ecps": ecps_id, "user": request.user.pk, "at": time.time()}


def signed_in_ecps(request: HttpRequest) -> int | None:
    """The e-CPS this browser signed in with, if recent, for the same user, and still usable."""
    marker = request.session.get(SESSION_KEY) or {}
    fresh = time.time() - float(marker.get("at", 0)) <= settings.CPX_ECPS_SIGNIN_MAX_AGE_SECONDS
    same_user = request.user.is_authenticated and marker.get("user") == request.user.pk
    ecps_id = marker.get("ecps")
    return ecps_id if fresh and same_user and services.ecps_usable(ecps_id) else None


class EcpsAuthorizationView(AuthorizationView):
    template_name = "ecps/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.ecps_id = signed_in_ecps(request)
        if self.ecps_id is None:
            return redirect_to_login(request.get_full_path(), reverse("ecps:signin"))
        return super().dispatch(request, *args, **kwargs)

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict, allow: bool
    ) -> Any:
        """Bind the code to the e-CPS (the validator stores it beside the grant); one passkey sign-in serves
        one authorization, so every sign-in to a service is a passkey ceremony in the audit."""
        if not allow:
            signin.signin_refused_at_consent(
                ecps_id=self.ecps_id, client_id=credentials.get("client_id") or "", reason="consent_denied"
            )
        response = super().create_authorization_response(
            request, scopes, {**credentials, "ecps_id": self.ecps_id}, allow
        )
        request.session.pop(SESSION_KEY, None)
        return response


class EcpsIntrospectTokenView(IntrospectTokenView):
    @staticmethod
    def get_token_response(token_value: str | None = None) -> HttpResponse:
        response = IntrospectTokenView.get_token_response(token_value)
        if response.status_code != 200 or token_value is None:
            return response
        if json.loads(response.content).get("active") and not token_value_usable(token_value):
            return JsonResponse({"active": False})
        return response


def not_offered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-oauth-toolkit's self-service application pages: relying parties are registered by ANS
    operators only (ecps:relying-parties), so these answer 404."""
    return HttpResponse(status=404)
