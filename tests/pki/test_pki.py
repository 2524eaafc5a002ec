"""The PKI: CAs created once, card certificate profiles, CRL and OCSP checked with the real openssl."""

import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki import ocsp as responder
from pki import services, signing
from pki.models import Certificate, CertificateAuthority

from .conftest import write_cert_pem

pytestmark = pytest.mark.django_db


def _ekus(cert):
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_authentication_profile(issue, holder):
    row = issue("auth")
    cert = x509.load_der_x509_certificate(bytes(row.der))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    assert _ekus(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "810107518424"
    assert subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "MARTIN"
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "Claire"
    assert subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Médecin"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "FR"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "TEST"
    # CN, SN and GN form one multi-valued RDN, as on IGC-Santé card certificates.
    assert len(subject.rdns[-1]) == 3
    assert int(row.serial, 16) == cert.serial_number


def test_the_signature_profile(issue):
    cert = x509.load_der_x509_certificate(bytes(issue("sign").der))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.content_commitment and not ku.digital_signature and not ku.key_encipherment
    assert _ekus(cert) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]


def test_certificates_end_with_the_card_and_point_to_crl_and_ocsp(issue, settings):
    row = issue("auth")
    cert = x509.load_der_x509_certificate(bytes(row.der))
    assert cert.not_valid_after_utc.date() == row.not_after.date()
    assert 3 * 365 - 1 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 3 * 365 + 1
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"{settings.CPX_BASE_URL}/pki/crl/personnes.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == f"{settings.CPX_BASE_URL}/pki/ocsp"


def _crl_pem(client, tmp_path):
    response = client.get("/pki/crl/personnes.crl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    path = tmp_path / "crl.pem"
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-out", str(path)], input=response.content, check=True
    )
    return crl, path


def _openssl_verify(chain, crl, cert):
    return subprocess.run(
        ["openssl", "verify", "-crl_check", "-CAfile", str(chain), "-CRLfile", str(crl), str(cert)],
        capture_output=True,
        text=True,
    )


