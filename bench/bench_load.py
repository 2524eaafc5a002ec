"""Benchmark: the whole stack under a bounded load on 127.0.0.1, against the trivial view on the same server.

    .venv/bin/python bench/bench_load.py [--seconds S] [--clients C]

Runs in its own database (``cpx_bench_load`` on the server of DATABASE_URL, dropped and re-created each
run) and its own Redis database number (13), with the real processes of deploy/Procfile: gunicorn
(``CPX_WEB_WORKERS``, default 2 per core), the Celery worker and beat.

Ours: C client threads (keep-alive http.client connections, Bearer tokens) for S seconds: holders reading
their cards (``GET /api/v1/cards/``, 9 requests in 10) and Ordre operators approving submitted orders
(``POST /api/v1/orders/{id}/approve/``, 1 in 10, each order once: a real transition with its row lock,
eligibility re-check, event row and on-commit hand-off). Every answer must be 200: any error fails the run.

The limit, measured in the same run by the same clients on the same server: ``GET /ping`` (no database,
no session). Printed: throughput (ratio ours / limit) and p50 / p99 latency (ratio limit / ours, so that
1.0 is the trivial view's speed either way).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import free_port, http_status, processes, procfile, wait_for  # noqa: E402

PYTHON = sys.executable
BENCH_DB = "cpx_bench_load"
BROKER = "redis://127.0.0.1:6379/13"
HOLDERS = 200
ORDERS = 600
SECONDS = 10.0
CLIENTS = 8
WRITE_SHARE = 0.1


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def stack_env(var_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}",
        "DATABASE_URL": bench_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": BROKER,
        "CPX_VAR_DIR": str(var_dir),
        "CPX_WEB_BIND": f"127.0.0.1:{port}",
        "CPX_WEB_WORKERS": os.environ.get("CPX_WEB_WORKERS", str(2 * (os.cpu_count() or 1))),
        "CPX_WORKER_CONCURRENCY": "1",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "AXES_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


def reset_database() -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def seed() -> dict:
    """In a child process set up on the bench database: holders with a card, an operator, orders. Each
    account gets an integrator client and a Bearer token from /o/token/ (client credentials, in process;
    tokens live CPX_OIDC_ACCESS_TOKEN_SECONDS, 300 s, well past a run)."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from registry.models import Account
    from tests.api_auth import authorization
    from tests.factories import CardFactory, OrderFactory, persona

    # Set-up only: the 204 client secrets are hashed and checked once each, with PBKDF2 that takes minutes
    # (as the tests do). The measured phase never checks a secret: its tokens are issued here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0, skip_checks=True)
    holders = []
    for _ in range(HOLDERS):
        user = persona(Account.Role.HOLDER)
        CardFactory(exercise__professional=user.account.professional)
        holders.append(authorization(user))
    operators = [authorization(persona(Account.Role.AUTHORITY_OPERATOR)) for _ in range(4)]
    orders: list[int] = [OrderFactory(state="submitted").pk for _ in range(ORDERS)]  # type: ignore[attr-defined]
    # (first CPS orders of RPPS doctors: CNOM reviews them)
    return {"holders": holders, "operators": operators, "orders": orders}


def seeded(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [PYTHON, __file__, "--seed"],
        cwd=ROOT,
        env={**env, "CPX_RATE_LIMITS_ENABLED": "false"},  # 200 tokens in a row: set-up, not an attack
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the load generator -------------------------------------------------------------------------------


class Client(threading.Thread):
    """One keep-alive connection, requests back to back until the deadline."""

    def __init__(self, port: int, pick, deadline: float):
        super().__init__(daemon=True)
        self.port, self.pick, self.deadline = port, pick, deadline
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < self.deadline:
            request = self.pick()
            if request is None:
                continue
            method, path, authorization = request
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            if authorization:
                headers["Authorization"] = authorization
            started = time.perf_counter()
            try:
                conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{method} {path}: {type(exc).__name__}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.perf_counter() - started)
            if response.status != 200:
                self.errors.append(f"{method} {path}: {response.status} {body[:200]!r}")
        conn.close()


