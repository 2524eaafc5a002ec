"""The delegated OCSP responder (RFC 6960, RFC 5019): its certificates, its signed and cached answers, HTTP.

Checked with the real openssl (`openssl ocsp -url` against the live server, `openssl ocsp -respin` on GET
answers): the responder certificate is found in the answer and accepted by delegation from the CA.
"""

import base64
import datetime as dt
import email.utils
import hashlib
import subprocess
import urllib.parse
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command
from django.utils import timezone

from pki import hsm, keys, ocsp, services, signing
from pki.models import AuditEvent, CertificateAuthority, OcspResponder
from tests.approvals.helpers import ocsp_roll_approval

from .conftest import card_certificate as _card
from .conftest import ocsp_get_path as _get_path
from .conftest import ocsp_request as _request
from .conftest import write_cert_pem

pytestmark = pytest.mark.django_db

DER = serialization.Encoding.DER


def _issuer(hierarchy):
    return signing.ca_certificate(hierarchy[1])


def _post(client, der):
    return client.post("/pki/ocsp", der, content_type="application/ocsp-request")


def _http_date(value: str) -> dt.datetime:
    return email.utils.parsedate_to_datetime(value)


# --- the responder certificates ------------------------------------------------------------------------


def test_every_ca_certifies_a_responder_key_kept_on_the_ocsp_token(hierarchy):
    tok = hsm.token("ocsp")
    cas = list(CertificateAuthority.objects.order_by("id"))
    assert len(cas) == 3
    labels = set()
    for ca in cas:
        responder = OcspResponder.objects.get(authority=ca)
        cert = x509.load_der_x509_certificate(bytes(responder.der))
        issuer = signing.ca_certificate(ca)
        cert.verify_directly_issued_by(issuer)
        assert (
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"Répondeur OCSP {ca.name}"
        )
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.digital_signature
        assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.content_commitment)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
        cert.extensions.get_extension_for_class(x509.OCSPNoCheck)  # id-pkix-ocsp-nocheck
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        lifetime = keys.VALIDITY["ocsp-root" if ca.parent_id is None else "ocsp"]
        assert cert.not_valid_after_utc - cert.not_valid_before_utc <= lifetime + dt.timedelta(minutes=5)
        assert cert.not_valid_after_utc <= issuer.not_valid_after_utc
        assert responder.not_after == cert.not_valid_after_utc
        # The key is on the OCSP token, and on no other.
        assert responder.key_label.startswith("ocsp-") and responder.algorithm == "ec-p256"
        assert hsm.has_private_key(tok, responder.key_label)
        assert hsm.public_key(hsm.token("ca"), responder.key_label) is None
        on_token = hsm.public_key(tok, responder.key_label)
        assert on_token is not None and on_token.public_bytes(
            DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == cert.public_key().public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        labels.add(responder.key_label)
        audit = AuditEvent.objects.get(operation=AuditEvent.Operation.OCSP_KEY, authority=ca)
        assert audit.actor == "command pki_init"
        assert audit.serials == [format(cert.serial_number, "x")]
        assert audit.detail["key_label"] == responder.key_label
    assert len(labels) == 1  # one responder key, certified by each CA


def test_pki_init_keeps_current_responders(hierarchy):
    before = list(OcspResponder.objects.values_list("pk", flat=True))
    signing.pki_init()
    assert list(OcspResponder.objects.values_list("pk", flat=True)) == before
    assert AuditEvent.objects.filter(operation=AuditEvent.Operation.OCSP_KEY).count() == 3


def test_a_responder_certificate_about_to_end_is_replaced_with_a_new_key(hierarchy):
    old = OcspResponder.objects.get(authority=hierarchy[1])
    OcspResponder.objects.filter(pk=old.pk).update(not_after=timezone.now() + dt.timedelta(days=10))
    made = ocsp.ensure_responders(actor="test")
    assert len(made) == 3 and {r.key_label for r in made} != {old.key_label}


def test_pki_ocsp_roll_makes_a_new_key_and_new_certificates(client, hierarchy, issue, capsys):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    first = x509_ocsp.load_der_ocsp_response(_post(client, _request(_card(row), issuer)).content)
    old_label = OcspResponder.objects.get(authority=hierarchy[1]).key_label

    call_command("pki_ocsp_roll", approval=ocsp_roll_approval())  # approved by a second ANS operator
    assert "responder key" in capsys.readouterr().out
    newest = OcspResponder.objects.filter(authority=hierarchy[1]).order_by("-created_at").first()
    assert newest is not None and newest.key_label != old_label
    assert OcspResponder.objects.filter(key_label=newest.key_label).count() == 3
    rolled = AuditEvent.objects.filter(operation=AuditEvent.Operation.OCSP_KEY, actor="command pki_ocsp_roll")
    assert rolled.count() == 3 and all(event.detail["new_key"] for event in rolled)

    # The next answer is signed with the new key (the cached one was dropped).
    second = x509_ocsp.load_der_ocsp_response(_post(client, _request(_card(row), issuer)).content)
    new_cert = x509.load_der_x509_certificate(bytes(newest.der))
    assert second.certificates[0].serial_number == new_cert.serial_number
    assert second.responder_key_hash != first.responder_key_hash
    assert (
        second.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(new_cert.public_key()).digest
    )


# --- signed answers ------------------------------------------------------------------------------------


def test_answers_are_signed_by_the_delegated_responder(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    answer = x509_ocsp.load_der_ocsp_response(_post(client, _request(_card(row), issuer)).content)
    assert answer.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    (responder_cert,) = answer.certificates
    responder_cert.verify_directly_issued_by(issuer)
    responder_cert.public_key().verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm)
    )
    key_hash = hashlib.sha1(  # noqa: S324 - RFC 6960 ResponderID byKey
        responder_cert.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    ).digest()
    assert answer.responder_key_hash == key_hash and answer.responder_name is None
    assert answer.this_update_utc <= answer.produced_at_utc <= timezone.now()
    assert answer.next_update_utc - answer.this_update_utc == ocsp.GOOD_LIFETIME


