"""Read cache access traces: one key (an int) per request.

Formats (``format=``, or guessed from the file name as the shared trace set
names its files):

* ``keys``: text, one decimal key per line; lines starting with ``*`` and blank
  lines are skipped (LIRS checkpoints; CRLF line ends are fine).
* ``arc``: text ``start n ignored request_no`` per line, standing for the n
  requests ``start, start+1, ..., start+n-1`` (the ARC paper's ``.lis`` traces).
* ``be32`` / ``be32u`` / ``be64``: binary big-endian signed 32-bit, unsigned
  32-bit or signed 64-bit keys (Caffeine's cache2k, CloudPhysics, Corda and
  Scarab traces).
* ``address``: text ``l|s 0xADDRESS n`` per line; the key is the address.

Any of them plain, gzip (``.gz``) or xz (``.xz``) compressed.
"""
from __future__ import annotations

import array
import gzip
import io
import lzma
import os
import sys
from typing import IO, Iterable, Iterator, Optional, Union

__all__ = ("read_trace", "guess_format", "FORMATS")

FORMATS = ("keys", "arc", "be32", "be32u", "be64", "address")
_BINARY = {"be32": "i", "be32u": "I", "be64": "q"}
_PREFIX_FORMATS = (("cache2k-", "be32"), ("cloudphysics-", "be32u"), ("corda-", "be64"), ("scarab-", "be64"),
                   ("address-", "address"))

PathLike = Union[str, "os.PathLike[str]"]


def _open(path: PathLike) -> IO[bytes]:
    name = os.fspath(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rb")  # type: ignore[return-value]  # a binary file object
    if name.endswith(".xz"):
        return lzma.open(name, "rb")
    return open(name, "rb")


def guess_format(path: PathLike) -> str:
    """The format a trace file's name implies (see the module docstring)."""
    name = os.path.basename(os.fspath(path))
    stem = name
    for ext in (".gz", ".xz"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    if stem.endswith(".lis"):
        return "arc"
    if stem.endswith(".keys") or stem.endswith(".txt"):
        return "keys"
    for prefix, fmt in _PREFIX_FORMATS:
        if name.startswith(prefix):
            return fmt
    return "keys"


def _keys(stream: IO[bytes]) -> Iterator[int]:
    for lineno, raw in enumerate(io.TextIOWrapper(stream, encoding="ascii", newline=None), 1):
        line = raw.strip()
        if not line or line.startswith("*"):
            continue
        try:
            yield int(line)
        except ValueError:
            raise ValueError(f"line {lineno}: not a decimal key: {line[:40]!r}") from None


def _arc(stream: IO[bytes]) -> Iterator[int]:
    for lineno, raw in enumerate(stream, 1):
        parts = raw.split()
        if not parts:
            continue
        try:
            start, n = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise ValueError(f"line {lineno}: expected 'start count ...', got {raw[:40]!r}") from None
        if n == 1:
            yield start
        else:
            yield from range(start, start + n)


def _address(stream: IO[bytes]) -> Iterator[int]:
    for lineno, raw in enumerate(stream, 1):
        parts = raw.split()
        if not parts:
            continue
        try:
            yield int(parts[1], 16)
        except (IndexError, ValueError):
            raise ValueError(f"line {lineno}: expected 'l|s 0xADDRESS n', got {raw[:40]!r}") from None


def _binary(stream: IO[bytes], code: str) -> Iterator[int]:
    width = array.array(code).itemsize
    expected = {"i": 4, "I": 4, "q": 8}[code]
    if width != expected:                                   # pragma: no cover - exotic platforms
        raise RuntimeError(f"array type {code!r} is {width} bytes here, not {expected}")
    tail = b""
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        chunk = tail + chunk
        cut = len(chunk) - len(chunk) % width
        values = array.array(code, chunk[:cut])
        tail = chunk[cut:]
        if sys.byteorder == "little":
            values.byteswap()
        yield from values
    if tail:
        raise ValueError(f"trailing {len(tail)} bytes: not a whole number of {width}-byte keys")


def read_trace(source: Union[PathLike, Iterable[int]], format: Optional[str] = None) -> Iterator[int]:
    """The keys of a trace file (plain, .gz or .xz), in request order.

    ``source`` may also be an iterable of keys, returned as it is.  ``format``
    is one of :data:`FORMATS`; by default it is guessed from the file name.
    """
    if not isinstance(source, (str, os.PathLike)):
        yield from source
        return
    fmt = format or guess_format(source)
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; expected one of {', '.join(FORMATS)}")
    with _open(source) as stream:
        if fmt == "keys":
            yield from _keys(stream)
        elif fmt == "arc":
            yield from _arc(stream)
        elif fmt == "address":
            yield from _address(stream)
        else:
            yield from _binary(stream, _BINARY[fmt])
