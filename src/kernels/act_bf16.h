/* BF16 activations (the opt-in KVLM_ACT_BF16 mode): for BF16 weights each
 * token's input is rounded once to BF16 (round to nearest even, NaN kept:
 * what a BF16 PyTorch model holds), and the products are BF16 × BF16 with
 * FP32 sums, as AVX-512 BF16's vdpbf16ps computes them (each product exact
 * in FP32).
 *
 * The AVX-512 kernels sum every dot product in one order, in decode and in
 * prefill alike, so a prefill equals token-by-token decode bit for bit: one
 * 16-lane accumulator, lane l taking elements 32c + 2l and 32c + 2l + 1 of
 * each 32-element chunk c in turn (the last chunk zero-padded), then the
 * pairwise sum of the 16 lanes. The scalar reference (used by the scalar
 * and AVX2 sets) multiplies the same BF16 values in FP32 in its own order,
 * so it agrees with them to float rounding, not bit for bit. */
#ifndef KVLM_ACT_BF16_H
#define KVLM_ACT_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "../format/ggml_types.h"
#include "../model/model.h"

/* Whether a matmul with these weights runs on BF16 activations in BF16 mode. */
static inline int act_bf16_weight(const kvlm_weight *w) { return w->type == GGML_TYPE_BF16; }

/* dst[i] = src[i] rounded to BF16, n values (every kernel set). */
void act_bf16_round(uint16_t *dst, const float *src, int64_t n);

/* y[t·ldy + r] (+)= W[r,:] · x_t for rows [r0, r1), x_t (BF16) at x + t·x_ld:
 * the scalar reference, and the AVX-512 BF16 kernels. */
void act_bf16_matmul_scalar(const kvlm_weight *w, const uint16_t *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                            int64_t r0, int64_t r1, int accumulate);
#if defined(KVLM_X86)
void act_bf16_matmul_avx512(const kvlm_weight *w, const uint16_t *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                            int64_t r0, int64_t r1, int accumulate);
#endif

#endif
