"""`make run`: one command from a fresh clone to a running platform with demo data.

Embedded defaults, so it comes up with nothing configured:
- DATABASE_URL unset: a private PostgreSQL cluster under var/pg (Debian's server binaries, started here,
  listening on a unix socket in var/pg and on 127.0.0.1:54329). Set DATABASE_URL to use your own server.
- CELERY_BROKER_URL unset: the local Redis at 127.0.0.1:6379 when it answers, on a database number of this
  checkout's own (claimed in that database, so two checkouts on one machine never share queues), otherwise
  Celery's filesystem transport under var/broker. Set CELERY_BROKER_URL to use your own broker.
It runs as production does: gunicorn (deploy/gunicorn.conf.py, its control socket under var/), DEBUG off
(DJANGO_DEBUG=true to turn it on), static files collected into var/run/static and served by WhiteNoise.
What it chose (database, broker...) is written to var/run.env while it runs: `manage.py` reads it when
DATABASE_URL is not set, so the README's commands reach this platform (`make manage ARGS=...` too).
Every process (the signing service, web, Celery worker, Celery beat, the demo reader station) is started and
supervised here; Ctrl-C stops them all. The operator's steps (migrate, demo_setup with pki_init) run with
every token PIN; of the running processes only the signing service gets the CA token's PIN, none the root's,
and only the signing service and the station the unblock token's (the PUKs are derived there).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = str(ROOT / ".venv" / "bin" / "python")
PG_PORT = 54329
RUN_ENV = VAR / "run.env"
# Redis database numbers a checkout may claim: the test suite uses 0, 3 and 10 to 15.
REDIS_DATABASES = (1, 2, 4, 5, 6, 7, 8, 9)
REDIS_OWNER_KEY = "cpx:checkout"
# What `make run` chose, recorded in var/run.env for `manage.py` (config.env.load_run_env).
RECORDED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CPX_BROKER_FILESYSTEM_DIR",
    "DJANGO_DEBUG",
    "DJANGO_STATIC_ROOT",
    "DJANGO_EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "CPX_SMS_BACKEND",
)


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in versions:
        if (directory / name).exists():
            return str(directory / name)
    raise SystemExit(f"PostgreSQL server binaries not found (install Debian's postgresql): {name}")


def as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


STARTED_POSTGRES = False


def embedded_database() -> str:
    global STARTED_POSTGRES
    data = VAR / "pg" / "data"
    sockets = VAR / "pg" / "run"
    if not (data / "PG_VERSION").exists():
        log(f"creating a private PostgreSQL cluster in {data}")
        data.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(VAR / "pg", "postgres", "postgres")
            for path in (data, sockets):
                shutil.chown(path, "postgres", "postgres")
        subprocess.run(
            as_postgres([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not port_open("127.0.0.1", PG_PORT):
        log(f"starting the private PostgreSQL on 127.0.0.1:{PG_PORT}")
        subprocess.run(
            as_postgres(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(VAR / "pg" / "server.log"),
                    "-o",
                    f"-p {PG_PORT} -k {sockets} -c listen_addresses=127.0.0.1",
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        STARTED_POSTGRES = True
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/cpx"


def stop_embedded_database() -> None:
    if STARTED_POSTGRES:
        log("stopping the private PostgreSQL")
        subprocess.run(
            as_postgres([pg_bin("pg_ctl"), "-D", str(VAR / "pg" / "data"), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )


def redis_database(host: str = "127.0.0.1", port: int = 6379, root: Path = ROOT) -> int | None:
    """This checkout's own Redis database: the first free one from a number derived from its path, claimed
    by writing the path into it (so another checkout that derives the same number takes the next one)."""
    import redis

    start = zlib.crc32(str(root).encode()) % len(REDIS_DATABASES)
    for step in range(len(REDIS_DATABASES)):
        number = REDIS_DATABASES[(start + step) % len(REDIS_DATABASES)]
        client = redis.Redis(host=host, port=port, db=number, socket_timeout=2)
        client.set(REDIS_OWNER_KEY, str(root), nx=True)
        owner = client.get(REDIS_OWNER_KEY)
        if isinstance(owner, bytes) and owner.decode() == str(root):
            return number
    return None


def configure() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    env.setdefault("EMAIL_FILE_PATH", str(VAR / "mail"))
    env.setdefault("DJANGO_STATIC_ROOT", str(VAR / "run" / "static"))
    # The demo's e-CPS activation codes and one-time codes are printed on the console (no SMS gateway).
    env.setdefault("CPX_SMS_BACKEND", "ecps.sms.ConsoleSmsSender")
    # The development payment provider (a checkout page served by the platform, clearly a test): never in
    # production, where `check --deploy` refuses it (orders.E001).
    env.setdefault("CPX_PAYMENT_PROVIDER", "orders.providers.dev.DevProvider")
    env.setdefault("CPX_WEB_BIND", "127.0.0.1:8000")
    env.setdefault("CPX_WEB_WORKERS", "2")
    env.setdefault("CPX_WEB_CONTROL_SOCKET", str(VAR / "run" / "gunicorn.ctl"))
    if "DATABASE_URL" not in env:
        env["DATABASE_URL"] = embedded_database()
    if "CELERY_BROKER_URL" not in env:
        number = redis_database() if port_open("127.0.0.1", 6379) else None
        if number is not None:
            env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:6379/{number}"
        else:
            for sub in ("in", "out", "processed"):
                (VAR / "broker" / sub).mkdir(parents=True, exist_ok=True)
            env["CELERY_BROKER_URL"] = "filesystem://"
            env["CPX_BROKER_FILESYSTEM_DIR"] = str(VAR / "broker")
    log(f"database: {env['DATABASE_URL']}")
    log(
        f"broker:   {env['CELERY_BROKER_URL']}"
        + (" (this checkout's own Redis database)" if "redis" in env["CELERY_BROKER_URL"] else "")
    )
    log(f"DEBUG:    {env['DJANGO_DEBUG']}")
    return env


def record_environment(env: dict[str, str], path: Path = RUN_ENV) -> None:
    """var/run.env: what this run chose, for `manage.py` while it runs (removed when it stops)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `make run` while it runs (scripts/run.py): manage.py reads it without DATABASE_URL.",
        f"CPX_RUN_PID={os.getpid()}",
        *(f"{name}={shlex.quote(env[name])}" for name in RECORDED if name in env),
    ]
    path.write_text("\n".join(lines) + "\n")
    log(f"settings for manage.py: {path}")


