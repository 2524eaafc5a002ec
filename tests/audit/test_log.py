"""The hash-chained audit log: appending, the database's refusal of any change, and verification."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import threading
import uuid

import pytest
from django.db import DatabaseError, connection, connections, transaction

from audit import log
from audit.models import AuditRecord
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def some_rows(count: int = 5) -> list[AuditRecord]:
    return [
        log.append("test.happened", object_type="thing", object_id=n, detail={"n": n}) for n in range(count)
    ]


def documented_hash(row: AuditRecord) -> str:
    """The hash as docs/audit_log.md tells an outsider to compute it, written here independently."""
    at = row.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {
        "v": 1,
        "seq": row.seq,
        "at": at,
        "action": row.action,
        "actor_id": row.actor_id,
        "actor": row.actor_name,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "authority_id": row.authority_id,
        "detail": row.detail,
        "prev_hash": row.prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- appending -----------------------------------------------------------------------------------------


def test_rows_are_numbered_from_one_and_each_names_the_previous_hash():
    rows = some_rows(3)
    assert [row.seq for row in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert len({row.hash for row in rows}) == 3


def test_the_hash_is_the_documented_encoding_of_the_stored_row():
    user = UserFactory(username="opérateur")
    log.append(
        "card.activated",
        actor=user,
        object_type="card",
        object_id=42,
        authority_id=7,
        detail={"méthode": "preuve", "nested": {"b": [1, True, None], "a": "é"}},
    )
    row = AuditRecord.objects.get()
    assert row.actor_name == "opérateur" and row.actor_id == user.pk and row.object_id == "42"
    assert row.hash == documented_hash(row)


def test_an_append_rolls_back_with_its_transaction_and_leaves_no_gap():
    log.append("test.first")
    with pytest.raises(RuntimeError), transaction.atomic():
        log.append("test.rolled_back")
        raise RuntimeError("the change fails")
    second = log.append("test.second")
    assert second.seq == 2
    assert list(AuditRecord.objects.values_list("action", flat=True)) == ["test.first", "test.second"]
    assert log.verify().ok


def test_an_action_is_a_dotted_lower_case_name():
    for bad in ("signed_in", "Card.Activated", "card activated", "card.", ""):
        with pytest.raises(ValueError, match="dotted"):
            log.append(bad)
    assert not AuditRecord.objects.exists()


def test_detail_is_stored_as_the_database_gives_it_back():
    """Dates, UUIDs, decimals and floats become strings before hashing: what is read back hashes the same."""
    ident = uuid.uuid4()
    row = log.append(
        "test.typed",
        detail={"when": dt.date(2026, 3, 1), "id": ident, "amount": decimal.Decimal("12.50"), "share": 0.05},
    )
    assert row.detail == {"when": "2026-03-01", "id": str(ident), "amount": "12.50", "share": "0.05"}
    stored = AuditRecord.objects.get()
    assert stored.detail == row.detail and documented_hash(stored) == stored.hash
    assert log.verify().ok


def test_the_actor_may_be_a_process_named_by_a_string_or_nobody():
    named = log.append("test.by_process", actor="task pki.publish_delta")
    nobody = log.append("test.by_nobody")
    assert (named.actor_id, named.actor_name) == (None, "task pki.publish_delta")
    assert (nobody.actor_id, nobody.actor_name) == (None, "")


def test_a_user_who_acted_may_be_deleted_and_the_row_stays_unchanged():
    user = UserFactory(username="leaving")
    row = log.append("test.acted", actor=user)
    user.delete()
    stored = AuditRecord.objects.get(pk=row.pk)
    assert (stored.actor_id, stored.actor_name, stored.hash) == (row.actor_id, "leaving", row.hash)
    assert log.verify().ok


def test_the_append_reads_one_row_and_inserts_one(django_assert_num_queries):
    some_rows(3)
    with django_assert_num_queries(3):  # the lock, the last row (by primary key), the insert
        log.append("test.counted")


# --- the database refuses every change ------------------------------------------------------------------


def refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(error.value)


def test_an_update_through_raw_sql_is_refused():
    rows = some_rows(2)
    message = refused(f"UPDATE audit_auditrecord SET action = 'test.hidden' WHERE seq = {rows[0].seq}")
    assert "append-only: UPDATE on audit_auditrecord refused" in message
    assert AuditRecord.objects.get(seq=1).action == "test.happened"


def test_a_delete_through_raw_sql_is_refused():
    some_rows(2)
    message = refused("DELETE FROM audit_auditrecord WHERE seq = 2")
    assert "append-only: DELETE on audit_auditrecord refused" in message
    assert AuditRecord.objects.count() == 2


def test_a_truncate_is_refused_unless_a_test_database_session_asks():
    some_rows(1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL cpx.audit_allow_truncate = off")
    message = refused("TRUNCATE audit_auditrecord")
    assert "append-only: TRUNCATE on audit_auditrecord refused" in message
    assert AuditRecord.objects.count() == 1


def test_the_orm_cannot_change_or_delete_a_row_either():
    row = some_rows(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditRecord.objects.filter(pk=row.pk).update(action="test.hidden")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditRecord.objects.filter(pk=row.pk).delete()


# --- verification --------------------------------------------------------------------------------------


def test_an_intact_chain_verifies():
    rows = some_rows(7)
    result = log.verify(chunk_size=2)  # streamed in chunks smaller than the log
    assert result.ok and result.rows == 7
    assert (result.last_seq, result.last_hash) == (7, rows[-1].hash)


def test_an_empty_log_verifies():
    assert log.verify() == log.Verification(0, 0, "0" * 64, None)


def test_a_changed_field_is_named_by_its_row(tamper):
    some_rows(5)
    tamper("UPDATE audit_auditrecord SET detail = '{\"n\": 99}' WHERE seq = 3")
    problem = log.verify().problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "changed")
    assert problem.message.startswith("row 3 (test.happened, ") and "was changed" in problem.message


@pytest.mark.parametrize("column", ["action", "actor_name", "object_type", "object_id", "at", "authority_id"])
def test_every_hashed_column_is_covered(tamper, column):
    some_rows(2)
    value = {"at": "2020-01-01T00:00:00Z", "authority_id": 5}.get(column, "test.forged")
    tamper(f"UPDATE audit_auditrecord SET {column} = %s WHERE seq = 1", [value])
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (1, "changed")


def test_a_deleted_row_is_named(tamper):
    some_rows(5)
    tamper("DELETE FROM audit_auditrecord WHERE seq = 2")
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "missing")
    assert problem.message == "row 2 is missing (the next row is 3)"


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(tamper):
    rows = some_rows(4)
    forged = log.row_hash(
        **{name: getattr(rows[1], name) for name in log.HASHED if name != "detail"},
        detail={"n": 1000},
        prev_hash=rows[1].prev_hash,
    )
    tamper("UPDATE audit_auditrecord SET detail = %s, hash = %s WHERE seq = 2", ['{"n": 1000}', forged])
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "link")
    assert "broken link" in problem.message


def test_a_chain_rewritten_from_a_row_on_disagrees_with_an_anchor(tamper):
    """Whoever rewrites every hash after a change passes the chain check, but not a checkpoint's."""
    rows = some_rows(3)
    anchor = log.Anchor(3, rows[2].hash, "checkpoint-2026-03-01.json")
    tamper("DELETE FROM audit_auditrecord WHERE seq >= 2")
    log.append("test.forged")
    log.append("test.forged")
    problem = log.verify(anchors=[anchor]).problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "checkpoint")
    assert "checkpoint-2026-03-01.json" in problem.message


def test_a_cut_tail_is_detected_against_an_anchor(tamper):
    rows = some_rows(5)
    assert log.verify(anchors=[log.Anchor(5, rows[4].hash, "checkpoint-x")]).ok
    tamper("DELETE FROM audit_auditrecord WHERE seq > 3")
    assert log.verify().ok  # the chain alone cannot tell: its end is a plausible end
    problem = log.verify(anchors=[log.Anchor(5, rows[4].hash, "checkpoint-x")]).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "truncated")
    assert problem.message == (
        "the chain ends at row 3, but checkpoint-x signed a chain of 5 rows: rows 4..5 were removed"
    )


# --- appenders at once -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_take_turns_and_never_fork():
    errors: list[Exception] = []

    def appender(name: str) -> None:
        try:
            for n in range(15):
                with transaction.atomic():
                    log.append("test.concurrent", object_id=f"{name}-{n}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=appender, args=(str(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(AuditRecord.objects.values_list("seq", flat=True)) == list(range(1, 61))
    assert log.verify().ok
