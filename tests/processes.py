"""Start the platform's real processes (as deploy/Procfile defines them) for whole-stack tests."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "deploy" / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def stack_environment(tmp_path: Path, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of a process that shares the test's database (pytest-django's test_… database)."""
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER'] or 'postgres'}@{host}/{db['NAME']}"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": broker_url,
        "CPX_VAR_DIR": str(tmp_path),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class Process:
    def __init__(self, name: str, command: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        self.kill(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.popen.wait(timeout=10)
        self.log.close()


@contextmanager
def processes(
    specs: dict[str, str],
    env: dict[str, str],
    log_dir: Path,
    overrides: dict[str, dict[str, str]] | None = None,
) -> Iterator[dict[str, Process]]:
    """Start the processes; ``overrides`` adds variables to one process's environment (e.g. the token PINs
    that only the signing service gets)."""
    started: dict[str, Process] = {}
    try:
        for name, command in specs.items():
            started[name] = Process(name, command, {**env, **(overrides or {}).get(name, {})}, log_dir)
        yield started
    finally:
        for process in started.values():
            process.stop()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status
    except OSError:
        return None


# --- running management commands, as an operator would on the host -------------------------------------


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """A management command in a subprocess (its own Django, the given environment); returns stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


ACCOUNT_SCRIPT = """
from django.contrib.auth import get_user_model
from registry.integrators import integrator_client_create
from registry.models import Account, Authority
user, _ = get_user_model().objects.get_or_create(username={username!r})
links = {links!r}
if "authority" in links:
    links["authority"] = Authority.objects.get(code=links["authority"])
account, _ = Account.objects.update_or_create(user=user, defaults=dict(role={role!r}, **links))
client, secret = integrator_client_create(account=account, name="tests", actor="tests")
print(client.application.client_id + ":" + secret)
"""


def api_account(env: dict[str, str], username: str, role: str, **links: object) -> str:
    """Create (or update) a user with an Account of ``role`` and an integrator client of theirs; return its
    credentials as ``client_id:secret`` (setup only), which ``Api`` exchanges for Bearer tokens."""
    script = ACCOUNT_SCRIPT.format(username=username, role=role, links=links)
    return manage(env, "shell", "--no-imports", "-c", script).strip().splitlines()[-1]


def integrator_credentials(user: Any) -> str:
    """``client_id:secret`` of a new integrator client of ``user``'s account (in this process's database)."""
    from registry.integrators import integrator_client_create

    client, secret = integrator_client_create(account=user.account, name="tests", actor="tests")
    return f"{client.application.client_id}:{secret}"


def bearer_token(host: str, port: int, credentials: str, timeout: float = 30) -> tuple[str, float]:
    """(access token, its lifetime in seconds) from the server's token endpoint: the client-credentials
    grant (RFC 6749 §4.4), the client authenticated with HTTP Basic, as docs/api_auth.md shows."""
    client_id, secret = credentials.split(":", 1)
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/o/token/", body="grant_type=client_credentials", headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise AssertionError(f"POST /o/token/: HTTP {response.status}: {raw[:500]!r}")
    answer = json.loads(raw)
    return answer["access_token"], float(answer["expires_in"])


# --- a JSON client over http.client (no test client: the real server, the real sockets) ----------------


class ApiError(AssertionError):
    def __init__(self, status: int, body: object, what: str):
        super().__init__(f"{what}: HTTP {status}: {body!r}"[:3000])
        self.status = status
        self.body = body


class Api:
    """What an integrator does: HTTP with a token, JSON in and out."""

    def __init__(self, base_url: str, credentials: str | None = None, timeout: float = 30):
        """``credentials``: an integrator client's ``client_id:secret`` (``api_account``), exchanged for a
        Bearer token at first use and again shortly before it expires; None: anonymous."""
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.credentials = credentials
        self.timeout = timeout
        self._token: tuple[str, float] | None = None  # (token, monotonic time it is renewed after)

    def authorization(self) -> str:
        """The ``Authorization`` header's value (a fresh token when the last one is near its end)."""
        assert self.credentials, "an anonymous Api has no token"
        if self._token is None or time.monotonic() > self._token[1]:
            token, lifetime = bearer_token(self.host, self.port, self.credentials, self.timeout)
            self._token = token, time.monotonic() + max(lifetime - 30, lifetime / 2)
        return f"Bearer {self._token[0]}"

    def request(
        self, method: str, path: str, body: object = None, *, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.credentials:
            all_headers["Authorization"] = self.authorization()
        payload: bytes | None = None
        if isinstance(body, bytes):
            payload = body
        elif body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            response_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        data: Any = raw
        if response_headers.get("content-type", "").startswith("application/json"):
            data = json.loads(raw)
        return response.status, data, response_headers

    def call(self, method: str, path: str, body: object = None, expect: int = 200, **kwargs: object) -> Any:
        status, data, _headers = self.request(method, path, body, **kwargs)  # type: ignore[arg-type]
        if status != expect:
            raise ApiError(status, data, f"{method} {path}")
        return data

    def get(self, path: str, expect: int = 200) -> Any:
        return self.call("GET", path, expect=expect)

    def post(self, path: str, body: object = None, expect: int = 200) -> Any:
        return self.call("POST", path, {} if body is None else body, expect=expect)

    def upload(self, path: str, file: Path, fields: dict[str, str] | None = None, expect: int = 202) -> Any:
        boundary = f"cpx{uuid.uuid4().hex}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in (fields or {}).items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            "Content-Type: text/plain\r\n\r\n".encode()
            + file.read_bytes()
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.call("POST", path, body, expect=expect, headers=headers)


# --- private servers: a Redis and a PostgreSQL of the test's own, which it may stop and start -----------


class PrivateRedis:
    """A redis-server on a free port of 127.0.0.1, data under the test's tmp dir. Never the shared one."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            + ["--save", "", "--appendonly", "yes", "--protected-mode", "no"],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), 20, "the private redis-server")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=20)
        self.popen = None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pg_bin(name: str) -> str:
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / name).exists():
            return str(directory / name)
    raise FileNotFoundError(f"PostgreSQL server binary {name} (Debian's postgresql package)")


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb under its tmp dir, a free port on 127.0.0.1), which
    the test may restart at will. Never the shared server."""

    def __init__(self) -> None:
        # Under /tmp itself: pytest's tmp dirs are private to root, and initdb runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="cpx-test-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])

    def _run(self, args: list[str]) -> None:
        subprocess.run(_as_postgres(args), check=True, capture_output=True, timeout=120)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def createdb(self, name: str) -> None:
        self._run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(server.root, ignore_errors=True)
