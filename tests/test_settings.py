"""The settings come from the environment only, and a production environment passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env, env_bool

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "CPX_SECRETS_KEY_FILE": "dGhpcy1pcy1hLXRlc3Qtb25seS1mZXJuZXQta2V5ISE="
}  # a Fernet key (tests only)


def oidc_key(bits: int = 2048) -> str:
    """A PEM RSA private key, as the OpenID Connect provider's signing key (tests only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def production_environment(tmp_path: Path) -> dict[str, str]:
    secret = tmp_path / "secret"
    secret.write_text("x8#kq2-vR7mZp0@Lw5!tYb3&nH9cJ4dF6gS1aQe*Uo_iP%zX-Mv2Rk7Yw\n")
    values = {}
    for line in (ROOT / "deploy" / ".env.example").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    values.pop("DJANGO_SECRET_KEY")
    values["DJANGO_SECRET_KEY_FILE"] = str(secret)
    values["DATABASE_URL"] = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx")
    values["CPX_VAR_DIR"] = str(tmp_path)
    # Secrets named by *_FILE live in /run/secrets in production: here, temporary files.
    secrets = {**SECRETS, "CPX_OIDC_RSA_PRIVATE_KEY_FILE": oidc_key()}
    for key in [k for k in values if k.endswith("_FILE") and values[k].startswith("/run/secrets/")]:
        secret_file = tmp_path / key.lower()
        secret_file.write_text(secrets.get(key, "q7W-2xr9-Lp4t") + "\n")
        values[key] = str(secret_file)
    return {"PATH": os.environ["PATH"], **values}


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_are_read_from_files(tmp_path, monkeypatch):
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    monkeypatch.setenv("SOME_PASSWORD_FILE", str(path))
    assert env("SOME_PASSWORD") == "s3cret"


def test_a_missing_secret_file_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="SOME_PASSWORD_FILE"):
        env("SOME_PASSWORD")


def test_a_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DJANGO_HTTPS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_HTTPS"):
        env_bool("DJANGO_HTTPS")


def test_database_url_is_parsed():
    db = database_from_url("postgres://u:p%40ss@db.example:6543/cpx?sslmode=require")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "6543",
        "cpx",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x@y/z")


def _check_deploy(env: dict[str, str], fail_level: str = "WARNING") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", fail_level],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["CPX_CA_TOKEN_PIN", "CPX_OCSP_TOKEN_PIN", "CPX_ROOT_TOKEN_PIN"])
def test_check_deploy_refuses_a_default_or_placeholder_token_pin(tmp_path, name):
    env = production_environment(tmp_path)
    env.pop(f"{name}_FILE", None)
    env.pop(name, None)  # unset: the public development PIN applies
    result = _check_deploy(env)
    assert result.returncode != 0 and "pki.E001" in result.stderr and name in result.stderr
    env[name] = "change-me-please"
    result = _check_deploy(env)
    assert result.returncode != 0 and "placeholder" in result.stderr


def test_check_deploy_refuses_inline_signing_and_a_software_token_for_a_real_hierarchy(tmp_path):
    env = production_environment(tmp_path)
    env["CPX_SIGNING_INLINE"] = "true"
    env["CPX_HSM_SOFTHSM_DIR"] = str(tmp_path / "hsm")
    result = _check_deploy(env)
    assert "pki.E003" in result.stderr and "pki.E004" in result.stderr


PKI_OVER_HTTP = """
from django.test import Client
from django.conf import settings
c = Client()
for path in ("/pki/", "/pki/crl/personnes.crl", "/pki/ocsp", "/pki/ca/racine.crt", "/portal/"):
    r = c.get(path, secure=False, HTTP_X_FORWARDED_PROTO="http", HTTP_HOST="cpx.example.fr")
    print(path, r.status_code, r.get("Location", ""))
from pki import signing
print("base", signing.pki_base_url())
"""


@pytest.mark.django_db
def test_pki_answers_over_plain_http_with_the_production_settings(tmp_path):
    """With deploy/.env.example (SSL redirect on, behind a proxy), /pki/ is not redirected to https while
    the rest is; certificates carry http:// URLs even though CPX_BASE_URL is https."""
    from django.db import connection

    env = production_environment(tmp_path)
    db = connection.settings_dict
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["CPX_PKI_BASE_URL"] = ""  # fall back to CPX_BASE_URL=https://…: still http:// in certificates
    env["CPX_RATE_LIMIT_REDIS_URL"] = "redis://127.0.0.1:6379/0"  # not the example's redis.example.fr
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PKI_OVER_HTTP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    for path in ("/pki/", "/pki/crl/personnes.crl", "/pki/ocsp", "/pki/ca/racine.crt"):
        assert not lines[path].startswith("301"), (path, lines[path])
    assert lines["/portal/"].startswith("301 https://"), lines["/portal/"]
    assert lines["base"] == "http://cpx.example.fr"


def test_check_deploy_refuses_a_missing_or_derived_sealing_key(tmp_path):
    env = production_environment(tmp_path)
    env.pop("CPX_SECRETS_KEY_FILE")
    result = _check_deploy(env)
    assert result.returncode != 0 and "cards.E001" in result.stderr
    env["CPX_SECRETS_KEY"] = "not-a-fernet-key"
    assert "cards.E002" in _check_deploy(env).stderr


def test_check_deploy_refuses_the_fictional_opposition_number(tmp_path):
    env = production_environment(tmp_path)
    env.pop("CPX_OPPOSITION_PHONE")
    assert "cards.E004" in _check_deploy(env).stderr
    env["CPX_OPPOSITION_PHONE"] = "01 99 00 12 34"
    assert "cards.E004" in _check_deploy(env).stderr
