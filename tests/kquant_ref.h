/* Test-only reference for ggml's block quantization formats, written from the
 * formats' description (ggml-common.h's block structs and the layout notes
 * below), independently of src/kernels/dequant.c: blocks are addressed by
 * byte offset, and each value is decoded from its own element index, not by
 * walking the block the way the kernels do. Also encoders (logical scales,
 * mins and quants -> block bytes) and simple quantizers (per sub-block
 * min/max), enough to make valid blocks with a small error.
 *
 * Layouts (little-endian, packed; d/dmin are IEEE half):
 *   Q8_0  34 B / 32 values: d @0, int8 q[32] @2;           x = d*q
 *   Q4_0  18 B / 32 values: d @0, qs[16] @2;               x = d*(q-8);
 *         value e < 16 is the low nibble of qs[e], value e >= 16 the high nibble of qs[e-16]
 *   Q4_K 144 B / 256 values: d @0, dmin @2, scales[12] @4, qs[128] @16
 *         8 sub-blocks of 32, each with a 6-bit scale sc and 6-bit min m:  x = d*sc*q - dmin*m, q in 0..15
 *         scales packing: for j < 4, sc_j = scales[j] & 63 and m_j = scales[j+4] & 63;
 *         for j >= 4, the low 4 bits of sc_j / m_j are the low / high nibble of scales[j+4], and
 *         their top 2 bits are the top 2 bits of scales[j-4] / scales[j].
 *         value e (sub-block j = e/32): nibble of qs[32*(j/2) + e%32], low for even j, high for odd j
 *   Q5_K 176 B / 256 values: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
 *         as Q4_K with q in 0..31: the 5th bit of value e is bit (e/32) of qh[e%32]
 *   Q6_K 210 B / 256 values: ql[128] @0, qh[64] @128, int8 scales[16] @192, d @208
 *         16 sub-blocks of 16: x = d*scales[e/16]*(q-32), q in 0..63.
 *         value e: half h = e/128, r = e%128, quarter k = r/32, l = r%32:
 *         low 4 bits: nibble (k/2: 0 low, 1 high) of ql[64h + 32*(k%2) + l];
 *         high 2 bits: bits 2k..2k+1 of qh[32h + l]. */
#ifndef KVLM_TEST_KQUANT_REF_H
#define KVLM_TEST_KQUANT_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"

enum {
    REF_Q8_0_BYTES = 34, REF_Q4_0_BYTES = 18,
    REF_Q4_K_BYTES = 144, REF_Q5_K_BYTES = 176, REF_Q6_K_BYTES = 210,
};

static inline float ref_half(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }
static inline void ref_put_half(uint8_t *p, float v) {
    uint16_t h = f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* ------------------------------------------------------------ decoders */

static inline float ref_q8_0(const uint8_t *b, int e) { return ref_half(b) * (float)(int8_t)b[2 + e]; }

static inline float ref_q4_0(const uint8_t *b, int e) {
    int q = e < 16 ? (b[2 + e] & 15) : (b[2 + e - 16] >> 4);
    return ref_half(b) * (float)(q - 8);
}

/* 6-bit scale (what = 0) or min (what = 1) of sub-block j from the 12 packed bytes */
static inline int ref_k_scale(const uint8_t *s, int j, int what) {
    if (j < 4) return s[j + 4 * what] & 63;
    int low = what ? s[j + 4] >> 4 : s[j + 4] & 15;
    int top = s[what ? j : j - 4] >> 6;
    return low | (top << 4);
}

static inline int ref_q4_K_quant(const uint8_t *b, int e) {
    int j = e / 32;
    uint8_t byte = b[16 + 32 * (j / 2) + e % 32];
    return j % 2 ? byte >> 4 : byte & 15;
}

static inline float ref_q4_K(const uint8_t *b, int e) {
    int j = e / 32;
    float d = ref_half(b), dmin = ref_half(b + 2);
    return d * (float)ref_k_scale(b + 4, j, 0) * (float)ref_q4_K_quant(b, e) - dmin * (float)ref_k_scale(b + 4, j, 1);
}

static inline int ref_q5_K_quant(const uint8_t *b, int e) {
    int j = e / 32;
    uint8_t byte = b[48 + 32 * (j / 2) + e % 32];
    int lo = j % 2 ? byte >> 4 : byte & 15;
    int hi = (b[16 + e % 32] >> j) & 1;
    return lo | (hi << 4);
}

static inline float ref_q5_K(const uint8_t *b, int e) {
    int j = e / 32;
    float d = ref_half(b), dmin = ref_half(b + 2);
    return d * (float)ref_k_scale(b + 4, j, 0) * (float)ref_q5_K_quant(b, e) - dmin * (float)ref_k_scale(b + 4, j, 1);
}

static inline int ref_q6_K_quant(const uint8_t *b, int e) {
    int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
    uint8_t lb = b[64 * h + 32 * (k % 2) + l];
    int lo = k / 2 ? lb >> 4 : lb & 15;
    int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    return lo | (hi << 4);
}

static inline float ref_q6_K(const uint8_t *b, int e) {
    return ref_half(b + 208) * (float)(int8_t)b[192 + e / 16] * (float)(ref_q6_K_quant(b, e) - 32);
}

/* ------------------------------------------------------------ encoders */

/* sc, mn: 8 values in 0..63 each */
static inline void ref_k_pack_scales(uint8_t *s, const int *sc, const int *mn) {
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= (uint8_t)(sc[j] & 63);
            s[j + 4] |= (uint8_t)(mn[j] & 63);
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 15) | ((mn[j] & 15) << 4));
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((mn[j] >> 4) << 6);
        }
    }
}

