"""The dedicated OCSP responder process (``manage.py run_ocsp``, pki/ocsp_server.py).

The real process (a subprocess on the test database, only the OCSP token's PIN), checked with the real
openssl; then the parts without sockets: the fast request parser, the DER of answers to a nonce, the memory
and the LISTEN decision.
"""

import base64
import datetime as dt
import email.utils
import hashlib
import http.client
import os
import socket
import subprocess

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from django.utils import timezone

from pki import ocsp, ocsp_server, services, signing
from pki.models import OcspResponse
from tests.processes import Process, free_port, stack_environment, wait_for

from .conftest import card_certificate as _card
from .conftest import hsm_env, write_cert_pem
from .conftest import ocsp_get_path as _get_path
from .conftest import ocsp_request as _request

DER = serialization.Encoding.DER
GOOD = x509_ocsp.OCSPCertStatus.GOOD
REVOKED = x509_ocsp.OCSPCertStatus.REVOKED


class Server:
    def __init__(self, process: Process, port: int):
        self.process = process
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def get(self, der: bytes, headers=None):
        return self.request("GET", _get_path(der), headers=headers)

    def post(self, der: bytes, content_type="application/ocsp-request"):
        return self.request("POST", "/pki/ocsp", der, {"Content-Type": content_type})

    def health(self) -> str:
        try:
            return self.request("GET", "/healthz")[2].decode()
        except OSError:
            return ""


@pytest.fixture
def start_responder(tmp_path, settings):
    """Start ``manage.py run_ocsp`` on the test database, with the OCSP token's PIN only."""
    started = []

    def start(processes: int = 1) -> Server:
        port = free_port()
        env = stack_environment(
            tmp_path,
            "redis://127.0.0.1:6379/14",
            **{**hsm_env(settings), "CPX_CA_TOKEN_PIN": "", "CPX_ROOT_TOKEN_PIN": ""},
            CPX_PKI_TEST_HIERARCHY="true",
        )
        command = f"python manage.py run_ocsp --bind 127.0.0.1:{port} --processes {processes}"
        process = Process(f"ocsp-{port}", command, env, tmp_path)
        started.append(process)
        server = Server(process, port)
        try:
            wait_for(lambda: server.health() == "memory" or not process.alive(), 30, "run_ocsp listening")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{process.output()}") from None
        assert process.alive(), process.output()
        if processes > 1:  # every process up and LISTENing (connections spread over them)
            wait_for(lambda: all(server.health() == "memory" for _ in range(8)), 30, "every process")
        return server

    yield start
    for process in started:
        process.stop()


