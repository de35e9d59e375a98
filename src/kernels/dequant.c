/* Scalar dequantization of every weight type: the reference the SIMD kernels
 * are tested against, and the path for embedding lookups. */
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "quant_blocks.h"

static float fp16(uint16_t h) { return f16_to_f32(h); }

void dequant_q8_0(const void *blocks, float *y, int64_t n) {
    const block_q8_0 *b = blocks;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d = fp16(b[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = d * (float)b[i].qs[j];
    }
}

void dequant_q4_0(const void *blocks, float *y, int64_t n) {
    const block_q4_0 *b = blocks;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        float d = fp16(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[i * QK4_0 + j] = d * (float)((b[i].qs[j] & 15) - 8);
            y[i * QK4_0 + j + 16] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

/* 6-bit scale and min of sub-block j (0..7) from the packed 12 bytes:
 * bytes 0-3 hold scales 0-3 (low 6 bits), 4-7 mins 0-3; scales/mins 4-7 take
 * their low 4 bits from bytes 8-11 and high 2 bits from the top of bytes 0-7. */
static void k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 15) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void dequant_q4_K(const void *blocks, float *y, int64_t n) {
    const block_q4_K *b = blocks;
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
        float d = fp16(b[i].d), dmin = fp16(b[i].dmin);
        const uint8_t *q = b[i].qs;
        /* each 32 bytes of qs hold two sub-blocks: low nibbles, then high nibbles */
        for (int c = 0; c < 4; c++) {
            uint8_t s0, m0, s1, m1;
            k4_scale_min(2 * c, b[i].scales, &s0, &m0);
            k4_scale_min(2 * c + 1, b[i].scales, &s1, &m1);
            for (int l = 0; l < 32; l++) {
                y[64 * c + l] = d * s0 * (float)(q[32 * c + l] & 15) - dmin * m0;
                y[64 * c + 32 + l] = d * s1 * (float)(q[32 * c + l] >> 4) - dmin * m1;
            }
        }
    }
}

void dequant_q5_K(const void *blocks, float *y, int64_t n) {
    const block_q5_K *b = blocks;
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
        float d = fp16(b[i].d), dmin = fp16(b[i].dmin);
        const uint8_t *q = b[i].qs, *qh = b[i].qh;
        for (int c = 0; c < 4; c++) {
            uint8_t s0, m0, s1, m1;
            k4_scale_min(2 * c, b[i].scales, &s0, &m0);
            k4_scale_min(2 * c + 1, b[i].scales, &s1, &m1);
            /* the fifth bit of sub-block k is bit k of qh[l] */
            for (int l = 0; l < 32; l++) {
                int lo = (q[32 * c + l] & 15) | (((qh[l] >> (2 * c)) & 1) << 4);
                int hi = (q[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
                y[64 * c + l] = d * s0 * (float)lo - dmin * m0;
                y[64 * c + 32 + l] = d * s1 * (float)hi - dmin * m1;
            }
        }
    }
}

void dequant_q6_K(const void *blocks, float *y, int64_t n) {
    const block_q6_K *b = blocks;
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
        float d = fp16(b[i].d);
        /* two halves of 128; in each, ql bytes l and l+32 give the low nibbles of
         * four groups of 32, qh byte l their high 2-bit pairs */
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            float *yy = y + 128 * h;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                yy[l] = d * sc[is] * (float)q1;
                yy[l + 32] = d * sc[is + 2] * (float)q2;
                yy[l + 64] = d * sc[is + 4] * (float)q3;
                yy[l + 96] = d * sc[is + 6] * (float)q4;
            }
        }
    }
}

void dequant_row(uint32_t type, const void *row, float *y, int64_t n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(y, row, (size_t)n * 4); break;
    case GGML_TYPE_F16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) y[i] = f16_to_f32(h[i]);
        break;
    }
    case GGML_TYPE_BF16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) y[i] = bf16_to_f32(h[i]);
        break;
    }
    case GGML_TYPE_Q8_0: dequant_q8_0(row, y, n); break;
    case GGML_TYPE_Q4_0: dequant_q4_0(row, y, n); break;
    case GGML_TYPE_Q4_K: dequant_q4_K(row, y, n); break;
    case GGML_TYPE_Q5_K: dequant_q5_K(row, y, n); break;
    case GGML_TYPE_Q6_K: dequant_q6_K(row, y, n); break;
    default: memset(y, 0, (size_t)n * 4); break; /* unreachable: the loader rejects other types */
    }
}