/* q: 256 values in 0..15 */
static inline void ref_q4_K_encode(uint8_t *b, float d, float dmin, const int *sc, const int *mn, const int *q) {
    memset(b, 0, REF_Q4_K_BYTES);
    ref_put_half(b, d);
    ref_put_half(b + 2, dmin);
    ref_k_pack_scales(b + 4, sc, mn);
    for (int e = 0; e < 256; e++) {
        int j = e / 32;
        b[16 + 32 * (j / 2) + e % 32] |= (uint8_t)((q[e] & 15) << (4 * (j % 2)));
    }
}

/* q: 256 values in 0..31 */
static inline void ref_q5_K_encode(uint8_t *b, float d, float dmin, const int *sc, const int *mn, const int *q) {
    memset(b, 0, REF_Q5_K_BYTES);
    ref_put_half(b, d);
    ref_put_half(b + 2, dmin);
    ref_k_pack_scales(b + 4, sc, mn);
    for (int e = 0; e < 256; e++) {
        int j = e / 32;
        b[48 + 32 * (j / 2) + e % 32] |= (uint8_t)((q[e] & 15) << (4 * (j % 2)));
        b[16 + e % 32] |= (uint8_t)(((q[e] >> 4) & 1) << j);
    }
}

/* sc: 16 int8 scales; q: 256 values in 0..63 */
static inline void ref_q6_K_encode(uint8_t *b, float d, const int *sc, const int *q) {
    memset(b, 0, REF_Q6_K_BYTES);
    for (int e = 0; e < 256; e++) {
        int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
        b[64 * h + 32 * (k % 2) + l] |= (uint8_t)((q[e] & 15) << (4 * (k / 2)));
        b[128 + 32 * h + l] |= (uint8_t)(((q[e] >> 4) & 3) << (2 * k));
    }
    for (int j = 0; j < 16; j++) b[192 + j] = (uint8_t)(int8_t)sc[j];
    ref_put_half(b + 208, d);
}

/* ---------------------------------------------------------- quantizers */

static inline int ref_clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Q4_K / Q5_K (levels 15 or 31): each sub-block of 32 maps [min(0, lo), hi] onto 0..levels. */
static inline void ref_kq_quantize_block(const float *x, uint8_t *b, int levels) {
    float fscale[8], fmin[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float lo = 0, hi = 0;
        for (int i = 0; i < 32; i++) {
            lo = fminf(lo, x[32 * j + i]);
            hi = fmaxf(hi, x[32 * j + i]);
        }
        fscale[j] = (hi - lo) / (float)levels;
        fmin[j] = -lo;
        max_scale = fmaxf(max_scale, fscale[j]);
        max_min = fmaxf(max_min, fmin[j]);
    }
    float d = f16_to_f32(f32_to_f16(max_scale / 63.0f)), dmin = f16_to_f32(f32_to_f16(max_min / 63.0f));
    int sc[8], mn[8], q[256];
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0 ? ref_clampi((int)lrintf(fscale[j] / d), 0, 63) : 0;
        mn[j] = dmin > 0 ? ref_clampi((int)lrintf(fmin[j] / dmin), 0, 63) : 0;
        float step = d * (float)sc[j], off = dmin * (float)mn[j];
        for (int i = 0; i < 32; i++)
            q[32 * j + i] = step > 0 ? ref_clampi((int)lrintf((x[32 * j + i] + off) / step), 0, levels) : 0;
    }
    if (levels == 15) ref_q4_K_encode(b, d, dmin, sc, mn, q);
    else ref_q5_K_encode(b, d, dmin, sc, mn, q);
}

/* Q6_K: each sub-block of 16 is symmetric, q - 32 in -32..31 */
static inline void ref_q6_K_quantize_block(const float *x, uint8_t *b) {
    float fscale[16], max_scale = 0;
    for (int j = 0; j < 16; j++) {
        float amax = 0;
        for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(x[16 * j + i]));
        fscale[j] = amax / 31.0f;
        max_scale = fmaxf(max_scale, fscale[j]);
    }
    float d = f16_to_f32(f32_to_f16(max_scale / 127.0f));
    int sc[16], q[256];
    for (int j = 0; j < 16; j++) {
        sc[j] = d > 0 ? ref_clampi((int)lrintf(fscale[j] / d), 0, 127) : 0;
        float step = d * (float)sc[j];
        for (int i = 0; i < 16; i++)
            q[16 * j + i] = step > 0 ? ref_clampi((int)lrintf(x[16 * j + i] / step) + 32, 0, 63) : 32;
    }
    ref_q6_K_encode(b, d, sc, q);
}

#endif