def _openssl(*args: str) -> str:
    result = subprocess.run(["openssl", "ocsp", *args], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


# --- the real process ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_openssl_against_the_process_good_then_revoked(start_responder, issue, pem_files, tmp_path):
    chain, issuer_pem = pem_files
    issuer = x509.load_pem_x509_certificate(issuer_pem.read_bytes())
    row = issue("auth")
    cert = write_cert_pem(tmp_path / "card.pem", bytes(row.der))
    server = start_responder(processes=1)
    url = f"http://127.0.0.1:{server.port}/pki/ocsp"
    common = ["-issuer", str(issuer_pem), "-cert", str(cert), "-CAfile", str(chain)]

    def by_get() -> str:
        status, headers, body = server.get(_request(_card(row), issuer))
        assert status == 200 and headers["cache-control"].startswith("max-age=")
        (tmp_path / "resp.der").write_bytes(body)
        return _openssl("-respin", str(tmp_path / "resp.der"), *common)

    for out in (_openssl("-url", url, "-no_nonce", *common), _openssl("-url", url, *common), by_get()):
        assert "Response verify OK" in out and f"{cert}: good" in out, out
    # The answer is now in the process's memory: the same bytes without the database's copy.
    der = _request(_card(row), issuer)
    first = server.get(der)[2]
    OcspResponse.objects.all().delete()
    assert server.get(der)[2] == first

    services.certificate_revoke(certificate=row, reason="keyCompromise")
    for out in (by_get(), _openssl("-url", url, "-no_nonce", *common), _openssl("-url", url, *common)):
        assert "Response verify OK" in out and f"{cert}: revoked" in out, out
        assert "Reason: keyCompromise" in out
    assert server.process.alive()


@pytest.mark.django_db(transaction=True)
def test_a_revocation_shows_at_the_very_next_request(start_responder, issue, hierarchy):
    issuer = signing.ca_certificate(hierarchy[1])
    rows = [issue("auth", card_number=f"802500000100000000{n:02d}") for n in range(5)]
    server = start_responder(processes=2)
    for row in rows:
        get, post = _request(_card(row), issuer), _request(_card(row), issuer, nonce=True)
        for _ in range(6):  # connections spread over both processes: each holds "good" in memory
            answer = x509_ocsp.load_der_ocsp_response(server.get(get)[2])
            assert answer.certificate_status == GOOD
            assert x509_ocsp.load_der_ocsp_response(server.post(post)[2]).certificate_status == GOOD
        services.certificate_revoke(certificate=row, reason="keyCompromise")
        for what in (server.get(get), server.post(post), server.post(get), server.get(get)):
            answer = x509_ocsp.load_der_ocsp_response(what[2])
            assert answer.certificate_status == REVOKED, row.serial
            assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    assert server.process.alive()


@pytest.mark.django_db(transaction=True)
def test_headers_304_nonce_and_errors_as_the_view(start_responder, issue, hierarchy):
    issuer = signing.ca_certificate(hierarchy[1])
    row = issue("auth")
    server = start_responder(processes=1)
    der = _request(_card(row), issuer)
    for _ in range(2):  # from the database path, then from memory
        status, headers, body = server.get(der)
        assert status == 200 and headers["content-type"] == "application/ocsp-response"
        answer = x509_ocsp.load_der_ocsp_response(body)
        directives = [d.strip() for d in headers["cache-control"].split(",")]
        assert directives[1:] == ["public", "no-transform", "must-revalidate"]
        max_age = int(directives[0].removeprefix("max-age="))
        until_next = (answer.next_update_utc - timezone.now()).total_seconds()
        assert until_next - 5 <= max_age <= until_next + 1
        assert email.utils.parsedate_to_datetime(headers["last-modified"]) == answer.this_update_utc
        assert email.utils.parsedate_to_datetime(headers["expires"]) == answer.next_update_utc
        assert headers["etag"] == '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        assert int(headers["content-length"]) == len(body)
    status, not_modified, empty = server.get(der, {"If-None-Match": headers["etag"]})
    assert status == 304 and empty == b"" and not_modified["etag"] == headers["etag"]
    assert "max-age=" in not_modified["cache-control"]
    assert server.get(der, {"If-None-Match": '"other"'})[0] == 200
    # POST without nonce: the same cached answer; with a nonce: signed fresh, echoed, no-cache.
    assert server.post(der)[2] == body
    nonce_der = _request(_card(row), issuer, nonce=True)
    answers = [server.post(nonce_der) for _ in range(3)]  # the same request again: signed again
    asked = x509_ocsp.load_der_ocsp_request(nonce_der).extensions.get_extension_for_class(x509.OCSPNonce)
    for _status, nonce_headers, nonce_body in answers:
        assert nonce_headers["cache-control"] == "no-cache" and "etag" not in nonce_headers
        answered = x509_ocsp.load_der_ocsp_response(nonce_body).extensions.get_extension_for_class(
            x509.OCSPNonce
        )
        assert answered.value.nonce == asked.value.nonce
    assert len({body for _s, _h, body in answers}) == 3
    # A '/' in the base64, sent as is.
    for n in range(30):
        other = issue("auth", card_number=f"8025000002000000{n:04d}")
        slashed = _request(_card(other), issuer)
        if "/" in base64.b64encode(slashed).decode():
            break
    path = "/pki/ocsp/" + base64.b64encode(slashed).decode()
    assert "/" in path[len("/pki/ocsp/") :]
    assert x509_ocsp.load_der_ocsp_response(server.request("GET", path)[2]).certificate_status == GOOD

    def status_of(response):
        assert response[0] == 200 and response[1]["cache-control"] == "no-cache", response
        return x509_ocsp.load_der_ocsp_response(response[2]).response_status

    malformed = x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert status_of(server.request("GET", "/pki/ocsp/bm90IG9jc3A=")) == malformed
    assert status_of(server.request("GET", "/pki/ocsp/")) == malformed
    assert status_of(server.post(b"\x30\x03\x02\x01")) == malformed
    assert status_of(server.post(b"\x30\x80" + der[2:])) == malformed  # BER, not DER
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "elsewhere")])
    now = timezone.now()
    elsewhere = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other_key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(other_key, hashes.SHA256())
    )
    unauthorized = x509_ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert status_of(server.post(_request(elsewhere, elsewhere))) == unauthorized
    assert server.post(b"0" * 20_000)[0] == 413
    assert server.post(b"x", content_type="text/plain")[0] == 415
    assert server.request("PUT", "/pki/ocsp", b"x")[0] == 405
    assert server.request("GET", "/pki/other")[0] == 404
    assert server.request("GET", "/pki/ocsp/abc!def")[0] == 404
    # Broken HTTP: an error and a closed connection, never a dead process.
    for raw in (b"NONSENSE\r\n\r\n", b"GET / HTTP/9\r\n\r\n", b"X" * 20_000):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(raw)
            assert sock.recv(1024).split(b" ")[1] in (b"400", b"431", b"505")
    assert server.process.alive()
    assert x509_ocsp.load_der_ocsp_response(server.get(der)[2]).certificate_status == GOOD


