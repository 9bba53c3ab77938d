# A ring of int32 records addressed by 64-bit sequence numbers: the order structure of
# LRU/FIFO (fastcache._core._ordered) and of each TTL queue (fastcache._core._expiry).
from libc.stdint cimport int32_t, int64_t

ctypedef struct Ring:
    int32_t *buf           # entry numbers; a record is live iff its owner says so (stamps, deadlines)
    int64_t head           # sequence number of the oldest record
    int64_t tail           # sequence number the next record gets
    int64_t mask           # ring capacity - 1 (a power of two)
