"""Text input files as UTF-8 for DuckDB's readers: byte-order marks and declared encodings.

DuckDB reads UTF-8. Real files also come as:

* **UTF-8 with a byte-order mark** — Excel's "CSV UTF-8": read as is; the
  readers drop the mark from the first line (:data:`UTF8_BOM`).
* **UTF-16** — Excel's "Unicode text": recognised by its byte-order mark and
  read through a temporary UTF-8 copy. Without a mark, NUL bytes in the first
  kilobytes give it away: the file is refused, saying so (``--encoding
  utf-16-le`` or ``utf-16-be`` reads it).
* **another encoding** (``--encoding latin-1``, ``cp1252`` for Excel's "CSV" on
  a French Windows, any Python codec): decoded through a temporary UTF-8 copy;
  a byte that is not text in that encoding refuses the file with its offset.

A UTF-8 file with bytes that are not UTF-8 is read line by line: those lines
are quarantined with a reason that names the problem and the option.

The temporary copy goes to the system's temporary directory (``$TMPDIR``),
never the current folder, and is removed once the file is staged. Gzipped
files (``.gz``) are read through.
"""
from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

UTF8_BOM = "\ufeff"
_BOMS = {codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}
_SNIFF = 4096
_CHUNK = 1 << 20
NOT_UTF8 = ("not UTF-8 text: if the file is in another encoding (a Latin-1 or Windows "
            "export, UTF-16), load it with --encoding NAME, e.g. --encoding latin-1")


def encoding_name(name: str) -> str:
    """The canonical name of a Python codec (``latin1`` -> ``iso8859-1``); a one-line
    error for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(f"--encoding {name}: unknown encoding (e.g. utf-8, utf-16, latin-1, "
                         f"cp1252)") from None


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _looks_like_utf16(head: bytes) -> bool:
    """UTF-16 text of mostly ASCII characters has a NUL in every other byte; a stray
    NUL inside one field (which the row checks handle) does not make a file UTF-16."""
    return len(head) >= 2 and head.count(b"\x00") * 4 >= len(head)


@contextlib.contextmanager
def as_utf8(path: Path, encoding: str | None = None) -> Iterator[Path]:
    """``path`` itself when it is UTF-8 (with or without a byte-order mark), else a
    temporary UTF-8 copy decoded from ``encoding`` or from the UTF-16 its byte-order
    mark names; :class:`InputError` when the file cannot be decoded."""
    with _open(path) as fh:
        head = fh.read(_SNIFF)
    marked = next((enc for bom, enc in _BOMS.items() if head.startswith(bom)), None)
    declared = encoding_name(encoding) if encoding else None
    if marked and declared and not declared.startswith("utf-16"):
        raise InputError(f"{path}: starts with a UTF-16 byte-order mark, not {encoding} text")
    source = marked or declared or "utf-8"
    if source == "utf-8":
        if _looks_like_utf16(head):
            raise InputError(f"{path}: NUL bytes: this looks like UTF-16 text without a "
                             f"byte-order mark; load it with --encoding utf-16-le (or utf-16-be)")
        yield path
        return
    fd, tmp = tempfile.mkstemp(prefix="opeval-utf8-", suffix=".txt")
    try:
        decoder = codecs.getincrementaldecoder(source)("strict")
        offset = 0
        with os.fdopen(fd, "wb") as out, _open(path) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    at = offset - (len(exc.object) - len(chunk)) + exc.start
                    raise InputError(f"{path}: not {source} text: byte "
                                     f"0x{exc.object[exc.start]:02x} at offset {at}") from None
                out.write(text.encode("utf-8"))
                offset += len(chunk)
                if not chunk:
                    break
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def size_bound(path: Path) -> int:
    """An upper bound of the bytes of text in ``path`` (a gzip file's recorded size when
    it is plausible, else a generous multiple): no line can be longer."""
    size = path.stat().st_size
    if path.suffix.lower() != ".gz":
        return size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 4))
        recorded = int.from_bytes(fh.read(4), "little")   # ISIZE: the size modulo 2**32
    return recorded if recorded >= size else max(size * 1000, 1 << 31)
