"""How values are turned into bytes for a remote tier, and back.

Data read from Redis is untrusted: anyone who can write to the server can
put bytes there.  So the default, :class:`JSONSerializer`, can only ever
build plain data (str, int, float, bool, None, list, dict, plus tuple,
bytes, set and frozenset through tagged JSON objects).  Pickle runs code
while loading, so :class:`PickleSerializer` exists only as an opt-in and
signs every payload with HMAC-SHA256: a payload without a valid signature
is refused before ``pickle.loads`` sees it.

Every payload starts with one byte naming its format, so a payload written
by another serializer (or by something else entirely) is recognised as
foreign instead of being misread.  ``loads`` raises
:class:`SerializationError` on anything it does not accept; the caches turn
that into a miss plus a warning.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
from typing import Any, Iterable, Protocol, runtime_checkable

__all__ = ("Serializer", "SerializationError", "JSONSerializer", "PickleSerializer", "BytesSerializer")


class SerializationError(ValueError):
    """A value could not be encoded, or a payload could not be decoded."""


@runtime_checkable
class Serializer(Protocol):
    """Anything with ``dumps(value) -> bytes`` and ``loads(bytes) -> value``."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


_TAG = "$fc"          # marks a JSON object that stands for a non-JSON value


def _encode(value: Any) -> Any:
    """Turn value into JSON-native data, tagging what JSON cannot say."""
    t = type(value)
    if t is str or t is int or t is bool or value is None or t is float:
        return value
    if t is list:
        return [_encode(v) for v in value]
    if t is dict:
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if t is tuple:
        return {_TAG: "tuple", "v": [_encode(v) for v in value]}
    if t is bytes or t is bytearray:
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if t is set or t is frozenset:
        return {_TAG: t.__name__, "v": [_encode(v) for v in value]}
    raise SerializationError(
        f"JSONSerializer cannot store {t.__name__!s} values; use plain data "
        "(str, int, float, bool, None, list, dict, tuple, bytes, set) or opt in to "
        "PickleSerializer(secret=...)")


def _decode_object(obj: dict[str, Any]) -> Any:
    kind = obj.get(_TAG)
    if kind is None:
        return obj
    if len(obj) != 2 or "v" not in obj:
        raise SerializationError("malformed tagged JSON object")
    v = obj["v"]
    if kind == "tuple" and isinstance(v, list):
        return tuple(v)
    if kind == "bytes" and isinstance(v, str):
        return base64.b64decode(v.encode("ascii"), validate=True)
    if kind in ("set", "frozenset") and isinstance(v, list):
        return (set if kind == "set" else frozenset)(v)
    if kind == "dict" and isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v):
        return {k: val for k, val in v}
    raise SerializationError(f"unknown tagged JSON object {kind!r}")


# Made once: json.dumps/json.loads with options build a new encoder/decoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=True)
_DECODER = json.JSONDecoder(object_hook=_decode_object)


class JSONSerializer:
    """The default: JSON, safe to decode from an untrusted server.

    Round-trips str, int, float, bool, None, list, dict (any hashable plain
    keys), tuple, bytes, set and frozenset exactly; refuses other types
    with :class:`SerializationError` when storing.
    """

    FORMAT = b"j"

    def dumps(self, value: Any) -> bytes:
        """Encode a value (raises SerializationError for unsupported types)."""
        try:
            text = _ENCODER.encode(_encode(value))
        except RecursionError as exc:
            raise SerializationError("value is nested too deeply") from exc
        return self.FORMAT + text.encode("utf-8")

    def loads(self, data: bytes) -> Any:
        """Decode a payload written by :meth:`dumps`."""
        if not data.startswith(self.FORMAT):
            raise SerializationError("payload is not in fastcache's JSON format")
        try:
            return _DECODER.decode(data[1:].decode("utf-8"))
        except SerializationError:
            raise
        except (ValueError, TypeError, RecursionError) as exc:   # JSONDecodeError, bad UTF-8, base64
            raise SerializationError(f"corrupt JSON payload: {exc}") from exc


class BytesSerializer:
    """Stores ``bytes`` values as they are (no encoding, no types)."""

    FORMAT = b"r"

    def dumps(self, value: Any) -> bytes:
        """Frame a bytes value."""
        if not isinstance(value, (bytes, bytearray)):
            raise SerializationError(f"BytesSerializer stores bytes, not {type(value).__name__}")
        return self.FORMAT + bytes(value)

    def loads(self, data: bytes) -> bytes:
        """Unframe a payload written by :meth:`dumps`."""
        if not data.startswith(self.FORMAT):
            raise SerializationError("payload is not in fastcache's bytes format")
        return data[1:]


class PickleSerializer:
    """Pickle, signed with HMAC-SHA256 so only payloads we wrote are loaded.

    ``secret`` is a key of at least 16 bytes shared by every process that
    reads or writes the cache; ``old_secrets`` are still accepted when
    reading, for key rotation.  A payload whose signature does not verify
    is refused *before* unpickling.
    """

    FORMAT = b"p"
    _DIGEST = 32

    def __init__(self, secret: bytes | str, *, old_secrets: Iterable[bytes | str] = (),
                 protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self._secret = self._check(secret)
        self._verify = [self._secret] + [self._check(s) for s in old_secrets]
        self.protocol = protocol

    @staticmethod
    def _check(secret: bytes | str) -> bytes:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, bytes):
            raise TypeError(f"secret must be bytes or str, not {type(secret).__name__}")
        if len(secret) < 16:
            raise ValueError("secret must be at least 16 bytes: it is what stops a forged "
                             "payload from running code in your process")
        return secret

    def dumps(self, value: Any) -> bytes:
        """Pickle and sign a value."""
        try:
            body = pickle.dumps(value, protocol=self.protocol)
        except Exception as exc:
            raise SerializationError(f"value cannot be pickled: {exc}") from exc
        return self.FORMAT + hmac.new(self._secret, body, hashlib.sha256).digest() + body

    def loads(self, data: bytes) -> Any:
        """Verify the signature, then unpickle."""
        if not data.startswith(self.FORMAT) or len(data) < 1 + self._DIGEST:
            raise SerializationError("payload is not a signed pickle")
        signature, body = data[1:1 + self._DIGEST], data[1 + self._DIGEST:]
        if not any(hmac.compare_digest(signature, hmac.new(k, body, hashlib.sha256).digest())
                   for k in self._verify):
            raise SerializationError("pickle payload signature does not verify (tampered, or "
                                     "written with another secret); refusing to unpickle")
        try:
            return pickle.loads(body)
        except Exception as exc:
            raise SerializationError(f"corrupt pickle payload: {exc}") from exc
