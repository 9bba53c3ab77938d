"""Serializers: exact round trips, and untrusted payloads refused with a clear error."""
from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastcache.serializers import BytesSerializer, JSONSerializer, PickleSerializer, SerializationError

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
                   | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)),
    max_leaves=20)


@given(plain)
def test_json_round_trips_exactly(value):
    s = JSONSerializer()
    back = s.loads(s.dumps(value))
    assert back == value
    assert type(back) is type(value)


def test_json_tag_collisions_and_special_values():
    s = JSONSerializer()
    for value in ({"$fc": "tuple", "v": [1]}, {"$fc": 1}, [{"$fc": "bytes", "v": "x"}], {1: "a", "1": "b"},
                  {(1, 2): {3}}, float("inf"), {"s": {1, 2}}):
        assert s.loads(s.dumps(value)) == value
    assert math.isnan(s.loads(s.dumps(float("nan"))))


def test_json_refuses_arbitrary_objects():
    with pytest.raises(SerializationError, match="PickleSerializer"):
        JSONSerializer().dumps(object())


@pytest.mark.parametrize("payload", [b"", b"x", b"j{", b"j\xff\xfe", b"j{\"$fc\":\"bytes\",\"v\":\"!!\"}",
                                     b"j{\"$fc\":\"nope\",\"v\":1}", b"j{\"$fc\":\"dict\",\"v\":[[[1],2]]}",
                                     b"p" + b"0" * 40, pickle.dumps(1), b"j" + b"[" * 100000])
def test_json_corrupt_payloads_raise_serialization_error(payload):
    with pytest.raises(SerializationError):
        JSONSerializer().loads(payload)


def test_pickle_is_signed_and_tampering_is_refused():
    s = PickleSerializer(b"k" * 32)
    data = s.dumps({"a": (1, 2)})
    assert s.loads(data) == {"a": (1, 2)}
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(SerializationError, match="signature"):
        s.loads(tampered)
    with pytest.raises(SerializationError, match="signature"):
        PickleSerializer(b"other-secret-0123").loads(data)
    # a raw pickle (what an attacker would plant) is never unpickled
    with pytest.raises(SerializationError):
        s.loads(b"p" + b"\x00" * 32 + pickle.dumps(1))
    # key rotation: old secrets still verify
    rotated = PickleSerializer(b"n" * 32, old_secrets=[b"k" * 32])
    assert rotated.loads(data) == {"a": (1, 2)}


def test_pickle_needs_a_real_secret():
    with pytest.raises(ValueError, match="16 bytes"):
        PickleSerializer(b"short")
    with pytest.raises(TypeError):
        PickleSerializer(123)  # type: ignore[arg-type]


def test_bytes_serializer():
    s = BytesSerializer()
    assert s.loads(s.dumps(b"\x00ab")) == b"\x00ab"
    with pytest.raises(SerializationError):
        s.dumps("text")
    with pytest.raises(SerializationError):
        s.loads(b"jabc")
