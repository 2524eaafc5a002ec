"""deploy/gunicorn.conf.py in real gunicorn processes: each instance has its own control socket (gunicorn's
default is one path per user and host), and the access log has paths without their query strings."""

from __future__ import annotations

import http.client
import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from gunicorn.config import Config

CONF = Path(settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def hello(environ, start_response):  # noqa: ANN001, ANN201 - a WSGI application for these tests
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def conf_values(monkeypatch, **environ: str) -> dict:
    monkeypatch.delenv("CPX_WEB_CONTROL_SOCKET", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_gunicorn_knows_the_settings_the_file_sets():
    known = Config().settings
    for name in ("control_socket", "access_log_format", "accesslog"):
        assert name in known, name


def test_two_instances_get_two_control_sockets_under_their_own_var(monkeypatch, tmp_path):
    one = conf_values(monkeypatch, CPX_VAR_DIR=str(tmp_path / "a"), CPX_WEB_BIND="127.0.0.1:8000")
    two = conf_values(monkeypatch, CPX_VAR_DIR=str(tmp_path / "b"), CPX_WEB_BIND="127.0.0.1:8000")
    three = conf_values(monkeypatch, CPX_VAR_DIR=str(tmp_path / "a"), CPX_WEB_BIND="127.0.0.1:8002")
    sockets = {one["control_socket"], two["control_socket"], three["control_socket"]}
    assert len(sockets) == 3
    assert one["control_socket"].startswith(str(tmp_path / "a" / "run"))
    assert Config().settings["control_socket"].default not in sockets


def start(tmp_path: Path, name: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    var = tmp_path / name
    env = {
        **os.environ,
        "CPX_VAR_DIR": str(var),
        "CPX_WEB_BIND": f"127.0.0.1:{port}",
        "CPX_WEB_WORKERS": "1",
        "CPX_WEB_THREADS": "1",
    }
    env.pop("CPX_WEB_CONTROL_SOCKET", None)
    process = subprocess.Popen(
        [GUNICORN, "-c", str(CONF), "tests.deploy.test_gunicorn:hello"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=(tmp_path / f"{name}.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, port, var


def wait_until(condition, seconds: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "GET", path, headers={"Referer": "https://cpx.example.fr/ecps/enrol/?code=REFERER-SECRET"}
        )
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture
def two_instances(tmp_path):
    started = [start(tmp_path, "one"), start(tmp_path, "two")]
    yield started
    for process, _port, _var in started:
        process.terminate()
        process.wait(timeout=20)


def test_two_running_instances_each_listen_on_their_own_socket(two_instances, tmp_path):
    for process, port, var in two_instances:
        wait_until(lambda port=port, process=process: process.poll() is None and get_ok(port))
        wait_until(lambda var=var: any((var / "run").glob("*.ctl")))
    sockets = [next((var / "run").glob("*.ctl")) for _process, _port, var in two_instances]
    assert sockets[0] != sockets[1]
    assert all(process.poll() is None for process, _port, _var in two_instances)
    for path in sockets:  # each control socket answers (gunicornc's protocol aside: it accepts)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))


def get_ok(port: int) -> bool:
    try:
        return get(port, "/ping") == 200
    except OSError:
        return False


def test_the_access_log_has_no_query_string_nor_referer(two_instances, tmp_path):
    process, port, _var = two_instances[0]
    wait_until(lambda: get_ok(port))
    assert get(port, "/ecps/enrol/?code=QUERY-SECRET&x=1") == 200
    assert get(port, "/o/userinfo/?access_token=TOKEN-SECRET") == 200
    out = tmp_path / "one.out"
    wait_until(lambda: "/o/userinfo/" in out.read_text())
    log = out.read_text()
    assert '"GET /ecps/enrol/ HTTP/1.1" 200' in log, log
    assert "SECRET" not in log and "?" not in log, log
