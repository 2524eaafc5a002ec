"""The daily checkpoints: signed by the audit key (certified by the root), published under /pki/audit/,
and checked, with the chain, by ``manage.py audit_verify``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import log
from audit.models import AuditRecord, Checkpoint, CheckpointSigner
from config.celery import app
from core.tasks import run_signing_task
from pki import audit_log, signing
from pki.models import AuditEvent

TODAY = timezone.localdate()
TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture
def signer(hierarchy):
    row, _made = audit_log.ensure_audit_key(actor="test")
    return row


@pytest.fixture
def root_pem(tmp_path, hierarchy):
    path = tmp_path / "racine.pem"
    path.write_bytes(signing.ca_certificate(hierarchy[0]).public_bytes(serialization.Encoding.PEM))
    return path


def some_rows(count: int = 4) -> None:
    for n in range(count):
        log.append("test.happened", object_id=n)


def checkpoint(day: dt.date = TODAY) -> Checkpoint:
    made, _ = audit_log.make_checkpoint(actor="test", day=day)
    return made


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as failure:
        verify(*args)
    message = str(failure.value)
    assert message.startswith("audit log verification FAILED: ")
    return message


def write_copy(directory: Path, row: Checkpoint) -> Path:
    directory.mkdir(exist_ok=True)
    document = directory / row.file_name
    document.write_bytes(bytes(row.document))
    (directory / f"{row.file_name}.p7s").write_bytes(bytes(row.signature))
    return document


# --- the audit key ---------------------------------------------------------------------------------------


def test_the_root_certifies_the_audit_key_on_the_ca_token(signer, hierarchy):
    root = signing.ca_certificate(hierarchy[0])
    cert = x509.load_der_x509_certificate(bytes(signer.der))
    cert.verify_directly_issued_by(root)
    assert signer.key_label == "cpx-audit"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [audit_log.policy_oid()]
    issued = AuditEvent.objects.get(operation="issue", serials=[signer.serial])
    assert issued.authority == hierarchy[0] and issued.detail["key_label"] == "cpx-audit"


def test_it_is_certified_once_and_kept(signer):
    again, made = audit_log.ensure_audit_key(actor="test")
    assert (again, made) == (signer, False)


def test_pki_init_certifies_it(pki_dir, db):
    out = StringIO()
    call_command("pki_init", stdout=out)
    assert "audit key cpx-audit: certificate" in out.getvalue()
    assert CheckpointSigner.objects.count() == 1
    call_command("pki_init", stdout=out)
    assert CheckpointSigner.objects.count() == 1


def test_no_checkpoint_is_signed_without_a_certified_key(hierarchy):
    with pytest.raises(audit_log.AuditKeyMissing, match="pki_init"):
        audit_log.make_checkpoint(actor="test")


def test_the_command_certifies_the_key_when_missing(hierarchy):
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "certified by the root" in out.getvalue()
    assert Checkpoint.objects.filter(day=TODAY).exists()


# --- making and publishing ------------------------------------------------------------------------------


def test_a_checkpoint_signs_the_chains_head(signer):
    some_rows(3)
    seq, head = log.head()
    made = checkpoint()
    fields = json.loads(bytes(made.document))
    assert set(fields) == {"version", "day", "at", "seq", "hash", "previous"}
    assert (fields["version"], fields["day"], fields["seq"], fields["hash"]) == (
        1,
        TODAY.isoformat(),
        seq,
        head,
    )
    assert fields["previous"] == "0" * 64
    assert bytes(made.document) == log.canonical_json(fields)
    row = AuditRecord.objects.order_by("-seq").first()
    assert (row.action, row.object_id, row.seq) == ("audit.checkpoint_signed", TODAY.isoformat(), seq + 1)


def test_a_day_has_one_checkpoint_and_the_next_names_the_previous(signer):
    first = checkpoint()
    assert audit_log.make_checkpoint(actor="test", day=TODAY) == (first, False)
    some_rows(2)
    second = checkpoint(TOMORROW)
    assert json.loads(bytes(second.document))["previous"] == audit_log.digest(bytes(first.document))
    with pytest.raises(ValueError, match="earlier day"):
        audit_log.make_checkpoint(actor="test", day=TODAY - dt.timedelta(days=1))


def test_openssl_verifies_a_checkpoint_against_the_root(signer, root_pem, tmp_path):
    some_rows(2)
    document = write_copy(tmp_path / "copies", checkpoint())
    command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{document}.p7s"]
    command += ["-content", str(document), "-CAfile", str(root_pem), "-purpose", "any"]
    result = subprocess.run(command, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == document.read_bytes()
    document.write_bytes(document.read_bytes().replace(b'"seq":', b'"seq":1'))
    assert subprocess.run(command, capture_output=True).returncode != 0


def test_the_checkpoints_are_published_under_pki_audit(signer, client):
    first = checkpoint()
    second = checkpoint(TOMORROW)
    listing = client.get("/pki/audit/index.json").json()
    assert [c["day"] for c in listing["checkpoints"]] == [TODAY.isoformat(), TOMORROW.isoformat()]
    assert listing["checkpoints"][0]["document"].endswith(f"/pki/audit/{first.file_name}")
    document = client.get(f"/pki/audit/{first.file_name}")
    assert document["Content-Type"] == "application/json"
    assert document.content == bytes(first.document)
    signature = client.get(f"/pki/audit/{first.file_name}.p7s")
    assert signature["Content-Type"] == "application/pkcs7-signature"
    assert signature.content == bytes(first.signature)
    assert client.get("/pki/audit/latest.json").content == bytes(second.document)
    assert client.get("/pki/audit/latest.json.p7s").content == bytes(second.signature)
    assert first.file_name in client.get("/pki/audit/").content.decode()
    assert client.get("/pki/audit/checkpoint-1999-01-01.json").status_code == 404
    assert "/pki/audit/" in client.get("/pki/").content.decode()  # linked from the PKI's index


def test_the_task_runs_on_the_signing_service_daily(signer):
    seq = log.head()[0]
    assert run_signing_task("pki.audit_checkpoint") == {"day": TODAY.isoformat(), "seq": seq, "made": True}
    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == "pki.audit_checkpoint"]
    assert len(entries) == 1
    schedule = entries[0]["schedule"]
    assert (schedule.hour, schedule.minute) == ({23}, {55})
    assert app.amqp.router.route({}, "pki.audit_checkpoint")["queue"].name == "signing"


# --- audit_verify ---------------------------------------------------------------------------------------


def test_the_log_and_its_checkpoints_verify(signer, tmp_path):
    start = log.head()[0]  # the PKI's ceremony wrote its rows
    some_rows(3)
    write_copy(tmp_path / "copies", checkpoint())
    some_rows(2)
    checkpoint(TOMORROW)
    out = verify("--copies", str(tmp_path / "copies"))
    seq, head = log.head()
    assert seq == start + 7
    assert out.startswith(f"audit log verified: {seq} rows, head row {seq} hash {head}; ")
    latest = f"checkpoint-{TOMORROW.isoformat()}.json"
    assert f"3 checkpoint(s) verified, the latest ({latest}) at row {start + 6}" in out


def test_an_altered_row_is_named(signer, tamper):
    start = log.head()[0]
    some_rows(4)
    checkpoint()
    tamper("UPDATE audit_auditrecord SET object_id = 'forged' WHERE seq = %s", [start + 2])
    message = verify_fails()
    assert f"row {start + 2} (test.happened, " in message and "was changed" in message


def test_a_deleted_row_is_named(signer, tamper):
    start = log.head()[0]
    some_rows(4)
    checkpoint()
    tamper("DELETE FROM audit_auditrecord WHERE seq = %s", [start + 3])
    assert verify_fails().endswith(f"row {start + 3} is missing (the next row is {start + 4})")


def test_a_truncated_tail_is_detected_against_the_checkpoint(signer, tamper):
    start = log.head()[0]
    some_rows(4)
    made = checkpoint()  # signs row start + 4; its own audit row follows it
    tamper("DELETE FROM audit_auditrecord WHERE seq > %s", [start + 2])
    assert log.verify().ok  # the chain alone ends plausibly
    message = verify_fails()
    assert (
        f"the chain ends at row {start + 2}, but {made.file_name} signed a chain of {start + 4} rows"
        in message
    )


def test_a_tampered_published_checkpoint_fails(signer, tamper):
    some_rows(2)
    made = checkpoint()
    forged = bytes(made.document).replace(f'"seq":{made.seq}'.encode(), f'"seq":{made.seq - 1}'.encode())
    assert forged != bytes(made.document)
    tamper("UPDATE audit_checkpoint SET document = %s, seq = seq - 1 WHERE id = %s", [forged, made.pk])
    message = verify_fails()
    assert f"{made.file_name}: signature check failed: the document is not the one signed" in message


def test_a_tampered_copy_fails(signer, tmp_path):
    some_rows(2)
    made = checkpoint()
    document = write_copy(tmp_path / "copies", made)
    document.write_bytes(bytes(made.document).replace(b'"seq":', b'"seq":1'))
    message = verify_fails("--copies", str(tmp_path / "copies"))
    assert f"{document}: signature check failed" in message


def test_a_checkpoint_removed_from_the_publication_is_caught_by_a_copy(signer, tamper, tmp_path):
    some_rows(2)
    first = checkpoint()
    write_copy(tmp_path / "copies", first)
    tamper("DELETE FROM audit_checkpoint WHERE id = %s", [first.pk])
    message = verify_fails("--copies", str(tmp_path / "copies"))
    assert "a signed checkpoint that is no longer published (removed)" in message


def test_a_checkpoint_removed_between_two_others_breaks_their_chain(signer, tamper):
    checkpoint()
    middle = checkpoint(TOMORROW)
    last = checkpoint(TOMORROW + dt.timedelta(days=1))
    tamper("DELETE FROM audit_checkpoint WHERE id = %s", [middle.pk])
    message = verify_fails()
    assert f"{last.file_name}: does not follow checkpoint-{TODAY.isoformat()}.json" in message


def test_a_checkpoint_signed_by_another_platform_key_is_refused(signer, hierarchy, tamper):
    """The issuing CA's key is on the same token, and the root issued its certificate: not the audit key."""
    made = checkpoint()
    other = signing.sign_data(hierarchy[1], bytes(made.document))
    tamper("UPDATE audit_checkpoint SET signature = %s WHERE id = %s", [other, made.pk])
    message = verify_fails()
    assert "the signer's certificate is a CA's" in message


def test_the_checkpoints_are_checked_against_a_given_root(signer, tmp_path, pki_dir):
    checkpoint()
    stranger = tmp_path / "stranger.pem"
    key_cert = x509.load_der_x509_certificate(bytes(signer.der))  # not the root: nothing it signed passes
    stranger.write_bytes(key_cert.public_bytes(serialization.Encoding.PEM))
    message = verify_fails("--ca-file", str(stranger))
    assert "not issued by the root CA" in message
