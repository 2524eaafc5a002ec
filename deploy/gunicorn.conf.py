"""gunicorn settings for the web process (behind the reverse proxy in deploy/nginx.conf, or alone under
`make run`: WhiteNoise serves the static files then)."""

import hashlib
import os
import tempfile
from pathlib import Path

bind = os.environ.get("CPX_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CPX_WEB_WORKERS", "4"))
threads = int(os.environ.get("CPX_WEB_THREADS", "2"))
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
# The path without its query string (%(U)s, not the request line %(r)s), and no Referer: one-time codes and
# tokens that reach a URL's query (?code=..., a Referer carrying one) never land in the access log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
forwarded_allow_ips = os.environ.get("CPX_FORWARDED_ALLOW_IPS", "127.0.0.1")


def _control_socket() -> str:
    """Each instance its own control socket (gunicornc): gunicorn's default is one path per user and host,
    so a second instance (another checkout, a test's) would take the first one's. Under the var directory,
    named after the bind address; in the temporary directory when that path is too long for a unix socket."""
    explicit = os.environ.get("CPX_WEB_CONTROL_SOCKET")
    if explicit:
        return explicit
    var = Path(os.environ.get("CPX_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    name = "gunicorn-" + bind.replace(":", "-").replace("/", "_") + ".ctl"
    path = var / "run" / name
    if len(str(path)) > 100:  # sun_path is 108 bytes
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"cpx-gunicorn-{digest}.ctl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


control_socket = _control_socket()
