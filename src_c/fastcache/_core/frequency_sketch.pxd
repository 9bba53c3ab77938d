# A count-min sketch of 4-bit counters with periodic halving, for TinyLFU admission.
from libc.stdint cimport uint64_t


cdef inline uint64_t spread(uint64_t x) noexcept nogil:
    """Mix a Python hash into 64 well-spread bits (the Murmur3 finaliser).

    Python hashes of ints are the ints themselves, so without mixing the
    sketch's block choice would follow the keys' numbering.
    """
    x ^= x >> 33
    x *= 0xff51afd7ed558ccdULL
    x ^= x >> 33
    x *= 0xc4ceb9fe1a85ec53ULL
    x ^= x >> 33
    return x


cdef class FrequencySketch:
    cdef uint64_t *table           # nblocks blocks of 8 words; 16 counters a word
    cdef uint64_t block_mask       # nblocks - 1
    cdef Py_ssize_t capacity       # entries the sketch is sized for
    cdef Py_ssize_t sample_size    # additions between two halvings
    cdef Py_ssize_t additions

    cdef int resize(self, Py_ssize_t capacity) except -1
    cdef void increment(self, uint64_t x) noexcept
    cdef int frequency(self, uint64_t x) noexcept
    cdef void halve(self) noexcept
    cdef void clear(self) noexcept


cdef inline void sketch_increment(FrequencySketch s, uint64_t x) noexcept:
    """Count one access of the key whose mixed hash is x (inline: the adaptive hit path).

    Raises the key's smallest counters only (conservative update).
    """
    cdef uint64_t *block = s.table + (x & s.block_mask) * 8
    cdef uint64_t choice = x >> 32, bits
    cdef uint64_t w0, w1, w2, w3
    cdef int s0, s1, s2, s3, c0, c1, c2, c3, low
    bits = choice & 0xFF
    w0 = bits & 1
    s0 = <int>((bits >> 1) & 15) * 4
    bits = (choice >> 8) & 0xFF
    w1 = 2 + (bits & 1)
    s1 = <int>((bits >> 1) & 15) * 4
    bits = (choice >> 16) & 0xFF
    w2 = 4 + (bits & 1)
    s2 = <int>((bits >> 1) & 15) * 4
    bits = (choice >> 24) & 0xFF
    w3 = 6 + (bits & 1)
    s3 = <int>((bits >> 1) & 15) * 4
    c0 = <int>((block[w0] >> s0) & 15)
    c1 = <int>((block[w1] >> s1) & 15)
    c2 = <int>((block[w2] >> s2) & 15)
    c3 = <int>((block[w3] >> s3) & 15)
    low = c0
    if c1 < low:
        low = c1
    if c2 < low:
        low = c2
    if c3 < low:
        low = c3
    if low < 15:
        if c0 == low:
            block[w0] += 1ULL << s0
        if c1 == low:
            block[w1] += 1ULL << s1
        if c2 == low:
            block[w2] += 1ULL << s2
        if c3 == low:
            block[w3] += 1ULL << s3
    s.additions += 1
    if s.additions >= s.sample_size:
        s.halve()
