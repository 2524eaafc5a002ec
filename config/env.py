"""Reading settings from the environment, failing loudly on bad values.

Every secret may also come from a file named by ``<NAME>_FILE`` (Docker and systemd credentials).
"""

import os
import shlex
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str | None = None) -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name}: {exc}") from exc
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"environment variable {name} is required")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Turn ``postgres://user:pass@host:port/name?opt=v`` into a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgres:// URL, not {parsed.scheme!r}")
    options = dict(parse_qsl(parsed.query))
    host = unquote(parsed.hostname or "") or options.pop("host", "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "cpx",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "ATOMIC_REQUESTS": False,
    }


def load_run_env(path: Path | None = None) -> bool:
    """While `make run` runs, its choices (private database, broker...) are in var/run.env: a command typed
    in a shell without DATABASE_URL uses them, so it reaches the running platform. Variables already set
    win; a file left by a run that no longer runs (its CPX_RUN_PID is gone) is ignored."""
    if "DATABASE_URL" in os.environ:
        return False
    default = Path(__file__).resolve().parent.parent / "var" / "run.env"
    path = path or Path(os.environ.get("CPX_RUN_ENV") or default)
    try:
        text = path.read_text()
    except OSError:
        return False
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, _, raw = line.partition("=")
            parts = shlex.split(raw)
            values[name.strip()] = parts[0] if parts else ""
    pid = values.pop("CPX_RUN_PID", "")
    if not pid.isdigit() or not _alive(int(pid)):
        return False
    for name, value in values.items():
        os.environ.setdefault(name, value)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
