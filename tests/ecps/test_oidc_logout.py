"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout (Back-Channel
Logout 1.0): the relying parties' receivers are real HTTP servers on this machine; delivery goes through
the Celery task (run eagerly here) with its retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from jwcrypto import jwk, jwt

from ecps import logout, services
from ecps.models import ProviderSession
from notifications.models import Notification

from .oidc_client import LOGGED_OUT, id_token_claims, introspect, register, tokens

pytestmark = pytest.mark.django_db


class Receiver:
    """A relying party's back-channel logout endpoint: records each logout token; answers ``statuses``
    in turn (then 200)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                body = parse_qs(self.rfile.read(length).decode())
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.tokens.extend(body.get("logout_token", []))
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """The delivery task runs in the test's process (its retries too)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def rp(ans, receiver):
    return register(ans, post_logout_redirect_uris=[LOGGED_OUT], backchannel_logout_uri=receiver.url)


def _verified_logout_token(client: Any, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    checked = jwt.JWT(jwt=token, key=keys, check_claims={"exp": None, "iat": None})
    return json.loads(checked.header), json.loads(checked.claims)


def _logout_url(id_token: str, redirect: str = LOGGED_OUT, state: str = "bye-1") -> str:
    from urllib.parse import urlencode

    return "/o/logout/?" + urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": redirect, "state": state}
    )


# --- RP-initiated logout ----------------------------------------------------------------------------------


def test_rp_initiated_logout_returns_to_the_registered_uri_with_state(
    client, rp, active_ecps, authenticator, django_capture_on_commit_callbacks, eager_celery
):
    result = tokens(client, authenticator, rp)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(_logout_url(result["id_token"]))
    assert response.status_code == 302
    assert response["Location"] == f"{LOGGED_OUT}?state=bye-1"
    assert "_auth_user_id" not in client.session
    assert introspect(client, rp, result["access_token"]) == {"active": False}


@pytest.mark.parametrize(
    "redirect",
    [
        LOGGED_OUT + "/",
        LOGGED_OUT + "x",
        LOGGED_OUT + "?next=https://evil.example",
        LOGGED_OUT.upper(),
        LOGGED_OUT.replace("testserver", "testserver.evil.example"),
        "https://evil.example/ecps/demo-rp/logged-out",
    ],
)
def test_an_unregistered_post_logout_uri_is_refused(client, rp, active_ecps, authenticator, redirect):
    result = tokens(client, authenticator, rp)
    response = client.get(_logout_url(result["id_token"], redirect=redirect))
    assert response.status_code == 400 and "Location" not in response
    assert "_auth_user_id" in client.session  # still signed in


def test_a_forged_id_token_hint_is_refused(client, rp, active_ecps, authenticator):
    result = tokens(client, authenticator, rp)
    head, body, signature = result["id_token"].split(".")
    response = client.get(_logout_url(f"{head}.{body}.{signature[:-4]}AAAA"))
    assert response.status_code == 400 and "Location" not in response


# --- back-channel logout ----------------------------------------------------------------------------------


