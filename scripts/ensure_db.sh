#!/usr/bin/env bash
# Make sure the PostgreSQL named by DATABASE_URL (default: the local server) answers.
# When it is the local Debian cluster and it is stopped, start it.
set -euo pipefail
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/cpx}"
create_db() {
    # Create the named database when it does not exist yet (the server's maintenance db is "postgres").
    local name="${url##*/}"; name="${name%%\?*}"
    local admin="${url%/*}/postgres"
    psql -q -d "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1 \
        || psql -q -d "$admin" -c "CREATE DATABASE \"$name\"" >/dev/null
}
if pg_isready -q -d "$url" 2>/dev/null; then create_db; exit 0; fi
case "$url" in
  *@127.0.0.1:5432/*|*@localhost:5432/*)
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "starting the local PostgreSQL cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
        for _ in $(seq 1 30); do pg_isready -q -d "$url" && { create_db; exit 0; }; sleep 1; done
    fi;;
esac
echo "PostgreSQL at $url does not answer" >&2
exit 1
