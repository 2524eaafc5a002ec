"""deploy/nginx.conf in a real nginx in front of the platform: /pki/ answers over plain HTTP (RFC 5280
§4.2.1.13, RFC 6960 A.1), everything else is redirected to HTTPS, and the production settings keep it so."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.conf import settings as django_settings

from pki import services, signing
from tests.pki.conftest import ca_keys, card_key, hsm_env, pki_dir  # noqa: F401 (the PKI's fixtures)

CONF = Path(django_settings.BASE_DIR) / "deploy" / "nginx.conf"
HOST = "cpx.example.fr"

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site(tmp_path: Path, backend: str, responder: str, http_port: int, https_port: int) -> str:
    """The deployed site file with this machine's ports, certificate and static folder."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        + ["-keyout", str(tmp_path / "tls.key"), "-out", str(tmp_path / "tls.pem")]
        + ["-days", "1", "-subj", f"/CN={HOST}"],
        check=True,
        capture_output=True,
    )
    site = CONF.read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server {backend};",
        "server 127.0.0.1:8001;": f"server {responder};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/ssl/cpx/fullchain.pem": str(tmp_path / "tls.pem"),
        "/etc/ssl/cpx/privkey.pem": str(tmp_path / "tls.key"),
        "/var/lib/cpx/static/": f"{tmp_path}/static/",
        "/var/log/nginx/cpx-access.log": str(tmp_path / "access.log"),
        # The OCSP limit, scaled down so that a test can pass it (the same directives otherwise).
        "rate=200r/s;": "rate=5r/s;",
    }
    site = site.replace("burst=400", "burst=20")
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx.conf changed: {old!r} is gone"
        site = site.replace(old, new)
    temp = tmp_path / "temp"
    temp.mkdir()
    return (
        f"daemon off;\nmaster_process off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {temp}/body;\n proxy_temp_path {temp}/proxy;\n"
        f" fastcgi_temp_path {temp}/fcgi;\n uwsgi_temp_path {temp}/uwsgi;\n scgi_temp_path {temp}/scgi;\n"
        f"{site}\n}}\n"
    )


@pytest.fixture
def responder(hierarchy_for_nginx, settings, tmp_path):
    """The OCSP responder process (run_ocsp) as deploy/Procfile starts it, on this test's database."""
    from django.db import connection

    db = connection.settings_dict
    port = _free_port()
    env = {
        **os.environ,
        **hsm_env(settings),
        "CPX_CA_TOKEN_PIN": "",
        "CPX_ROOT_TOKEN_PIN": "",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "manage.py", "run_ocsp", "--bind", f"127.0.0.1:{port}", "--processes", "1"]
    process = subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stderr=subprocess.PIPE)
    _wait_for_port(port, process)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=15)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def nginx(tmp_path, live_server, settings, responder):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is installed by scripts/ensure_system.sh"
    # The production settings that matter here (deploy/.env.example): HTTPS only, behind the proxy.
    settings.ALLOWED_HOSTS = [HOST]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CPX_BASE_URL = f"https://{HOST}"
    ports = _free_port(), _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_site(tmp_path, urlparse(live_server.url).netloc, responder, *ports))
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    _wait_for_port(ports[0], process)
    yield ports
    process.terminate()
    process.wait(timeout=10)


