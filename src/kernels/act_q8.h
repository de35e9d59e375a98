/* Int8 activations (the opt-in KVLM_ACT_Q8 mode): each token's input to a
 * quantized matmul (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) is quantized once, per
 * block of 32, to
 *     x ≈ d · q,   d = max|x| / 127,   q = round-half-even(x / d) in -127..127,
 * and the matmuls multiply int8 by int8 with exact integer sums, as
 * llama.cpp does for these types. Only the scales meet floats, in one
 * canonical order every kernel set follows, so the scalar path reproduces a
 * SIMD path bit for bit.
 *
 * A weight block of 32 (for K-quants, sub-block b % 8 of super-block b / 8)
 * gives one or two exact integer sums A, B, each with its float scale:
 *     Q8_0, Q4_0:  A = Σ w·x (signed codes),          sa = d
 *     Q4_K, Q5_K:  A = Σ q·x (codes q >= 0),          sa = d·sc
 *                  B = −Σ x,                          sb = dmin·m
 *     Q6_K:        A = Σ (q − 32)·x, elements 0..15,  sa = d·sc[2j]
 *                  B = the same over elements 16..31, sb = d·sc[2j + 1]
 * (d·sc and dmin·m are exact: an FP16 significand times a small integer).
 * Blocks are taken 16 at a time (a "group"; the last one padded with zero
 * blocks). For block b, lane b % 16, with dx_b the activation block's scale:
 *       acc[lane] = fma((float) A_b, sa_b · dx_b, acc[lane])
 *       acc[lane] = fma((float) B_b, sb_b · dx_b, acc[lane])   (K-quants)
 * then y = the pairwise sum of the 16 lanes (act_q8_reduce).
 *
 * Layout: per token, group G's 512 bytes hold dword g of its 16 blocks side
 * by side: byte (G·512 + g·64 + 4·(b % 16) + j) is element 4g + j of block
 * b = 16G + b % 16 — what one 512-bit VNNI instruction consumes. */
#ifndef KVLM_ACT_Q8_H
#define KVLM_ACT_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "../format/ggml_types.h"
#include "../model/model.h"

enum { ACT_Q8_BLOCK = 32, ACT_Q8_GROUP_BLOCKS = 16, ACT_Q8_GROUP_BYTES = 512 };

typedef struct act_q8 {
    int8_t *q;    /* [n_tok][q_ld] interleaved as above, padding zero */
    float *d;     /* [n_tok][s_ld] scale per block (0 for padding) */
    int32_t *sum; /* [n_tok][s_ld] Σ q per block (for unsigned weight codes) */
    int32_t *sum16; /* [n_tok][s_ld] Σ q of each block's first 16 elements (Q6_K) */
    int64_t cols; /* K, a multiple of 32 */
    size_t q_ld;  /* bytes per token: groups × 512 */
    size_t s_ld;  /* blocks per token, padded: groups × 16 */
} act_q8;

static inline int64_t act_q8_groups(int64_t cols) { return (cols / ACT_Q8_BLOCK + ACT_Q8_GROUP_BLOCKS - 1) / ACT_Q8_GROUP_BLOCKS; }

/* Whether a matmul with these weights runs on int8 activations in Q8 mode. */
static inline int act_q8_weight(const kvlm_weight *w) {
    switch (w->type) {
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0: return w->cols % ACT_Q8_BLOCK == 0;
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K: return w->cols % 256 == 0;
    default: return 0;
    }
}

/* Byte offset, within a token's interleaved row, of block b's first element,
 * and of element e (0..31) of a block relative to that: together the layout. */
static inline size_t act_q8_block_at(int64_t b) {
    return (size_t)((b / ACT_Q8_GROUP_BLOCKS) * ACT_Q8_GROUP_BYTES + (b % ACT_Q8_GROUP_BLOCKS) * 4);
}
static inline size_t act_q8_elem_at(int e) { return (size_t)((e / 4) * 64 + e % 4); }

/* Byte offset of element k within a token's interleaved row. */
static inline size_t act_q8_at(int64_t k) {
    return act_q8_block_at(k / ACT_Q8_BLOCK) + act_q8_elem_at((int)(k % ACT_Q8_BLOCK));
}

/* Quantizes token t's cols floats into a (row t of its buffers). */
void act_q8_quantize(act_q8 *a, int t, const float *x);

/* The canonical final sum of the 16 lanes: halves, then quarters, ... */
static inline float act_q8_reduce(const float acc[16]) {
    float h[8], q[4];
    for (int i = 0; i < 8; i++) h[i] = acc[i] + acc[i + 8];
    for (int i = 0; i < 4; i++) q[i] = h[i] + h[i + 4];
    return (q[0] + q[2]) + (q[1] + q[3]);
}

/* The scalar reference: y[t·ldy + r] (+)= W[r,:] · x_t for rows [r0, r1). */
void act_q8_matmul_scalar(const kvlm_weight *w, const act_q8 *x, int n_tok, float *y, size_t ldy, int64_t r0,
                          int64_t r1, int accumulate);

#if defined(KVLM_X86)
/* The AVX-512 (VNNI) quantizer and matmul: the scalar ones' bytes and floats. */
void act_q8_quantize_avx512(act_q8 *a, int t, const float *x);
void act_q8_matmul_avx512(const kvlm_weight *w, const act_q8 *x, int n_tok, float *y, size_t ldy, int64_t r0,
                          int64_t r1, int accumulate);
#endif

#endif
