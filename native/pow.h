/*
 * Proof-of-work nonce search for Zi block headers.
 *
 * A header is 112 bytes with the nonce (u64 big-endian) in its last 8 bytes,
 * and the PoW hash is one SHA-256 of the header. The first 64 bytes never
 * change within a template, so they are compressed once (the midstate); each
 * attempt then costs one compression of the final block, which holds header
 * bytes 64..111 (words 0..11, the nonce in words 10 and 11), the 0x80 pad and
 * the bit length 896.
 */
#ifndef ZI_POW_H
#define ZI_POW_H

#include <stdint.h>

#define ZI_POW_PREFIX_BYTES 104
#define ZI_POW_TARGET_BYTES 32

typedef struct {
  uint32_t mid[8];     /* state after the header's first 64 bytes */
  uint32_t tail[16];   /* the final block; words 10 and 11 are the nonce */
  uint32_t target[8];  /* the target as big-endian words, most significant first */
} zi_pow_job;

extern const uint32_t zi_sha256_k[64];

void zi_sha256_compress(uint32_t state[8], const uint32_t block[16]);

void zi_pow_prepare(zi_pow_job *job, const uint8_t prefix[ZI_POW_PREFIX_BYTES],
                    const uint8_t target[ZI_POW_TARGET_BYTES]);

/* 1 when the hash words (most significant first) are below the target. */
int zi_pow_below_target(const uint32_t hash[8], const uint32_t target[8]);

/*
 * Both searches try start, start+1, ..., start+count-1 in order and return 1
 * with *found set to the first nonce whose hash is below the target, or 0.
 * The caller guarantees start + count - 1 does not pass UINT64_MAX.
 */
int zi_pow_search_scalar(const zi_pow_job *job, uint64_t start, uint64_t count, uint64_t *found);

/* 1 when this CPU runs the SHA extensions (and the SSE4.1 the kernel also uses). */
int zi_cpu_has_sha_ni(void);

/* Only to be called when zi_cpu_has_sha_ni() is 1; returns -1 on a build without it. */
int zi_pow_search_sha_ni(const zi_pow_job *job, uint64_t start, uint64_t count, uint64_t *found);

#endif
