"""Append to the audit log, and verify it: rows chained by hash, in one gapless sequence.

``append`` runs inside the caller's transaction (a change and its audit row commit or roll back together).
Appenders take turns on a transaction-level advisory lock, held until their transaction ends: the row read
as "last" is then the last committed one, so ``seq`` has no gap and no two rows share a predecessor. The
price is that appenders wait for each other's commit: call ``append`` late in a long transaction.

The canonical encoding of a row (what its hash covers) is in docs/audit_log.md; ``canonical`` is its one
implementation, and ``verify`` recomputes every hash with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditRecord

GENESIS = "0" * 64  # the prev_hash of row 1
FORMAT = 1  # the "v" of the canonical encoding
LOCK = 0x43505841  # "CPXA": the appenders' advisory lock
ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
CHUNK = 2000  # rows fetched per round trip by verify


# --- the canonical encoding ----------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """JSON, keys sorted, no whitespace, UTF-8 (not \\u escapes): one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def plain_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` as the JSON the database will give back: dates, UUIDs and decimals as Django encodes them
    (strings), tuples as lists, and floats as the string of their shortest form (a float does not survive
    jsonb and every JSON library alike; a string does)."""
    loaded = json.loads(json.dumps(dict(detail), cls=DjangoJSONEncoder))
    return _no_floats(loaded)


def _no_floats(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {key: _no_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_floats(item) for item in value]
    return value


def timestamp(moment: dt.datetime) -> str:
    """UTC, to the microsecond: ``2026-03-01T08:15:00.123456Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    seq: int,
    at: dt.datetime,
    action: str,
    actor_id: int | None,
    actor_name: str,
    object_type: str,
    object_id: str,
    authority_id: int | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes a row's hash is the SHA-256 of (docs/audit_log.md)."""
    return canonical_json(
        {
            "v": FORMAT,
            "seq": seq,
            "at": timestamp(at),
            "action": action,
            "actor_id": actor_id,
            "actor": actor_name,
            "object_type": object_type,
            "object_id": object_id,
            "authority_id": authority_id,
            "detail": detail,
            "prev_hash": prev_hash,
        }
    )


def row_hash(**fields: Any) -> str:
    return hashlib.sha256(canonical(**fields)).hexdigest()


HASHED = (
    "seq",
    "at",
    "action",
    "actor_id",
    "actor_name",
    "object_type",
    "object_id",
    "authority_id",
    "detail",
)


# --- appending -----------------------------------------------------------------------------------------


def _actor(actor: Any) -> tuple[int | None, str]:
    """(user id, name) of a user, a process named by a string ("task pki.publish_delta"), or nobody."""
    if actor is None:
        return None, ""
    if isinstance(actor, str):
        return None, actor[:200]
    if not getattr(actor, "is_authenticated", False):
        return None, ""
    return actor.pk, actor.get_username()[:200]


def head() -> tuple[int, str]:
    """(seq, hash) of the last committed row; (0, GENESIS) for an empty log."""
    last = AuditRecord.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last is not None else (0, GENESIS)


def append(
    action: str,
    *,
    actor: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    authority_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one row, chained to the last, in the caller's transaction (rolled back with it).

    ``actor``: a user, a string naming a process, or None. ``detail``: JSON-able (see ``plain_detail``).
    Costs one indexed read and one insert, but holds the appenders' lock until the transaction ends."""
    if not ACTION.fullmatch(action):
        raise ValueError(f"an audit action is dotted lower-case words (certificate.issued), not {action!r}")
    actor_id, actor_name = _actor(actor)
    fields: dict[str, Any] = {
        "action": action,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "object_type": object_type,
        "object_id": str(object_id),
        "authority_id": authority_id,
        "detail": plain_detail(detail or {}),
    }
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        last_seq, last_hash = head()
        fields.update(seq=last_seq + 1, at=timezone.now())
        digest = row_hash(**fields, prev_hash=last_hash)
        return AuditRecord.objects.create(**fields, prev_hash=last_hash, hash=digest)


# --- verifying -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """What a checkpoint says the chain held: row ``seq`` had ``hash`` (``name``: the checkpoint's)."""

    seq: int
    hash: str
    name: str


@dataclass(frozen=True)
class Problem:
    seq: int  # the first row that is wrong (or missing)
    kind: str  # "changed", "missing", "link", "checkpoint", "truncated"
    message: str


@dataclass(frozen=True)
class Verification:
    rows: int
    last_seq: int
    last_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _check_row(
    row: dict[str, Any], expected_seq: int, prev: str, anchors: dict[int, Anchor]
) -> Problem | None:
    seq = row["seq"]
    if seq != expected_seq:
        return Problem(expected_seq, "missing", f"row {expected_seq} is missing (the next row is {seq})")
    described = f"row {seq} ({row['action']}, {timestamp(row['at'])})"
    if row_hash(**{name: row[name] for name in HASHED}, prev_hash=row["prev_hash"]) != row["hash"]:
        return Problem(seq, "changed", f"{described} was changed: its content does not match its hash")
    if row["prev_hash"] != prev:
        return Problem(
            seq, "link", f"{described}: its prev_hash is not the hash of row {seq - 1} (broken link)"
        )
    anchor = anchors.get(seq)
    if anchor is not None and anchor.hash != row["hash"]:
        return Problem(
            seq, "checkpoint", f"{described} is not the row {anchor.name} signed (hash {anchor.hash[:16]}…)"
        )
    return None


def verify(*, anchors: Iterable[Anchor] = (), chunk_size: int = CHUNK) -> Verification:
    """Walk the whole chain in seq order (streamed from a server-side cursor: memory stays flat) and
    report the first row that is wrong: a content that does not match its hash, a missing seq, a broken
    link, a hash other than a checkpoint's; or a chain shorter than a checkpoint says it was."""
    by_seq = {anchor.seq: anchor for anchor in anchors}
    rows, prev, expected = 0, GENESIS, 1
    with transaction.atomic():  # one snapshot, a cursor that is not materialized WITH HOLD
        values = AuditRecord.objects.order_by("seq").values(*HASHED, "prev_hash", "hash")
        for row in values.iterator(chunk_size=chunk_size):
            problem = _check_row(row, expected, prev, by_seq)
            if problem is not None:
                return Verification(rows, expected - 1, prev, problem)
            rows, prev, expected = rows + 1, row["hash"], row["seq"] + 1
    last = expected - 1
    beyond = [anchor for anchor in by_seq.values() if anchor.seq > last]
    if beyond:
        anchor = max(beyond, key=lambda a: a.seq)
        message = (
            f"the chain ends at row {last}, but {anchor.name} signed a chain of {anchor.seq} rows: "
            f"rows {last + 1}..{anchor.seq} were removed"
        )
        return Verification(rows, last, prev, Problem(last + 1, "truncated", message))
    if 0 in by_seq and by_seq[0].hash != GENESIS:
        return Verification(rows, last, prev, Problem(1, "checkpoint", f"{by_seq[0].name} has a bad hash"))
    return Verification(rows, last, prev, None)
