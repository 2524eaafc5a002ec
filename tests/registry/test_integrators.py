"""Integrator clients: OAuth 2.0 client credentials at /o/token/, Bearer tokens on the API acting as the
client's account, scopes per role, short-lived tokens stored hashed; the e-CPS provider's relying parties
and their tokens get none of it; the plain DRF tokens are gone."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

from registry.integrators import integrator_client_create, integrator_client_revoke
from registry.models import Account
from tests.api_auth import basic, client_credentials_token, integrator_credentials
from tests.factories import CardFactory, persona

pytestmark = pytest.mark.django_db
TOKEN_URL = "/o/token/"


def token_answer(client, client_id, secret, **fields):
    return client.post(
        TOKEN_URL, {"grant_type": "client_credentials", **fields}, HTTP_AUTHORIZATION=basic(client_id, secret)
    )


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_client_acts_as_its_account_with_its_scoping(client):
    holder = persona(Account.Role.HOLDER)
    own = CardFactory(exercise__professional=holder.account.professional)
    CardFactory()  # someone else's
    answer = client_credentials_token(*integrator_credentials(holder))
    assert answer["token_type"] == "Bearer"
    assert 0 < answer["expires_in"] <= settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"] <= 900
    assert set(answer["scope"].split()) == {"api:read", "api:write"}
    assert "refresh_token" not in answer
    response = client.get("/api/v1/cards/", **bearer(answer["access_token"]))
    assert response.status_code == 200, response.content
    assert [card["id"] for card in response.json()["results"]] == [own.pk]


def test_tokens_are_stored_hashed_never_in_clear():
    user = persona(Account.Role.ANS_OPERATOR)
    client_id, secret = integrator_credentials(user)
    value = client_credentials_token(client_id, secret)["access_token"]
    row = get_access_token_model().objects.get(application__client_id=client_id)
    assert row.token == "" and row.token_checksum
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM oauth2_provider_accesstoken t")
        stored = " ".join(r[0] for r in cursor.fetchall())
        cursor.execute("SELECT row_to_json(t)::text FROM oauth2_provider_application t")
        applications = " ".join(r[0] for r in cursor.fetchall())
    assert value not in stored
    assert secret not in applications  # the client secret is hashed too


def test_a_scope_the_role_lacks_is_refused_with_invalid_scope(client):
    auditor = persona(Account.Role.AUDITOR)
    client_id, secret = integrator_credentials(auditor)
    for scope in ("api:write", "api:read api:write", "openid", "profile"):
        response = token_answer(client, client_id, secret, scope=scope)
        assert response.status_code == 400 and response.json()["error"] == "invalid_scope", scope
    answer = token_answer(client, client_id, secret).json()
    assert answer["scope"] == "api:read"


def test_a_read_only_token_reads_but_may_not_write(client):
    operator = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    token = client_credentials_token(*integrator_credentials(operator), scope="api:read")["access_token"]
    assert client.get("/api/v1/orders/", **bearer(token)).status_code == 200
    response = client.post("/api/v1/orders/", {}, content_type="application/json", **bearer(token))
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted" and "api:write" in response.json()["message"]


def test_an_expired_or_unknown_token_answers_401_with_a_bearer_challenge(client):
    user = persona(Account.Role.ANS_OPERATOR)
    client_id, secret = integrator_credentials(user)
    token = client_credentials_token(client_id, secret)["access_token"]
    get_access_token_model().objects.filter(application__client_id=client_id).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )
    for value in (token, "not-a-token"):
        response = client.get("/api/v1/cards/", **bearer(value))
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
        assert response["WWW-Authenticate"].startswith("Bearer")
    anonymous = client.get("/api/v1/cards/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_client_and_its_tokens_stop_working(client):
    user = persona(Account.Role.ANS_OPERATOR)
    integrator, secret = integrator_client_create(account=user.account, name="job", actor="tests")
    client_id = integrator.application.client_id
    token = client_credentials_token(client_id, secret)["access_token"]
    integrator_client_revoke(client=integrator, actor="tests")
    assert client.get("/api/v1/cards/", **bearer(token)).status_code == 401
    assert token_answer(client, client_id, secret).status_code == 401


def test_an_inactive_user_s_tokens_do_not_authenticate(client):
    user = persona(Account.Role.ANS_OPERATOR)
    token = client_credentials_token(*integrator_credentials(user))["access_token"]
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/api/v1/cards/", **bearer(token)).status_code == 401


def relying_party():
    model = get_application_model()
    return model.objects.create(
        name="RP",
        client_type=model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://rp.example/cb",
        algorithm=model.RS256_ALGORITHM,
        client_secret="rp-secret-123456",
    )


def test_relying_parties_cannot_use_client_credentials(client):
    rp = relying_party()
    response = token_answer(client, rp.client_id, "rp-secret-123456")
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "unauthorized_client"


def test_an_oidc_access_token_does_not_authenticate_to_the_api(client):
    holder = persona(Account.Role.HOLDER)
    token = get_access_token_model()(
        user=holder,
        application=relying_party(),
        scope="openid profile",
        expires=timezone.now() + dt.timedelta(minutes=5),
    )
    set_token_value(token, "oidc-access-token-value")
    token.save()
    response = client.get("/api/v1/cards/", **bearer("oidc-access-token-value"))
    assert response.status_code == 401


def test_plain_drf_tokens_are_gone(client):
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    response = client.get(
        "/api/v1/cards/", HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567"
    )
    assert response.status_code == 401


def test_the_platform_account_has_no_integrator_clients():
    from core.errors import InvalidInput

    system = persona(Account.Role.SYSTEM)
    with pytest.raises(InvalidInput):
        integrator_client_create(account=system.account, name="x", actor="tests")


def test_creation_and_revocation_are_audited():
    from audit.models import AuditRecord

    user = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    integrator, secret = integrator_client_create(account=user.account, name="back office", actor="tests")
    integrator_client_revoke(client=integrator, actor="tests")
    rows = list(AuditRecord.objects.order_by("seq").values_list("action", "authority_id", "detail"))
    assert [r[0] for r in rows[-2:]] == ["integrator_client.created", "integrator_client.revoked"]
    assert rows[-1][1] == user.account.authority_id
    assert secret not in str(rows)


# --- the schema and the documented example -----------------------------------------------------------


def test_the_schema_declares_how_to_authenticate(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemes = schema["components"]["securitySchemes"]
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/o/token/" and set(flow["scopes"]) == {"api:read", "api:write", "card-status"}
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
    assert "tokenAuth" not in schemes
    cards = schema["paths"]["/api/v1/cards/"]["get"]["security"]
    assert {"oauth2": ["api:read"]} in cards and {"cookieAuth": []} in cards
    assert {"oauth2": ["api:write"]} in schema["paths"]["/api/v1/orders/"]["post"]["security"]
    assert "grant_type=client_credentials" in schema["info"]["description"]


DOC = Path(settings.BASE_DIR) / "docs" / "api_auth.md"


def documented_example() -> str:
    text = DOC.read_text()
    block = re.search(r"## Getting a token and calling the API\n+```sh\n(.*?)```", text, re.S)
    assert block, "docs/api_auth.md lost its example"
    assert block.group(1) in settings.SPECTACULAR_SETTINGS["DESCRIPTION"], "the schema's example differs"
    return block.group(1)


@pytest.mark.django_db(transaction=True)
def test_the_documented_example_works_literally(live_server):
    holder = persona(Account.Role.HOLDER)
    card = CardFactory(exercise__professional=holder.account.professional)
    client_id, secret = integrator_credentials(holder)
    script = documented_example().replace("https://cpx.example.fr", live_server.url)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], "CLIENT_ID": client_id, "CLIENT_SECRET": secret},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f'"id":{card.pk}' in result.stdout.replace(" ", ""), result.stdout