def test_next_update_never_passes_the_responder_certificate(client, issue, hierarchy, monkeypatch):
    monkeypatch.setattr(ocsp, "GOOD_LIFETIME", dt.timedelta(days=4000))
    issuer = _issuer(hierarchy)
    answer = x509_ocsp.load_der_ocsp_response(_post(client, _request(_card(issue()), issuer)).content)
    responder = OcspResponder.objects.get(authority=hierarchy[1])
    assert answer.next_update_utc == responder.not_after.replace(microsecond=0)


def test_the_web_process_never_needs_the_ca_or_root_pin(client, issue, hierarchy, settings):
    issuer = _issuer(hierarchy)
    rows = [issue("auth"), issue("sign")]
    settings.CPX_CA_TOKEN_PIN = ""
    settings.CPX_ROOT_TOKEN_PIN = ""
    with pytest.raises(hsm.TokenUnavailable):  # the CA's key is out of reach of this process
        signing.signer(hierarchy[1]).sign(b"x")
    for der in (_request(_card(rows[0]), issuer), _request(_card(rows[1]), issuer, nonce=True)):
        answer = x509_ocsp.load_der_ocsp_response(_post(client, der).content)
        assert answer.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    answer = x509_ocsp.load_der_ocsp_response(_post(client, _request(issuing, root, hashes.SHA256())).content)
    assert answer.certificate_status == x509_ocsp.OCSPCertStatus.GOOD


# --- the cache -----------------------------------------------------------------------------------------


