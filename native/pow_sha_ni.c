/*
 * Nonce search on the x86 SHA extensions.
 *
 * Only the functions that use the extensions are compiled for them (function
 * target attributes), and the caller checks cpuid first, so the same binary
 * still loads and runs on a CPU without SHA-NI.
 *
 * Two nonces are hashed side by side: one stream of sha256rnds2 is bound by the
 * instruction's latency, and a second, independent stream fills the gaps.
 */
#include "pow.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define ZI_HAVE_X86 1
#include <immintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define ZI_SHA_TARGET
#define ZI_INLINE static __forceinline
#else
#include <cpuid.h>
#define ZI_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define ZI_INLINE static inline __attribute__((always_inline))
#endif
#endif

#ifdef ZI_HAVE_X86

int zi_cpu_has_sha_ni(void) {
  unsigned int a = 0, b = 0, c = 0, d = 0;
#if defined(_MSC_VER) && !defined(__clang__)
  int r[4];
  __cpuid(r, 0);
  if (r[0] < 7) return 0;
  __cpuid(r, 1);
  c = (unsigned)r[2];
  __cpuidex(r, 7, 0);
  b = (unsigned)r[1];
#else
  if (__get_cpuid_max(0, 0) < 7) return 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  unsigned int c1 = c;
  __cpuid_count(7, 0, a, b, c, d);
  c = c1;
#endif
  int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1, sha = (b >> 29) & 1;
  return sse41 && ssse3 && sha;
}

/* The constants as vectors, four rounds each. */
#define KV(q) _mm_loadu_si128((const __m128i *)&zi_sha256_k[4 * (q)])

/* Four rounds on (s0 = ABEF, s1 = CDGH) with message words m. */
#define QUAD(s0, s1, m, q)                         \
  do {                                             \
    __m128i mk_ = _mm_add_epi32((m), KV(q));       \
    (s1) = _mm_sha256rnds2_epu32((s1), (s0), mk_); \
    mk_ = _mm_shuffle_epi32(mk_, 0x0E);            \
    (s0) = _mm_sha256rnds2_epu32((s0), (s1), mk_); \
  } while (0)

/* m0 = the next four schedule words, from the previous sixteen in m0..m3. */
#define SCHED(m0, m1, m2, m3) \
  (m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

typedef struct {
  __m128i mid0, mid1; /* midstate as ABEF / CDGH */
  /* Rounds 0..9 use only constant words: the state after round 7 (pre0, in the
     CDGH role for the next step) and after round 9 (pre1, ABEF). */
  __m128i pre0, pre1;
  __m128i w8_11;      /* words 8..11 with a zero nonce */
  __m128i w12_15;     /* padding and length */
  __m128i sched4, sched5; /* the constant halves of schedule words 16..23 */
} sha_ni_job;

ZI_INLINE ZI_SHA_TARGET void to_abef(const uint32_t s[8], __m128i *abef, __m128i *cdgh) {
  __m128i dcba = _mm_loadu_si128((const __m128i *)&s[0]);
  __m128i hgfe = _mm_loadu_si128((const __m128i *)&s[4]);
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

ZI_INLINE ZI_SHA_TARGET void from_abef(__m128i abef, __m128i cdgh, uint32_t s[8]) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));
}

static ZI_SHA_TARGET void sha_ni_prepare(const zi_pow_job *job, sha_ni_job *p) {
  to_abef(job->mid, &p->mid0, &p->mid1);
  const __m128i w0_3 = _mm_loadu_si128((const __m128i *)&job->tail[0]);
  const __m128i w4_7 = _mm_loadu_si128((const __m128i *)&job->tail[4]);
  p->w8_11 = _mm_loadu_si128((const __m128i *)&job->tail[8]);
  p->w12_15 = _mm_loadu_si128((const __m128i *)&job->tail[12]);
  __m128i s0 = p->mid0, s1 = p->mid1;
  QUAD(s0, s1, w0_3, 0);
  QUAD(s0, s1, w4_7, 1);
  /* Rounds 8 and 9 take the low half of words 8..11, which holds no nonce. */
  s1 = _mm_sha256rnds2_epu32(s1, s0, _mm_add_epi32(p->w8_11, KV(2)));
  p->pre0 = s0;
  p->pre1 = s1;
  /* msg1 of (w0..3, w4..7) and of (w4..7, w8..11) read word 8 at most. */
  p->sched4 = _mm_sha256msg1_epu32(w0_3, w4_7);
  p->sched5 = _mm_sha256msg1_epu32(w4_7, p->w8_11);
}

