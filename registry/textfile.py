"""Reading the published text files line by line: plain or zipped, UTF-8 (with or without BOM),
Windows-1252 or ISO-8859-1, CRLF or LF, in constant memory.

The encoding is decided on the stream itself: every line is decoded as UTF-8 until one is not; from that
line on the file is read as Windows-1252 (the lines before were ASCII, identical in every candidate). A line
that is not UTF-8 after lines that were (non-ASCII) UTF-8 means mixed encodings: the file is refused.
Windows-1252 and ISO-8859-1 agree on every byte but 0x80-0x9F, so the label says ``cp1252`` only when such a
byte was seen.
"""

from __future__ import annotations

import codecs
import hashlib
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _

from core.errors import InvalidInput

CHUNK = 1 << 20
BOM = codecs.BOM_UTF8
# Bytes that Windows-1252 leaves undefined: read as their ISO-8859-1 (C1 control) meaning.
_C1 = bytes(range(0x80, 0xA0))


class FileRefused(InvalidInput):
    """The file as a whole is unusable (or refused by a rule of the import, such as the deactivation guard);
    the message names the file and the problem."""

    code = "file_refused"


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("cpx-latin1-fallback", _latin1_fallback)


@dataclass
class TextStream:
    """What the reader learnt about a file while reading it (valid once the lines are consumed)."""

    path: Path
    encoding: str = "utf-8"
    sha256: str = ""
    ends_with_newline: bool = True
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)
    _seen_utf8: bool = False
    _seen_c1: bool = False

    def refuse(self, problem: str) -> FileRefused:
        return FileRefused(f"{self.path}: {problem}")


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes; for a .zip, its one text member (as ANS publishes them)."""
    if not path.exists():
        raise FileRefused(_("%(path)s: no such file") % {"path": path})
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            yield handle
        return
    try:
        with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as handle:
            yield handle  # type: ignore[misc]
    except (zipfile.BadZipFile, zlib.error, EOFError, zipfile.LargeZipFile) as exc:
        raise FileRefused(
            _("%(path)s: damaged zip archive (%(error)s)") % {"path": path, "error": exc}
        ) from exc


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    texts = [name for name in names if name.lower().endswith((".txt", ".csv"))] or names
    if len(texts) != 1:
        raise FileRefused(
            _("%(path)s: the zip archive must hold exactly one text file, not %(count)d")
            % {"path": path, "count": len(texts)}
        )
    return texts[0]


def read_lines(stream: TextStream, handle: BinaryIO) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without its line end), counting from 1 for the first line."""
    number = 0
    pending = b""
    first = True
    while chunk := handle.read(CHUNK):
        stream._hash.update(chunk)
        if b"\x00" in chunk:
            raise stream.refuse(_("contains NUL bytes: not a text file (undecodable)"))
        if first:
            chunk, first = _strip_bom(stream, chunk), False
        block = pending + chunk
        cut = block.rfind(b"\n") + 1
        pending = block[cut:]
        for line in _decode_block(stream, block[:cut], number):
            number += 1
            yield number, line
    stream.ends_with_newline = not pending
    if pending:
        yield number + 1, _decode_block(stream, pending + b"\n", number)[0]
    stream.sha256 = stream._hash.hexdigest()


def _strip_bom(stream: TextStream, chunk: bytes) -> bytes:
    if chunk.startswith(BOM):
        stream.encoding = "utf-8-sig"
        stream._seen_utf8 = True  # a BOM promises UTF-8 throughout
        return chunk[len(BOM) :]
    return chunk


def _decode_block(stream: TextStream, block: bytes, before: int) -> list[str]:
    """Decode whole lines at once (fast path), or line by line to find where UTF-8 stops."""
    if not block:
        return []
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    if stream.encoding.startswith("utf-8"):
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return _decode_lines(stream, block, before)
        stream._seen_utf8 = stream._seen_utf8 or not block.isascii()
        return text.split("\n")[:-1]
    return _decode_single_byte(stream, block).split("\n")[:-1]


def _decode_lines(stream: TextStream, block: bytes, before: int) -> list[str]:
    lines = []
    for offset, raw in enumerate(block.split(b"\n")[:-1], start=before + 1):
        if stream.encoding.startswith("utf-8"):
            try:
                lines.append(raw.decode("utf-8"))
                stream._seen_utf8 = stream._seen_utf8 or not raw.isascii()
                continue
            except UnicodeDecodeError as exc:
                _leave_utf8(stream, raw, exc, offset)
        lines.append(_decode_single_byte(stream, raw))
    return lines


def _leave_utf8(stream: TextStream, raw: bytes, exc: UnicodeDecodeError, number: int) -> None:
    if stream._seen_utf8:
        byte = raw[exc.start]
        raise stream.refuse(
            _(
                "line %(line)d: byte %(byte)s is not UTF-8 although earlier lines are UTF-8 "
                "(mixed or damaged encoding, undecodable)"
            )
            % {"line": number, "byte": f"0x{byte:02X}"}
        )
    stream.encoding = "iso-8859-1"


def _decode_single_byte(stream: TextStream, raw: bytes) -> str:
    if not stream._seen_c1 and len(raw.translate(None, _C1)) != len(raw):
        stream._seen_c1 = True
        stream.encoding = "cp1252"
    return raw.decode("cp1252", errors="cpx-latin1-fallback")


def file_sha256(path: Path) -> str:
    """The hash of the file as stored (the zip itself for an archive), read in chunks."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()
