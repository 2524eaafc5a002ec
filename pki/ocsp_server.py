"""The dedicated OCSP responder process (``manage.py run_ocsp``): HTTP/1.1 for the OCSP endpoint only.

Django under gunicorn spends most of an OCSP request in the framework (about 400 answers/s from cache on two
cores). This process serves exactly ``/pki/ocsp`` (POST ``application/ocsp-request``) and
``/pki/ocsp/<url-encoded base64>`` (RFC 5019 GET) on an asyncio loop (uvloop), with the same answers and
headers as ``pki.ocsp_views``, from several processes on one port (SO_REUSEPORT, ``--processes``).

Where an answer comes from:

* The **database path** is ``pki.ocsp.respond``, exactly as the view does it: the certificate's current
  state and its stored answer in one query, a fresh signature on the OCSP token when needed.
* The **memory**: each process keeps, per request CertID, the last nonce-less answer about one issued
  certificate (from the database path), until that answer's refresh time (its half-life). A GET whose path
  (or a POST whose body) was seen is answered from there without parsing anything; a request with a nonce
  about a certificate in memory is signed at once on the token (its status from memory, the DER built
  here, no query). Memory is used only while this process's LISTEN connection to PostgreSQL is up:
  ``pki.services.certificate_revoke`` notifies ``ocsp.REVOKED_CHANNEL`` in its transaction, and the
  notification drops the certificate's entries. Notifications are read before every answer from memory,
  and while the LISTEN connection is down (not yet connected, broken, or silent past ``PING_TIMEOUT``)
  nothing is served from memory: everything goes to the database path, and memory is emptied before it is
  used again.

Only the OCSP token's PIN is needed (the CA and root PINs may be empty). PKCS#11 state and database
connections are opened in each process after the fork.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.utils
import hashlib
import logging
import os
import re
import select
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from django.db import connection, connections
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error

from . import hsm, ocsp, ocsp_views

logger = logging.getLogger(__name__)

PING_INTERVAL = 1.0  # seconds between two pings on the LISTEN connection
PING_TIMEOUT = 3.0  # a ping unanswered this long: the LISTEN connection is taken as down
RECONNECT_MAX = 5.0  # seconds between two attempts to reconnect, at most
MAX_HEAD = 8192  # bytes of request line and headers
HEAD_TIMEOUT = 10.0  # seconds to receive a request (its head and body)
KEEPALIVE_TIMEOUT = 5.0  # seconds an idle kept-alive connection stays open
MEMORY_MAX = 200_000  # entries and aliases a process keeps; past that memory is emptied
EXIT_CONFIG = 3  # a process that cannot start (token, bind): the supervisor stops rather than retry

_GET_PATH = re.compile(r"[A-Za-z0-9+/=%_ -]+")  # what the view's URL pattern accepts
_NONCE_OID = bytes.fromhex("06092b0601050507300102")  # id-pkix-ocsp-nonce
_BASIC_OID = bytes.fromhex("06092b0601050507300101")  # id-pkix-ocsp-basic
_REASONS = {
    200: b"OK",
    304: b"Not Modified",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    411: b"Length Required",
    413: b"Content Too Large",
    415: b"Unsupported Media Type",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    505: b"HTTP Version Not Supported",
}


# --- DER, by hand: the few structures of an answer to a nonce ---------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    if n < 0x100:
        return bytes((tag, 0x81, n)) + content
    if n < 0x10000:
        return bytes((tag, 0x82, n >> 8, n & 0xFF)) + content
    return bytes((tag, 0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF)) + content


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start, end) of the DER element at ``pos``; ValueError/IndexError unless minimal and complete."""
    tag, first = buf[pos], buf[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    elif first == 0x81:
        start, length = pos + 3, buf[pos + 2]
        if length < 0x80:
            raise ValueError("non-minimal length")
    elif first == 0x82:
        start, length = pos + 4, (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 0x100:
            raise ValueError("non-minimal length")
    else:
        raise ValueError("unsupported length")
    end = start + length
    if end > len(buf):
        raise ValueError("truncated")
    return tag, start, end


@dataclasses.dataclass(frozen=True)
class SimpleRequest:
    """The common shape of an OCSP request: one CertID, no other request field, at most a nonce."""

    cert_id: bytes  # the CertID DER
    nonce: bytes | None  # the nonce's extnValue content (an OCTET STRING element), or None


def parse_simple(der: bytes) -> SimpleRequest | None:
    """The request's CertID and nonce when it has the common shape (RFC 5019, or openssl's with a nonce);
    None for anything else (several certificates, other extensions, a signature, non-DER...), which the
    database path (``ocsp.respond``, asn1crypto, strict) then answers or refuses. Conservative: what is
    accepted here means the same to asn1crypto."""
    try:
        tag, start, end = _tlv(der, 0)
        if tag != 0x30 or end != len(der):
            return None
        tag, tbs_start, tbs_end = _tlv(der, start)  # tbsRequest
        if tag != 0x30 or tbs_end != end:  # no optionalSignature
            return None
        tag, list_start, list_end = _tlv(der, tbs_start)  # requestList (no version, no requestorName)
        if tag != 0x30:
            return None
        tag, req_start, req_end = _tlv(der, list_start)  # the one Request
        if tag != 0x30 or req_end != list_end:
            return None
        tag, _cid_start, cid_end = _tlv(der, req_start)  # its CertID, no singleRequestExtensions
        if tag != 0x30 or cid_end != req_end:
            return None
        cert_id = der[req_start:cid_end]
        if list_end == tbs_end:
            return SimpleRequest(cert_id, None)
        tag, ext_start, ext_end = _tlv(der, list_end)  # [2] requestExtensions
        if tag != 0xA2 or ext_end != tbs_end:
            return None
        tag, exts_start, exts_end = _tlv(der, ext_start)
        if tag != 0x30 or exts_end != ext_end:
            return None
        tag, one_start, one_end = _tlv(der, exts_start)  # exactly one Extension: the nonce
        if tag != 0x30 or one_end != exts_end:
            return None
        if der[one_start : one_start + len(_NONCE_OID)] != _NONCE_OID:
            return None
        pos = one_start + len(_NONCE_OID)
        if der[pos] == 0x01:  # critical: DER has it only when TRUE
            tag, b_start, b_end = _tlv(der, pos)
            if b_end - b_start != 1 or der[b_start] != 0xFF:
                return None
            pos = b_end
        tag, value_start, value_end = _tlv(der, pos)  # extnValue
        if tag != 0x04 or value_end != one_end:
            return None
        tag, _n_start, n_end = _tlv(der, value_start)  # the nonce: an OCTET STRING in it (RFC 8954)
        if tag != 0x04 or n_end != value_end:
            return None
        return SimpleRequest(cert_id, der[value_start:value_end])
    except (ValueError, IndexError):
        return None


def _bare_request(cert_id: bytes) -> bytes:
    """A request about ``cert_id`` alone, without nonce: what ``parse_simple`` accepts with nonce None."""
    return _der(0x30, _der(0x30, _der(0x30, _der(0x30, cert_id))))


def _generalized_time(seconds: int) -> bytes:
    return _der(0x18, time.strftime("%Y%m%d%H%M%SZ", time.gmtime(seconds)).encode())


def _integer(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return _der(0x02, value)


def _ecdsa_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return _der(0x30, _integer(raw[:half]) + _integer(raw[half:]))


# --- memory -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Entry:
    """The last nonce-less answer about one certificate for one CertID, and what an answer to a nonce
    about it needs."""

    certificate_id: int
    ca_pk: int
    cert_id: bytes
    status: bytes  # the SingleResponse's certStatus DER
    answer: ocsp.Answer
    expires: float  # time.time() of the answer's refresh_at
    next_update: float
    head_tail: bytes  # the constant headers of a 200 (Content-*, Last-Modified, Expires, ETag)
    etag: str
    aliases: list[bytes] = dataclasses.field(default_factory=list)


def _entry(answer: ocsp.Answer, cert_id: bytes) -> Entry | None:
    if (
        not answer.cacheable
        or answer.certificate_id is None
        or answer.refresh_at is None
        or answer.this_update is None
        or answer.next_update is None
    ):
        return None
    basic = asn1_ocsp.OCSPResponse.load(answer.der)["response_bytes"]["response"].parsed
    (single,) = basic["tbs_response_data"]["responses"]
    if single["cert_id"].dump() != cert_id:
        return None
    ca_pk = _ca_of(single)
    if ca_pk is None:
        return None
    tail = (
        f"Content-Type: {ocsp_views.CONTENT_TYPE}\r\n"
        f"Last-Modified: {ocsp_views.http_date(answer.this_update)}\r\n"
        f"Expires: {ocsp_views.http_date(answer.next_update)}\r\n"
        f"ETag: {answer.etag}\r\n"
    ).encode()
    return Entry(
        certificate_id=answer.certificate_id,
        ca_pk=ca_pk,
        cert_id=cert_id,
        status=single["cert_status"].dump(),
        answer=answer,
        expires=answer.refresh_at.timestamp(),
        next_update=answer.next_update.timestamp(),
        head_tail=tail,
        etag=answer.etag,
    )


def _ca_of(single: asn1_ocsp.SingleResponse) -> int | None:
    cid = single["cert_id"]
    algorithm = cid["hash_algorithm"]["algorithm"].native
    for ca in ocsp._authorities():
        if (
            ca.key_hashes.get(algorithm) == cid["issuer_key_hash"].native
            and ca.name_hashes.get(algorithm) == cid["issuer_name_hash"].native
        ):
            return ca.pk
    return None


class Memory:
    """Entries by CertID, aliases (a GET path, a POST body) to them, and by certificate for the drops.
    ``generation`` changes at every drop: an answer read from the database before a drop is not kept."""

    def __init__(self) -> None:
        self.by_cert_id: dict[bytes, Entry] = {}
        self.aliases: dict[bytes, Entry] = {}
        self.by_certificate: dict[int, list[Entry]] = {}
        self.generation = 0

    def __len__(self) -> int:
        return len(self.by_cert_id)

    def put(self, entry: Entry) -> None:
        if len(self.by_cert_id) + len(self.aliases) >= MEMORY_MAX:
            self.flush()
        old = self.by_cert_id.get(entry.cert_id)
        if old is not None:
            self._remove(old)
        self.by_cert_id[entry.cert_id] = entry
        self.by_certificate.setdefault(entry.certificate_id, []).append(entry)

    def alias(self, key: bytes, entry: Entry) -> None:
        if self.by_cert_id.get(entry.cert_id) is entry and len(entry.aliases) < 8:
            self.aliases[key] = entry
            entry.aliases.append(key)

    def _remove(self, entry: Entry) -> None:
        if self.by_cert_id.get(entry.cert_id) is entry:
            del self.by_cert_id[entry.cert_id]
        for key in entry.aliases:
            if self.aliases.get(key) is entry:
                del self.aliases[key]
        same = self.by_certificate.get(entry.certificate_id, [])
        if entry in same:
            same.remove(entry)
        if not same:
            self.by_certificate.pop(entry.certificate_id, None)

    def drop(self, certificate_ids: list[int]) -> None:
        self.generation += 1
        for pk in certificate_ids:
            for entry in list(self.by_certificate.get(pk, ())):
                self._remove(entry)

    def flush(self) -> None:
        self.generation += 1
        self.by_cert_id.clear()
        self.aliases.clear()
        self.by_certificate.clear()

    def notified(self, payload: str) -> None:
        """A notification of ``ocsp.REVOKED_CHANNEL``: certificate ids, or "*" (everything)."""
        try:
            ids = [int(part) for part in payload.split(",")] if payload != "*" else None
        except ValueError:
            ids = None
        if ids is None:
            self.flush()
            ocsp.forget()  # responders or CAs changed
        else:
            self.drop(ids)


# --- the LISTEN connection ----------------------------------------------------------------------------


def memory_usable(*, connected: bool, flushed: bool, ping_sent_at: float | None, now: float) -> bool:
    """Whether answers may be served from memory: only while the LISTEN connection is up (connected, and
    memory emptied since it was), and answering (no ping outstanding for more than ``PING_TIMEOUT``).
    Otherwise every request takes the database path."""
    if not (connected and flushed):
        return False
    return ping_sent_at is None or now - ping_sent_at < PING_TIMEOUT


def _listen_conninfo() -> dict[str, Any]:
    db = connection.settings_dict
    params: dict[str, Any] = {
        "dbname": db["NAME"],
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "connect_timeout": 3,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "application_name": "cpx-ocsp-listen",
    }
    return {k: v for k, v in params.items() if v is not None}


class Listener:
    """LISTEN ``ocsp.REVOKED_CHANNEL`` on a connection of its own, read without blocking (libpq)."""

    def __init__(self, memory: Memory, connect: Callable[[], Any] | None = None) -> None:
        self.memory = memory
        self._connect_fn = connect or self._connect
        self.conn: Any = None
        self.connected = False
        self.flushed = False
        self.ping_sent_at: float | None = None
        self._poll: Any = None
        self._fd = -1
        self._down = asyncio.Event()
        self._stopping = False

    def usable(self) -> bool:
        return memory_usable(
            connected=self.connected,
            flushed=self.flushed,
            ping_sent_at=self.ping_sent_at,
            now=time.monotonic(),
        )

    @staticmethod
    def _connect() -> Any:
        import psycopg

        conn = psycopg.connect(**_listen_conninfo(), autocommit=True)
        conn.execute(f"LISTEN {ocsp.REVOKED_CHANNEL}")
        conn.pgconn.nonblocking = 1
        return conn

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.2
        while not self._stopping:
            try:
                conn = await loop.run_in_executor(None, self._connect_fn)
            except Exception as exc:  # noqa: BLE001 - any failure: stay on the database path, retry
                logger.warning("OCSP: LISTEN connection failed (%s); answering from the database", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            delay = 0.2
            self._up(conn)
            self._down.clear()
            while self.connected and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._down.wait(), PING_INTERVAL)
                if self.connected:
                    self._ping()

    def _up(self, conn: Any) -> None:
        loop = asyncio.get_running_loop()
        self.conn = conn
        self._fd = conn.pgconn.socket
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        loop.add_reader(self._fd, self.readable)
        self.ping_sent_at = None
        self.connected = True
        self.memory.flush()  # whatever was kept before may have missed notifications
        self.flushed = True
        logger.info("OCSP: LISTEN %s up; answering from memory", ocsp.REVOKED_CHANNEL)
        self.readable()

    def down(self, why: str) -> None:
        if not self.connected:
            return
        logger.warning("OCSP: LISTEN connection down (%s); answering from the database", why)
        self.connected = False
        self.flushed = False
        self.memory.flush()
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._fd)
        with contextlib.suppress(Exception):
            self.conn.close()
        self.conn = None
        self._down.set()

    def _ping(self) -> None:
        if self.ping_sent_at is not None:
            if time.monotonic() - self.ping_sent_at >= PING_TIMEOUT:
                self.down("no answer to a ping")
            return
        try:
            self.conn.pgconn.send_query(b"SELECT 1")
            self.conn.pgconn.flush()
        except Exception as exc:  # noqa: BLE001
            self.down(f"ping: {exc}")
            return
        self.ping_sent_at = time.monotonic()

    def check(self) -> None:
        """Before an answer from memory: read any notification already arrived."""
        if self._poll is not None and self.connected and self._poll.poll(0):
            self.readable()

    def readable(self) -> None:
        if not self.connected:
            return
        from psycopg import pq

        pgconn = self.conn.pgconn
        try:
            pgconn.consume_input()
            while (notify := pgconn.notifies()) is not None:
                self.memory.notified(notify.extra.decode())
            while self.ping_sent_at is not None and not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:
                    self.ping_sent_at = None
                elif result.status != pq.ExecStatus.TUPLES_OK:
                    raise RuntimeError(f"ping: {result.error_message.decode(errors='replace')}")
            if pgconn.status != pq.ConnStatus.OK:
                raise RuntimeError("connection lost")
        except Exception as exc:  # noqa: BLE001 - EOF, reset...: the database path until reconnected
            self.down(str(exc) or type(exc).__name__)

    def stop(self) -> None:
        self._stopping = True
        self.down("stopping")
        self._down.set()


# --- answers ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _ResponderParts:
    responder_id: bytes
    signature_algorithm: bytes
    certs: bytes
    not_after: int


def _session_copy(key: Any) -> Any:
    """A session copy of a token key (C_CopyObject, CKA_TOKEN false): the same key, still sensitive and
    non-extractable, held by the module for this session only. SoftHSM2 re-reads and locks a token object's
    file at every use of it (about 30 system calls a signature), not a session object's. A module that
    refuses the copy signs with the token object."""
    try:
        # Its own label and id: ``hsm`` finds the token key by label, and must still find one key only.
        label = f"{key.label} (session copy)"
        return key.copy({Attribute.TOKEN: False, Attribute.LABEL: label, Attribute.ID: hsm.key_id(label)})
    except (PKCS11Error, NotImplementedError):
        return key


class Responder:
    """What a process answers, without the sockets: memory, the LISTEN state, the database path."""

    def __init__(self, memory: Memory | None = None, listener: Listener | None = None) -> None:
        self.memory = memory if memory is not None else Memory()
        self.listener = listener if listener is not None else Listener(self.memory)
        self._parts: dict[int, _ResponderParts] = {}
        self._keys: dict[tuple[int, str], Any] = {}
        self.stats = {"memory": 0, "nonce": 0, "database": 0}

    def usable(self) -> bool:
        if not self.listener.usable():
            return False
        self.listener.check()
        return self.listener.usable()

    def hit(self, key: bytes) -> Entry | None:
        """The entry of a GET path or POST body seen before, when memory may be used."""
        entry = self.memory.aliases.get(key)
        if entry is None or time.time() >= entry.expires or not self.usable():
            return None
        entry = self.memory.aliases.get(key)  # a notification just read may have dropped it
        if entry is not None:
            self.stats["memory"] += 1
        return entry

    def answer(self, der: bytes, alias: bytes | None = None) -> tuple[ocsp.Answer, Entry | None]:
        """The answer to a DER request, and the memory entry it came from (for its prebuilt headers)."""
        simple = parse_simple(der) if self.usable() else None
        if simple is None:
            return self._database(der), None
        entry = self.memory.by_cert_id.get(simple.cert_id)
        if entry is not None and time.time() >= entry.expires:
            entry = None
        if entry is None:
            generation = self.memory.generation
            fetched = self._database(der if simple.nonce is None else _bare_request(simple.cert_id))
            entry = _entry(fetched, simple.cert_id) if fetched.certificate_id is not None else None
            if entry is None or generation != self.memory.generation or not self.usable():
                return (fetched if simple.nonce is None else self._database(der)), None
            self.memory.put(entry)
        if simple.nonce is None:
            if alias is not None:  # the same path or body next time: no parsing at all
                self.memory.alias(alias, entry)
            self.stats["memory"] += 1
            return entry.answer, entry
        signed = self._sign_nonce(entry, simple.nonce)
        return (signed if signed is not None else self._database(der)), None

    def _database(self, der: bytes) -> ocsp.Answer:
        self.stats["database"] += 1
        try:
            return ocsp.respond(der)
        except Exception:
            logger.exception("OCSP: the database path failed")
            with contextlib.suppress(Exception):
                connection.close()
            return ocsp.unsuccessful("try_later")

    def _responder_parts(self, responder: ocsp.Responder) -> _ResponderParts:
        parts = self._parts.get(responder.row_pk)
        if parts is None:
            algorithm: dict[str, object] = {"algorithm": responder.signer.algorithm.signature_name}
            if responder.signer.algorithm.kind == "rsa":
                algorithm["parameters"] = asn1_core.Null()
            parts = _ResponderParts(
                responder_id=_der(0xA2, _der(0x04, responder.key_hash)),
                signature_algorithm=asn1_algos.SignedDigestAlgorithm(algorithm).dump(),
                certs=_der(0xA0, _der(0x30, responder.cert.dump())),
                not_after=int(responder.not_after.timestamp()),
            )
            if len(self._parts) > 16:
                self._parts.clear()
            self._parts[responder.row_pk] = parts
        return parts

    def _sign(self, responder: ocsp.Responder, tbs: bytes) -> bytes:
        """The signature of ``tbs`` by the responder key, on the OCSP token: the key object is kept (no
        lookup per signature) and EC digests are made here; anything else goes through ``hsm.sign``."""
        signer = responder.signer
        if signer.algorithm.kind != "ec":
            return signer.sign(tbs)
        try:
            with hsm.session(signer.tok) as session:
                key = self._keys.get((id(session), signer.label))
                if key is None:
                    key = _session_copy(
                        session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=signer.label)
                    )
                    if len(self._keys) > 16:
                        self._keys.clear()
                    self._keys[(id(session), signer.label)] = key
                digest = hashlib.new(signer.algorithm.hash().name, tbs).digest()
                return _ecdsa_der(bytes(key.sign(digest, mechanism=Mechanism.ECDSA)))
        except PKCS11Error:
            self._keys = {}
            return signer.sign(tbs)  # reopens a lost session once

    def _sign_nonce(self, entry: Entry, nonce: bytes) -> ocsp.Answer | None:
        """An answer to a nonce about a certificate in memory: its status from memory, thisUpdate now,
        signed now (the same structure ``ocsp._signed`` makes with asn1crypto)."""
        try:
            responder = ocsp.current_responder(entry.ca_pk)
            if responder is None:
                return None
            parts = self._responder_parts(responder)
            now = int(time.time())
            next_update = min(now + int(ocsp.GOOD_LIFETIME.total_seconds()), parts.not_after)
            this = _generalized_time(now)
            single = _der(
                0x30, entry.cert_id + entry.status + this + _der(0xA0, _generalized_time(next_update))
            )
            extensions = _der(0xA1, _der(0x30, _der(0x30, _NONCE_OID + _der(0x04, nonce))))
            tbs = _der(0x30, parts.responder_id + this + _der(0x30, single) + extensions)
            signature = self._sign(responder, tbs)
        except (hsm.TokenUnavailable, PKCS11Error):
            logger.exception("OCSP: the responder key cannot sign; trying the database path")
            return None
        basic = _der(0x30, tbs + parts.signature_algorithm + _der(0x03, b"\x00" + signature) + parts.certs)
        der = _der(0x30, b"\x0a\x01\x00" + _der(0xA0, _der(0x30, _BASIC_OID + _der(0x04, basic))))
        self.stats["nonce"] += 1
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        return ocsp.Answer(der, True, moment, dt.datetime.fromtimestamp(next_update, dt.UTC), cacheable=False)


# --- HTTP ---------------------------------------------------------------------------------------------


class _Clock:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.value = email.utils.formatdate(now, usegmt=True).encode()
        return self.value


_clock = _Clock()


def _simple(status: int, keep_alive: bool, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Length: 0\r\n%sConnection: %s\r\n\r\n" % (
        status,
        _REASONS[status],
        _clock.date(),
        extra,
        b"keep-alive" if keep_alive else b"close",
    )


def render(
    answer: ocsp.Answer, entry: Entry | None, method: str, if_none_match: str, keep_alive: bool
) -> bytes:
    """The HTTP response of an answer: the headers of ``ocsp_views`` (from the entry's, prebuilt, when
    it comes from memory)."""
    connection_header = b"Connection: keep-alive\r\n" if keep_alive else b"Connection: close\r\n"
    date = b"Date: " + _clock.date() + b"\r\n"
    if entry is not None and answer is entry.answer:
        max_age = max(0, int(entry.next_update - time.time()))
        cache = b"Cache-Control: max-age=%d, public, no-transform, must-revalidate\r\n" % max_age
        if method == "GET" and if_none_match and ocsp_views.matches(if_none_match, entry.etag):
            return (
                b"HTTP/1.1 304 Not Modified\r\n"
                + date
                + cache
                + entry.head_tail
                + connection_header
                + b"\r\n"
            )
        return b"".join(
            (
                b"HTTP/1.1 200 OK\r\n",
                date,
                cache,
                entry.head_tail,
                b"Content-Length: %d\r\n" % len(answer.der),
                connection_header,
                b"\r\n",
                answer.der,
            )
        )
    not_modified = ocsp_views.not_modified(answer, method, if_none_match)
    lines = [b"HTTP/1.1 304 Not Modified\r\n" if not_modified else b"HTTP/1.1 200 OK\r\n", date]
    lines += [f"{name}: {value}\r\n".encode() for name, value in ocsp_views.cache_headers(answer, _now())]
    if not not_modified:
        lines.append(
            f"Content-Type: {ocsp_views.CONTENT_TYPE}\r\nContent-Length: {len(answer.der)}\r\n".encode()
        )
    lines += [connection_header, b"\r\n"]
    if not not_modified:
        lines.append(answer.der)
    return b"".join(lines)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 (and 1.0), keep-alive and pipelining, for the OCSP paths only."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.pending: tuple[str, bytes, dict[bytes, bytes], bool, int] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no asyncio.Transport subclass
        self._arm(HEAD_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def _arm(self, seconds: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._timeout)

    def _timeout(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        try:
            while self.transport is not None and not self.transport.is_closing():
                if not self._step():
                    break
        except Exception:
            logger.exception("OCSP: request failed")
            self._finish(_simple(500, False), False)

    def _finish(self, response: bytes, keep_alive: bool) -> None:
        assert self.transport is not None
        self.transport.write(response)
        if keep_alive:
            self._arm(KEEPALIVE_TIMEOUT if not self.buffer else HEAD_TIMEOUT)
        else:
            self.buffer = b""
            self.transport.close()

    def _step(self) -> bool:
        """Handle one request of the buffer; False when more bytes are needed."""
        if self.pending is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._finish(_simple(431, False), False)
                return False
            if end > MAX_HEAD:
                self._finish(_simple(431, False), False)
                return False
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            parsed = self._head(head)
            if parsed is None:
                return False
            self._arm(HEAD_TIMEOUT)
            self.pending = parsed
        method, target, headers, keep_alive, length = self.pending
        if len(self.buffer) < length:
            return False
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        self.pending = None
        self._finish(self._respond(method, target, headers, keep_alive, body), keep_alive)
        return True

    def _head(self, head: bytes) -> tuple[str, bytes, dict[bytes, bytes], bool, int] | None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            self._finish(_simple(400, False), False)
            return None
        method_bytes, target, version = parts
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            self._finish(_simple(505 if version.startswith(b"HTTP/") else 400, False), False)
            return None
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                self._finish(_simple(400, False), False)
                return None
            headers[name.lower()] = value.strip()
        tokens = headers.get(b"connection", b"").lower()
        keep_alive = b"close" not in tokens if version == b"HTTP/1.1" else b"keep-alive" in tokens
        if b"transfer-encoding" in headers:
            self._finish(_simple(411, False), False)
            return None
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            length = -1
        if length < 0:
            self._finish(_simple(400, False), False)
            return None
        method = method_bytes.decode("ascii", "replace")
        if length > ocsp_views.OCSP_MAX_REQUEST:
            content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            # The view's order: a POST of another type is 415 whatever its size.
            wrong_type = method == "POST" and content_type != b"application/ocsp-request"
            self._finish(_simple(415 if wrong_type else 413, False), False)
            return None
        return method, target, headers, keep_alive, length

    def _respond(
        self, method: str, target: bytes, headers: dict[bytes, bytes], keep_alive: bool, body: bytes
    ) -> bytes:
        if target.startswith((b"http://", b"https://")):  # absolute-form
            target = b"/" + target.split(b"/", 3)[3] if target.count(b"/") >= 3 else b"/"
        path = target.split(b"?", 1)[0]
        if_none_match = headers.get(b"if-none-match", b"").decode("latin-1")
        responder = self.responder
        if method == "GET" and len(path) > 10:
            entry = responder.hit(b"G" + path)
            if entry is not None:
                return render(entry.answer, entry, method, if_none_match, keep_alive)
        if path in (b"/pki/ocsp", b"/pki/ocsp/"):
            encoded = ""
        elif path.startswith(b"/pki/ocsp/"):
            encoded = urllib.parse.unquote(path[10:].decode("latin-1"), encoding="latin-1")
            if not _GET_PATH.fullmatch(encoded):
                return _simple(404, keep_alive)
        elif path in (b"/healthz", b"/healthz/stats") and method == "GET":
            state = b"memory" if responder.listener.usable() else b"database"
            if path.endswith(b"/stats"):  # this process's counts: where the answers came from
                counts = " ".join(f"{k}={v}" for k, v in responder.stats.items())
                state += f" pid={os.getpid()} entries={len(responder.memory)} {counts}".encode()
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: %s\r\n\r\n%s" % (len(state), b"keep-alive" if keep_alive else b"close", state)
            )
        else:
            return _simple(404, keep_alive)
        if method == "POST":
            content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            if content_type != b"application/ocsp-request":
                return _simple(415, keep_alive)
            entry = responder.hit(b"P" + body)
            if entry is not None:
                return render(entry.answer, entry, method, if_none_match, keep_alive)
            answer, entry = responder.answer(body, alias=b"P" + body)
        elif method == "GET":
            der = ocsp_views.decode_get(encoded)
            if der is None or len(der) > ocsp_views.OCSP_MAX_REQUEST:
                answer, entry = ocsp.unsuccessful("malformed_request"), None
            else:
                answer, entry = responder.answer(der, alias=b"G" + path)
        else:
            return _simple(405, keep_alive, b"Allow: GET, POST\r\n")
        return render(answer, entry, method, if_none_match, keep_alive)


# --- processes ----------------------------------------------------------------------------------------


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio works, slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve(sock: socket.socket, ready: int = -1) -> int:
    """One responder process on a bound socket, until SIGTERM or SIGINT. Returns the exit status.
    ``ready``: a pipe to write one byte to once the OCSP token is open (then closed)."""
    # The database path is synchronous on purpose (one query, one signature, on the loop's thread: no
    # thread hand-off); Django refuses ORM calls from a thread running an event loop unless told so.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with hsm.session(hsm.token("ocsp")):
            pass
    except Exception as exc:  # noqa: BLE001 - no PIN, wrong PIN, no token, a module that does not load
        logger.error("OCSP: cannot open the OCSP token: %s", exc)
        return EXIT_CONFIG
    if ready >= 0:
        os.write(ready, b"1")
        os.close(ready)
    loop = _event_loop()
    asyncio.set_event_loop(loop)
    responder = Responder()
    server = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(responder), sock=sock))
    listening = loop.create_task(responder.listener.run())

    def stop() -> None:
        server.close()
        responder.listener.stop()
        loop.call_later(0.2, loop.stop)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    logger.info("OCSP: process %s serving", os.getpid())
    try:
        loop.run_forever()
    finally:
        listening.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        connections.close_all()
    return 0