def test_openssl_verify_with_the_crl_good_then_revoked(
    client, issue, pem_files, tmp_path, django_capture_on_commit_callbacks
):
    """The revocation is published in the delta CRL (once the revocation commits); openssl reads the base and
    the delta (-use_deltas). The base and delta themselves are tested in tests/pki/test_crl.py."""
    chain, _ = pem_files
    row = issue("auth")
    cert = write_cert_pem(tmp_path / "card.pem", bytes(row.der))
    _, base = _crl_pem(client, tmp_path)
    result = _openssl_verify(chain, base, cert)
    assert result.returncode == 0, result.stdout + result.stderr

    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificate_revoke(certificate=row, reason="keyCompromise") == 1
    response = client.get("/pki/crl/personnes-delta.crl")
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    parsed = x509.load_der_x509_crl(response.content)
    entry = parsed.get_revoked_certificate_by_serial_number(int(row.serial, 16))
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    crls = tmp_path / "crls.pem"
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-out", str(crls)], input=response.content, check=True
    )
    crls.write_bytes(base.read_bytes() + crls.read_bytes())
    result = subprocess.run(
        ["openssl", "verify", "-crl_check", "-use_deltas", "-x509_strict", "-CAfile", str(chain)]
        + ["-CRLfile", str(crls), str(cert)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr


def test_revoking_twice_keeps_the_first_date_and_bumps_the_crl_once(
    issue, hierarchy, django_capture_on_commit_callbacks
):
    row = issue("sign")
    before = CertificateAuthority.objects.get(slug="personnes").crl_number
    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_revoke(certificate=row, reason="superseded")
    first = Certificate.objects.get(pk=row.pk).revoked_at
    with django_capture_on_commit_callbacks(execute=True) as asked:
        assert services.certificate_revoke(certificate=row, reason="keyCompromise") == 0
    assert asked == []  # nothing revoked: no delta asked for
    row.refresh_from_db()
    assert row.revoked_at == first and row.revocation_reason == "superseded"
    assert CertificateAuthority.objects.get(slug="personnes").crl_number == before + 1


def test_it_rejects_an_unknown_reason(issue):
    with pytest.raises(ValueError):
        services.certificate_revoke(certificate=issue(), reason="because")


def test_an_unknown_ca_has_no_crl(client, hierarchy):
    assert client.get("/pki/crl/nope.crl").status_code == 404


def _openssl_ocsp(url, issuer, chain, *certs):
    asked = [arg for cert in certs for arg in ("-cert", str(cert))]
    result = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(issuer), *asked, "-url", url, "-CAfile", str(chain)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_openssl_ocsp_answers_good_then_revoked(live_server, issue, pem_files, tmp_path):
    chain, issuer = pem_files
    row = issue("auth")
    cert = write_cert_pem(tmp_path / "card.pem", bytes(row.der))
    url = f"{live_server.url}/pki/ocsp"
    out = _openssl_ocsp(url, issuer, chain, cert)
    assert "Response verify OK" in out and f"{cert}: good" in out, out

    services.certificate_revoke(certificate=row, reason="keyCompromise")
    out = _openssl_ocsp(url, issuer, chain, cert)
    assert "Response verify OK" in out and f"{cert}: revoked" in out, out
    assert "Reason: keyCompromise" in out


@pytest.mark.django_db(transaction=True)
def test_openssl_ocsp_answers_each_certificate_of_a_request(live_server, issue, pem_files, tmp_path):
    """`openssl ocsp -cert auth.pem -cert sign.pem`: one request, two CertIDs, one signed status each."""
    chain, issuer = pem_files
    auth = issue("auth")
    sign = issue("sign")
    auth_pem = write_cert_pem(tmp_path / "auth.pem", bytes(auth.der))
    sign_pem = write_cert_pem(tmp_path / "sign.pem", bytes(sign.der))
    url = f"{live_server.url}/pki/ocsp"
    out = _openssl_ocsp(url, issuer, chain, auth_pem, sign_pem)
    assert "Response verify OK" in out and f"{auth_pem}: good" in out and f"{sign_pem}: good" in out, out

    services.certificate_revoke(certificate=sign, reason="keyCompromise")
    out = _openssl_ocsp(url, issuer, chain, auth_pem, sign_pem)
    assert "Response verify OK" in out, out
    assert f"{auth_pem}: good" in out and f"{sign_pem}: revoked" in out, out
    assert "Reason: keyCompromise" in out


def test_ocsp_answers_several_certificates_in_the_order_asked(client, issue, hierarchy):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp

    issuer = signing.ca_certificate(hierarchy[1])
    first = issue("auth")
    second = issue("sign")
    services.certificate_revoke(certificate=first, reason="superseded")
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(x509.load_der_x509_certificate(bytes(first.der)), issuer, hashes.SHA256())
        .build()
    )
    one = responder._parse_ocsp_request(request.public_bytes(signing.serialization.Encoding.DER))[0][0]
    # Glue a request of three CertIDs (cryptography builds one only): revoked, good, never issued.
    from asn1crypto import ocsp as asn1_ocsp

    def cert_id(serial):
        loaded = asn1_ocsp.CertId.load(one.der).copy()
        loaded["serial_number"] = serial
        return {"req_cert": loaded}

    serials = [int(first.serial, 16), int(second.serial, 16), 4242]
    der = asn1_ocsp.OCSPRequest(
        {"tbs_request": {"request_list": [cert_id(serial) for serial in serials]}}
    ).dump()
    response = client.post("/pki/ocsp", der, content_type="application/ocsp-request")
    assert response.status_code == 200
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    statuses = [(single.serial_number, single.certificate_status) for single in answer.responses]
    assert statuses == [
        (serials[0], ocsp.OCSPCertStatus.REVOKED),
        (serials[1], ocsp.OCSPCertStatus.GOOD),
        (4242, ocsp.OCSPCertStatus.UNKNOWN),
    ]
    assert next(iter(answer.responses)).revocation_reason == x509.ReasonFlags.superseded
    # Signed by the CA's delegated responder, whose certificate the CA issued and the answer carries.
    (responder_cert,) = answer.certificates
    responder_cert.verify_directly_issued_by(issuer)
    responder_cert.public_key().verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm)
    )