def _get(port: int, path: str, *, tls: bool = False) -> http.client.HTTPResponse:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=context, timeout=10
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": HOST})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_pki_over_plain_http_and_the_rest_https_only(hierarchy_for_nginx, nginx):
    http_port, https_port = nginx
    for path in ("/pki/", "/pki/ca/racine.crt", "/pki/ca/personnes.pem", "/pki/crl/personnes.crl"):
        response = _get(http_port, path)
        assert response.status == 200, (path, response.status, response.getheader("Location"))
    crl = _get(http_port, "/pki/crl/personnes.crl")
    assert crl.getheader("Content-Type") == "application/pkix-crl"
    # OCSP over plain HTTP, answered by the responder process: a card certificate's status, then a malformed
    # request (an OCSP error, not a redirect).
    for port, tls in ((http_port, False), (https_port, True)):
        answer = _get(port, f"/pki/ocsp/{quote(ocsp_request(hierarchy_for_nginx), safe='')}", tls=tls)
        assert answer.status == 200 and answer.getheader("Content-Type") == "application/ocsp-response"
        parsed = ocsp.load_der_ocsp_response(answer.body)  # type: ignore[attr-defined]
        assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert "max-age=" in (answer.getheader("Cache-Control") or "") and answer.getheader("ETag")
    malformed = _get(http_port, "/pki/ocsp/MAo=")
    assert malformed.status == 200
    status = ocsp.load_der_ocsp_response(malformed.body).response_status  # type: ignore[attr-defined]
    assert status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    for path in ("/", "/accounts/login/", "/api/v1/cards/", "/admin/"):
        response = _get(http_port, path)
        assert response.status == 301 and response.getheader("Location") == f"https://{HOST}{path}"
    # Over HTTPS the site answers (a redirect to sign in, or the page), never back to http.
    answer = _get(https_port, "/pki/ca/racine.crt", tls=True)
    assert answer.status == 200
    portal = _get(https_port, "/", tls=True)
    assert portal.status in (200, 302) and not (portal.getheader("Location") or "").startswith("http://")
    assert portal.getheader("Strict-Transport-Security")


@pytest.fixture
def hierarchy_for_nginx(pki_dir, card_key):  # noqa: F811 (the fixtures imported above)
    _root, issuing, _ = signing.pki_init()
    row = services.certificate_issue(
        usage="auth",
        public_key=card_key.public_key(),
        holder=signing.Holder("810107518424", "MARTIN", "Claire", "Médecin"),
        valid_until=dt.date.today() + dt.timedelta(days=365),
        card_number="80250000010000000031",
    )
    return x509.load_der_x509_certificate(bytes(row.der)), signing.ca_certificate(issuing)


def ocsp_request(pair: tuple[x509.Certificate, x509.Certificate]) -> str:
    cert, issuer = pair
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
    return base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()


def test_the_access_log_has_paths_without_their_query_strings(hierarchy_for_nginx, nginx, tmp_path):
    """One-time codes and tokens in a query string (an enrolment link, a sign-in's next=...) and in a
    Referer never reach nginx's access log: it logs $uri, not $request."""
    http_port, https_port = nginx
    _get(http_port, "/pki/?code=PLAIN-SECRET-1")
    _get(https_port, "/ecps/enrol/?code=TLS-SECRET-2&state=x", tls=True)
    _get(https_port, "/api/v1/cards/?access_token=TLS-SECRET-3", tls=True)
    access_log = tmp_path / "access.log"
    deadline = time.monotonic() + 10  # nginx writes a request's line once its answer is sent
    while access_log.read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = access_log.read_text()
    assert "/pki/" in log and "/ecps/enrol/" in log and "/api/v1/cards/" in log, log
    assert "SECRET" not in log and "?" not in log, log


def test_ocsp_has_a_per_address_limit_answering_429_with_retry_after(hierarchy_for_nginx, nginx):
    """nginx limits OCSP per address (deploy/nginx.conf: 200/s with bursts of 400 in production, 5/s with
    bursts of 20 here): a burst within it is answered, past it 429 with Retry-After, on both ports."""
    http_port, https_port = nginx
    path = f"/pki/ocsp/{quote(ocsp_request(hierarchy_for_nginx), safe='')}"
    statuses = [_get(http_port, path).status for _ in range(15)]
    assert statuses == [200] * 15  # within the burst: nothing slowed or refused
    answers = [_get(http_port, path) for _ in range(30)]
    refused = [answer for answer in answers if answer.status == 429]
    assert refused, [answer.status for answer in answers]
    assert all(answer.getheader("Retry-After") == "1" for answer in refused)
    assert {answer.status for answer in answers} <= {200, 429}