@pytest.mark.django_db(transaction=True)
def test_the_process_never_needs_the_ca_or_root_pin(start_responder, hierarchy, tmp_path):
    """The process runs with CPX_CA_TOKEN_PIN and CPX_ROOT_TOKEN_PIN empty (start_responder): the root
    answers for the issuing CA, signed fresh, nonce or not."""
    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    root_pem, issuing_pem = tmp_path / "root.pem", tmp_path / "issuing.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    issuing_pem.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    server = start_responder(processes=1)
    env = server.process.popen.args  # the command line: no PIN there either
    assert "PIN" not in " ".join(env)
    url = f"http://127.0.0.1:{server.port}/pki/ocsp"
    for extra in ((), ("-no_nonce",)):
        out = _openssl(
            "-issuer", str(root_pem), "-cert", str(issuing_pem), "-CAfile", str(root_pem), "-url", url, *extra
        )
        assert "Response verify OK" in out and f"{issuing_pem}: good" in out, out


@pytest.mark.django_db(transaction=True)
def test_no_ocsp_pin_no_responder(tmp_path, settings, hierarchy):
    pins = {**hsm_env(settings), "CPX_OCSP_TOKEN_PIN": ""}
    env = stack_environment(tmp_path, "redis://127.0.0.1:6379/14", **pins)
    result = subprocess.run(
        [
            ".venv/bin/python",
            "manage.py",
            "run_ocsp",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--processes",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert result.returncode != 0 and "OCSP token" in result.stderr, result.stderr


# --- without sockets ---------------------------------------------------------------------------------------


def test_memory_is_used_only_while_the_listen_connection_is_up():
    usable = ocsp_server.memory_usable
    assert not usable(connected=False, flushed=False, ping_sent_at=None, now=100.0)  # not yet connected
    assert not usable(connected=True, flushed=False, ping_sent_at=None, now=100.0)  # memory not emptied yet
    assert not usable(connected=False, flushed=True, ping_sent_at=None, now=100.0)  # broken
    assert usable(connected=True, flushed=True, ping_sent_at=None, now=100.0)
    assert usable(connected=True, flushed=True, ping_sent_at=99.0, now=100.0)  # a ping on its way
    late = 100.0 - ocsp_server.PING_TIMEOUT
    assert not usable(connected=True, flushed=True, ping_sent_at=late, now=100.0)  # silent connection


class _Up(ocsp_server.Listener):
    """A listener taken as connected, without a connection (notifications are handed in by the test)."""

    def __init__(self, memory, up: bool):
        super().__init__(memory)
        self.connected = self.flushed = up

    def check(self) -> None:
        pass


@pytest.mark.django_db
def test_without_listen_every_answer_takes_the_database_path(issue, hierarchy):
    issuer = signing.ca_certificate(hierarchy[1])
    row = issue("auth")
    memory = ocsp_server.Memory()
    responder = ocsp_server.Responder(memory, _Up(memory, up=False))
    der = _request(_card(row), issuer)
    for _ in range(3):
        answer, entry = responder.answer(der, alias=b"G/x")
        assert entry is None and answer.certificate_id == row.pk
    assert len(memory) == 0 and responder.hit(b"G/x") is None and responder.stats["database"] == 3
    nonce = _request(_card(row), issuer, nonce=True)
    assert responder.answer(nonce)[0].cacheable is False and responder.stats["nonce"] == 0
    services.certificate_revoke(certificate=row, reason="keyCompromise")
    answer = x509_ocsp.load_der_ocsp_response(responder.answer(der)[0].der)
    assert answer.certificate_status == REVOKED


@pytest.mark.django_db
def test_memory_serves_until_notified_then_the_database_says_revoked(issue, hierarchy):
    issuer = signing.ca_certificate(hierarchy[1])
    row, other = issue("auth"), issue("sign", card_number="80250000010000000002")
    memory = ocsp_server.Memory()
    listener = _Up(memory, up=True)
    responder = ocsp_server.Responder(memory, listener)
    der = _request(_card(row), issuer)
    first, entry = responder.answer(der, alias=b"G/a")
    assert entry is not None and responder.hit(b"G/a") is entry
    responder.answer(_request(_card(other), issuer))
    assert responder.answer(der)[0] is first and responder.stats["database"] == 2
    # An answer to a nonce from memory: no query, and the structure asn1crypto would make.
    nonce_der = _request(_card(row), issuer, nonce=True)
    signed, _ = responder.answer(nonce_der, alias=b"P" + nonce_der)
    assert responder.stats["database"] == 2 and responder.stats["nonce"] == 1
    assert responder.hit(b"P" + nonce_der) is None  # an answer to a nonce is never reused
    parsed = asn1_ocsp.OCSPResponse.load(signed.der, strict=True)
    assert parsed.dump(force=True) == signed.der  # canonical DER
    answer = x509_ocsp.load_der_ocsp_response(signed.der)
    assert answer.certificate_status == GOOD and answer.serial_number == _card(row).serial_number
    (responder_cert,) = answer.certificates
    responder_cert.public_key().verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm)
    )
    asked = x509_ocsp.load_der_ocsp_request(nonce_der).extensions.get_extension_for_class(x509.OCSPNonce)
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == asked.value.nonce
    assert answer.next_update_utc - answer.this_update_utc == ocsp.GOOD_LIFETIME
    database = x509_ocsp.load_der_ocsp_response(ocsp.respond(nonce_der).der)
    assert database.responder_key_hash == answer.responder_key_hash
    assert database.signature_algorithm_oid == answer.signature_algorithm_oid

    # The revocation's notification drops this certificate's entries only.
    services.certificate_revoke(certificate=row, reason="keyCompromise")
    memory.notified(str(row.pk))
    assert responder.hit(b"G/a") is None and len(memory) == 1
    for request in (der, nonce_der):
        answer = x509_ocsp.load_der_ocsp_response(responder.answer(request)[0].der)
        assert answer.certificate_status == REVOKED
    # "*" (a responder roll), or the LISTEN connection going down: everything goes.
    memory.notified("*")
    assert len(memory) == 0
    responder.answer(der)
    assert len(memory) == 1
    listener.connected = True
    listener.conn = None
    listener.down("test")
    assert len(memory) == 0 and not listener.usable()


