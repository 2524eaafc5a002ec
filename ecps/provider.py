"""The OpenID Connect provider's views that differ from django-oauth-toolkit's.

- Authorization needs a sign-in with an e-CPS passkey (not a password session) and binds the code to that
  e-CPS, its provider session (``sid``) and the time of the passkey sign-in (``auth_time``). An
  interactive authorization always follows a fresh passkey ceremony (so ``prompt=login`` and any
  ``max_age`` are met by construction); ``prompt=none`` never shows a page: a code when the browser's
  provider session and the holder's consent allow it, else ``login_required`` / ``consent_required`` sent
  back to the client (OpenID Connect Core 1.0 §3.1.2.1, §3.1.2.6).
- Introspection (RFC 7662) answers only the token's own client or a registered resource server; anyone
  else learns ``{"active": false}``.
- Userinfo takes the access token in the ``Authorization`` header only (RFC 6750 §2.2, §2.3 refused).
- Discovery says what the provider does, nothing more (``DISCOVERY``).
- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) ends the browser's provider session, which
  sends back-channel logout tokens (``ecps.logout``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from oauth2_provider.compat import login_not_required
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import (
    AuthorizationView,
    ConnectDiscoveryInfoView,
    IntrospectTokenView,
    RPInitiatedLogoutView,
    UserInfoView,
)
from oauth2_provider.views.mixins import OAuthLibMixin
from oauth2_provider.views.oidc import _load_id_token
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError
from oauthlib.openid.connect.core.exceptions import ConsentRequired, LoginRequired

from . import logout, services, signin
from .models import Consent, RelyingPartyProfile
from .oidc import CLAIMS_SUPPORTED, token_value_usable

SESSION_KEY = "ecps_signin"


# --- the provider session of a browser ---------------------------------------------------------------


def mark_signed_in(request: HttpRequest, *, ecps_id: int) -> None:
    """A passkey sign-in: opens (or renews) the browser's provider session. Its ``sid`` stays the same
    while the same holder signs in again in this browser."""
    previous = request.session.get(SESSION_KEY) or {}
    same = previous.get("user") == request.user.pk and previous.get("ecps") == ecps_id
    sid = previous.get("sid") if same and previous.get("sid") else secrets.token_urlsafe(24)
    request.session[SESSION_KEY] = {
        "ecps": ecps_id,
        "user": request.user.pk,
        "at": time.time(),
        "sid": sid,
        "spent": False,
    }


def _marker(request: HttpRequest) -> dict[str, Any] | None:
    """The provider session, if its holder is the one signed in and its e-CPS may still sign in."""
    marker = request.session.get(SESSION_KEY) or {}
    same_user = request.user.is_authenticated and marker.get("user") == request.user.pk
    return marker if same_user and services.ecps_usable(marker.get("ecps")) else None


def signed_in_ecps(request: HttpRequest) -> int | None:
    """The e-CPS of a passkey sign-in made for this authorization: recent and not used yet."""
    marker = _marker(request)
    if marker is None or marker.get("spent"):
        return None
    fresh = time.time() - float(marker.get("at", 0)) <= settings.CPX_ECPS_SIGNIN_MAX_AGE_SECONDS
    return int(marker["ecps"]) if fresh else None


def session_ecps(request: HttpRequest, *, max_age: int | None) -> dict[str, Any] | None:
    """For ``prompt=none``: the browser's provider session, if its sign-in is within ``max_age``."""
    marker = _marker(request)
    if marker is None:
        return None
    if max_age is not None and time.time() - float(marker.get("at", 0)) > max_age:
        return None
    return marker


def session_sid(request: HttpRequest) -> str:
    return str((request.session.get(SESSION_KEY) or {}).get("sid") or "")


def _max_age(request: HttpRequest) -> int | None:
    value = request.GET.get("max_age", "")
    return int(value) if value.isdigit() else None


# --- authorization ------------------------------------------------------------------------------------


def consent_covers(*, ecps_id: int, application: Any, scopes: list[str]) -> bool:
    consent = Consent.objects.filter(ecps_id=ecps_id, application=application).first()
    return consent is not None and set(scopes) <= set(consent.scopes.split())