def test_signing_out_at_the_provider_sends_each_relying_party_a_logout_token(
    client, rp, active_ecps, authenticator, ans, receiver, django_capture_on_commit_callbacks, eager_celery
):
    other = register(ans, name="Téléservice", backchannel_logout_uri=receiver.url)
    first = tokens(client, authenticator, rp)
    second = tokens(client, authenticator, other)  # a second passkey sign-in: the same provider session
    _h, first_claims = id_token_claims(client, rp, first["id_token"])
    _h, second_claims = id_token_claims(client, other, second["id_token"])
    assert first_claims["sid"] == second_claims["sid"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(_logout_url(first["id_token"])).status_code == 302
    assert len(receiver.tokens) == 2
    issuer = client.get("/o/.well-known/openid-configuration").json()["issuer"]
    seen = set()
    for token in receiver.tokens:
        header, claims = _verified_logout_token(client, token)
        assert header["alg"] == "RS256" and header["typ"] == "logout+jwt"
        assert claims["iss"] == issuer and claims["aud"] in {rp.client_id, other.client_id}
        assert claims["sub"] == active_ecps.holder.national_id and claims["sid"] == first_claims["sid"]
        assert claims["events"] == {logout.EVENT: {}} and "nonce" not in claims
        assert claims["iat"] <= claims["exp"]
        seen.add((claims["aud"], claims["jti"]))
    assert {aud for aud, _jti in seen} == {rp.client_id, other.client_id} and len(seen) == 2
    assert all(s.logout_sent_at for s in ProviderSession.objects.all())


def test_the_portal_sign_out_sends_the_logout_tokens_too(
    client, rp, active_ecps, authenticator, receiver, django_capture_on_commit_callbacks, eager_celery
):
    tokens(client, authenticator, rp)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    assert len(receiver.tokens) == 1
    assert _verified_logout_token(client, receiver.tokens[0])[1]["aud"] == rp.client_id


def test_revoking_the_ecps_logs_its_relying_parties_out_and_tells_the_holder(
    client,
    rp,
    active_ecps,
    authenticator,
    doctor_user,
    receiver,
    django_capture_on_commit_callbacks,
    eager_celery,
):
    result = tokens(client, authenticator, rp)
    with django_capture_on_commit_callbacks(execute=True):
        services.ecps_declare_opposition(ecps=active_ecps, actor=doctor_user, reason="stolen")
    assert len(receiver.tokens) == 1
    assert _verified_logout_token(client, receiver.tokens[0])[1]["sub"] == active_ecps.holder.national_id
    assert introspect(client, rp, result["access_token"]) == {"active": False}
    told = Notification.objects.filter(recipient=active_ecps.holder, event="ecps_revoked")
    assert told.exists() and told.first().dedup_key == f"ecps_revoked:{active_ecps.pk}"


def test_a_failed_delivery_is_retried(
    client, rp, active_ecps, authenticator, receiver, django_capture_on_commit_callbacks, eager_celery
):
    receiver.statuses = [500, 503]
    tokens(client, authenticator, rp)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    session = ProviderSession.objects.get()
    assert len(receiver.tokens) == 1 and session.logout_sent_at is not None
    assert session.logout_attempts == 3


def test_an_unreachable_relying_party_leaves_the_session_to_the_sweep(
    client, ans, active_ecps, authenticator, django_capture_on_commit_callbacks, eager_celery
):
    down = register(ans, name="Éteint", backchannel_logout_uri="http://127.0.0.1:9/backchannel-logout")
    tokens(client, authenticator, down)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    session = ProviderSession.objects.get()
    assert session.ended_at is not None and session.logout_sent_at is None
    assert session.logout_attempts == logout.MAX_ATTEMPTS and session.logout_error
    assert logout.backchannel_logout_sweep() == 0  # attempts spent: not asked again


def test_a_relying_party_without_a_logout_uri_gets_nothing(
    client, ans, active_ecps, authenticator, receiver, django_capture_on_commit_callbacks, eager_celery
):
    quiet = register(ans, name="Sans déconnexion")
    tokens(client, authenticator, quiet)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
    assert receiver.tokens == [] and ProviderSession.objects.get().ended_at is not None


def test_the_sweep_asks_again_for_pending_deliveries(
    client, rp, active_ecps, authenticator, receiver, django_capture_on_commit_callbacks, eager_celery
):
    tokens(client, authenticator, rp)
    ProviderSession.objects.update(ended_at=ProviderSession.objects.get().started_at)  # ended, never sent
    with django_capture_on_commit_callbacks(execute=True):
        assert logout.backchannel_logout_sweep() == 1
    assert len(receiver.tokens) == 1
    assert logout.backchannel_logout_sweep() == 0


# --- registration of the logout addresses and of resource servers ---------------------------------------


def test_an_ans_operator_registers_logout_addresses_and_resource_servers(client, ans):
    from ecps.models import RelyingPartyProfile
    from registry.integrators import integrator_client_create
    from registry.models import Account
    from tests.factories import persona

    integrator_client_create(account=persona(Account.Role.HOLDER).account, name="ERP", actor=ans)
    client.force_login(ans)
    body = {
        "name": "API DMP",
        "redirect_uris": ["https://dmp.example/callback"],
        "post_logout_redirect_uris": ["https://dmp.example/bye"],
        "backchannel_logout_uri": "https://dmp.example/backchannel",
        "resource_server": True,
    }
    created = client.post("/api/v1/ecps/relying-parties/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["post_logout_redirect_uris"] == ["https://dmp.example/bye"]
    assert answer["backchannel_logout_uri"] == "https://dmp.example/backchannel"
    assert answer["resource_server"] is True
    profile = RelyingPartyProfile.objects.get(application__client_id=answer["client_id"])
    assert profile.is_resource_server and profile.backchannel_logout_uri == body["backchannel_logout_uri"]
    listed = client.get("/api/v1/ecps/relying-parties/").json()
    assert [rp["name"] for rp in listed["results"]] == ["API DMP"]  # integrator clients are not listed
    bad = client.post(
        "/api/v1/ecps/relying-parties/",
        {**body, "backchannel_logout_uri": "not a url"},
        content_type="application/json",
    )
    assert bad.status_code == 400


def test_a_logout_without_the_browser_session_ends_the_session_the_hint_names(
    client, rp, active_ecps, authenticator, receiver, django_capture_on_commit_callbacks, eager_celery
):
    from django.test import Client

    result = tokens(client, authenticator, rp)
    elsewhere = Client()  # the RP sends another browser (or the session here is gone)
    with django_capture_on_commit_callbacks(execute=True):
        response = elsewhere.get(_logout_url(result["id_token"]))
    assert response.status_code == 302 and response["Location"] == f"{LOGGED_OUT}?state=bye-1"
    assert len(receiver.tokens) == 1
    assert introspect(client, rp, result["access_token"]) == {"active": False}
