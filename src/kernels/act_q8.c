/* Int8 activations: the quantizer every kernel set shares, and the scalar
 * reference matmul (read act_q8.h for the format and the canonical order). */
#include "act_q8.h"

#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "quant_blocks.h"

/* Round half to even for |v| < 2^22 (here |v| <= 127): adding 1.5·2^23
 * leaves v's integer part in the low mantissa bits, rounded by the FPU as
 * cvtps2dq or nearbyintf would; plain float ops, so loops vectorize. */
static inline int round_half_even(float v) {
    float f = v + 12582912.0f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (int)(u & 0x7fffff) - 0x400000;
}

void act_q8_quantize(act_q8 *a, int t, const float *x) {
    int8_t *q = a->q + (size_t)t * a->q_ld;
    float *d = a->d + (size_t)t * a->s_ld;
    int32_t *sum = a->sum + (size_t)t * a->s_ld;
    int64_t nb = a->cols / ACT_Q8_BLOCK;
    memset(q, 0, a->q_ld);
    memset(d, 0, sizeof(float) * a->s_ld);
    memset(sum, 0, sizeof(int32_t) * a->s_ld);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * ACT_Q8_BLOCK;
        float amax = 0;
        for (int i = 0; i < ACT_Q8_BLOCK; i++) { /* fmaxf without the call: a NaN never wins */
            float ax = fabsf(xb[i]);
            amax = ax > amax ? ax : amax;
        }
        float db = amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        int32_t s = 0;
        /* |x·id| <= 127 up to one rounding, so the value fits an int8 */
        int8_t *qb = q + act_q8_block_at(b);
        for (int i = 0; i < ACT_Q8_BLOCK; i++) {
            int v = round_half_even(xb[i] * id);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            qb[act_q8_elem_at(i)] = (int8_t)v;
            s += v;
        }
        d[b] = db;
        sum[b] = s;
    }
}

/* The signed weight codes and scale of block b of a Q8_0/Q4_0 row. */
static float weight_block(uint32_t type, const void *row, int64_t b, int8_t out[ACT_Q8_BLOCK]) {
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *blk = (const block_q8_0 *)row + b;
        memcpy(out, blk->qs, ACT_Q8_BLOCK);
        return f16_to_f32(blk->d);
    }
    const block_q4_0 *blk = (const block_q4_0 *)row + b;
    for (int j = 0; j < 16; j++) {
        out[j] = (int8_t)((blk->qs[j] & 15) - 8);
        out[j + 16] = (int8_t)((blk->qs[j] >> 4) - 8);
    }
    return f16_to_f32(blk->d);
}

/* Row by row; each weight block decoded once and met by every token, whose
 * lanes keep the canonical order (blocks ascending per lane). */
void act_q8_matmul_scalar(const kvlm_weight *w, const act_q8 *x, int n_tok, float *y, size_t ldy, int64_t r0,
                          int64_t r1, int accumulate) {
    enum { TOK = 16 };
    int64_t nb = w->cols / ACT_Q8_BLOCK, padded = (int64_t)x->s_ld;
    size_t off[ACT_Q8_BLOCK];
    for (int i = 0; i < ACT_Q8_BLOCK; i++) off[i] = act_q8_elem_at(i);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int t0 = 0; t0 < n_tok; t0 += TOK) {
            int nt = n_tok - t0 < TOK ? n_tok - t0 : TOK;
            float acc[TOK][16] = {{0}};
            for (int64_t b = 0; b < padded; b++) {
                int8_t wq[ACT_Q8_BLOCK] = {0};
                float dw = b < nb ? weight_block(w->type, row, b, wq) : 0.0f;
                size_t base = act_q8_block_at(b);
                for (int t = 0; t < nt; t++) {
                    const int8_t *xq = x->q + (size_t)(t0 + t) * x->q_ld + base;
                    int32_t isum = 0;
                    for (int i = 0; i < ACT_Q8_BLOCK; i++) isum += wq[i] * xq[off[i]];
                    float s = dw * x->d[(size_t)(t0 + t) * x->s_ld + (size_t)b];
                    acc[t][b % 16] = fmaf((float)isum, s, acc[t][b % 16]);
                }
            }
            for (int t = 0; t < nt; t++) {
                float v = act_q8_reduce(acc[t]);
                float *dst = y + (size_t)(t0 + t) * ldy + (size_t)r;
                *dst = accumulate ? *dst + v : v;
            }
        }
    }
}
