"""Benchmark: opposition → delta CRL and OCSP both showing it, with 1,000,000 revoked certificates on the CA;
and one base CRL of those 1,000,000 entries.

    .venv/bin/python bench/bench_revocation.py [--revoked N] [--oppositions N]

Runs in its own database (``cpx_bench_revocation`` on the server of DATABASE_URL, dropped and re-created each
run), in a child process, with the Celery broker ``memory://``, the signing service inline (its tasks run in
the process, as in the tests: the delta is signed on SoftHSM2 right after the revocation commits) and a
throw-away SoftHSM2 directory.

The revoked certificates are generated in SQL (``INSERT ... SELECT generate_series``), revoked over the past
year, all still valid. The base CRL of the persons' CA is then built and signed (timed: streamed from the
database, encoded, signed on the token, stored), and a delta on it. For each of N oppositions, the clock
starts before ``certificate_revoke`` on a freshly issued certificate and stops when the newest published
delta CRL (read from its stored row, as the web serves it) lists it and ``pki.ocsp.ocsp_respond`` answers
``revoked``. Goals: median < 200 ms, worst < 1 s (the "limit" column holds the goal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "cpx_bench_revocation"
REVOKED = 1_000_000
OPPOSITIONS = 50


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def run(revoked: int = REVOKED, oppositions: int = OPPOSITIONS) -> list[dict]:
    """Rows {"benchmark", "ours", "limit", "unit", "ratio", "note"} measured in a child process."""
    with tempfile.TemporaryDirectory(prefix="cpx-bench-revocation-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": bench_url(),
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
            "CELERY_BROKER_URL": "memory://",
            "CPX_HSM_SOFTHSM_DIR": str(Path(tmp) / "hsm"),
            "CPX_SIGNING_INLINE": "true",
            "DJANGO_LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "false",
        }
        args = [PYTHON, str(Path(__file__).resolve()), "--child", "--revoked", str(revoked)]
        args += ["--oppositions", str(oppositions)]
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the child: everything below runs on the bench database ------------------------------------------------


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def recreate_database() -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


# Serials 0xd0000000_000001.. (clear of random 159-bit ones), revoked over the past year and at least two
# hours ago (older than the base's overlap: they are in the base only, as a year of oppositions would be).
GENERATE = """
INSERT INTO pki_certificate (authority_id, serial, card_number, usage, subject, not_before, not_after,
                             revoked_at, revocation_reason, der)
SELECT %(ca)s, to_hex((x'd0000000'::bigint << 24) + i), 'bulk' || (i / 2), CASE WHEN i %% 2 = 0 THEN 'auth'
       ELSE 'sign' END, 'CN=bulk', now() - interval '1 year', now() + interval '2 years',
       now() - interval '2 hours' - (i %% 31536000) * interval '1 second',
       (ARRAY['keyCompromise', 'superseded', 'affiliationChanged', 'unspecified'])[i %% 4 + 1], ''
  FROM generate_series(%(first)s, %(last)s) AS i
"""


def row(name: str, ours: float, limit: float, unit: str, note: str = "") -> dict:
    return {
        "benchmark": name,
        "ours": round(ours, 4),
        "limit": round(limit, 4),
        "unit": unit,
        "ratio": round(ours / limit, 2) if limit else None,
        "note": note,
    }


def child(revoked: int, oppositions: int) -> None:
    recreate_database()
    import django

    django.setup()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509 import ocsp
    from django.core.management import call_command
    from django.db import connection

    from pki import crl, services, signing
    from pki.models import Crl
    from pki.ocsp import ocsp_respond

    call_command("migrate", verbosity=0)
    signing.pki_init()
    ca = signing.issuing_ca()
    issuer = signing.ca_certificate(ca)

    started = time.perf_counter()
    step = 200_000
    with connection.cursor() as cursor:
        for first in range(1, revoked + 1, step):
            cursor.execute(GENERATE, {"ca": ca.pk, "first": first, "last": min(first + step - 1, revoked)})
        cursor.execute("ANALYZE pki_certificate")
    log(f"{revoked:,} revoked certificates generated in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    base = crl.publish_base(ca, actor="bench")
    base_seconds = time.perf_counter() - started
    size = len(crl.der(base))
    log(f"base CRL #{base.number}: {base.entries:,} entries, {size / 1e6:.1f} MB in {base_seconds:.1f} s")
    crl.publish_delta(ca, actor="bench")

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    holder = signing.Holder(
        national_id="810100000001", surname="BENCH", given_name="Rev", profession="Médecin"
    )
    latencies, delta_sizes = [], []
    for i in range(-1, oppositions):  # the first (i = -1) warms up (OCSP responder key, caches): not counted
        cert_row = services.certificate_issue(
            usage="auth",
            public_key=key,
            holder=holder,
            valid_until=dt.date.today() + dt.timedelta(days=365),
            card_number=f"8025{i + 1:016d}",
        )
        cert = x509.load_der_x509_certificate(bytes(cert_row.der))
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
        request_der = request.public_bytes(serialization.Encoding.DER)
        started = time.perf_counter()
        services.certificate_revoke(certificate=cert_row, reason="keyCompromise", actor="bench")
        delta = crl.latest(ca, Crl.Kind.DELTA)
        assert delta is not None
        listed = x509.load_der_x509_crl(crl.der(delta)).get_revoked_certificate_by_serial_number(
            cert.serial_number
        )
        answer = ocsp.load_der_ocsp_response(ocsp_respond(request_der))
        elapsed = time.perf_counter() - started
        assert listed is not None, "the delta does not list the revoked certificate"
        assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED, "OCSP does not say revoked"
        if i >= 0:
            latencies.append(elapsed * 1000)
            delta_sizes.append(delta.entries)
    median, worst = statistics.median(latencies), max(latencies)
    log(f"{oppositions} oppositions: median {median:.1f} ms, worst {worst:.1f} ms")
    note = f"{revoked:,} revoked already; deltas of {min(delta_sizes)}-{max(delta_sizes)} entries (SoftHSM2)"
    rows = [
        row(
            "opposition → delta CRL and OCSP show it, median",
            median,
            200,
            "ms",
            f"{oppositions} oppositions; {note}",
        ),
        row(
            "opposition → delta CRL and OCSP show it, worst",
            worst,
            1000,
            "ms",
            f"of {oppositions}; goal < 1 s",
        ),
        row(
            f"base CRL of {base.entries:,} entries (read, encode, sign, store)",
            base_seconds,
            0,
            "s",
            f"{size / 1e6:.1f} MB DER; no goal (scheduled daily, the deltas go on meanwhile)",
        ),
    ]
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revoked", type=int, default=REVOKED)
    parser.add_argument("--oppositions", type=int, default=OPPOSITIONS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.revoked, args.oppositions)
        return 0
    for r in run(args.revoked, args.oppositions):
        print(
            f"{r['benchmark']:<64} {r['ours']:>10} {r['limit']:>8} {r['unit']:<3} ×{r['ratio']}  {r['note']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