class EcpsAuthorizationView(AuthorizationView):
    template_name = "ecps/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        prompt = set(request.GET.get("prompt", "").split())
        if request.method == "GET" and "none" in prompt:
            return self.silent(request)
        self.ecps_id = signed_in_ecps(request)
        if self.ecps_id is None:
            return redirect_to_login(request.get_full_path(), reverse("ecps:signin"))
        self.marker = request.session[SESSION_KEY]
        if "login" in prompt:  # met: this passkey sign-in was made for this very authorization
            query = request.GET.copy()
            query["prompt"] = " ".join(sorted(prompt - {"login"}))
            request.GET = query  # type: ignore[assignment] # what django-oauth-toolkit's get() reads
        return super().dispatch(request, *args, **kwargs)

    def validate_authorization_request(self, request: HttpRequest) -> tuple[list[str], dict]:
        """django-oauth-toolkit's checks, then PKCE with S256 only, refused before any page is shown
        (django-oauth-toolkit refuses ``plain`` only once consent is given)."""
        scopes, credentials = super().validate_authorization_request(request)
        if credentials.get("code_challenge_method") != "S256":
            error = InvalidRequestError(
                description='PKCE with code_challenge_method "S256" is required.',
                state=credentials.get("state"),
            )
            error.redirect_uri = credentials["redirect_uri"]
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def silent(self, request: HttpRequest) -> HttpResponse:
        """``prompt=none``: a code, or an error sent back to the (validated) redirect URI; never a page."""
        self.oauth2_data: dict[str, Any] = {}
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        marker = session_ecps(request, max_age=_max_age(request))
        if marker is None:
            return self._silent_error(LoginRequired, credentials, application)
        if not consent_covers(ecps_id=int(marker["ecps"]), application=application, scopes=scopes):
            return self._silent_error(ConsentRequired, credentials, application)
        self.ecps_id, self.marker = int(marker["ecps"]), marker
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def _silent_error(self, error_class: type, credentials: dict, application: Any) -> HttpResponse:
        redirect_uri = credentials["redirect_uri"]
        error = error_class(state=credentials.get("state"))
        uri = redirect_uri + ("&" if "?" in redirect_uri else "?") + error.urlencoded
        if oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
            uri = _add_iss_to_redirect(uri, oauth2_settings.oidc_issuer(self.request))
        return self.redirect(uri, application)

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict, allow: bool
    ) -> Any:
        """Bind the code to the e-CPS, its provider session and sign-in time (the validator stores them
        beside the grant); remember the consent for ``prompt=none``. One passkey sign-in serves one
        interactive authorization, so every interactive sign-in to a service is a passkey ceremony."""
        if not allow:
            signin.signin_refused_at_consent(
                ecps_id=self.ecps_id, client_id=credentials.get("client_id") or "", reason="consent_denied"
            )
        bound = {
            **credentials,
            "ecps_id": self.ecps_id,
            "ecps_sid": self.marker.get("sid") or "",
            "ecps_auth_time": float(self.marker.get("at", 0)) or None,
        }
        response = super().create_authorization_response(request, scopes, bound, allow)
        if allow and self.ecps_id is not None:
            application = get_application_model().objects.get(client_id=credentials["client_id"])
            Consent.objects.update_or_create(
                ecps_id=self.ecps_id, application=application, defaults={"scopes": scopes}
            )
        request.session[SESSION_KEY] = {**self.marker, "spent": True}
        return response


# --- introspection, userinfo --------------------------------------------------------------------------


