from libc.stdint cimport uint16_t, uint32_t, uint64_t, int32_t

cdef extern from "_digest.h":
    void fc_digest_init()
    void fc_md5(const unsigned char *data, size_t length, unsigned char *out)
    uint32_t fc_ketama_hash(const unsigned char *data, size_t length)
    int fc_key_slot(const unsigned char *data, size_t length)
    int32_t fc_jump_hash(uint64_t key, int32_t buckets)

cdef int key_bytes(object key, const unsigned char **data, Py_ssize_t *length) except -1