@pytest.mark.django_db
def test_an_answer_read_before_a_notification_is_not_kept(issue, hierarchy, monkeypatch):
    issuer = signing.ca_certificate(hierarchy[1])
    row = issue("auth")
    memory = ocsp_server.Memory()
    responder = ocsp_server.Responder(memory, _Up(memory, up=True))
    real = ocsp.respond

    def respond_then_notified(der):
        answer = real(der)
        memory.notified(str(row.pk))  # a revocation committed while this answer was being made
        return answer

    monkeypatch.setattr(ocsp, "respond", respond_then_notified)
    responder.answer(_request(_card(row), issuer), alias=b"G/a")
    assert len(memory) == 0 and responder.hit(b"G/a") is None


@pytest.mark.django_db
def test_the_fast_parser_accepts_the_common_shapes_only(issue, hierarchy):
    issuer = signing.ca_certificate(hierarchy[1])
    row, other = issue("auth"), issue("sign", card_number="80250000010000000002")
    plain = _request(_card(row), issuer)
    parsed = ocsp_server.parse_simple(plain)
    assert parsed is not None and parsed.nonce is None
    cert_id = asn1_ocsp.OCSPRequest.load(plain)["tbs_request"]["request_list"][0]["req_cert"].dump()
    assert parsed.cert_id == cert_id
    assert ocsp_server._bare_request(cert_id) == plain
    with_nonce = ocsp_server.parse_simple(_request(_card(row), issuer, hashes.SHA256(), nonce=True))
    assert with_nonce is not None and with_nonce.nonce is not None and with_nonce.nonce[0] == 0x04
    two = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(b"\x00" * 20, b"\x00" * 20, 1, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(DER)
    )
    assert ocsp_server.parse_simple(two) is not None  # one CertID, whatever its issuer
    several = asn1_ocsp.OCSPRequest.load(plain)
    several["tbs_request"]["request_list"].append(
        asn1_ocsp.OCSPRequest.load(_request(_card(other), issuer))["tbs_request"]["request_list"][0]
    )
    for der in (several.dump(force=True), b"", b"\x30", b"\x30\x80\x00\x00", plain + b"\x00", plain[:-1]):
        assert ocsp_server.parse_simple(der) is None