def load(port: int, pick, seconds: float, clients: int) -> dict:
    deadline = time.monotonic() + seconds
    threads = [Client(port, pick, deadline) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(x for t in threads for x in t.latencies)
    errors = [e for t in threads for e in t.errors]
    if not latencies:
        raise RuntimeError(f"no answer at all: {errors[:5]}")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
    }


def mixed_requests(data: dict):
    """Holders read their cards; 1 request in 10 an operator approves the next submitted order."""
    orders = list(data["orders"])
    lock = threading.Lock()
    rng = random.Random(7)

    def pick():
        with lock:
            if orders and rng.random() < WRITE_SHARE:
                return ("POST", f"/api/v1/orders/{orders.pop()}/approve/", rng.choice(data["operators"]))
            return ("GET", "/api/v1/cards/", rng.choice(data["holders"]))

    pick.approved = lambda: len(data["orders"]) - len(orders)  # type: ignore[attr-defined]
    return pick


def measure(seconds: float, clients: int) -> dict:
    reset_database()
    with tempfile.TemporaryDirectory(prefix="cpx-bench-load-") as tmp:
        port = free_port()
        env = stack_env(Path(tmp), port)
        subprocess.run(
            ["redis-cli", "-n", BROKER.rsplit("/", 1)[1], "FLUSHDB"], check=True, capture_output=True
        )
        log(f"seeding {HOLDERS} holders with a card and {ORDERS} submitted orders")
        data = seeded(env)
        specs = {name: cmd for name, cmd in procfile().items() if name in {"web", "worker", "beat"}}
        with processes(specs, env, Path(tmp)) as running:
            wait_for(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, 60, "gunicorn")
            log(f"gunicorn: {env['CPX_WEB_WORKERS']} workers; {clients} clients, {seconds:.0f} s per phase")
            pick = mixed_requests(data)
            load(port, lambda: ("GET", "/ping", None), 2, clients)  # warm-up: every worker imports
            load(port, pick, 2, clients)
            ping = load(port, lambda: ("GET", "/ping", None), seconds, clients)
            api = load(port, pick, seconds, clients)
            alive = all(process.alive() for process in running.values())
        approved = pick.approved()  # type: ignore[attr-defined]
    for name, result in (("ping", ping), ("api", api)):
        log(
            f"{name}: {result['requests']} requests, {result['rps']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, {len(result['errors'])} errors"
        )
        if result["errors"]:
            raise RuntimeError(f"{name}: {len(result['errors'])} errors, e.g. {result['errors'][:3]}")
    if not alive:
        raise RuntimeError("a process of the stack died during the load")
    return {"ping": ping, "api": api, "approved": approved, "workers": env["CPX_WEB_WORKERS"]}


def run(seconds: float = SECONDS, clients: int = CLIENTS) -> list[dict]:
    result = measure(seconds, clients)
    ping, api = result["ping"], result["api"]
    note = (
        f"{clients} clients, gunicorn {result['workers']} workers; {api['requests']} requests incl. "
        f"{result['approved']} approvals, 0 errors"
    )
    return [
        {
            "benchmark": "load: holders GET cards + operators POST approve (vs GET /ping)",
            "ours": api["rps"],
            "limit": ping["rps"],
            "unit": "req/s",
            "ratio": api["rps"] / ping["rps"],
            "note": note,
        },
        {
            "benchmark": "load: p50 latency (ratio = /ping / ours)",
            "ours": api["p50_ms"],
            "limit": ping["p50_ms"],
            "unit": "ms",
            "ratio": ping["p50_ms"] / api["p50_ms"],
        },
        {
            "benchmark": "load: p99 latency (ratio = /ping / ours)",
            "ours": api["p99_ms"],
            "limit": ping["p99_ms"],
            "unit": "ms",
            "ratio": ping["p99_ms"] / api["p99_ms"],
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(seed()))
        return
    for row in run(args.seconds, args.clients):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