def run(host: str, port: int, processes: int) -> int:
    """Bind, then run ``processes`` responder processes (forked; each with its own socket on the port,
    SO_REUSEPORT) and restart any that dies; SIGTERM/SIGINT stop them all. One process: no fork."""
    connections.close_all()  # nothing of the parent's is shared with the children
    sockets = [bind_socket(host, port) for _ in range(max(1, processes))]
    if len(sockets) == 1:
        return serve(sockets[0])
    children: dict[int, tuple[int, float]] = {}  # pid -> (socket index, started)
    stopping = False

    failures = [0] * len(sockets)

    def start(index: int) -> None:
        """Fork one process and wait until it has opened the token (or died): processes open the token one
        after the other (SoftHSM2 stores do not like several processes initializing them at once)."""
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            for n, sock in enumerate(sockets):
                if n != index:
                    sock.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = serve(sockets[index], ready_w)
            except BaseException:
                logger.exception("OCSP: process failed")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(ready_w)
        with contextlib.suppress(OSError):
            select.select([ready_r], [], [], 30)
        os.close(ready_r)
        children[pid] = (index, time.monotonic())

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for index in range(len(sockets)):
        start(index)
    status = 0
    deadline: float | None = None
    while children:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.1)
            if stopping:
                deadline = deadline or time.monotonic() + 10
                if time.monotonic() > deadline:
                    for child in list(children):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
            continue
        index, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            continue
        if code == EXIT_CONFIG and failures[index] < 2:  # maybe a store busy elsewhere: twice more
            failures[index] += 1
            logger.warning("OCSP: process %s could not start (exit %s); trying again", pid, code)
            time.sleep(0.5)
            start(index)
            continue
        if code == EXIT_CONFIG:
            logger.error("OCSP: a process could not start (exit %s); stopping", code)
            status = 1
            on_signal(signal.SIGTERM, None)
            continue
        logger.warning("OCSP: process %s ended (exit %s); restarting it", pid, code)
        if time.monotonic() - started < 1:
            time.sleep(1)
        start(index)
    return status
