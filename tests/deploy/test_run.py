"""`make run` as production runs it (scripts/run.py): gunicorn with WhiteNoise's static files and DEBUG off,
its choices recorded for manage.py (var/run.env), its own Redis database, its own gunicorn control socket."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from config.env import load_run_env
from tests.processes import ROOT, free_port, http_status, manage, processes, stack_environment, wait_for


def load_run_module():
    spec = importlib.util.spec_from_file_location("cpx_run_script", ROOT / "scripts" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run_module()


# --- var/run.env: manage.py reaches what make run runs ----------------------------------------------------


def test_the_recorded_environment_is_read_when_database_url_is_unset(tmp_path, monkeypatch):
    path = tmp_path / "run.env"
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:54329/cpx", "CELERY_BROKER_URL": "redis://x:6379/4"}
    run.record_environment({**env, "DJANGO_DEBUG": "false", "UNRELATED": "no"}, path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("UNRELATED", raising=False)
    assert load_run_env(path) is True
    assert os.environ["DATABASE_URL"] == env["DATABASE_URL"]
    assert os.environ["CELERY_BROKER_URL"] == env["CELERY_BROKER_URL"]
    assert "UNRELATED" not in os.environ
    run.forget_environment(path)
    assert not path.exists()


def test_a_set_database_url_wins_over_the_recorded_one(tmp_path, monkeypatch):
    path = tmp_path / "run.env"
    run.record_environment(
        {"DATABASE_URL": "postgres://elsewhere/cpx", "CELERY_BROKER_URL": "memory://"}, path
    )
    monkeypatch.setenv("DATABASE_URL", "postgres://mine/cpx")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    assert load_run_env(path) is False
    assert os.environ["DATABASE_URL"] == "postgres://mine/cpx"
    assert "CELERY_BROKER_URL" not in os.environ


def test_a_file_left_by_a_stopped_run_is_ignored(tmp_path, monkeypatch):
    path = tmp_path / "run.env"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(f"CPX_RUN_PID={dead.pid}\nDATABASE_URL=postgres://gone/cpx\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert load_run_env(path) is False
    assert "DATABASE_URL" not in os.environ


def test_manage_py_reads_the_recorded_environment_before_the_settings(tmp_path):
    """The bug this guards against: importing the `config` package first would read the settings (and the
    default database) before the file is read."""
    path = tmp_path / "run.env"
    run.record_environment({"DATABASE_URL": "postgres://postgres@127.0.0.1:54399/running"}, path)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CPX_RUN_ENV"] = str(path)
    script = (
        "from django.conf import settings; d = settings.DATABASES['default']; print(d['PORT'], d['NAME'])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "54399 running"


# --- its own Redis database -----------------------------------------------------------------------------


@pytest.fixture
def redis_claims():
    """Forget the claims these tests make (never the claim of a real checkout)."""
    made: list[tuple[int, str]] = []
    yield made
    for number, owner in made:
        client = redis.Redis(db=number)
        if (client.get(run.REDIS_OWNER_KEY) or b"").decode() == owner:
            client.delete(run.REDIS_OWNER_KEY)


def test_each_checkout_gets_its_own_redis_database(redis_claims):
    first, second = Path("/srv/checkout-a-test"), Path("/srv/checkout-b-test")
    a = run.redis_database(root=first)
    redis_claims.append((a, str(first)))
    b = run.redis_database(root=second)
    redis_claims.append((b, str(second)))
    assert a in run.REDIS_DATABASES and b in run.REDIS_DATABASES
    assert a != b
    assert run.redis_database(root=first) == a  # stable: the same checkout finds its database again


def test_a_checkout_that_derives_a_taken_number_takes_another(redis_claims):
    root = Path("/srv/checkout-c-test")
    preferred = run.REDIS_DATABASES[run.zlib.crc32(str(root).encode()) % len(run.REDIS_DATABASES)]
    squatter = "/srv/somebody-else-test"
    client = redis.Redis(db=preferred)
    if client.set(run.REDIS_OWNER_KEY, squatter, nx=True):
        redis_claims.append((preferred, squatter))
    number = run.redis_database(root=root)
    redis_claims.append((number, str(root)))
    assert number != preferred


def test_the_test_suites_redis_databases_are_never_claimed():
    used = set()
    for path in (ROOT / "tests").rglob("*.py"):
        if path.resolve() == Path(__file__).resolve():
            continue
        used |= {int(n) for n in re.findall(r"6379/(\d+)", path.read_text())}
    assert used and not used & set(run.REDIS_DATABASES)


# --- the stack: gunicorn, DEBUG off, static files by WhiteNoise -------------------------------------------


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_api_docs_static_files_and_a_french_404_with_debug_off(tmp_path):
    port = free_port()
    static = tmp_path / "static"
    env = stack_environment(
        tmp_path,
        "memory://",
        DJANGO_DEBUG="false",
        DJANGO_STATIC_ROOT=str(static),
        CPX_WEB_BIND=f"127.0.0.1:{port}",
        CPX_WEB_WORKERS="1",
    )
    env.pop("DJANGO_STATIC_MANIFEST", None)
    manage(env, "collectstatic", "--noinput", "-v", "0")
    assert (static / "staticfiles.json").exists()
    command = " ".join(run.web_command())
    with processes({"web": command}, env, tmp_path) as running:
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, 60, "gunicorn to answer")
        base = f"http://127.0.0.1:{port}"
        assert "gunicorn" in running["web"].output().lower()

        status, _, body = fetch(f"{base}/api/docs/")
        assert status == 200
        assets = re.findall(r'(/static/drf_spectacular_sidecar/[^"\']+\.js)', body.decode())
        assert assets, body[:500]
        for asset in assets:
            status, headers, content = fetch(base + asset)
            assert status == 200, asset
            assert len(content) > 1000
            assert re.search(r"\.[0-9a-f]{12}\.js$", asset), asset  # hashed by the manifest storage
            assert "max-age=315360000" in headers.get("Cache-Control", ""), headers

        status, headers, body = fetch(f"{base}/nowhere/")
        assert status == 404
        page = body.decode()
        assert 'lang="fr"' in page and "<h1>" in page
        assert "URLconf" not in page  # DEBUG is off: never the technical page
        assert "Page introuvable" in page

        status, headers, body = fetch(f"{base}/api/v1/nowhere/")
        assert status == 404 and json.loads(body)["code"] == "not_found"

        status, _, body = fetch(f"{base}/api/v1/")
        assert status == 200 and "orders" in json.loads(body)["resources"]

        control = Path(env["CPX_VAR_DIR"]) / "run"
        assert list(control.glob("gunicorn-*.ctl")) or list(Path("/tmp").glob("cpx-gunicorn-*.ctl"))