def forget_environment(path: Path = RUN_ENV) -> None:
    path.unlink(missing_ok=True)


def ensure_database(env: dict[str, str]) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure_db.sh")], env=env, check=True)


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command, echoing its output, and return that output."""
    result = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    print(result.stdout, end="", flush=True)
    return result.stdout


def start(env: dict[str, str], name: str, args: list[str]) -> subprocess.Popen:
    log(f"starting {name}: {' '.join(args)}")
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)


def stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for name, process in processes.items():
        if process.poll() is None:
            log(f"stopping {name}")
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    env = configure()
    ensure_database(env)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    record_environment(env)
    demo = manage(env, "demo_setup")  # an operator's step: with every PIN (pki_init makes the CA's keys)
    accounts = demo[demo.find("Demo accounts") :].strip()
    # Only the signing service gets the CA token's PIN; nothing running gets the root's (the root is offline).
    # The unblock token's (the PUKs' master key): the signing service and the station only.
    signer_env = {**env, "CPX_ROOT_TOKEN_PIN": ""}
    station_env = {**env, "CPX_CA_TOKEN_PIN": "", "CPX_ROOT_TOKEN_PIN": ""}
    online = {**station_env, "CPX_UNBLOCK_TOKEN_PIN": ""}
    processes = {
        "signer": start(signer_env, "signer", [PY, "manage.py", "run_signer"]),
        "web": start(online, "web", web_command()),
        "worker": start(
            online,
            "worker",
            [PY, "-m", "celery", "-A", "config", "worker", "-Q", "default", "-c", "2", "-l", "INFO"],
        ),
        "beat": start(
            online,
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(VAR / "celerybeat-schedule"),
            ],
        ),
    }
    if has_command(env, "run_station"):
        processes["station"] = start(station_env, "station", [PY, "manage.py", "run_station", "demo"])
    time.sleep(3)
    print(
        "\n" + "=" * 78 + "\n"
        "  The CPx platform runs on http://localhost:8000/ (also http://127.0.0.1:8000/; the e-CPS passkeys\n"
        "  need the name localhost: WebAuthn refuses IP addresses)\n"
        "  portals: /   admin: /admin/   API: /api/v1/ (docs /api/docs/)   CRL: /pki/crl/   OCSP: /pki/ocsp\n"
        f"  processes: {', '.join(processes)} (web: gunicorn, DEBUG {env['DJANGO_DEBUG']})\n"
        f"  broker: {env['CELERY_BROKER_URL']}   database: {env['DATABASE_URL']}\n"
        f"  manage.py commands reach this platform while it runs ({RUN_ENV.relative_to(ROOT)})\n\n"
        f"  {accounts.replace(chr(10), chr(10) + '  ')}\n\n"
        "  Ctrl-C stops everything.\n" + "=" * 78,
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(1)
        dead = [name for name, process in processes.items() if process.poll() is not None]
        log(f"process ended: {', '.join(dead)}; stopping the others")
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(processes)
        forget_environment()
        stop_embedded_database()


def web_command() -> list[str]:
    """gunicorn, as deploy/Procfile starts it (its settings in deploy/gunicorn.conf.py)."""
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    return [gunicorn, "config.wsgi:application", "--config", str(ROOT / "deploy" / "gunicorn.conf.py")]


def has_command(env: dict[str, str], name: str) -> bool:
    result = subprocess.run(
        [PY, "manage.py", "help", "--commands"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return name in result.stdout.split()


if __name__ == "__main__":
    main()
