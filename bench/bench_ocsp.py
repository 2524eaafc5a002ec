"""Benchmark: our OCSP responder under load on 127.0.0.1, against `openssl ocsp -index … -port` on the same
certificates.

    .venv/bin/python bench/bench_ocsp.py [--seconds S] [--clients C] [--certs N]

Runs in its own database (``cpx_bench_ocsp`` on the server of DATABASE_URL, dropped and re-created each
run) with a throw-away CA (SoftHSM2 stores in a temporary directory): ``pki_init`` (root, issuing CAs,
delegated responder on the OCSP token), N card certificates of the persons' CA, one in ten revoked.

Ours: the dedicated responder, ``manage.py run_ocsp`` (pki/ocsp_server.py; ``CPX_OCSP_PROCESSES``
processes, default one per core), started with only the OCSP token's PIN (the CA and root PINs empty). For
reference, the same endpoint served by Django: the web process of deploy/Procfile (gunicorn,
``CPX_WEB_WORKERS``, default 2 per core), and Django's trivial /ping there.
Theirs: ``openssl ocsp -index index.txt -port P -rsigner … -rkey … -CA issuing.pem -resp_key_id -ndays 1``,
one process (its default), with a throw-away
software P-256 responder key in the temporary directory, certified by the same issuing CA; index.txt lists
the same certificates and revocations.

Both get the same requests, from C client processes (one TCP connection per request, as OCSP clients do;
precomputed bytes, so the clients cost little), for S seconds per phase: RFC 5019 GET without nonce (ours
answers from memory) and POST with a nonce (signed fresh by all). Every answer must be an HTTP 200 with a
successful OCSP response; one of each phase is verified by `openssl ocsp -respin`. Printed: req/s (ratio
ours / theirs) and p99 latency. Then a revocation through ``certificate_revoke`` while every run_ocsp process
holds a "good" answer for it in memory: the very next GET and POST must say "revoked".
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import free_port, http_status, processes, procfile, wait_for  # noqa: E402

PYTHON = sys.executable
BENCH_DB = "cpx_bench_ocsp"
BROKER = "redis://127.0.0.1:6379/14"
SECONDS = 10.0
CLIENTS = 8
CERTS = 200
PINS = {"root": "bench-root-pin", "ca": "bench-ca-pin", "ocsp": "bench-ocsp-pin"}


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def bench_url() -> str:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))
    return urlunparse(base._replace(path=f"/{BENCH_DB}"))


def reset_database() -> None:
    import psycopg

    admin = urlunparse(urlparse(bench_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def stack_env(tmp: Path, port: int, *, operator: bool) -> dict[str, str]:
    """The environment of our processes. ``operator``: the seeding and revoking children, with every PIN;
    otherwise the web process, with the OCSP token's PIN only."""
    return {
        **os.environ,
        "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}",
        "DATABASE_URL": bench_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": BROKER,
        "CPX_VAR_DIR": str(tmp),
        "CPX_HSM_SOFTHSM_DIR": str(tmp / "hsm"),
        "CPX_ROOT_TOKEN_PIN": PINS["root"] if operator else "",
        "CPX_CA_TOKEN_PIN": PINS["ca"] if operator else "",
        "CPX_OCSP_TOKEN_PIN": PINS["ocsp"],
        "CPX_SIGNING_INLINE": "true" if operator else "false",
        "CPX_WEB_BIND": f"127.0.0.1:{port}",
        "CPX_OCSP_PROCESSES": os.environ.get("CPX_OCSP_PROCESSES", str(os.cpu_count() or 1)),
        "CPX_WEB_WORKERS": os.environ.get("CPX_WEB_WORKERS", str(2 * (os.cpu_count() or 1))),
        "DJANGO_LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


# --- children on the bench database (Django set up there) ----------------------------------------------


def seed(tmp: Path, count: int) -> dict:
    """pki_init, ``count`` card certificates (one in ten revoked), the files openssl needs."""
    import datetime as dt

    import django

    django.setup()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from django.core.management import call_command
    from django.utils import timezone

    from pki import hsm, services, signing

    call_command("migrate", verbosity=0, skip_checks=True)
    root, issuing, _ = signing.pki_init()
    issuer = signing.ca_certificate(issuing)
    pem = serialization.Encoding.PEM
    (tmp / "issuing.pem").write_bytes(issuer.public_bytes(pem))
    (tmp / "chain.pem").write_bytes(signing.chain_pem())
    holder = signing.Holder(national_id="810100000000", surname="BENCH", given_name="Ocsp", profession="")
    card_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    rows = []
    for n in range(count):
        rows.append(
            services.certificate_issue(
                usage="auth",
                public_key=card_key,
                holder=holder,
                valid_until=dt.date.today() + dt.timedelta(days=365),
                card_number=f"8025{n:016d}",
            )
        )
    revoked = rows[::10]
    for row in revoked:
        services.certificate_revoke(certificate=row, reason="keyCompromise", actor="bench_ocsp")
    certs = tmp / "certs"
    certs.mkdir()
    for row in rows:
        (certs / f"{row.serial}.der").write_bytes(bytes(row.der))

    # openssl's responder: a software key (throw-away, in the temporary directory), certified by the same
    # issuing CA with our responder's profile, so that its answers verify too.
    their_key = ec.generate_private_key(ec.SECP256R1())
    (tmp / "their-responder.key").write_bytes(
        their_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    now = timezone.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openssl ocsp (bench)")]))
        .issuer_name(issuer.subject)
        .public_key(their_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )
    their_cert = hsm.sign_certificate(builder, signing.signer(issuing))
    (tmp / "their-responder.pem").write_bytes(their_cert.public_bytes(pem))

    def index_line(row) -> str:
        expiry = row.not_after.strftime("%y%m%d%H%M%SZ")
        serial = format(int(row.serial, 16), "X")
        serial = serial.zfill(len(serial) + len(serial) % 2)
        if row.revoked_at is None:
            return f"V\t{expiry}\t\t{serial}\tunknown\t/CN=card\n"
        revoked_at = row.revoked_at.strftime("%y%m%d%H%M%SZ")
        return f"R\t{expiry}\t{revoked_at},keyCompromise\t{serial}\tunknown\t/CN=card\n"

    for row in revoked:
        row.refresh_from_db()
    (tmp / "index.txt").write_text("".join(index_line(row) for row in rows))
    (tmp / "index.txt.attr").write_text("unique_subject = no\n")

    def request(row, nonce: bool) -> str:
        cert = x509.load_der_x509_certificate(bytes(row.der))
        from cryptography.x509 import ocsp

        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
        if nonce:
            builder = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
        return base64.b64encode(builder.build().public_bytes(serialization.Encoding.DER)).decode()

    return {
        "serials": [row.serial for row in rows],
        "revoked": [row.serial for row in revoked],
        "good": [row.serial for row in rows if row not in revoked],
        "get": [request(row, nonce=False) for row in rows],
        "post": [request(row, nonce=True) for row in rows],
    }


def revoke(serial: str) -> None:
    import django

    django.setup()
    from pki import services
    from pki.models import Certificate

    services.certificate_revoke(
        certificate=Certificate.objects.get(serial=serial), reason="keyCompromise", actor="bench_ocsp"
    )


def child(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


# --- the load generator -------------------------------------------------------------------------------


def _exchange(port: int, payload: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection (``Connection: close``): the HTTP status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _sep, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def http_requests(data: dict, kind: str, base: str) -> list[bytes]:
    """The requests as sent to a responder at ``base`` ("/pki/ocsp" for ours, "" for openssl's)."""
    out = []
    for encoded in data[kind]:
        if kind == "get":
            path = f"{base}/" + quote(encoded, safe="")
            out.append(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        else:
            body = base64.b64decode(encoded)
            head = (
                f"POST {base or '/'} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/ocsp-request\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            out.append(head.encode() + body)
    return out


def _client(port: int, payloads: list[bytes], deadline: float, seed: int, queue) -> None:  # noqa: ANN001
    rng = random.Random(seed)
    latencies, errors = [], []
    while time.monotonic() < deadline:
        payload = rng.choice(payloads)
        started = time.perf_counter()
        try:
            status, body = _exchange(port, payload)
        except OSError as exc:
            errors.append(type(exc).__name__)
            continue
        latencies.append(time.perf_counter() - started)
        # A successful OCSPResponse starts SEQUENCE { ENUMERATED 0 ...
        if status != 200 or (body[:1] == b"0" and b"\x0a\x01\x00" not in body[:8]):
            errors.append(f"HTTP {status} {body[:40]!r}")
        elif payload.startswith(b"POST") and payload[-16:] not in body:  # the nonce, echoed
            errors.append(f"nonce not echoed {body[:40]!r}")
    queue.put((latencies, errors[:20], len(errors)))


def load(port: int, payloads: list[bytes], seconds: float, clients: int) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    deadline = time.monotonic() + seconds
    workers = [
        context.Process(target=_client, args=(port, payloads, deadline, n, queue)) for n in range(clients)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    elapsed = time.monotonic() - started
    latencies = sorted(x for r in results for x in r[0])
    errors = [e for r in results for e in r[1]]
    error_count = sum(r[2] for r in results)
    if not latencies:
        raise RuntimeError(f"no answer at all: {errors[:5]}")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
        "error_count": error_count,
    }


def verify(tmp: Path, port: int, payload: bytes, serial: str, expected: str) -> None:
    """`openssl ocsp -respin` on one answer: signature, responder by delegation, the status expected."""
    status, body = _exchange(port, payload)
    answer = tmp / f"answer-{port}.der"
    answer.write_bytes(body)
    result = subprocess.run(
        ["openssl", "ocsp", "-respin", str(answer), "-issuer", str(tmp / "issuing.pem")]
        + ["-cert", str(tmp / "certs" / f"{serial}.pem"), "-CAfile", str(tmp / "chain.pem"), "-no_nonce"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = result.stdout + result.stderr
    if payload.startswith(b"POST") and payload[-16:] not in body:
        raise RuntimeError(f"answer on port {port} for {serial}: the request's nonce is not echoed")
    if status != 200 or "Response verify OK" not in out or f": {expected}" not in out:
        raise RuntimeError(f"answer on port {port} for {serial} not verified as {expected}: {out}")


def measure(seconds: float, clients: int, count: int) -> dict:
    reset_database()
    with tempfile.TemporaryDirectory(prefix="cpx-bench-ocsp-") as tmp_name:
        tmp = Path(tmp_name)
        ours_port, web_port, theirs_port = free_port(), free_port(), free_port()
        operator = stack_env(tmp, web_port, operator=True)
        web = stack_env(tmp, web_port, operator=False)
        log(f"seeding: pki_init and {count} card certificates (1 in 10 revoked)")
        data = json.loads(child(operator, "--seed", str(tmp), str(count)).strip().splitlines()[-1])
        for serial in data["serials"]:
            der = (tmp / "certs" / f"{serial}.der").read_bytes()
            subprocess.run(
                ["openssl", "x509", "-inform", "DER", "-out", str(tmp / "certs" / f"{serial}.pem")],
                input=der,
                check=True,
            )
        openssl_cmd = (
            f"openssl ocsp -index {tmp / 'index.txt'} -port {theirs_port}"
            f" -rsigner {tmp / 'their-responder.pem'} -rkey {tmp / 'their-responder.key'}"
            f" -CA {tmp / 'issuing.pem'} -resp_key_id -ndays 1 -ignore_err"
        )
        ocsp_cmd = (
            f"python manage.py run_ocsp --bind 127.0.0.1:{ours_port} --processes {web['CPX_OCSP_PROCESSES']}"
        )
        specs = {"ocsp": ocsp_cmd, "web": procfile()["web"], "openssl": openssl_cmd}
        ports = {"ours": ours_port, "gunicorn": web_port, "theirs": theirs_port}
        requests = {
            name: (http_requests(data, "get", base), http_requests(data, "post", base))
            for name, base in (("ours", "/pki/ocsp"), ("gunicorn", "/pki/ocsp"), ("theirs", ""))
        }
        results: dict[str, dict] = {}
        with processes(specs, web, tmp) as running:
            wait_for(lambda: http_status(f"http://127.0.0.1:{web_port}/healthz") == 200, 60, "gunicorn")
            wait_for(lambda: _ready(theirs_port, requests["theirs"][0][0]), 30, "openssl ocsp")
            try:
                wait_for(lambda: all(_listening(ours_port) for _ in range(16)), 60, "run_ocsp (LISTEN up)")
            except AssertionError:
                log(running["ocsp"].output()[-3000:])
                raise
            log(
                f"run_ocsp: {web['CPX_OCSP_PROCESSES']} processes; "
                f"gunicorn: {web['CPX_WEB_WORKERS']} workers; "
                f"{clients} clients, {seconds:.0f} s per phase"
            )
            index = {serial: n for n, serial in enumerate(data["serials"])}
            good, revoked = data["good"][0], data["revoked"][0]
            for name, port in ports.items():
                get, post = requests[name]
                verify(tmp, port, get[index[good]], good, "good")
                verify(tmp, port, get[index[revoked]], revoked, "revoked")
                verify(tmp, port, post[index[good]], good, "good")
                verify(tmp, port, post[index[revoked]], revoked, "revoked")
            # The platform's own floor under Django, for reference: its trivial view, same clients.
            ping = [b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"]
            load(web_port, ping, 1, clients)
            results["ping-gunicorn"] = load(web_port, ping, seconds, clients)
            for name, port in ports.items():
                get, post = requests[name]
                load(port, get, 2, clients)  # warm-up (and the caches: each certificate answered)
                load(port, post, 1, clients)
                results[f"get-{name}"] = load(port, get, seconds, clients)
                results[f"post-{name}"] = load(port, post, seconds, clients)
                if name == "ours":
                    stats = {_stats(ours_port) for _ in range(8)}
                    log("run_ocsp processes: " + "; ".join(sorted(stats)))
            # A revocation while every run_ocsp process holds "good" in memory (each answered it: the kernel
            # spreads connections over them): the very next GET and POST say "revoked".
            checks = []
            for target in data["good"][1:6]:
                one_get, one_post = requests["ours"][0][index[target]], requests["ours"][1][index[target]]
                for _ in range(8):
                    verify(tmp, ours_port, one_get, target, "good")
                started = time.perf_counter()
                child(operator, "--revoke", target)
                revoked_at = time.perf_counter()
                verify(tmp, ours_port, one_get, target, "revoked")
                seen = time.perf_counter()
                verify(tmp, ours_port, one_post, target, "revoked")
                checks.append({"revoke_s": revoked_at - started, "seen_ms": 1000 * (seen - revoked_at)})
            results["revocation"] = {"checks": len(checks), "seen_ms": max(c["seen_ms"] for c in checks)}
            alive = all(process.alive() for process in running.values())
    for name, result in results.items():
        if name == "revocation":
            continue
        log(
            f"{name}: {result['requests']} requests, {result['rps']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, {result['error_count']} errors"
        )
        if result["error_count"]:
            raise RuntimeError(f"{name}: {result['error_count']} errors, e.g. {result['errors'][:3]}")
    log(
        f"revoked {results['revocation']['checks']} certificates held 'good' in memory: "
        "'revoked' at the next "
        f"GET and POST each time (verified within {results['revocation']['seen_ms']:.0f} ms)"
    )
    if not alive:
        raise RuntimeError("a process died during the load")
    results["workers"] = web["CPX_WEB_WORKERS"]  # type: ignore[assignment]
    results["processes"] = web["CPX_OCSP_PROCESSES"]  # type: ignore[assignment]
    return results


def _ready(port: int, payload: bytes) -> bool:
    try:
        return _exchange(port, payload)[0] == 200
    except OSError:
        return False


def _stats(port: int) -> str:
    request = b"GET /healthz/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    return _exchange(port, request)[1].decode()


def _listening(port: int) -> bool:
    try:
        status, body = _exchange(
            port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
    except OSError:
        return False
    return status == 200 and body == b"memory"


def run(seconds: float = SECONDS, clients: int = CLIENTS, count: int = CERTS) -> list[dict]:
    r = measure(seconds, clients, count)
    note = (
        f"{clients} client processes, one connection per request; run_ocsp {r['processes']} processes vs one "
        "openssl ocsp process; P-256 both; 0 errors; revoked seen at the next GET and POST"
    )
    rows = []
    for kind, label in (("get", "RFC 5019 GET, no nonce"), ("post", "POST with nonce, signed fresh")):
        theirs = r[f"{kind}-theirs"]
        for name, who in (("ours", "run_ocsp"), ("gunicorn", "Django view under gunicorn, reference")):
            ours = r[f"{kind}-{name}"]
            extra = f"gunicorn {r['workers']} workers; Django /ping {r['ping-gunicorn']['rps']:.0f} req/s"
            rows.append(
                {
                    "benchmark": f"OCSP {label}, {who} (vs openssl ocsp -index)",
                    "ours": ours["rps"],
                    "limit": theirs["rps"],
                    "unit": "req/s",
                    "ratio": ours["rps"] / theirs["rps"],
                    "note": note if name == "ours" else extra,
                }
            )
            rows.append(
                {
                    "benchmark": f"OCSP {label}, {who}: p99 latency (goal < 50 ms; ratio = theirs / ours)",
                    "ours": ours["p99_ms"],
                    "limit": theirs["p99_ms"],
                    "unit": "ms",
                    "ratio": theirs["p99_ms"] / ours["p99_ms"],
                }
            )
    rows.append(
        {
            "benchmark": "OCSP right after a revocation held 'good' in run_ocsp memory: "
            "next GET and POST revoked",
            "ours": r["revocation"]["checks"],
            "limit": r["revocation"]["checks"],
            "unit": "revocations seen / made",
            "ratio": 1.0,
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--certs", type=int, default=CERTS)
    parser.add_argument("--seed", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--revoke", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(seed(Path(args.seed[0]), int(args.seed[1]))))
        return
    if args.revoke:
        revoke(args.revoke)
        return
    for row in run(args.seconds, args.clients, args.certs):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