def may_introspect(caller: Any, access_token: Any) -> bool:
    """The token's own client, or a registered resource server (``RelyingPartyProfile``)."""
    if access_token.application_id == caller.pk:
        return True
    return RelyingPartyProfile.objects.filter(application=caller, is_resource_server=True).exists()


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class EcpsIntrospectTokenView(OAuthLibMixin, View):
    """RFC 7662, POST with client authentication only (no token in a URL, no bearer-token callers)."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        caller = self._client(request)
        if caller is None:
            response = JsonResponse({"error": "invalid_client"}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="introspection"'
            return response
        token_value = request.POST.get("token")
        if not token_value:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "Token parameter is missing."},
                status=400,
            )
        checksum = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
        token = get_access_token_model().objects.filter(token_checksum=checksum).first()
        if token is None or not may_introspect(caller, token) or not token_value_usable(token_value):
            return JsonResponse({"active": False})
        return IntrospectTokenView.get_token_response(token_value)

    def _client(self, request: HttpRequest) -> Any:
        core = self.get_oauthlib_core()
        uri, http_method, body, headers = core._extract_params(request)
        oauth_request = OauthlibRequest(uri, http_method, body, headers)
        if core.server.request_validator.authenticate_client(oauth_request):
            return oauth_request.client
        return None


def bearer_error(error: str, description: str, status: int) -> HttpResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{description}"'
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class EcpsUserInfoView(UserInfoView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "access_token" in request.GET or "access_token" in request.POST:
            return bearer_error(
                "invalid_request", "The access token goes in the Authorization header only.", 401
            )
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return bearer_error("invalid_token", "An access token is required.", 401)
        return super().dispatch(request, *args, **kwargs)


# --- discovery ------------------------------------------------------------------------------------------

# What the provider does. Everything here is checked against the behaviour by
# tests/ecps/test_oidc_discovery.py. The response types, grant types and client authentication methods are
# read from the provider's own settings (config/settings.py OAUTH2_PROVIDER), the one place they are chosen.
DISCOVERY: dict[str, Any] = {
    "response_modes_supported": ["query"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "code_challenge_methods_supported": ["S256"],
    "prompt_values_supported": ["none", "login", "consent"],
    "claims_parameter_supported": False,
    "request_parameter_supported": False,
    "request_uri_parameter_supported": False,
    "backchannel_logout_supported": True,
    "backchannel_logout_session_supported": True,
    "frontchannel_logout_supported": False,
    "client_id_metadata_document_supported": False,
}


def discovery() -> dict[str, Any]:
    """DISCOVERY, with what the provider's settings decide."""
    provider = settings.OAUTH2_PROVIDER
    auth_methods = list(provider["OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED"])
    return {
        **DISCOVERY,
        "response_types_supported": list(provider["OIDC_RESPONSE_TYPES_SUPPORTED"]),
        "grant_types_supported": list(provider["OAUTH2_GRANT_TYPES_SUPPORTED"]),
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
    }


@method_decorator(login_not_required, name="dispatch")
class EcpsDiscoveryView(ConnectDiscoveryInfoView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        document = json.loads(super().get(request, *args, **kwargs).content)
        document.update(discovery())
        document["claims_supported"] = sorted(CLAIMS_SUPPORTED)
        document["introspection_endpoint"] = request.build_absolute_uri(reverse("ecps-introspect"))
        document["revocation_endpoint"] = request.build_absolute_uri(reverse("oauth2_provider:revoke-token"))
        document["end_session_endpoint"] = request.build_absolute_uri(reverse("ecps-logout"))
        response = JsonResponse(document)
        response["Access-Control-Allow-Origin"] = "*"
        return response


# --- RP-initiated logout ------------------------------------------------------------------------------


@method_decorator(login_not_required, name="dispatch")
class EcpsLogoutView(RPInitiatedLogoutView):
    """django-oauth-toolkit's end-session endpoint (``id_token_hint``, ``post_logout_redirect_uri``
    matched exactly against the client's registered ones, ``state`` returned); signing out sends the
    back-channel logout tokens (``ecps.logout``, on Django's ``user_logged_out``)."""

    template_name = "ecps/logout_confirm.html"

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: Any = None,
    ) -> HttpResponse:
        """Also when this browser has no provider session any more (the RP signs the holder out later,
        elsewhere): the session the ID token names (its ``sid``) ends, with its back-channel logouts."""
        sid = _hint_sid(self.request.GET.get("id_token_hint") or self.request.POST.get("id_token_hint"))
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        if sid:
            logout.sessions_end_for_sid(sid)
        return response


def _hint_sid(id_token_hint: str | None) -> str:
    """The ``sid`` of an ID token of this provider (signature checked), or ''."""
    if not id_token_hint:
        return ""
    _id_token, claims = _load_id_token(id_token_hint)
    return str((claims or {}).get("sid") or "")


def not_offered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-oauth-toolkit's self-service application pages and flows the provider does not run:
    relying parties are registered by ANS operators only (ecps:relying-parties), so these answer 404."""
    return HttpResponse(status=404)
