"""Security headers (core.headers): a strict Content-Security-Policy, a Permissions-Policy and no-store on
every personal answer, on every page of every persona and every API endpoint; no inline script or style in
any template or page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from portal.templatetags.portal import NAV
from tests.api_auth import authorization
from tests.factories import OrderFactory
from tests.portal.conftest import People, client_for, people  # noqa: F401 (the personas' fixture)

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
STRICT = {
    "default-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {name: value for name, _sep, value in (d.strip().partition(" ") for d in header.split(";"))}


def assert_headers(response: Any, *, personal: bool = True, admin: bool = False) -> None:
    where = f"{response.request['PATH_INFO']} ({response.status_code})"
    directives = policy(response)
    if admin:
        assert directives["style-src"].startswith("'self' 'sha256-"), where
        directives["style-src"] = "'self'"
    for name, value in STRICT.items():
        assert directives.get(name) == value, f"{where}: {name} is {directives.get(name)!r}"
    script_src = directives["script-src"].split()
    assert script_src[0] == "'self'" and all(s.startswith("'nonce-") for s in script_src[1:]), where
    permissions = response["Permissions-Policy"]
    assert "camera=()" in permissions and "microphone=()" in permissions and "geolocation=()" in permissions
    assert "payment=()" in permissions and "publickey-credentials-get=(self)" in permissions, where
    if personal:
        assert response["Cache-Control"] == "no-store", where
        assert response["Pragma"] == "no-cache", where
    else:
        assert "no-store" not in response.get("Cache-Control", ""), where


# A script element that runs code: not an external file, not carrying the nonce, not a JSON data block
# (json_script: never executed, so the policy does not apply to it).
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*\bnonce=)(?![^>]*\btype=\"application/json\")[^>]*>", re.IGNORECASE
)
INLINE_STYLE = re.compile(r"<style\b(?![^>]*\bnonce=)|\sstyle\s*=", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']|javascript:", re.IGNORECASE)


def assert_no_inline_code(response: Any) -> None:
    if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
        return
    html = response.content.decode()
    where = response.request["PATH_INFO"]
    assert not INLINE_SCRIPT.search(html), f"{where}: {INLINE_SCRIPT.search(html)}"
    assert not INLINE_STYLE.search(html), f"{where}: {INLINE_STYLE.search(html)}"
    assert not INLINE_HANDLER.search(html), f"{where}: {INLINE_HANDLER.search(html)}"
    nonce = policy(response)["script-src"].split()[1:]
    for tag in re.findall(r"<script\b[^>]*\bnonce=\"([^\"]*)\"", html):
        assert f"'nonce-{tag}'" in nonce, f"{where}: a script's nonce is not the header's"


# --- every route, with sample arguments ---

SAMPLE = {
    "int": "1",
    "str": "sample",
    "slug": "sample",
    "path": "sample",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, name) of every route, its converters given a sample value; regex routes without groups."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m[1] or "str", "sample"), str(pattern))
        else:
            regex = str(pattern).lstrip("^").rstrip("$").replace("\\Z", "")
            if re.search(r"[(\[\]*+?|]", regex.replace("\\.", "")):
                continue
            part = regex.replace("\\", "")
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            yield "/" + prefix + part, entry.name or ""


def site_routes() -> list[str]:
    return sorted({p for p, _name in routes() if not p.startswith(("/api/", "/admin/", "/static/"))})


def api_routes() -> list[str]:
    return sorted({p for p, _name in routes() if p.startswith("/api/")})


def admin_routes() -> list[str]:
    return ["/admin/", "/admin/login/", "/admin/auth/user/", "/admin/auth/user/add/"]


def get(client: Client, path: str, **headers: Any) -> Any:
    return client.get(path, follow=False, **headers)


# --- pages ---


def test_every_page_of_every_persona_carries_the_headers(people):  # noqa: F811
    order = OrderFactory(exercise=people.card.exercise)
    personas = {
        "holder": people.holder,
        "structure_manager": people.manager,
        "authority_operator": people.cnom,
        "ans_operator": people.ans,
        "auditor": people.auditor,
    }
    for role, user in personas.items():
        client = client_for(user)
        pages = [reverse(name) for name, _label in NAV[role]] + ["/", f"/orders/{order.pk}/"]
        pages += [f"/cards/{people.card.pk}/", f"/backoffice/orders/{order.pk}/"]
        for path in pages:
            response = get(client, path)
            assert response.status_code in (200, 302, 403, 404), path
            assert_headers(response)
            assert_no_inline_code(response)


@pytest.mark.parametrize("who", ["anonymous", "holder", "ans"])
def test_every_route_of_the_site_carries_the_headers(people, who):  # noqa: F811
    client = Client() if who == "anonymous" else client_for(getattr(people, who))
    paths = site_routes()
    assert "/accounts/login/" in paths and "/ecps/enrol/" in paths and len(paths) > 60
    for path in paths:
        response = get(client, path)
        assert response.status_code < 500, path
        assert_headers(response, personal=not path.startswith(tuple(settings.CPX_CACHEABLE_PREFIXES)))
        assert_no_inline_code(response)


def test_the_admin_pages_carry_the_headers():
    from tests.factories import UserFactory

    admin = UserFactory(is_staff=True, is_superuser=True)
    for client in (Client(), client_for(admin)):
        for path in admin_routes():
            response = get(client, path)
            assert response.status_code in (200, 302), path
            assert_headers(response, admin=True)


def test_the_admin_may_use_its_one_inline_style_by_hash_only():
    """Django's change list writes a fixed <style> for a model without actions: its hash is allowed on the
    admin's pages (and the test fails if Django changes that style)."""
    import base64
    import hashlib

    import django.contrib.admin

    source = (Path(django.contrib.admin.__file__).parent / "templates/admin/change_list.html").read_text()
    style = re.search(r"<style>(.*?)</style>", source, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
    assert policy(Client().get("/admin/login/"))["style-src"] == f"'self' 'sha256-{digest}'"
    assert policy(Client().get("/accounts/login/"))["style-src"] == "'self'"


def test_every_api_endpoint_carries_the_headers(people):  # noqa: F811
    paths = api_routes()
    assert "/api/v1/cards/" in paths and len(paths) > 30
    operator = {"HTTP_AUTHORIZATION": authorization(people.ans)}
    for path in paths:
        public = path.startswith(tuple(settings.CPX_CACHEABLE_PREFIXES))
        for headers in ({}, operator):
            response = get(Client(), path, **headers)
            assert response.status_code < 500, path
            assert_headers(response, personal=not public)


def test_the_api_docs_run_their_script_with_the_nonce():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert_headers(response, personal=False)
    assert_no_inline_code(response)
    assert re.search(r"<script nonce=\"[^\"]+\">", response.content.decode())


# --- OpenID Connect and the PKI ---


def test_token_answers_are_never_stored():
    """RFC 6749 §5.1: the token endpoint's answers carry Cache-Control: no-store."""
    for response in (
        Client().post("/o/token/", {"grant_type": "authorization_code", "code": "x"}),
        Client().get("/o/userinfo/"),
        Client().post("/o/introspect/", {"token": "x"}),
    ):
        assert_headers(response)


def test_the_pki_and_discovery_keep_their_own_caching():
    for path in ("/.well-known/openid-configuration", "/o/.well-known/jwks.json"):
        response = Client().get(path)
        assert_headers(response, personal=False)
    response = Client().post("/pki/ocsp", b"x", content_type="application/ocsp-request")
    assert "no-store" not in response.get("Cache-Control", "")


# --- forms that post elsewhere ---


def test_the_consent_form_may_return_to_its_relying_party():
    from core.headers import redirect_origin

    assert redirect_origin("https://rp.example/callback?x=1") == "https://rp.example"
    assert redirect_origin("javascript:alert(1)") is None
    assert redirect_origin("/relative") is None


def test_only_the_payment_page_may_post_to_the_payment_provider(settings, people):  # noqa: F811
    """The Systempay page's form posts to the provider (settings.CPX_SYSTEMPAY_URL): that page, and no other,
    may send a form there."""
    from decimal import Decimal

    from orders.models import Order

    settings.CPX_PAYMENT_PROVIDER = "orders.providers.systempay.SystempayProvider"
    settings.CPX_SYSTEMPAY_SITE_ID, settings.CPX_SYSTEMPAY_KEY = "12345678", "test-key-0123456789"
    order = OrderFactory(
        exercise=people.card.exercise,
        kind=Order.Kind.REPLACEMENT,
        replacement_reason="lost",
        replaces=people.card,
        state=Order.State.AWAITING_PAYMENT,
        fee=Decimal("36.00"),
    )
    client = client_for(people.holder)
    page = client.post(f"/orders/{order.pk}/pay/")
    assert page.status_code == 200 and settings.CPX_SYSTEMPAY_URL in page.content.decode()
    assert policy(page)["form-action"] == f"'self' {settings.CPX_SYSTEMPAY_URL}"
    assert policy(client.get(f"/orders/{order.pk}/"))["form-action"] == "'self'"


# --- templates ---


def templates() -> list[Path]:
    found = [p for p in ROOT.glob("*/templates/**/*.html") if ".venv" not in p.parts]
    found += list((ROOT / "templates").glob("**/*.html"))
    return sorted(found)


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_or_style(path):
    source = path.read_text()
    if "notifications/templates" in str(path):
        return  # e-mails and letters, never served as pages (a mail client has no CSP)
    assert not INLINE_SCRIPT.search(source), INLINE_SCRIPT.search(source)
    assert not INLINE_STYLE.search(source), INLINE_STYLE.search(source)
    assert not INLINE_HANDLER.search(source), INLINE_HANDLER.search(source)


def test_the_template_check_catches_inline_code():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js"></script>')
    assert not INLINE_SCRIPT.search('<script nonce="{{ request.csp_nonce }}">x()</script>')
    assert not INLINE_SCRIPT.search('<script id="d" type="application/json">{}</script>')
    assert INLINE_STYLE.search('<p style="color:red">') and INLINE_STYLE.search("<style>p{}</style>")
    assert INLINE_HANDLER.search('<a onclick="x()">')