def test_ocsp_refuses_too_many_certificates_or_mixed_cas(client, issue, hierarchy):
    from asn1crypto import ocsp as asn1_ocsp
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    card = x509.load_der_x509_certificate(bytes(issue().der))
    of_card = ocsp.OCSPRequestBuilder().add_certificate(card, issuing, hashes.SHA1()).build()  # noqa: S303
    of_ca = ocsp.OCSPRequestBuilder().add_certificate(issuing, root, hashes.SHA1()).build()  # noqa: S303

    def glued(*requests):
        der = signing.serialization.Encoding.DER
        items = [{"req_cert": responder._parse_ocsp_request(r.public_bytes(der))[0][0].der} for r in requests]
        items = [{"req_cert": asn1_ocsp.CertId.load(item["req_cert"])} for item in items]
        return asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": items}}).dump()

    def status(der):
        response = client.post("/pki/ocsp", der, content_type="application/ocsp-request")
        assert response.status_code == 200
        return ocsp.load_der_ocsp_response(response.content).response_status

    assert status(glued(of_card, of_ca)) == ocsp.OCSPResponseStatus.UNAUTHORIZED
    too_many = glued(*[of_card] * (responder.OCSP_MAX_CERTS + 1))
    assert status(too_many) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    empty = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": []}}).dump()
    assert status(empty) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_get_form_and_unknown_serial(client, issue, hierarchy):
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    issuer = signing.ca_certificate(hierarchy[1])
    cert = x509.load_der_x509_certificate(bytes(issue().der))
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303 - what OCSP clients send
    encoded = base64.b64encode(request.public_bytes(signing.serialization.Encoding.DER)).decode()
    answer = ocsp.load_der_ocsp_response(client.get(f"/pki/ocsp/{encoded}").content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD

    # A serial the CA never issued.
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(request.issuer_name_hash, request.issuer_key_hash, 12345, hashes.SHA1())  # noqa: S303
        .build()
    )
    response = client.post(
        "/pki/ocsp",
        request.public_bytes(signing.serialization.Encoding.DER),
        content_type="application/ocsp-request",
    )
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_refuses_garbage(client, hierarchy):
    from cryptography.x509 import ocsp

    response = client.post("/pki/ocsp", b"not ocsp", content_type="application/ocsp-request")
    assert (
        ocsp.load_der_ocsp_response(response.content).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_the_root_answers_good_for_the_issuing_ca(client, hierarchy):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp

    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    request = ocsp.OCSPRequestBuilder().add_certificate(issuing, root, hashes.SHA256()).build()
    response = client.post(
        "/pki/ocsp",
        request.public_bytes(signing.serialization.Encoding.DER),
        content_type="application/ocsp-request",
    )
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    (responder_cert,) = answer.certificates  # signed by the root's delegated responder, not the root
    responder_cert.verify_directly_issued_by(root)
    responder_cert.public_key().verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm)
    )


# --- what the PKI publishes -----------------------------------------------------------------------


def _uris(cert, extension_class, method=None):
    value = cert.extensions.get_extension_for_class(extension_class).value
    if extension_class is x509.CRLDistributionPoints:
        return [name.value for point in value for name in point.full_name]
    return [d.access_location.value for d in value if d.access_method == method]


