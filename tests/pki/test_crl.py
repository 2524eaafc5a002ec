"""Base and delta CRLs (RFC 5280 §5.2.4-5.2.6), the root's CRL, and the revocation that only asks for a delta:
checked with the real openssl (-crl_check_all -use_deltas -x509_strict) and SoftHSM2."""

import datetime as dt
import subprocess

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from pki import crl, hsm, services, signing, tasks
from pki.models import AuditEvent, Certificate, CertificateAuthority, Crl
from tests.approvals.helpers import root_crl_approval

from .conftest import write_cert_pem

pytestmark = pytest.mark.django_db


def _latest(ca, kind):
    row = crl.latest(ca, kind)
    assert row is not None
    return row, x509.load_der_x509_crl(crl.der(row))


def _ext(parsed, cls):
    return parsed.extensions.get_extension_for_class(cls)


def _pem(tmp_path, name, der):
    path = tmp_path / name
    subprocess.run(["openssl", "crl", "-inform", "DER", "-out", str(path)], input=der, check=True)
    return path


def _verify(tmp_path, cert_pem, *crl_ders):
    """openssl verify of a card certificate against the root, the issuing CA and the given CRLs."""
    root, issuing = (
        CertificateAuthority.objects.get(slug=slug) for slug in (signing.ROOT_SLUG, signing.ISSUING_SLUG)
    )
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(signing.ca_certificate(root).public_bytes(serialization.Encoding.PEM))
    issuing_pem = tmp_path / "issuing.pem"
    issuing_pem.write_bytes(signing.ca_certificate(issuing).public_bytes(serialization.Encoding.PEM))
    crls = tmp_path / "crls.pem"
    crls.write_bytes(b"".join(_pem(tmp_path, f"{i}.crl", der).read_bytes() for i, der in enumerate(crl_ders)))
    result = subprocess.run(
        ["openssl", "verify", "-crl_check_all", "-use_deltas", "-x509_strict", "-CAfile", str(root_pem)]
        + ["-untrusted", str(issuing_pem), "-CRLfile", str(crls), str(cert_pem)],
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout + result.stderr


def _revoke(row, django_capture_on_commit_callbacks, reason="keyCompromise"):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificate_revoke(certificate=row, reason=reason) == 1


def test_base_delta_and_root_crls_carry_their_extensions(hierarchy, settings):
    root, issuing = hierarchy
    base_row, base = _latest(issuing, Crl.Kind.BASE)
    delta_row, delta = _latest(issuing, Crl.Kind.DELTA)
    root_row, root_crl = _latest(root, Crl.Kind.BASE)

    # One number sequence per CA: the delta follows its base, and says which base it completes.
    assert _ext(base, x509.CRLNumber).value.crl_number == base_row.number
    assert _ext(delta, x509.CRLNumber).value.crl_number == delta_row.number > base_row.number
    indicator = _ext(delta, x509.DeltaCRLIndicator)
    assert indicator.critical and indicator.value.crl_number == base_row.number == delta_row.base_number
    with pytest.raises(x509.ExtensionNotFound):
        _ext(base, x509.DeltaCRLIndicator)

    # The scope: the base URL (what the certificates' cRLDistributionPoints say), user certificates only;
    # the delta's IDP is the base's, byte for byte (openssl compares them).
    idp = _ext(base, x509.IssuingDistributionPoint)
    assert idp.critical and idp.value.only_contains_user_certs and not idp.value.only_contains_ca_certs
    assert [n.value for n in idp.value.full_name] == [signing.crl_url(issuing)]
    assert _ext(delta, x509.IssuingDistributionPoint) == idp
    # freshestCRL in the base only (RFC 5280 §5.2.6: never in a delta), pointing at the delta's URL.
    freshest = _ext(base, x509.FreshestCRL)
    assert not freshest.critical
    assert [n.value for p in freshest.value for n in p.full_name] == [signing.delta_crl_url(issuing)]
    with pytest.raises(x509.ExtensionNotFound):
        _ext(delta, x509.FreshestCRL)
    issuer = signing.ca_certificate(issuing)
    for parsed in (base, delta):
        aki = _ext(parsed, x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        assert parsed.is_signature_valid(issuer.public_key())  # signed on the token, over our own DER
    assert delta.next_update_utc - delta.last_update_utc <= crl.DELTA_LIFETIME + crl.BACKDATE

    # The root's: CA certificates only, one year, no delta.
    root_idp = _ext(root_crl, x509.IssuingDistributionPoint).value
    assert root_idp.only_contains_ca_certs and not root_idp.only_contains_user_certs
    lifetime = root_crl.next_update_utc - root_crl.last_update_utc
    assert dt.timedelta(days=364) < lifetime <= signing.ROOT_CRL_LIFETIME + crl.BACKDATE
    assert root_crl.is_signature_valid(signing.ca_certificate(root).public_key())
    with pytest.raises(x509.ExtensionNotFound):
        _ext(root_crl, x509.FreshestCRL)
    assert crl.latest(root, Crl.Kind.DELTA) is None


def test_a_card_certificate_points_at_its_delta(issue, hierarchy):
    cert = x509.load_der_x509_certificate(bytes(issue().der))
    freshest = cert.extensions.get_extension_for_class(x509.FreshestCRL)
    assert not freshest.critical
    assert [n.value for p in freshest.value for n in p.full_name] == [signing.delta_crl_url(hierarchy[1])]


def test_openssl_a_revocation_only_in_the_delta_fails_and_a_good_certificate_passes(
    issue, hierarchy, tmp_path, django_capture_on_commit_callbacks
):
    root, issuing = hierarchy
    good = issue("auth", card_number="80250000010000000001")
    bad = issue("auth", card_number="80250000010000000002")
    good_pem = write_cert_pem(tmp_path / "good.pem", bytes(good.der))
    bad_pem = write_cert_pem(tmp_path / "bad.pem", bytes(bad.der))
    base_row, _ = _latest(issuing, Crl.Kind.BASE)
    root_der = crl.der(crl.latest(root, Crl.Kind.BASE))

    _revoke(bad, django_capture_on_commit_callbacks)

    delta_row, delta = _latest(issuing, Crl.Kind.DELTA)
    base_der = crl.der(base_row)
    assert (
        x509.load_der_x509_crl(base_der).get_revoked_certificate_by_serial_number(int(bad.serial, 16)) is None
    )
    assert delta.get_revoked_certificate_by_serial_number(int(bad.serial, 16)) is not None
    assert delta_row.base_number == base_row.number

    code, out = _verify(tmp_path, bad_pem, root_der, base_der, crl.der(delta_row))
    assert code != 0 and "certificate revoked" in out, out
    code, out = _verify(tmp_path, good_pem, root_der, base_der, crl.der(delta_row))
    assert code == 0 and f"{good_pem}: OK" in out, out  # the whole chain, the root's CRL included
    code, out = _verify(tmp_path, bad_pem, root_der, base_der)  # without the delta: it is not in the base
    assert code == 0, out

    # The next base lists it, and a delta on that base is accepted with it.
    tasks.publish_base_crls()
    new_base_row, new_base = _latest(issuing, Crl.Kind.BASE)
    assert new_base.get_revoked_certificate_by_serial_number(int(bad.serial, 16)) is not None
    new_delta_row, _ = _latest(issuing, Crl.Kind.DELTA)
    assert new_delta_row.base_number == new_base_row.number < new_delta_row.number
    code, out = _verify(tmp_path, bad_pem, root_der, crl.der(new_base_row), crl.der(new_delta_row))
    assert code != 0 and "certificate revoked" in out, out


def test_each_publication_is_audited(hierarchy, issue, django_capture_on_commit_callbacks):
    _, issuing = hierarchy
    _revoke(issue(), django_capture_on_commit_callbacks)
    tasks.publish_base_crls()
    tasks.refresh_deltas()
    operations = list(AuditEvent.objects.filter(authority=issuing).values_list("operation", "detail"))
    numbers = {op: [d["number"] for o, d in operations if o == op] for op in ("crl", "delta_crl")}
    published = {
        kind: list(
            Crl.objects.filter(authority=issuing, kind=kind)
            .order_by("number")
            .values_list("number", flat=True)
        )
        for kind in ("base", "delta")
    }
    assert sorted(numbers["crl"]) == published["base"] and sorted(numbers["delta_crl"]) == published["delta"]
    assert AuditEvent.objects.filter(operation="root_crl", actor="command pki_init").count() >= 1


def test_expired_revoked_certificates_leave_both(issue, hierarchy, django_capture_on_commit_callbacks):
    _, issuing = hierarchy
    expired, live = issue(card_number="80250000010000000003"), issue(card_number="80250000010000000004")
    _revoke(expired, django_capture_on_commit_callbacks)
    _revoke(live, django_capture_on_commit_callbacks)
    Certificate.objects.filter(pk=expired.pk).update(not_after=timezone.now() - dt.timedelta(seconds=1))
    tasks.publish_base_crls()
    for kind in (Crl.Kind.BASE, Crl.Kind.DELTA):
        _, parsed = _latest(issuing, kind)
        assert parsed.get_revoked_certificate_by_serial_number(int(expired.serial, 16)) is None
        assert parsed.get_revoked_certificate_by_serial_number(int(live.serial, 16)) is not None


def test_no_gap_for_a_revocation_committed_while_the_base_was_built(issue, hierarchy, monkeypatch):
    """A revocation stamped before the base's snapshot but committed after it is not in the base: the deltas
    reach back DELTA_OVERLAP before the base, and further when an older transaction was open at the base."""
    _, issuing = hierarchy
    row = issue()
    base = crl.publish_base(issuing)
    # As if stamped 50 minutes before the base's thisUpdate and committed just after its snapshot.
    Certificate.objects.filter(pk=row.pk).update(
        revoked_at=base.this_update - dt.timedelta(minutes=50), revocation_reason="keyCompromise"
    )
    delta = crl.publish_delta(issuing)
    assert delta is not None
    assert x509.load_der_x509_crl(crl.der(delta)).get_revoked_certificate_by_serial_number(
        int(row.serial, 16)
    )

    # A transaction open for three hours when the base's rows are read moves its thisUpdate back.
    three_hours_ago = timezone.now() - dt.timedelta(hours=3)
    monkeypatch.setattr(crl, "_oldest_open_transaction", lambda: three_hours_ago)
    base = crl.publish_base(issuing)
    assert base.this_update - crl.DELTA_OVERLAP <= three_hours_ago
    assert x509.load_der_x509_crl(crl.der(base)).last_update_utc == base.this_update


def test_a_delta_already_covering_the_revocation_is_not_signed_again(issue, hierarchy):
    _, issuing = hierarchy
    services.certificate_revoke(certificate=issue())  # on_commit not run: no delta asked for yet
    committed = crl.db_now()
    first = tasks.publish_delta(issuing.pk, committed.isoformat())
    assert first is not None
    before = Crl.objects.count()
    assert tasks.publish_delta(issuing.pk, committed.isoformat()) is None  # covered: coalesced
    assert Crl.objects.count() == before
    later = crl.db_now() + dt.timedelta(seconds=2)
    assert tasks.publish_delta(issuing.pk, later.isoformat()) == first + 1  # not covered yet: signed


def test_the_revocation_signs_nothing_and_asks_the_signing_service(
    issue, hierarchy, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """With the signing service not inline and no worker: the revocation commits its rows and its audit,
    sends pki.publish_delta to the signing queue, and signs nothing itself."""
    _, issuing = hierarchy
    row = issue()
    settings.CPX_SIGNING_INLINE = False
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(settings.CPX_SIGNING_QUEUE)
    signatures = []
    monkeypatch.setattr(hsm, "sign", lambda *a, **k: signatures.append(a) or b"")
    crls_before, number_before = (
        Crl.objects.count(),
        CertificateAuthority.objects.get(pk=issuing.pk).crl_number,
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.certificate_revoke(certificate=row, reason="keyCompromise") == 1
        assert signatures == []
        assert Crl.objects.count() == crls_before
        assert CertificateAuthority.objects.get(pk=issuing.pk).crl_number == number_before
        assert Certificate.objects.get(pk=row.pk).revoked_at is not None
        assert AuditEvent.objects.filter(operation="revoke", serials=[row.serial]).count() == 1
        assert broker.llen(settings.CPX_SIGNING_QUEUE) == 1  # pki.publish_delta, for the signing service
        assert b"pki.publish_delta" in broker.lindex(settings.CPX_SIGNING_QUEUE, 0)
    finally:
        broker.delete(settings.CPX_SIGNING_QUEUE)


def test_the_root_crl_only_by_the_operator_command(hierarchy, settings, capsys):
    root, _ = hierarchy
    with pytest.raises(crl.RootCrlRefused):
        crl.publish_base(root)
    with pytest.raises(crl.RootCrlRefused):
        crl.publish_delta(root)
    before = Crl.objects.filter(authority=root).count()
    tasks.publish_base_crls()
    tasks.refresh_deltas()
    assert Crl.objects.filter(authority=root).count() == before  # the tasks never sign as the root

    call_command("pki_root", "crl", approval=root_crl_approval())  # approved by a second ANS operator
    assert "CRL #" in capsys.readouterr().out
    row, parsed = _latest(root, Crl.Kind.BASE)
    assert Crl.objects.filter(authority=root).count() == before + 1
    assert dt.timedelta(days=364) < parsed.next_update_utc - parsed.last_update_utc
    assert AuditEvent.objects.filter(operation="root_crl", actor="command pki_root crl").count() == 1

    settings.CPX_ROOT_TOKEN_PIN = ""  # a web or signing-service process: no root PIN
    with pytest.raises(CommandError, match="CPX_ROOT_TOKEN_PIN"):
        call_command("pki_root", "crl", approval=root_crl_approval())
    with pytest.raises(hsm.TokenUnavailable):
        crl.publish_root_crl(root, actor="test")


def test_the_crls_are_served_as_stored_with_caching_headers(client, hierarchy):
    root, issuing = hierarchy
    for path, kind, cap in (
        ("/pki/crl/personnes.crl", Crl.Kind.BASE, 3600),
        ("/pki/crl/personnes-delta.crl", Crl.Kind.DELTA, 60),
        ("/pki/crl/racine.crl", Crl.Kind.BASE, 3600),
    ):
        ca = root if "racine" in path else issuing
        row = crl.latest(ca, kind)
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
        assert response.content == crl.der(row)
        max_age = int(response["Cache-Control"].rsplit("max-age=", 1)[1])
        assert 0 < max_age <= cap
        assert response["ETag"] == f'"{ca.slug}-{row.number}"' and response["Last-Modified"]
        again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 304 and again.content == b""
    assert client.get("/pki/crl/racine-delta.crl").status_code == 404  # the root publishes no delta
    assert client.get("/pki/crl/nope-delta.crl").status_code == 404
    assert client.post("/pki/crl/personnes-delta.crl").status_code == 405
    page = client.get("/pki/").content.decode()
    assert f'href="{signing.delta_crl_url(issuing)}"' in page
    assert f'href="{signing.delta_crl_url(root)}"' not in page


def test_a_large_base_is_streamed_and_parses(hierarchy, tmp_path):
    """20,000 revoked certificates inserted by SQL: the base lists each (our own DER encoder); openssl reads
    it."""
    _, issuing = hierarchy
    count = 20_000
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO pki_certificate (authority_id, serial, card_number, usage, subject, not_before,
                                         not_after, revoked_at, revocation_reason, der)
            SELECT %s, to_hex((x'f0000000'::bigint << 24) + i), 'bulk', 'auth', 'CN=bulk', now(),
                   now() + interval '3 years', now() - interval '1 day' - i * interval '1 second',
                   (ARRAY['keyCompromise', 'superseded', 'unspecified', 'cessationOfOperation'])[i %% 4 + 1],
                   ''
            FROM generate_series(1, %s) AS i
            """,
            [issuing.pk, count],
        )
    base = crl.publish_base(issuing)
    assert base.entries == count
    parsed = x509.load_der_x509_crl(crl.der(base))
    assert len(parsed) == count and parsed.is_signature_valid(signing.ca_certificate(issuing).public_key())
    entry = parsed.get_revoked_certificate_by_serial_number((0xF0000000 << 24) + 1)
    assert entry is not None  # the high bit set: encoded with its leading zero byte
    reasons = {
        e.extensions.get_extension_for_class(x509.CRLReason).value.reason
        for e in list(parsed)[:8]
        if e.extensions
    }
    assert reasons == {
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
    }
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-noout", "-text"],
        input=crl.der(base),
        capture_output=True,
        check=True,
    ).stdout
    assert text.count(b"Serial Number:") == count


def test_dates_from_2050_are_generalized_time():
    assert crl._time(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)) == b"\x17\x0d491231235959Z"
    assert crl._time(dt.datetime(2050, 1, 1, tzinfo=dt.UTC)) == b"\x18\x0f20500101000000Z"
