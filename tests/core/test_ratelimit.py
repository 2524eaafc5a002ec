"""Rate limits (core.ratelimit, settings.CPX_RATE_LIMITS): each limit answers 429 with Retry-After once
passed, in its caller's shape, and normal use stays under it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from core import ratelimit
from tests.factories import PASSWORD, UserWithPasswordFactory, persona

pytestmark = pytest.mark.django_db


def lowered(settings: Any, name: str, rate: str) -> None:
    """The configured limit ``name`` (its views, key and counting), with a small rate for the test."""
    limits = copy.deepcopy(django_settings.CPX_RATE_LIMITS)
    limits[name]["rate"] = rate
    settings.CPX_RATE_LIMITS = limits


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def assert_throttled(response: Any, *, json_shape: str | None = None) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    if json_shape == "api":
        assert response.json()["code"] == "throttled"
        assert response.json()["message"]
    elif json_shape == "oauth":
        assert response.json()["error"] == "slow_down"


# --- sign-in ---


def sign_in(client: Client, username: str, password: str = "wrong", path: str = "/accounts/login/") -> Any:  # noqa: S107 (a wrong password)
    return client.post(path, {"username": username, "password": password})


def test_it_stops_password_spraying_over_many_usernames_from_one_address():
    """The tester's case: 40 usernames from one address went unblocked (axes counts per username and
    address). With the configured limits, the 21st failure from the address is refused."""
    spraying = from_address("198.51.100.7")
    answers = [sign_in(spraying, f"spray{n}").status_code for n in range(21)]
    assert answers[:20] == [200] * 20  # the form again, with its error
    assert answers[20] == 429
    assert_throttled(sign_in(spraying, "spray99"))
    # Another address is not concerned.
    assert sign_in(from_address("198.51.100.8"), "spray99").status_code == 200


def test_it_stops_guessing_one_account_from_many_addresses(settings):
    lowered(settings, "signin-account", "3/10m")
    user = UserWithPasswordFactory()
    for n in range(3):
        assert sign_in(from_address(f"203.0.113.{n}"), user.username.upper()).status_code == 200
    assert_throttled(sign_in(from_address("203.0.113.50"), user.username))
    assert sign_in(from_address("203.0.113.50"), "someone-else").status_code == 200


def test_axes_lockout_of_one_username_on_one_address_says_when_to_retry():
    user = UserWithPasswordFactory()
    client = from_address("192.0.2.9")
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, user.username).status_code == 200
    locked = sign_in(client, user.username)
    assert_throttled(locked)
    assert int(locked["Retry-After"]) == django_settings.AXES_COOLOFF_TIME.total_seconds()
    assert "Too many" in locked.content.decode() or "Trop de" in locked.content.decode()


def test_successful_sign_ins_are_not_counted(settings):
    """A shared address (a hospital's proxy) where people sign in all day is never throttled."""
    lowered(settings, "signin-address", "2/10m")
    lowered(settings, "signin-account", "2/10m")
    user = UserWithPasswordFactory()
    for _ in range(4):
        assert sign_in(from_address("192.0.2.10"), user.username, PASSWORD).status_code == 302


def test_the_admin_sign_in_is_limited_too(settings):
    lowered(settings, "signin-address", "2/10m")
    admin = from_address("192.0.2.11")
    assert sign_in(admin, "a", path="/admin/login/").status_code == 200
    assert sign_in(admin, "b", path="/admin/login/").status_code == 200
    response = sign_in(admin, "c", path="/admin/login/")
    assert_throttled(response)
    assert "text/html" in response["Content-Type"]  # the portal's page, for a person
    assert sign_in(admin, "d").status_code == 429  # the same limit covers the portal's form


# --- the OpenID Connect provider ---


@pytest.mark.parametrize(
    ("name", "path"), [("oidc-token", "/o/token/"), ("oidc-introspection", "/o/introspect/")]
)
def test_the_oidc_endpoints_are_limited_per_address(settings, name, path):
    lowered(settings, name, "5/m")
    client = from_address("192.0.2.20")
    answers = [client.post(path, {"grant_type": "authorization_code", "code": "x"}) for _ in range(5)]
    assert all(a.status_code != 429 for a in answers)
    response = client.post(path, {"grant_type": "authorization_code", "code": "x"})
    assert_throttled(response, json_shape="oauth")
    assert from_address("192.0.2.21").post(path, {"code": "x"}).status_code != 429


def test_the_token_endpoint_default_allows_a_busy_relying_party():
    client = from_address("192.0.2.22")
    answers = [client.post("/o/token/", {"grant_type": "authorization_code"}).status_code for _ in range(60)]
    assert 429 not in answers
    assert client.post("/o/token/", {"grant_type": "authorization_code"}).status_code == 429


# --- e-CPS activation and enrolment ---


def test_ecps_activation_is_limited_per_account(settings):
    lowered(settings, "ecps-activation-account", "3/h")
    holder = persona("holder")
    client = from_address("192.0.2.30")
    client.force_login(holder)
    for _ in range(3):
        assert client.post("/ecps/exercises/999999/activate-with-codes/").status_code != 429
    assert_throttled(client.post("/ecps/activations/999999/codes/", {"email_code": "1", "sms_code": "2"}))
    # Another holder behind the same address is not blocked by this one's attempts.
    other = from_address("192.0.2.30")
    other.force_login(persona("holder"))
    assert other.post("/ecps/exercises/999999/activate-with-card/").status_code != 429


def test_ecps_activation_is_limited_per_address(settings):
    lowered(settings, "ecps-activation-address", "2/h")
    for _ in range(2):
        client = from_address("192.0.2.31")
        client.force_login(persona("holder"))
        assert client.post("/ecps/exercises/999999/activate-with-codes/").status_code != 429
    client = from_address("192.0.2.31")
    client.force_login(persona("holder"))
    assert_throttled(client.post("/ecps/exercises/999999/activate-with-codes/"))


def test_ecps_enrolment_codes_are_limited_per_address(settings):
    lowered(settings, "ecps-enrolment", "3/h")
    phone = from_address("192.0.2.32")
    assert phone.get("/ecps/enrol/").status_code == 200
    for n in range(2):
        body = json.dumps({"code": f"guess{n}"})
        assert phone.post("/ecps/enrol/options/", body, content_type="application/json").status_code != 429
    response = phone.post(
        "/ecps/enrol/options/", json.dumps({"code": "guess"}), content_type="application/json"
    )
    assert_throttled(response, json_shape="api")  # the page's script reads {"code", "message"}


# --- renewal links ---


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/renewal-links/preview/",
        "/api/v1/renewal-links/confirm/",
        "/api/v1/renewal-links/not-a-token/",
        "/renew/",
        "/renew/not-a-token/",
    ],
)
def test_renewal_links_are_limited_per_address(settings, path):
    lowered(settings, "renewal-links", "3/h")
    client = from_address("192.0.2.40")
    client.force_login(persona("holder"))
    for _ in range(3):
        assert client.post(path, {"token": "guess"}).status_code != 429
    response = client.post(path, {"token": "guess"})
    assert_throttled(response, json_shape="api" if path.startswith("/api/") else None)
    assert from_address("192.0.2.41").get(path).status_code != 429


