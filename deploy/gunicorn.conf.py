"""gunicorn settings for the web process (behind the reverse proxy in deploy/nginx.conf)."""

import os

bind = os.environ.get("CPX_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CPX_WEB_WORKERS", "4"))
threads = int(os.environ.get("CPX_WEB_THREADS", "2"))
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
forwarded_allow_ips = os.environ.get("CPX_FORWARDED_ALLOW_IPS", "127.0.0.1")
