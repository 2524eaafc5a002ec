"""Security headers on every answer: Content-Security-Policy, Permissions-Policy and Cache-Control.

- **Content-Security-Policy** (django-csp, ``CONTENT_SECURITY_POLICY``): scripts and styles of this site
  only, no inline code but a script carrying the request's nonce. A form may post only to this site
  (``form-action 'self'``), except where a page must send the person elsewhere: the pages of
  ``CPX_CSP_FORM_ACTION_BY_VIEW`` (the payment provider's form) and the OpenID Connect consent and logout
  pages, whose form ends in a redirect to the relying party's registered address (browsers apply
  ``form-action`` to the redirects that follow a submission). ``CPX_CSP_UPDATES_BY_PREFIX`` adds sources
  by path (the hash of the admin's one fixed inline style).
- **Permissions-Policy** (``CPX_PERMISSIONS_POLICY``): the browser features the platform never uses are
  denied; WebAuthn stays allowed for this site.
- **Cache-Control: no-store** on every answer but public ones (``CPX_CACHEABLE_PREFIXES``: static files,
  /pki/'s CRLs, certificates and OCSP answers with their own RFC 5019 caching, the API's schema and docs):
  pages and API answers carry personal data, token answers must not be stored (RFC 6749 §5.1).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

# Pages whose form ends in a redirect to a relying party: the form's field holding the address, which the
# view checked against the client's registration before showing the page (consent; RP-initiated logout).
RETURN_FIELDS = {
    "ecps-authorize": "redirect_uri",
    "oauth2_provider:authorize": "redirect_uri",
    "ecps-logout": "post_logout_redirect_uri",
    "oauth2_provider:rp-initiated-logout": "post_logout_redirect_uri",
}


class SecurityHeadersMiddleware(CSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response = super().process_response(request, response)
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = permissions_policy()
        if personal(request.path_info):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"  # HTTP/1.0 caches
            if "Expires" in response:
                del response["Expires"]
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        update = {key: list(values) for key, values in (parts.update or {}).items()}
        for prefix, additions in settings.CPX_CSP_UPDATES_BY_PREFIX.items():
            if request.path_info.startswith(prefix):
                for directive, sources in additions.items():
                    update[directive] = [*update.get(directive, ()), *sources]
        targets = form_targets(request, response)
        if targets:
            update["form-action"] = [*update.get("form-action", ()), *targets]
        parts.update = update or parts.update
        return parts


def permissions_policy() -> str:
    return ", ".join(f"{feature}={allow}" for feature, allow in settings.CPX_PERMISSIONS_POLICY.items())


def personal(path: str) -> bool:
    return not path.startswith(tuple(settings.CPX_CACHEABLE_PREFIXES))


def form_targets(request: HttpRequest, response: HttpResponseBase) -> list[str]:
    """Where this page's forms may post besides this site."""
    match = getattr(request, "resolver_match", None)
    if match is None or response.status_code != 200:
        return []
    if match.view_name in RETURN_FIELDS:
        origin = redirect_origin(checked_return_uri(response, RETURN_FIELDS[match.view_name]))
        return [origin] if origin else []
    return list(settings.CPX_CSP_FORM_ACTION_BY_VIEW.get(match.view_name, ()))


def checked_return_uri(response: HttpResponseBase, field: str) -> str:
    """The relying party's address in the page's form, as the view validated it (never the query's)."""
    context: dict[str, Any] = getattr(response, "context_data", None) or {}
    initial = getattr(context.get("form"), "initial", None) or {}
    return str(initial.get(field) or "")


def redirect_origin(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"