def test_the_index_lists_each_ca_with_its_certificate_crl_and_ocsp(client, hierarchy, settings):
    response = client.get("/pki/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for slug in ("racine", "personnes"):
        assert f'href="{settings.CPX_BASE_URL}/pki/ca/{slug}.crt"' in page
        assert f'href="{settings.CPX_BASE_URL}/pki/ca/{slug}.pem"' in page
        assert f'href="{settings.CPX_BASE_URL}/pki/crl/{slug}.crl"' in page
    assert f'href="{settings.CPX_BASE_URL}/pki/ocsp"' in page
    assert "AC IGC-SANTE TEST PERSONNES" in page


def test_each_ca_certificate_is_published_in_der_and_pem(client, hierarchy):
    from cryptography.hazmat.primitives import serialization

    for ca in hierarchy:
        der = client.get(f"/pki/ca/{ca.slug}.crt")
        assert der.status_code == 200 and der["Content-Type"] == "application/pkix-cert"
        assert der.content == bytes(ca.der)
        pem = client.get(f"/pki/ca/{ca.slug}.pem")
        assert pem.status_code == 200 and pem["Content-Type"] == "application/x-pem-file"
        parsed = x509.load_pem_x509_certificate(pem.content)
        assert parsed.public_bytes(serialization.Encoding.DER) == der.content
    assert client.get("/pki/ca/nope.crt").status_code == 404
    assert client.post("/pki/ca/racine.crt").status_code == 405


def test_card_certificates_name_their_issuer_and_the_issuing_ca_its_crl(issue, hierarchy, settings):
    from cryptography.x509.oid import AuthorityInformationAccessOID as AIA

    card = x509.load_der_x509_certificate(bytes(issue().der))
    assert _uris(card, x509.AuthorityInformationAccess, AIA.OCSP) == [f"{settings.CPX_BASE_URL}/pki/ocsp"]
    assert _uris(card, x509.AuthorityInformationAccess, AIA.CA_ISSUERS) == [
        f"{settings.CPX_BASE_URL}/pki/ca/personnes.crt"
    ]
    root, issuing = (signing.ca_certificate(ca) for ca in hierarchy)
    assert _uris(issuing, x509.CRLDistributionPoints) == [f"{settings.CPX_BASE_URL}/pki/crl/racine.crl"]
    assert _uris(issuing, x509.AuthorityInformationAccess, AIA.CA_ISSUERS) == [
        f"{settings.CPX_BASE_URL}/pki/ca/racine.crt"
    ]
    with pytest.raises(x509.ExtensionNotFound):  # a root points nowhere
        root.extensions.get_extension_for_class(x509.CRLDistributionPoints)


@pytest.mark.django_db(transaction=True)
def test_an_outside_checker_verifies_a_card_with_only_what_the_server_publishes(
    live_server, pki_dir, holder, card_key, settings, tmp_path
):
    """From the card certificate alone: caIssuers and CRL distribution points lead to everything openssl
    needs to check the whole chain, CRLs included (-crl_check_all), all fetched from the live server."""
    import datetime as dt
    import urllib.request

    from cryptography.x509.oid import AuthorityInformationAccessOID as AIA

    settings.CPX_BASE_URL = live_server.url
    signing.pki_init()
    row = services.certificate_issue(
        usage="auth",
        public_key=card_key.public_key(),
        holder=holder,
        valid_until=dt.date.today() + dt.timedelta(days=365),
        card_number="80250000010000000009",
    )
    card_pem = write_cert_pem(tmp_path / "card.pem", bytes(row.der))

    def fetch(url, name):
        assert url.startswith(live_server.url), url
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the live test server
            body = response.read()
        kind = "crl" if url.endswith(".crl") else "x509"
        path = tmp_path / name
        subprocess.run(["openssl", kind, "-inform", "DER", "-out", str(path)], input=body, check=True)
        return path

    card = x509.load_der_x509_certificate(bytes(row.der))
    (issuing_url,) = _uris(card, x509.AuthorityInformationAccess, AIA.CA_ISSUERS)
    issuing_pem = fetch(issuing_url, "issuing.pem")
    issuing = x509.load_pem_x509_certificate(issuing_pem.read_bytes())
    (root_url,) = _uris(issuing, x509.AuthorityInformationAccess, AIA.CA_ISSUERS)
    root_pem = fetch(root_url, "root.pem")
    (card_crl_url,) = _uris(card, x509.CRLDistributionPoints)
    (issuing_crl_url,) = _uris(issuing, x509.CRLDistributionPoints)
    freshest = card.extensions.get_extension_for_class(x509.FreshestCRL).value
    (card_delta_url,) = [name.value for point in freshest for name in point.full_name]
    crls = tmp_path / "crls.pem"

    def fetch_crls():
        urls = (card_crl_url, card_delta_url, issuing_crl_url)
        crls.write_bytes(b"".join(fetch(url, f"{i}.crl").read_bytes() for i, url in enumerate(urls)))

    def verify():
        return subprocess.run(
            ["openssl", "verify", "-crl_check_all", "-use_deltas", "-x509_strict", "-CAfile", str(root_pem)]
            + ["-untrusted", str(issuing_pem), "-CRLfile", str(crls), str(card_pem)],
            capture_output=True,
            text=True,
        )

    fetch_crls()
    result = verify()
    assert result.returncode == 0 and f"{card_pem}: OK" in result.stdout, result.stdout + result.stderr

    services.certificate_revoke(certificate=row, reason="keyCompromise")  # commits: the delta follows
    fetch_crls()
    result = verify()
    assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr
