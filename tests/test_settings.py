"""The settings come from the environment only, and a production environment passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env, env_bool

ROOT = Path(__file__).resolve().parent.parent


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
