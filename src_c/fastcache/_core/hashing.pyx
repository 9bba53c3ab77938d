"""Hash functions for shard routing: ketama's MD5 word, jump hash, Redis slots.

They define where a key lives, so they are part of the compatibility
contract: ``ketama_hash`` matches libmemcached and uhashring, ``key_slot``
matches Redis Cluster (CRC16/XMODEM with ``{hash tags}``), ``jump_hash``
matches Lamping & Veach's published algorithm.  ``str`` keys are hashed as
UTF-8, ``bytes``/``bytearray`` as they are; nothing else is accepted, because
silently hashing ``repr(key)`` would route ``1`` and ``"1"`` differently on
different clients.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint64_t

fc_digest_init()


cdef int key_bytes(object key, const unsigned char **data, Py_ssize_t *length) except -1:
    """Point *data at the bytes a key is hashed as (valid while key lives)."""
    if type(key) is str:
        data[0] = <const unsigned char *>PyUnicode_AsUTF8AndSize(key, length)
    elif isinstance(key, bytes):
        data[0] = <const unsigned char *>PyBytes_AS_STRING(key)
        length[0] = PyBytes_GET_SIZE(key)
    elif isinstance(key, str):
        data[0] = <const unsigned char *>PyUnicode_AsUTF8AndSize(key, length)
    elif isinstance(key, bytearray):
        data[0] = <const unsigned char *>PyByteArray_AS_STRING(key)
        length[0] = PyByteArray_GET_SIZE(key)
    else:
        raise TypeError(f"key must be str or bytes, not {type(key).__name__}")
    return 0


@cython.always_allow_keywords(False)
def ketama_hash(key) -> int:
    """ketama's 32-bit hash of ``key``: the first MD5 word, little-endian."""
    cdef const unsigned char *data
    cdef Py_ssize_t length
    key_bytes(key, &data, &length)
    return fc_ketama_hash(data, <size_t>length)


@cython.always_allow_keywords(False)
def key_slot(key) -> int:
    """Redis Cluster hash slot (0-16383) of ``key``, honouring ``{hash tags}``."""
    cdef const unsigned char *data
    cdef Py_ssize_t length
    key_bytes(key, &data, &length)
    return fc_key_slot(data, <size_t>length)


def jump_hash(key, int buckets) -> int:
    """Jump consistent hash: the bucket in ``range(buckets)`` for ``key``.

    An ``int`` key (0 <= key < 2**64) is used as is; a ``str``/``bytes`` key
    is first reduced to the first 8 bytes of its MD5 digest, read
    little-endian.  Growing ``buckets`` by one moves only 1/buckets of keys.
    """
    cdef const unsigned char *data
    cdef Py_ssize_t length
    cdef unsigned char digest[16]
    cdef uint64_t k = 0
    cdef int i
    if buckets <= 0:
        raise ValueError(f"buckets must be positive, got {buckets}")
    if isinstance(key, int) and not isinstance(key, bool):
        if key < 0 or key >= 2 ** 64:
            raise ValueError("an int key must be in range(2**64)")
        k = <uint64_t>key
    else:
        key_bytes(key, &data, &length)
        fc_md5(data, <size_t>length, digest)
        for i in range(8):
            k |= (<uint64_t>digest[i]) << (8 * i)
    return fc_jump_hash(k, buckets)