/* Rounds 10..63 for the nonce in words 10 and 11 of m2; leaves the final state (midstate added). */
#define ROUNDS(p, m2in, out0, out1)                                                     \
  do {                                                                                  \
    __m128i m0, m1, m2 = (m2in), m3 = (p)->w12_15;                                      \
    __m128i s0 = _mm_sha256rnds2_epu32((p)->pre0, (p)->pre1,                            \
                                       _mm_shuffle_epi32(_mm_add_epi32(m2, KV(2)), 0x0E)); \
    __m128i s1 = (p)->pre1;                                                             \
    QUAD(s0, s1, m3, 3);                                                                \
    m0 = _mm_sha256msg2_epu32(_mm_add_epi32((p)->sched4, _mm_alignr_epi8(m3, m2, 4)), m3); \
    QUAD(s0, s1, m0, 4);                                                                \
    m1 = _mm_sha256msg2_epu32(_mm_add_epi32((p)->sched5, _mm_alignr_epi8(m0, m3, 4)), m0); \
    QUAD(s0, s1, m1, 5);                                                                \
    SCHED(m2, m3, m0, m1);                                                              \
    QUAD(s0, s1, m2, 6);                                                                \
    SCHED(m3, m0, m1, m2);                                                              \
    QUAD(s0, s1, m3, 7);                                                                \
    SCHED(m0, m1, m2, m3);                                                              \
    QUAD(s0, s1, m0, 8);                                                                \
    SCHED(m1, m2, m3, m0);                                                              \
    QUAD(s0, s1, m1, 9);                                                                \
    SCHED(m2, m3, m0, m1);                                                              \
    QUAD(s0, s1, m2, 10);                                                               \
    SCHED(m3, m0, m1, m2);                                                              \
    QUAD(s0, s1, m3, 11);                                                               \
    SCHED(m0, m1, m2, m3);                                                              \
    QUAD(s0, s1, m0, 12);                                                               \
    SCHED(m1, m2, m3, m0);                                                              \
    QUAD(s0, s1, m1, 13);                                                               \
    SCHED(m2, m3, m0, m1);                                                              \
    QUAD(s0, s1, m2, 14);                                                               \
    SCHED(m3, m0, m1, m2);                                                              \
    QUAD(s0, s1, m3, 15);                                                               \
    (out0) = _mm_add_epi32(s0, (p)->mid0);                                              \
    (out1) = _mm_add_epi32(s1, (p)->mid1);                                              \
  } while (0)

ZI_INLINE ZI_SHA_TARGET __m128i nonce_words(const sha_ni_job *p, uint64_t nonce) {
  return _mm_insert_epi32(_mm_insert_epi32(p->w8_11, (int)(uint32_t)(nonce >> 32), 2), (int)(uint32_t)nonce, 3);
}

/* The hash's first word is A, lane 3 of ABEF; a full compare only runs when it does not already exceed the target. */
ZI_INLINE ZI_SHA_TARGET int hit(const zi_pow_job *job, __m128i abef, __m128i cdgh) {
  if ((uint32_t)_mm_extract_epi32(abef, 3) > job->target[0]) return 0;
  uint32_t hash[8];
  from_abef(abef, cdgh, hash);
  return zi_pow_below_target(hash, job->target);
}

ZI_SHA_TARGET int zi_pow_search_sha_ni(const zi_pow_job *job, uint64_t start, uint64_t count, uint64_t *found) {
  sha_ni_job p;
  sha_ni_prepare(job, &p);
  uint64_t i = 0;
  for (; i + 2 <= count; i += 2) {
    const uint64_t n = start + i;
    __m128i a0, a1, b0, b1;
    const __m128i ma = nonce_words(&p, n), mb = nonce_words(&p, n + 1);
    /* Written twice rather than looped so the two chains interleave in the schedule. */
    ROUNDS(&p, ma, a0, a1);
    ROUNDS(&p, mb, b0, b1);
    if (hit(job, a0, a1)) {
      *found = n;
      return 1;
    }
    if (hit(job, b0, b1)) {
      *found = n + 1;
      return 1;
    }
  }
  if (i < count) {
    __m128i a0, a1;
    ROUNDS(&p, nonce_words(&p, start + i), a0, a1);
    if (hit(job, a0, a1)) {
      *found = start + i;
      return 1;
    }
  }
  return 0;
}

#else

int zi_cpu_has_sha_ni(void) { return 0; }

int zi_pow_search_sha_ni(const zi_pow_job *job, uint64_t start, uint64_t count, uint64_t *found) {
  (void)job, (void)start, (void)count, (void)found;
  return -1;
}

#endif