# --- bad API credentials ---


def test_it_stops_a_burst_of_wrong_api_tokens():
    """The tester's case: 60 × 401 in half a second. With the configured limit, the 31st is refused, and the
    refusal is in the API's error shape."""
    client = from_address("192.0.2.50")
    answers = [client.get("/api/v1/cards/", HTTP_AUTHORIZATION=f"Token wrong{n}") for n in range(60)]
    statuses = [a.status_code for a in answers]
    assert statuses[:30] == [401] * 30
    assert set(statuses[30:]) == {429}
    assert_throttled(answers[-1], json_shape="api")


def test_wrong_bearer_tokens_at_userinfo_are_counted_too(settings):
    lowered(settings, "api-unauthenticated", "3/m")
    client = from_address("192.0.2.52")
    for n in range(3):
        assert client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer wrong{n}").status_code == 401
    assert_throttled(client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer wrong"), json_shape="oauth")


def test_valid_api_calls_are_not_counted(settings):
    lowered(settings, "api-unauthenticated", "2/m")
    user = persona("holder")
    from tests.api_auth import authorization

    client = from_address("192.0.2.51")
    for _ in range(5):
        assert client.get("/api/v1/cards/", HTTP_AUTHORIZATION=authorization(user)).status_code == 200


# --- OCSP ---


def test_ocsp_is_limited_per_address(settings):
    lowered(settings, "ocsp", "3/m")
    relying_party = from_address("192.0.2.60")
    for _ in range(3):
        assert (
            relying_party.post("/pki/ocsp", b"x", content_type="application/ocsp-request").status_code != 429
        )
    assert_throttled(relying_party.get("/pki/ocsp/MEow"))


def test_ocsp_default_never_slows_a_normal_relying_party():
    relying_party = from_address("192.0.2.61")
    answers = [
        relying_party.post("/pki/ocsp", b"x", content_type="application/ocsp-request") for _ in range(200)
    ]
    assert 429 not in {a.status_code for a in answers}


# --- the machinery ---


def test_the_counters_are_in_redis_under_this_tests_prefix(settings):
    assert django_settings.CPX_RATE_LIMIT_REDIS_URL.startswith("redis://")
    lowered(settings, "ocsp", "1/m")
    from_address("192.0.2.70").post("/pki/ocsp", b"x", content_type="application/ocsp-request")
    counters = ratelimit.counters()
    assert isinstance(counters, ratelimit.RedisCounters)
    keys = list(counters.client.scan_iter(match=f"{django_settings.CPX_RATE_LIMIT_PREFIX}*"))
    assert len(keys) == 1 and b"ocsp:a:192.0.2.70:" in keys[0]
    ratelimit.reset()
    assert list(counters.client.scan_iter(match=f"{django_settings.CPX_RATE_LIMIT_PREFIX}*")) == []


def test_the_address_behind_a_trusted_proxy_is_the_one_it_appended(settings, rf):
    settings.CPX_RATE_LIMIT_TRUSTED_PROXIES = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.1", REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_address(request) == "198.51.100.1"
    settings.CPX_RATE_LIMIT_TRUSTED_PROXIES = 0
    assert ratelimit.client_address(request) == "10.0.0.1"


def test_a_bad_rate_is_refused_at_once():
    with pytest.raises(ValueError, match="30/10m"):
        ratelimit.Limit.from_setting("x", {"rate": "thirty"})


def test_a_redis_outage_refuses_nothing(settings, caplog):
    settings.CPX_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    lowered(settings, "ocsp", "1/m")
    client = from_address("192.0.2.71")
    for _ in range(3):
        assert client.post("/pki/ocsp", b"x", content_type="application/ocsp-request").status_code != 429
    assert "Redis unavailable" in caplog.text
