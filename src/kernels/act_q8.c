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
    int32_t *sum = a->sum + (size_t)t * a->s_ld, *sum16 = a->sum16 + (size_t)t * a->s_ld;
    int64_t nb = a->cols / ACT_Q8_BLOCK;
    memset(q, 0, a->q_ld);
    memset(d, 0, sizeof(float) * a->s_ld);
    memset(sum, 0, sizeof(int32_t) * a->s_ld);
    memset(sum16, 0, sizeof(int32_t) * a->s_ld);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * ACT_Q8_BLOCK;
        float amax = 0;
        for (int i = 0; i < ACT_Q8_BLOCK; i++) { /* fmaxf without the call: a NaN never wins */
            float ax = fabsf(xb[i]);
            amax = ax > amax ? ax : amax;
        }
        float db = amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        int32_t s = 0, s16 = 0;
        /* |x·id| <= 127 up to one rounding, so the value fits an int8 */
        int8_t *qb = q + act_q8_block_at(b);
        for (int i = 0; i < ACT_Q8_BLOCK; i++) {
            int v = round_half_even(xb[i] * id);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            qb[act_q8_elem_at(i)] = (int8_t)v;
            s += v;
            if (i == 15) s16 = s;
        }
        d[b] = db;
        sum[b] = s;
        sum16[b] = s16;
    }
}

/* Block b of a weight row as act_q8.h defines its terms: the integer codes
 * (`two` = 0: A = Σ code·x; Q4_K/Q5_K: A = Σ code·x, B = −Σx; Q6_K: A and B
 * over the two halves) and the scales sa, sb. */
typedef struct {
    int8_t code[ACT_Q8_BLOCK];
    float sa, sb;
    int two; /* 0: one term; 1: B = −Σx (a min); 2: A, B over the halves */
} weight_block;

static weight_block decode_block(uint32_t type, const uint8_t *row, int64_t b) {
    weight_block o = {.two = 0};
    switch (type) {
    case GGML_TYPE_Q8_0: {
        const block_q8_0 *blk = (const block_q8_0 *)row + b;
        memcpy(o.code, blk->qs, ACT_Q8_BLOCK);
        o.sa = f16_to_f32(blk->d);
        break;
    }
    case GGML_TYPE_Q4_0: {
        const block_q4_0 *blk = (const block_q4_0 *)row + b;
        for (int j = 0; j < 16; j++) {
            o.code[j] = (int8_t)((blk->qs[j] & 15) - 8);
            o.code[j + 16] = (int8_t)((blk->qs[j] >> 4) - 8);
        }
        o.sa = f16_to_f32(blk->d);
        break;
    }
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: { /* sub-block j: nibble j % 2 of bytes 32·(j / 2).., fifth bit j of qh */
        int j = (int)(b % 8);
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t dh, mh;
        if (type == GGML_TYPE_Q4_K) {
            const block_q4_K *blk = (const block_q4_K *)row + b / 8;
            scales = blk->scales, qs = blk->qs, dh = blk->d, mh = blk->dmin;
        } else {
            const block_q5_K *blk = (const block_q5_K *)row + b / 8;
            scales = blk->scales, qs = blk->qs, qh = blk->qh, dh = blk->d, mh = blk->dmin;
        }
        uint64_t sc8, mn8;
        k4_unpack_scales(scales, &sc8, &mn8);
        for (int l = 0; l < 32; l++) {
            int v = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
            if (qh) v |= ((qh[l] >> j) & 1) << 4;
            o.code[l] = (int8_t)v;
        }
        o.sa = f16_to_f32(dh) * (float)((sc8 >> (8 * j)) & 0xff);
        o.sb = f16_to_f32(mh) * (float)((mn8 >> (8 * j)) & 0xff);
        o.two = 1;
        break;
    }
    default: { /* Q6_K sub-block j: half n = j / 4; low 4 bits from ql, 2 more from qh */
        const block_q6_K *blk = (const block_q6_K *)row + b / 8;
        int j = (int)(b % 8), n = j / 4, jj = j % 4;
        const uint8_t *ql = blk->ql + 64 * n + 32 * (jj % 2), *qh = blk->qh + 32 * n;
        for (int l = 0; l < 32; l++)
            o.code[l] = (int8_t)((((ql[l] >> (4 * (jj / 2))) & 15) | (((qh[l] >> (2 * jj)) & 3) << 4)) - 32);
        float d = f16_to_f32(blk->d);
        o.sa = d * (float)blk->scales[2 * j];
        o.sb = d * (float)blk->scales[2 * j + 1];
        o.two = 2;
        break;
    }
    }
    return o;
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
                /* padding blocks meet zero activations: a zero term adds nothing */
                weight_block wb = b < nb ? decode_block(w->type, row, b) : (weight_block){.two = 0};
                size_t base = act_q8_block_at(b);
                for (int t = 0; t < nt; t++) {
                    const int8_t *xq = x->q + (size_t)(t0 + t) * x->q_ld + base;
                    size_t at = (size_t)(t0 + t) * x->s_ld + (size_t)b;
                    int32_t A = 0, B = 0;
                    for (int i = 0; i < ACT_Q8_BLOCK; i++) {
                        int32_t p = wb.code[i] * xq[off[i]];
                        if (wb.two == 2 && i >= 16) B += p;
                        else A += p;
                    }
                    if (wb.two == 1) B = -x->sum[at];
                    float dx = x->d[at];
                    acc[t][b % 16] = fmaf((float)A, wb.sa * dx, acc[t][b % 16]);
                    if (wb.two) acc[t][b % 16] = fmaf((float)B, wb.sb * dx, acc[t][b % 16]);
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
