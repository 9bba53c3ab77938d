/* Small, dependency-free digests for shard routing.
 *
 * MD5 (RFC 1321) is what ketama hashes keys and ring points with, and
 * CRC16/XMODEM is Redis Cluster's slot function.  Both are written from
 * their specifications; neither is used for security.  The tables are
 * filled once by fc_digest_init() (the MD5 constants are defined by the
 * RFC as floor(|sin(i + 1)| * 2^32), so we compute them rather than
 * transcribe 64 magic numbers).
 */
#ifndef FASTCACHE_DIGEST_H
#define FASTCACHE_DIGEST_H

#include <stdint.h>
#include <string.h>
#include <math.h>

static uint32_t fc_md5_k[64];
static uint16_t fc_crc16_table[256];
static inline void fc_digest_init(void) {
    int i, j;
    for (i = 0; i < 64; i++)
        fc_md5_k[i] = (uint32_t)(fabs(sin((double)(i + 1))) * 4294967296.0);
    for (i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)(i << 8);
        for (j = 0; j < 8; j++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        fc_crc16_table[i] = crc;
    }
}

#define FC_ROTL(x, c) (((x) << (c)) | ((x) >> (32 - (c))))

static inline void fc_md5_block(uint32_t state[4], const unsigned char *p) {
    uint32_t m[16], a = state[0], b = state[1], c = state[2], d = state[3];
    int i;
    for (i = 0; i < 16; i++)   /* little-endian words, whatever the host */
        m[i] = (uint32_t)p[4 * i] | ((uint32_t)p[4 * i + 1] << 8) |
               ((uint32_t)p[4 * i + 2] << 16) | ((uint32_t)p[4 * i + 3] << 24);
    /* The four rounds, four steps per loop pass with the registers
     * rotating by name and literal shift amounts, so the compiler emits
     * rotate-by-immediate and unrolls the short loops. */
#define FC_F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define FC_G(x, y, z) (((z) & (x)) | (~(z) & (y)))
#define FC_H(x, y, z) ((x) ^ (y) ^ (z))
#define FC_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define FC_STEP(F, a, b, c, d, g, k, s) a = b + FC_ROTL(a + F(b, c, d) + m[(g)] + fc_md5_k[(k)], s)
    for (i = 0; i < 16; i += 4) {
        FC_STEP(FC_F, a, b, c, d, i, i, 7);
        FC_STEP(FC_F, d, a, b, c, i + 1, i + 1, 12);
        FC_STEP(FC_F, c, d, a, b, i + 2, i + 2, 17);
        FC_STEP(FC_F, b, c, d, a, i + 3, i + 3, 22);
    }
    for (i = 16; i < 32; i += 4) {
        FC_STEP(FC_G, a, b, c, d, (5 * i + 1) & 15, i, 5);
        FC_STEP(FC_G, d, a, b, c, (5 * i + 6) & 15, i + 1, 9);
        FC_STEP(FC_G, c, d, a, b, (5 * i + 11) & 15, i + 2, 14);
        FC_STEP(FC_G, b, c, d, a, (5 * i + 16) & 15, i + 3, 20);
    }
    for (i = 32; i < 48; i += 4) {
        FC_STEP(FC_H, a, b, c, d, (3 * i + 5) & 15, i, 4);
        FC_STEP(FC_H, d, a, b, c, (3 * i + 8) & 15, i + 1, 11);
        FC_STEP(FC_H, c, d, a, b, (3 * i + 11) & 15, i + 2, 16);
        FC_STEP(FC_H, b, c, d, a, (3 * i + 14) & 15, i + 3, 23);
    }
    for (i = 48; i < 64; i += 4) {
        FC_STEP(FC_I, a, b, c, d, (7 * i) & 15, i, 6);
        FC_STEP(FC_I, d, a, b, c, (7 * i + 7) & 15, i + 1, 10);
        FC_STEP(FC_I, c, d, a, b, (7 * i + 14) & 15, i + 2, 15);
        FC_STEP(FC_I, b, c, d, a, (7 * i + 21) & 15, i + 3, 21);
    }
#undef FC_STEP
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
}

/* MD5 of data[0:len] into out[16]. */
static inline void fc_md5(const unsigned char *data, size_t len, unsigned char out[16]) {
    uint32_t state[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    unsigned char tail[128];
    size_t full = len & ~(size_t)63, rest = len - full, pad;
    uint64_t bits = (uint64_t)len * 8;
    size_t off;
    int i;
    for (off = 0; off < full; off += 64)
        fc_md5_block(state, data + off);
    memcpy(tail, data + full, rest);
    tail[rest] = 0x80;
    pad = (rest < 56) ? 64 : 128;
    memset(tail + rest + 1, 0, pad - rest - 1 - 8);
    for (i = 0; i < 8; i++)
        tail[pad - 8 + i] = (unsigned char)(bits >> (8 * i));
    fc_md5_block(state, tail);
    if (pad == 128)
        fc_md5_block(state, tail + 64);
    for (i = 0; i < 4; i++) {
        out[4 * i] = (unsigned char)state[i];
        out[4 * i + 1] = (unsigned char)(state[i] >> 8);
        out[4 * i + 2] = (unsigned char)(state[i] >> 16);
        out[4 * i + 3] = (unsigned char)(state[i] >> 24);
    }
}

/* ketama's key hash: the first MD5 word, little-endian. */
static inline uint32_t fc_ketama_hash(const unsigned char *data, size_t len) {
    unsigned char d[16];
    fc_md5(data, len, d);
    return (uint32_t)d[0] | ((uint32_t)d[1] << 8) | ((uint32_t)d[2] << 16) | ((uint32_t)d[3] << 24);
}

static inline uint16_t fc_crc16(const unsigned char *p, size_t len) {
    uint16_t crc = 0;
    size_t i;
    for (i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ fc_crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
    return crc;
}

/* Redis Cluster: hash only the {tag} when a non-empty one follows the
 * first '{'; otherwise the whole key. */
static inline int fc_key_slot(const unsigned char *p, size_t len) {
    size_t s, e;
    for (s = 0; s < len; s++)
        if (p[s] == '{') break;
    if (s < len) {
        for (e = s + 1; e < len; e++)
            if (p[e] == '}') break;
        if (e < len && e != s + 1)
            return fc_crc16(p + s + 1, e - s - 1) & 16383;
    }
    return fc_crc16(p, len) & 16383;
}

/* Jump consistent hash (Lamping & Veach 2014), in double arithmetic as
 * published, so results match other implementations bit for bit. */
static inline int32_t fc_jump_hash(uint64_t key, int32_t buckets) {
    int64_t b = -1, j = 0;
    while (j < buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (int32_t)b;
}

#endif
