/* Portable SHA-256 and the scalar nonce search: the path for CPUs without SHA-NI. */
#include "pow.h"

const uint32_t zi_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Runs rounds [from, to) on s with the schedule w (which must hold words up to to-1). */
static inline void sha256_rounds(uint32_t s[8], const uint32_t *w, int from, int to) {
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int t = from; t < to; t++) {
    uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + zi_sha256_k[t] + w[t];
    uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s[0] = a, s[1] = b, s[2] = c, s[3] = d, s[4] = e, s[5] = f, s[6] = g, s[7] = h;
}

static inline void sha256_expand(uint32_t w[64], int from) {
  for (int t = from; t < 64; t++) w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
}

void zi_sha256_compress(uint32_t state[8], const uint32_t block[16]) {
  uint32_t w[64], s[8];
  for (int i = 0; i < 16; i++) w[i] = block[i];
  sha256_expand(w, 16);
  for (int i = 0; i < 8; i++) s[i] = state[i];
  sha256_rounds(s, w, 0, 64);
  for (int i = 0; i < 8; i++) state[i] += s[i];
}

void zi_pow_prepare(zi_pow_job *job, const uint8_t prefix[ZI_POW_PREFIX_BYTES],
                    const uint8_t target[ZI_POW_TARGET_BYTES]) {
  uint32_t first[16];
  for (int i = 0; i < 16; i++) first[i] = load_be32(prefix + 4 * i);
  for (int i = 0; i < 8; i++) job->mid[i] = sha256_iv[i];
  zi_sha256_compress(job->mid, first);
  for (int i = 0; i < 10; i++) job->tail[i] = load_be32(prefix + 64 + 4 * i);
  job->tail[10] = 0;
  job->tail[11] = 0;
  job->tail[12] = 0x80000000u;
  job->tail[13] = 0;
  job->tail[14] = 0;
  job->tail[15] = 112 * 8;
  for (int i = 0; i < 8; i++) job->target[i] = load_be32(target + 4 * i);
}

int zi_pow_below_target(const uint32_t hash[8], const uint32_t target[8]) {
  for (int i = 0; i < 8; i++) {
    if (hash[i] != target[i]) return hash[i] < target[i];
  }
  return 0;
}

int zi_pow_search_scalar(const zi_pow_job *job, uint64_t start, uint64_t count, uint64_t *found) {
  /* Rounds 0..9 read only constant words, so they run once per call. */
  uint32_t w[64], pre[8];
  for (int i = 0; i < 16; i++) w[i] = job->tail[i];
  for (int i = 0; i < 8; i++) pre[i] = job->mid[i];
  sha256_rounds(pre, w, 0, 10);
  const uint32_t t0 = job->target[0];

  for (uint64_t i = 0; i < count; i++) {
    uint64_t nonce = start + i;
    uint32_t s[8];
    w[10] = (uint32_t)(nonce >> 32);
    w[11] = (uint32_t)nonce;
    sha256_expand(w, 16);
    for (int j = 0; j < 8; j++) s[j] = pre[j];
    sha256_rounds(s, w, 10, 64);
    /* The first hash word alone rejects almost every attempt. */
    if (s[0] + job->mid[0] > t0) continue;
    uint32_t hash[8];
    for (int j = 0; j < 8; j++) hash[j] = s[j] + job->mid[j];
    if (zi_pow_below_target(hash, job->target)) {
      *found = nonce;
      return 1;
    }
  }
  return 0;
}
