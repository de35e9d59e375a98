/* The kernel sets: the math the forward pass runs, one implementation per
 * instruction set, chosen at run time. The scalar set is the portable
 * reference every other set is tested against. */
#ifndef KVLM_KERNELS_H
#define KVLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../model/model.h"
#include "kvlm.h"

struct act_q8;

typedef struct kvlm_kernel_set {
    const char *name;

    /* y[t * ldy + r] = W[r,:] · x_t  (or += when accumulate), for rows
     * r in [r0, r1) and tokens t < n_tok; x_t (FP32) is at x + t * x_ld. */
    void (*matmul)(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy, int64_t r0,
                   int64_t r1, int accumulate);

    /* Token t's FP32 input as int8 blocks (act_q8.h), the same bytes in
     * every set. */
    void (*quantize_q8)(struct act_q8 *x, int t, const float *src);

    /* The same product on int8 activations (act_q8.h) for Q8_0/Q4_0/K-quant
     * weights, in its canonical order: equal, bit for bit, in every set. */
    void (*matmul_q8)(const kvlm_weight *w, const struct act_q8 *x, int n_tok, float *y, size_t ldy, int64_t r0,
                      int64_t r1, int accumulate);

    /* The same product on BF16 activations (act_bf16.h) for BF16 weights;
     * x_t at x + t * x_ld. */
    void (*matmul_bf16)(const kvlm_weight *w, const uint16_t *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                        int64_t r0, int64_t r1, int accumulate);

    /* Causal attention of n_q query heads that share one K/V head (grouped-
     * query attention) over n cached positions: out_h = softmax(q_h·K^T *
     * scale) V, FP32 math over an F16 or F32 cache (kv_f16 says which). q and
     * out hold the n_q heads side by side (head_dim each); k and v point at
     * position 0 of the K/V head's rows (head_dim elements per position).
     * scratch: room for attend_scratch(n_q, n) floats. */
    void (*attend)(const float *q, int n_q, const void *k, const void *v, int kv_f16, int n, int head_dim,
                   float scale, float *out, float *scratch);

    /* gate = silu(gate) * up, n elements (the FFN's activation). */
    void (*silu_mul)(float *gate, const float *up, int n);
} kvlm_kernel_set;

/* Floats of scratch an attend call needs: a score row per head, positions
 * rounded up to blocks of 16. */
static inline size_t attend_scratch(int n_q, int n) { return (size_t)n_q * (size_t)((n + 15) / 16 * 16); }

extern const kvlm_kernel_set kvlm_kernels_scalar;
#if defined(KVLM_X86)
extern const kvlm_kernel_set kvlm_kernels_avx2;
extern const kvlm_kernel_set kvlm_kernels_avx512;
#endif

/* The set for a request (AUTO: the best this CPU runs; the environment
 * variable KVLM_KERNELS=scalar|avx2|avx512 overrides AUTO). NULL with the
 * error set when the CPU lacks what was asked for. */
const kvlm_kernel_set *kernels_select(kvlm_kernels which);

/* Plain vector math shared by every path (small next to the matmuls). */
void rms_norm(float *out, const float *x, const float *w, int n, float eps);
void silu_mul(float *gate, const float *up, int n); /* gate = silu(gate) * up */

#endif
