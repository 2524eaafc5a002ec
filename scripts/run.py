"""`make run`: one command from a fresh clone to a running platform with demo data.

Embedded defaults, so it comes up with nothing configured:
- DATABASE_URL unset: a private PostgreSQL cluster under var/pg (Debian's server binaries, started here,
  listening on a unix socket in var/pg and on 127.0.0.1:54329). Set DATABASE_URL to use your own server.
- CELERY_BROKER_URL unset: the local Redis at 127.0.0.1:6379 when it answers, otherwise Celery's
  filesystem transport under var/broker. Set CELERY_BROKER_URL to use your own broker.
Every process (the signing service, web, Celery worker, Celery beat, the demo reader station) is started and
supervised here; Ctrl-C stops them all. The operator's steps (migrate, demo_setup with pki_init) run with
every token PIN; of the running processes only the signing service gets the CA token's PIN, none the root's,
and only the signing service and the station the unblock token's (the PUKs are derived there).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = str(ROOT / ".venv" / "bin" / "python")
PG_PORT = 54329


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


def configure() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    env.setdefault("EMAIL_FILE_PATH", str(VAR / "mail"))
    if "DATABASE_URL" not in env:
        env["DATABASE_URL"] = embedded_database()
    if "CELERY_BROKER_URL" not in env:
        if port_open("127.0.0.1", 6379):
            env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/0"
        else:
            for sub in ("in", "out", "processed"):
                (VAR / "broker" / sub).mkdir(parents=True, exist_ok=True)
            env["CELERY_BROKER_URL"] = "filesystem://"
            env["CPX_BROKER_FILESYSTEM_DIR"] = str(VAR / "broker")
    log(f"database: {env['DATABASE_URL']}")
    log(f"broker:   {env['CELERY_BROKER_URL']}")
    return env


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
    demo = manage(env, "demo_setup")  # an operator's step: with every PIN (pki_init makes the CA's keys)
    accounts = demo[demo.find("Demo accounts") :].strip()
    # Only the signing service gets the CA token's PIN; nothing running gets the root's (the root is offline).
    # The unblock token's (the PUKs' master key): the signing service and the station only.
    signer_env = {**env, "CPX_ROOT_TOKEN_PIN": ""}
    station_env = {**env, "CPX_CA_TOKEN_PIN": "", "CPX_ROOT_TOKEN_PIN": ""}
    online = {**station_env, "CPX_UNBLOCK_TOKEN_PIN": ""}
    processes = {
        "signer": start(signer_env, "signer", [PY, "manage.py", "run_signer"]),
        "web": start(online, "web", [PY, "manage.py", "runserver", "127.0.0.1:8000", "--noreload"]),
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
        f"  processes: {', '.join(processes)}\n\n  {accounts.replace(chr(10), chr(10) + '  ')}\n\n"
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
        stop_embedded_database()


def has_command(env: dict[str, str], name: str) -> bool:
    result = subprocess.run(
        [PY, "manage.py", "help", "--commands"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return name in result.stdout.split()


if __name__ == "__main__":
    main()