def test_a_cached_answer_is_reused_until_a_revocation_shows_at_the_next_request(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    path = _get_path(_request(_card(row), issuer))
    first = client.get(path)
    assert first.status_code == 200
    for _ in range(3):
        assert client.get(path).content == first.content  # the same signed bytes, from the cache
    assert ocsp.OcspResponse.objects.filter(certificate=row).count() == 1
    post = _post(client, _request(_card(row), issuer))
    assert post.content == first.content  # POST without nonce: the same cached answer

    services.certificate_revoke(certificate=row, reason="keyCompromise")  # nobody touches the cache
    answer = x509_ocsp.load_der_ocsp_response(client.get(path).content)
    assert answer.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    again = client.get(path)
    assert again.content == client.get(path).content  # the revoked answer is cached in turn
    cached = ocsp.OcspResponse.objects.get(certificate=row)
    assert cached.revoked_at is not None and bytes(cached.der) == again.content


def test_sha1_and_sha256_cert_ids_get_each_their_answer(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303
        der = _request(_card(row), issuer, algorithm)
        answer = x509_ocsp.load_der_ocsp_response(client.get(_get_path(der)).content)
        assert answer.hash_algorithm.name == algorithm.name
        assert answer.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    assert ocsp.OcspResponse.objects.filter(certificate=row).count() == 2


def test_an_answer_past_its_half_life_is_signed_again(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    path = _get_path(_request(_card(row), issuer))
    first = client.get(path).content
    cached = ocsp.OcspResponse.objects.get(certificate=row)
    assert cached.refresh_at - cached.this_update == ocsp.GOOD_LIFETIME / 2
    ocsp.OcspResponse.objects.filter(pk=cached.pk).update(refresh_at=timezone.now() - dt.timedelta(seconds=1))
    second = client.get(path).content
    assert second != first
    assert bytes(ocsp.OcspResponse.objects.get(certificate=row).der) == second


def test_nonce_and_several_certificates_are_signed_fresh(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    row = issue("auth")
    der = _request(_card(row), issuer, nonce=True)
    one, two = _post(client, der), _post(client, der)
    assert one["Cache-Control"] == "no-cache" and "ETag" not in one
    assert one.content != two.content
    asked = x509_ocsp.load_der_ocsp_request(der).extensions.get_extension_for_class(x509.OCSPNonce).value
    answered = x509_ocsp.load_der_ocsp_response(one.content).extensions.get_extension_for_class(
        x509.OCSPNonce
    )
    assert answered.value.nonce == asked.nonce
    assert not ocsp.OcspResponse.objects.exists()


# --- HTTP ----------------------------------------------------------------------------------------------


def test_caching_headers_follow_this_update_and_next_update(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    response = client.get(_get_path(_request(_card(issue()), issuer)))
    assert response.status_code == 200 and response["Content-Type"] == "application/ocsp-response"
    answer = x509_ocsp.load_der_ocsp_response(response.content)
    directives = [d.strip() for d in response["Cache-Control"].split(",")]
    assert directives[1:] == ["public", "no-transform", "must-revalidate"]
    max_age = int(directives[0].removeprefix("max-age="))
    until_next = (answer.next_update_utc - timezone.now()).total_seconds()
    assert until_next - 5 <= max_age <= until_next
    assert _http_date(response["Last-Modified"]) == answer.this_update_utc
    assert _http_date(response["Expires"]) == answer.next_update_utc
    assert response["ETag"] == '"' + hashlib.sha256(response.content).hexdigest()[:40] + '"'


def test_if_none_match_answers_304(client, issue, hierarchy):
    issuer = _issuer(hierarchy)
    path = _get_path(_request(_card(issue()), issuer))
    etag = client.get(path)["ETag"]
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag and "max-age=" in not_modified["Cache-Control"]
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_get_with_a_slash_in_the_base64(client, issue, hierarchy):
    """RFC 5019 §5: the base64 may hold '/' (sent as is, or percent-encoded) and '+'."""
    issuer = _issuer(hierarchy)
    for _ in range(20):
        der = _request(_card(issue()), issuer)
        encoded = base64.b64encode(der).decode()
        if "/" in encoded:
            break
    assert "/" in encoded
    for path in (f"/pki/ocsp/{encoded}", _get_path(der)):
        answer = x509_ocsp.load_der_ocsp_response(client.get(path).content)
        assert answer.certificate_status == x509_ocsp.OCSPCertStatus.GOOD


def test_malformed_unknown_and_oversized_requests(client, hierarchy):
    def status(response):
        assert response.status_code == 200 and response["Cache-Control"] == "no-cache"
        return x509_ocsp.load_der_ocsp_response(response.content).response_status

    assert status(client.get("/pki/ocsp/bm90IG9jc3A=")) == x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert status(client.get("/pki/ocsp/")) == x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert status(_post(client, b"\x30\x03\x02\x01")) == x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # A CA that is not ours.
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "elsewhere")])
    now = timezone.now()
    other = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other_key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(other_key, hashes.SHA256())
    )
    assert status(_post(client, _request(other, other))) == x509_ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert _post(client, b"0" * 20_000).status_code == 413
    assert client.post("/pki/ocsp", b"x", content_type="text/plain").status_code == 415


# --- with the real openssl --------------------------------------------------------------------------------


def _openssl(*args: str) -> str:
    result = subprocess.run(["openssl", "ocsp", *args], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_openssl_verifies_post_and_get_answers_good_then_revoked(live_server, issue, pem_files, tmp_path):
    chain, issuer = pem_files
    row = issue("auth")
    cert = write_cert_pem(tmp_path / "card.pem", bytes(row.der))
    url = f"{live_server.url}/pki/ocsp"
    common = ["-issuer", str(issuer), "-cert", str(cert), "-CAfile", str(chain)]

    def by_get() -> str:
        issuer_cert = x509.load_pem_x509_certificate(issuer.read_bytes())
        der = _request(_card(row), issuer_cert)
        with urllib.request.urlopen(live_server.url + _get_path(der), timeout=10) as response:  # noqa: S310
            assert response.headers["Cache-Control"].startswith("max-age=")
            (tmp_path / "resp.der").write_bytes(response.read())
        return _openssl("-respin", str(tmp_path / "resp.der"), *common)

    for out in (_openssl("-url", url, "-no_nonce", *common), _openssl("-url", url, *common), by_get()):
        assert "Response verify OK" in out and f"{cert}: good" in out, out

    services.certificate_revoke(certificate=row, reason="keyCompromise")
    for out in (_openssl("-url", url, "-no_nonce", *common), _openssl("-url", url, *common), by_get()):
        assert "Response verify OK" in out and f"{cert}: revoked" in out, out
        assert "Reason: keyCompromise" in out


@pytest.mark.django_db(transaction=True)
def test_openssl_verifies_the_root_answering_for_an_issuing_ca(live_server, hierarchy, tmp_path, settings):
    settings.CPX_CA_TOKEN_PIN = ""
    settings.CPX_ROOT_TOKEN_PIN = ""
    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    issuing_pem = tmp_path / "issuing.pem"
    issuing_pem.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    url = f"{live_server.url}/pki/ocsp"
    for extra in ((), ("-no_nonce",)):
        out = _openssl(
            "-issuer", str(root_pem), "-cert", str(issuing_pem), "-CAfile", str(root_pem), "-url", url, *extra
        )
        assert "Response verify OK" in out and f"{issuing_pem}: good" in out, out
