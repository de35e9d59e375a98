/* What the AVX-512 kernel files share: forced inlining, tail masks, the
 * decode prefetch distance, the decode/prefill switch, the final lane sum of
 * the int8 and BF16 dot products. */
#ifndef KVLM_AVX512_UTIL_H
#define KVLM_AVX512_UTIL_H

#include <immintrin.h>
#include <stdint.h>

#define INLINE static inline __attribute__((always_inline))

/* The first n lanes (n held to 0..16): the tail of a row or a block. */
INLINE __mmask16 first_lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

enum { GEMV_MAX_TOK = 4 };    /* up to this many tokens a matmul streams rows (decode) */
enum { MAX_WIDEN_K = 16384 }; /* rows up to this long are rearranged on the stack */

/* Decode streams weights once: the hardware prefetchers alone leave memory
 * bandwidth unused. A software prefetch 8 KB ahead along the row (running on
 * into the next rows of the same matrix) measured, against 2 KB: single-token
 * decode Q4_0 +6-13%, Q8_0 +3-8%, and 4 batched tokens (a server step) on
 * BF16 42 -> 54 tokens/s; against none, BF16 decode 14 -> 18 tokens/s. */
enum { PREFETCH_BYTES = 8192 };
INLINE void prefetch_ahead(const char *p) { _mm_prefetch(p + PREFETCH_BYTES, _MM_HINT_T0); }

/* The pairwise sum of a vector's 16 lanes — halves, then quarters, ... — as
 * act_q8_reduce spells it in scalar code: the last step of the int8 and BF16
 * dot products, the same in decode and prefill. */
INLINE float sum16_pairwise(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    __m128 r = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)));
}

/* *dst = (or +=) that sum. */
INLINE void store_sum16(float *dst, __m512 acc, int add) {
    float v = sum16_pairwise(acc);
    *dst = add ? *dst + v : v;
}

#endif
