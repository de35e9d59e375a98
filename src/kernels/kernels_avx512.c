/* AVX-512 kernels (F/BW/VL/DQ + VNNI + BF16 for the instruction set; the math
 * is FP32 FMA). Weights of every type are widened to FP32 and meet FP32
 * activations, so results equal the scalar path's up to float rounding. (The
 * opt-in int8-activation matmuls, at the end, use VNNI: read act_q8.h.)
 *
 * One summation order for every dot product (the "canonical order"), so that
 * a prefill, token-by-token decode and batched decode give bit-identical
 * logits: two 16-lane accumulators, A0 over the even 16-element groups of the
 * row and A1 over the odd ones, in order (a partial last group, masked, goes
 * where its index says); then reduce_add(A0 + A1).
 *
 * Decode (<= 4 tokens) streams one weight row at a time, front to back — one
 * sequential memory stream per thread, which the prefetchers sustain far
 * better than interleaved rows or sub-streams — with the two accumulators as
 * independent FMA chains. Prefill tiles R rows × T tokens with all R·T·2
 * accumulators in registers; each row block's weights stay in L1/L2 while all
 * tokens pass over them. Quantized rows are first widened to FP32 into a
 * scratch block (once per chunk of tokens). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "act_bf16.h"
#include "act_q8.h"
#include "avx512_util.h"
#include "kernels.h"
#include "quant_blocks.h"

enum { FR = 4, FT = 3 };  /* prefill tile: 4 rows × 3 tokens × 2 accumulators */

/* ------------------------------------------------------- loading weights */

INLINE __m512 fp16_bcast(const void *p) { return _mm512_cvtph_ps(_mm256_broadcastw_epi16(_mm_loadu_si16(p))); }

/* 16 weights of a float-type row starting at element k, as FP32 (masked). */
INLINE __m512 load_w(uint32_t type, const void *row, int64_t k, __mmask16 m) {
    switch (type) {
    case GGML_TYPE_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k)), 16));
    case GGML_TYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k));
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    }
}

INLINE __m512 load_w_full(uint32_t type, const void *row, int64_t k) {
    switch (type) {
    case GGML_TYPE_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k))), 16));
    case GGML_TYPE_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k)));
    default: return _mm512_loadu_ps((const float *)row + k);
    }
}

static int native_type(uint32_t t) {
    return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16 || t == GGML_TYPE_Q8_0 ||
           t == GGML_TYPE_Q4_0;
}

/* ---------------------------------------------------------- K-quants */

/* K-quant rows are decoded 64 elements at a time from per-sub-block float
 * scales computed once per super-block (kq_sb): Q4_K/Q5_K sub-blocks of 32
 * hold x = q · (d·sc) − dmin·m; Q6_K sub-blocks of 16 hold x = (q − 32) · (d·sc). */
static int kquant_type(uint32_t t) { return t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K || t == GGML_TYPE_Q6_K; }

/* The scales of super-block b: Q4_K/Q5_K sc[0..7], mn[0..7]; Q6_K sc[0..15]. */
typedef struct {
    float sc[16], mn[8];
} kq_scales_sb;

INLINE void kq_sb(uint32_t type, const void *row, int64_t b, kq_scales_sb *s) {
    if (type == GGML_TYPE_Q6_K) {
        const block_q6_K *blk = (const block_q6_K *)row + b;
        __m512 d = _mm512_set1_ps(_cvtsh_ss(blk->d));
        __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)blk->scales)));
        _mm512_storeu_ps(s->sc, _mm512_mul_ps(d, sc));
        return;
    }
    const uint8_t *q = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)row + b)->scales : ((const block_q5_K *)row + b)->scales;
    uint16_t dh = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)row + b)->d : ((const block_q5_K *)row + b)->d;
    uint16_t mh = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)row + b)->dmin : ((const block_q5_K *)row + b)->dmin;
    uint64_t sc8, mn8;
    k4_unpack_scales(q, &sc8, &mn8);
    __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc8)));
    __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mn8)));
    _mm256_storeu_ps(s->sc, _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(dh)), sc));
    _mm256_storeu_ps(s->mn, _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(mh)), mn));
}

/* Elements 64j .. 64j+63 of super-block b as four groups of 16, in order:
 * the values the scalar dequantizer gives, to float rounding. */
INLINE void kq_chunk(uint32_t type, const void *row, int64_t b, int j, const kq_scales_sb *s, __m512 w[4]) {
    const __m512i m15 = _mm512_set1_epi32(15);
    if (type == GGML_TYPE_Q6_K) {
        const block_q6_K *blk = (const block_q6_K *)row + b;
        int half = j >> 1, nib = j & 1; /* groups (qq, l0) with qq = 2·nib, 2·nib + 1 */
        const uint8_t *ql = blk->ql + 64 * half, *qh = blk->qh + 32 * half;
        const __m512i hi2[2] = {_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qh)),
                                _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + 16)))};
        for (int g = 0; g < 4; g++) {
            int qq = 2 * nib + (g >> 1), l0 = 16 * (g & 1), sh = 2 * qq;
            __m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + 32 * (qq & 1) + l0)));
            lo = nib ? _mm512_srli_epi32(lo, 4) : _mm512_and_si512(lo, m15);
            /* bits sh, sh+1 of qh to bits 4, 5; then q = lo | those */
            __m512i hs = sh <= 4 ? _mm512_slli_epi32(hi2[g & 1], (unsigned)(4 - sh))
                                 : _mm512_srli_epi32(hi2[g & 1], (unsigned)(sh - 4));
            __m512i q = _mm512_ternarylogic_epi32(lo, hs, _mm512_set1_epi32(0x30), 0xF8);
            /* (q − 32)·s rounded once, as q·s − 32·s is (32·s is exact) */
            float sc = s->sc[4 * j + g];
            w[g] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(sc), _mm512_set1_ps(32.0f * sc));
        }
        return;
    }
    /* x = q·(d·sc) − dmin·m takes 16 (Q4_K) or 32 (Q5_K) values per
     * sub-block: computed once into a table, each q picks its lane (vpermps
     * reads the low 4 index bits, vpermt2ps the low 5), the same fmsub per
     * value as decoding q by q would round */
    const uint8_t *qs = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)row + b)->qs : ((const block_q5_K *)row + b)->qs;
    const __m512 lv = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 s0 = _mm512_set1_ps(s->sc[2 * j]), m0 = _mm512_set1_ps(s->mn[2 * j]);
    __m512 s1 = _mm512_set1_ps(s->sc[2 * j + 1]), m1 = _mm512_set1_ps(s->mn[2 * j + 1]);
    __m512i qa = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qs + 32 * j)));
    __m512i qb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qs + 32 * j + 16)));
    if (type == GGML_TYPE_Q4_K) {
        __m512 t0 = _mm512_fmsub_ps(lv, s0, m0), t1 = _mm512_fmsub_ps(lv, s1, m1);
        w[0] = _mm512_permutexvar_ps(qa, t0);
        w[1] = _mm512_permutexvar_ps(qb, t0);
        w[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(qa, 4), t1);
        w[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(qb, 4), t1);
        return;
    }
    const __m512 lv16 = _mm512_add_ps(lv, _mm512_set1_ps(16));
    __m512 t0 = _mm512_fmsub_ps(lv, s0, m0), t0h = _mm512_fmsub_ps(lv16, s0, m0);
    __m512 t1 = _mm512_fmsub_ps(lv, s1, m1), t1h = _mm512_fmsub_ps(lv16, s1, m1);
    const uint8_t *qh = ((const block_q5_K *)row + b)->qh;
    __m512i ha = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qh));
    __m512i hb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + 16)));
    /* the fifth bit of sub-block i is bit i of qh[l]: moved to bit 4 of the index */
    const __m512i b4 = _mm512_set1_epi32(16);
    __m512i i0 = _mm512_ternarylogic_epi32(_mm512_and_si512(qa, m15), _mm512_slli_epi32(_mm512_srli_epi32(ha, (unsigned)(2 * j)), 4), b4, 0xF8);
    __m512i i1 = _mm512_ternarylogic_epi32(_mm512_and_si512(qb, m15), _mm512_slli_epi32(_mm512_srli_epi32(hb, (unsigned)(2 * j)), 4), b4, 0xF8);
    __m512i i2 = _mm512_ternarylogic_epi32(_mm512_srli_epi32(qa, 4), _mm512_slli_epi32(_mm512_srli_epi32(ha, (unsigned)(2 * j + 1)), 4), b4, 0xF8);
    __m512i i3 = _mm512_ternarylogic_epi32(_mm512_srli_epi32(qb, 4), _mm512_slli_epi32(_mm512_srli_epi32(hb, (unsigned)(2 * j + 1)), 4), b4, 0xF8);
    w[0] = _mm512_permutex2var_ps(t0, i0, t0h);
    w[1] = _mm512_permutex2var_ps(t0, i1, t0h);
    w[2] = _mm512_permutex2var_ps(t1, i2, t1h);
    w[3] = _mm512_permutex2var_ps(t1, i3, t1h);
}

/* --------------------------------------------------------------- decode */

/* The two 16-element halves of a Q8_0/Q4_0 block as FP32 (d × q, exact). */
INLINE void qblock(uint32_t type, const void *blocks, int64_t i, __m512 *w0, __m512 *w1) {
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)blocks + i;
        __m512 d = fp16_bcast(&b->d);
        *w0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->qs))));
        *w1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + 16)))));
    } else {
        /* the 16 values d·(q − 8) in a register, each nibble picks its lane
         * (vpermps reads the low 4 bits of each index): exact, as d·(q − 8) is */
        const block_q4_0 *b = (const block_q4_0 *)blocks + i;
        const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
        __m512 table = _mm512_mul_ps(fp16_bcast(&b->d), levels);
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b->qs));
        *w0 = _mm512_permutexvar_ps(q, table);
        *w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table);
    }
}

/* One K-quant row against T tokens in the canonical order (group 2i into A0,
 * 2i+1 into A1), decoded in registers as it streams by. */
INLINE void gemv_row_kq(uint32_t type, const void *row, const float *x, size_t x_ld, int64_t K, float *y, size_t ldy,
                        int add, const int T) {
    const size_t bb = type == GGML_TYPE_Q6_K ? sizeof(block_q6_K)
                      : type == GGML_TYPE_Q4_K ? sizeof(block_q4_K)
                                               : sizeof(block_q5_K);
    __m512 a0[4], a1[4];
    for (int t = 0; t < T; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < K / QK_K; b++) {
        const char *blk = (const char *)row + (size_t)b * bb;
        prefetch_ahead(blk);
        prefetch_ahead(blk + 64);
        prefetch_ahead(blk + 128);
        if (bb > 192) prefetch_ahead(blk + 192);
        kq_scales_sb sc;
        kq_sb(type, row, b, &sc);
        for (int j = 0; j < 4; j++) {
            __m512 w[4];
            kq_chunk(type, row, b, j, &sc, w);
            int64_t k = b * QK_K + 64 * j;
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * x_ld + k;
                a0[t] = _mm512_fmadd_ps(w[0], _mm512_loadu_ps(xt), a0[t]);
                a1[t] = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(xt + 16), a1[t]);
                a0[t] = _mm512_fmadd_ps(w[2], _mm512_loadu_ps(xt + 32), a0[t]);
                a1[t] = _mm512_fmadd_ps(w[3], _mm512_loadu_ps(xt + 48), a1[t]);
            }
        }
    }
    for (int t = 0; t < T; t++) {
        float v = _mm512_reduce_add_ps(_mm512_add_ps(a0[t], a1[t]));
        y[(size_t)t * ldy] = add ? y[(size_t)t * ldy] + v : v;
    }
}

/* One row against T tokens in the canonical order. */
INLINE void gemv_row(uint32_t type, const void *row, const float *x, size_t x_ld, int64_t K, float *y, size_t ldy,
                     int add, const int T) {
    if (kquant_type(type)) {
        gemv_row_kq(type, row, x, x_ld, K, y, ldy, add, T);
        return;
    }
    __m512 a0[4], a1[4];
    for (int t = 0; t < T; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    int64_t k = 0;
    if (type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) {
        size_t bb = type == GGML_TYPE_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0);
        for (; k + 32 <= K; k += 32) { /* a block: its first group even, its second odd */
            prefetch_ahead((const char *)row + (size_t)(k / 32) * bb);
            __m512 w0, w1;
            qblock(type, row, k / 32, &w0, &w1);
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * x_ld + k;
                a0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), a0[t]);
                a1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), a1[t]);
            }
        }
    } else {
        const size_t esz = type == GGML_TYPE_F32 ? 4 : 2;
        for (; k + 32 <= K; k += 32) {
            prefetch_ahead((const char *)row + (size_t)k * esz);
            if (esz == 4) prefetch_ahead((const char *)row + (size_t)k * esz + 64);
            __m512 w0 = load_w_full(type, row, k), w1 = load_w_full(type, row, k + 16);
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * x_ld + k;
                a0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), a0[t]);
                a1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), a1[t]);
            }
        }
        /* at most one more full group (even) and a partial one */
        for (int odd = 0; k < K; k += 16, odd ^= 1) {
            __mmask16 m = first_lanes(K - k);
            __m512 w = load_w(type, row, k, m);
            for (int t = 0; t < T; t++) {
                __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)t * x_ld + k);
                if (odd) a1[t] = _mm512_fmadd_ps(w, xv, a1[t]);
                else a0[t] = _mm512_fmadd_ps(w, xv, a0[t]);
            }
        }
    }
    for (int t = 0; t < T; t++) {
        float v = _mm512_reduce_add_ps(_mm512_add_ps(a0[t], a1[t]));
        y[(size_t)t * ldy] = add ? y[(size_t)t * ldy] + v : v;
    }
}

INLINE void gemv_t(const uint32_t type, const uint8_t *w, size_t row_bytes, int64_t K, const float *x, size_t x_ld,
                   int n_tok, float *y, size_t ldy, int64_t r0, int64_t r1, int add) {
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        switch (n_tok) {
        case 1: gemv_row(type, row, x, x_ld, K, y + r, ldy, add, 1); break;
        case 2: gemv_row(type, row, x, x_ld, K, y + r, ldy, add, 2); break;
        case 3: gemv_row(type, row, x, x_ld, K, y + r, ldy, add, 3); break;
        default: gemv_row(type, row, x, x_ld, K, y + r, ldy, add, 4); break;
        }
    }
}

/* The weight type as a compile-time constant in each instance, so no switch
 * runs inside the loops. */
static void gemv(uint32_t type, const uint8_t *w, size_t row_bytes, int64_t K, const float *x, size_t x_ld, int n_tok,
                 float *y, size_t ldy, int64_t r0, int64_t r1, int add) {
    switch (type) {
    case GGML_TYPE_F16: gemv_t(GGML_TYPE_F16, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_BF16: gemv_t(GGML_TYPE_BF16, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_Q8_0: gemv_t(GGML_TYPE_Q8_0, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_Q4_0: gemv_t(GGML_TYPE_Q4_0, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_Q4_K: gemv_t(GGML_TYPE_Q4_K, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_Q5_K: gemv_t(GGML_TYPE_Q5_K, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    case GGML_TYPE_Q6_K: gemv_t(GGML_TYPE_Q6_K, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    default: gemv_t(GGML_TYPE_F32, w, row_bytes, K, x, x_ld, n_tok, y, ldy, r0, r1, add); break;
    }
}

INLINE void widen_kq(const uint32_t type, const void *row, float *out, int64_t K) {
    for (int64_t b = 0; b < K / QK_K; b++) {
        kq_scales_sb sc;
        kq_sb(type, row, b, &sc);
        for (int j = 0; j < 4; j++) {
            __m512 w[4];
            kq_chunk(type, row, b, j, &sc, w);
            for (int g = 0; g < 4; g++) _mm512_storeu_ps(out + b * QK_K + 64 * j + 16 * g, w[g]);
        }
    }
}

/* A whole row of a non-float type as FP32: the values decode multiplies with. */
static void widen_row(uint32_t type, const void *row, float *out, int64_t K) {
    if (type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) {
        for (int64_t i = 0; i < K / 32; i++) {
            __m512 w0, w1;
            qblock(type, row, i, &w0, &w1);
            _mm512_storeu_ps(out + 32 * i, w0);
            _mm512_storeu_ps(out + 32 * i + 16, w1);
        }
    } else if (kquant_type(type)) {
        switch (type) {
        case GGML_TYPE_Q4_K: widen_kq(GGML_TYPE_Q4_K, row, out, K); break;
        case GGML_TYPE_Q5_K: widen_kq(GGML_TYPE_Q5_K, row, out, K); break;
        default: widen_kq(GGML_TYPE_Q6_K, row, out, K); break;
        }
    } else {
        dequant_row(type, row, out, K);
    }
}

/* -------------------------------------------------------------- prefill */

/* y[t][r] (+)= W[r,:] · x[t,:] for an R × T tile of a float-type matrix, in
 * the canonical order (even groups into A0, odd ones into A1). */
INLINE void ftile(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int64_t K, float *y,
                  size_t ldy, int add, const int R, const int T) {
    __m512 A0[FR][FT], A1[FR][FT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) A0[r][t] = A1[r][t] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w_full(type, w + (size_t)r * w_stride, k);
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) A0[r][t] = _mm512_fmadd_ps(wv[r], xv, A0[r][t]);
        }
        for (int r = 0; r < R; r++) wv[r] = load_w_full(type, w + (size_t)r * w_stride, k + 16);
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)t * x_ld + k + 16);
            for (int r = 0; r < R; r++) A1[r][t] = _mm512_fmadd_ps(wv[r], xv, A1[r][t]);
        }
    }
    for (int odd = 0; k < K; k += 16, odd ^= 1) {
        __mmask16 m = first_lanes(K - k);
        __m512 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w(type, w + (size_t)r * w_stride, k, m);
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) {
                if (odd) A1[r][t] = _mm512_fmadd_ps(wv[r], xv, A1[r][t]);
                else A0[r][t] = _mm512_fmadd_ps(wv[r], xv, A0[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(_mm512_add_ps(A0[r][t], A1[r][t]));
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

/* One row block (R rows) against all tokens. */
INLINE void frows(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int n_tok, int64_t K,
                  float *y, size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + FT <= n_tok; t += FT) ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, K, y + (size_t)t * ldy, ldy, add, R, FT);
    switch (n_tok - t) {
    case 1: ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, K, y + (size_t)t * ldy, ldy, add, R, 1); break;
    case 2: ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, K, y + (size_t)t * ldy, ldy, add, R, 2); break;
    default: break;
    }
}

static void frows_any(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int n_tok,
                      int64_t K, float *y, size_t ldy, int add, int R) {
#define FR_CASE(ty)                                                                   \
    case ty:                                                                          \
        if (R == FR) frows(ty, w, w_stride, x, x_ld, n_tok, K, y, ldy, add, FR);      \
        else frows(ty, w, w_stride, x, x_ld, n_tok, K, y, ldy, add, 1);               \
        break;
    switch (type) {
        FR_CASE(GGML_TYPE_F16)
        FR_CASE(GGML_TYPE_BF16)
    default:
        FR_CASE(GGML_TYPE_F32)
    }
#undef FR_CASE
}

/* Float-type weights go straight into the tiles; other types are widened to
 * FP32 a row block at a time (the same values load_any or dequant_row give). */
static void gemm(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy, int64_t r0,
                 int64_t r1, int add) {
    int widen = w->type != GGML_TYPE_F32 && w->type != GGML_TYPE_F16 && w->type != GGML_TYPE_BF16;
    int64_t K = w->cols;
    float *scratch = NULL;
    float stack_rows[widen ? FR * (K <= MAX_WIDEN_K ? K : 1) : 1] __attribute__((aligned(64)));
    if (widen) scratch = stack_rows;
    for (int64_t r = r0; r < r1;) {
        int R = r1 - r >= FR ? FR : 1;
        const uint8_t *base = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        uint32_t type = w->type;
        size_t stride = w->row_bytes;
        if (widen) {
            for (int i = 0; i < R; i++) {
                const uint8_t *row = base + (size_t)i * w->row_bytes;
                widen_row(w->type, row, scratch + (size_t)i * K, K);
            }
            base = (const uint8_t *)scratch;
            type = GGML_TYPE_F32;
            stride = (size_t)K * sizeof(float);
        }
        frows_any(type, base, stride, x, x_ld, n_tok, K, y + r, ldy, add, R);
        r += R;
    }
}

/* K-quant rows (and any row too long for the stack) in decode: widened with
 * the scalar dequantizer, then the canonical FP32 dot products. */
static void gemv_widened(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                         int64_t r0, int64_t r1, int add) {
    float row[MAX_WIDEN_K] __attribute__((aligned(64)));
    for (int64_t r = r0; r < r1; r++) {
        widen_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, row, w->cols);
        gemv(GGML_TYPE_F32, (const uint8_t *)row, 0, w->cols, x, x_ld, n_tok, y + r, ldy, 0, 1, add);
    }
}

/* --------------------------------------------------------------- dispatch */


static void avx512_matmul(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                          int64_t r0, int64_t r1, int accumulate) {
    if (w->cols > MAX_WIDEN_K && !(w->type == GGML_TYPE_F32 || w->type == GGML_TYPE_F16 || w->type == GGML_TYPE_BF16)) {
        kvlm_kernels_scalar.matmul(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate); /* rows longer than any Llama */
        return;
    }
    /* quantized rows must hold whole 16-element groups */
    if (native_type(w->type) && (w->cols % 16 == 0 || w->type == GGML_TYPE_F32 || w->type == GGML_TYPE_F16 ||
                                 w->type == GGML_TYPE_BF16)) {
        if (n_tok <= GEMV_MAX_TOK) gemv(w->type, w->data, w->row_bytes, w->cols, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        else gemm(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        return;
    }
    if (n_tok <= GEMV_MAX_TOK && kquant_type(w->type) && w->cols % QK_K == 0)
        gemv(w->type, w->data, w->row_bytes, w->cols, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
    else if (n_tok <= GEMV_MAX_TOK) gemv_widened(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
    else gemm(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
}

/* ---------------------------------------------------------------- attention */

INLINE __m512 load_kv(const void *base, int kv_f16, size_t at, __mmask16 m) {
    if (kv_f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + at));
    return _mm512_maskz_loadu_ps(m, (const float *)base + at);
}

/* e^x: x = n ln2 + r with |r| <= ln2/2, e^r by Cephes' expf polynomial
 * (~1 ulp), times 2^n by scalef, which goes to 0 or infinity at the ends
 * instead of wrapping the exponent. x is first held to [-104, 89] (e^-104 is
 * below the smallest subnormal, e^89 above FLT_MAX); NaN passes through
 * (max/min return their second operand, x, when it is NaN). */
INLINE __m512 exp_ps(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* gate = silu(gate) * up = gate / (1 + e^-gate) * up, as the scalar path
 * computes it, with exp_ps for expf. */
static void avx512_silu_mul(float *gate, const float *up, int n) {
    const __m512 one = _mm512_set1_ps(1.0f), neg = _mm512_set1_ps(-0.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = first_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 e = exp_ps(_mm512_xor_ps(g, neg));
        __m512 y = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, up + i));
        _mm512_mask_storeu_ps(gate + i, m, y);
    }
}

/* Attention reads a head's cache rows in order, from memory (the weights
 * streamed since the last token have evicted them): row j of n, row bytes
 * long, is prefetched KV_AHEAD positions before it is needed. */
enum { KV_AHEAD = 8 };
INLINE void prefetch_kv_row(const void *base, int j, int n, size_t row) {
    if (j < n)
        for (size_t b = 0; b < row; b += 64) _mm_prefetch((const char *)base + (size_t)j * row + b, _MM_HINT_T0);
}

/* Scores for all positions, one softmax, then the weighted sum of V: the
 * same two passes as the scalar reference, vectorized over head_dim (NV
 * vectors of 16) for the dot products and over positions for the softmax.
 * Inlined with NV constant so q and the output stay in registers. */
INLINE void attend_nv(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                      float *out, float *scores, const int NV) {
    __m512 qv[NV], o[NV];
    __mmask16 mk[NV];
    size_t esz = kv_f16 ? 2 : 4, row = (size_t)head_dim * esz;
    for (int i = 0; i < NV; i++) {
        mk[i] = first_lanes(head_dim - 16 * i);
        qv[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[i], q + 16 * i), _mm512_set1_ps(scale));
    }
    for (int j = 0; j < n; j++) {
        prefetch_kv_row(k, j + KV_AHEAD, n, row);
        __m512 acc = _mm512_mul_ps(qv[0], load_kv(k, kv_f16, (size_t)j * head_dim, mk[0]));
        for (int i = 1; i < NV; i++)
            acc = _mm512_fmadd_ps(qv[i], load_kv(k, kv_f16, (size_t)j * head_dim + 16 * i, mk[i]), acc);
        scores[j] = _mm512_reduce_add_ps(acc);
    }
    __m512 mxv = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = first_lanes(n - j);
        mxv = _mm512_mask_max_ps(mxv, m, mxv, _mm512_maskz_loadu_ps(m, scores + j));
    }
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(mxv)), sumv = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = first_lanes(n - j);
        __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), mx));
        _mm512_mask_storeu_ps(scores + j, m, e);
        sumv = _mm512_mask_add_ps(sumv, m, sumv, e);
    }
    float inv = 1.0f / _mm512_reduce_add_ps(sumv);
    for (int i = 0; i < NV; i++) o[i] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        prefetch_kv_row(v, j + KV_AHEAD, n, row);
        __m512 p = _mm512_set1_ps(scores[j]);
        for (int i = 0; i < NV; i++)
            o[i] = _mm512_fmadd_ps(p, load_kv(v, kv_f16, (size_t)j * head_dim + 16 * i, mk[i]), o[i]);
    }
    for (int i = 0; i < NV; i++) _mm512_mask_storeu_ps(out + 16 * i, mk[i], _mm512_mul_ps(o[i], _mm512_set1_ps(inv)));
}

static void attend_head(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                        float *out, float *scores) {
    int nv = (head_dim + 15) / 16;
    if (nv == 4) attend_nv(q, k, v, kv_f16, n, head_dim, scale, out, scores, 4);
    else if (nv == 8) attend_nv(q, k, v, kv_f16, n, head_dim, scale, out, scores, 8);
    else if (nv <= 2) attend_nv(q, k, v, kv_f16, n, head_dim, scale, out, scores, 2);
    else if (nv <= 16) attend_nv(q, k, v, kv_f16, n, head_dim, scale, out, scores, 16);
    else attend_nv(q, k, v, kv_f16, n, head_dim, scale, out, scores, 32);
}

/* Four query heads of 64 over one K/V head (Llama 3.2 1B's grouping): each
 * cache row is loaded once for the four. Scores sit in blocks of 4
 * positions × 4 heads, head-major (element 4h + p of block j/4), so each
 * 128-bit lane of a block vector is one head: the softmax's per-head max and
 * sum are in-lane reductions. The four dot products of a position reduce
 * together (two rounds of lane shuffles), and four positions' leftovers
 * together (two rounds of unpacks). */
static void attend4_hd64(const float *q, const void *k, const void *v, int kv_f16, int n, float scale, float *out,
                         float *scores) {
    enum { HD = 64 };
    size_t row = (size_t)HD * (kv_f16 ? 2 : 4);
    __m512 qv[4][4];
    for (int h = 0; h < 4; h++)
        for (int i = 0; i < 4; i++) qv[h][i] = _mm512_mul_ps(_mm512_loadu_ps(q + h * HD + 16 * i), _mm512_set1_ps(scale));
    int nb = (n + 3) / 4; /* blocks of 4 positions */
    for (int blk = 0; blk < nb; blk++) {
        __m512 part[4];
        for (int p = 0; p < 4; p++) {
            int j = 4 * blk + p;
            prefetch_kv_row(k, j + KV_AHEAD, n, row);
            __mmask16 live = j < n ? 0xffff : 0; /* past the end: zero rows, masked to -inf below */
            __m512 kr[4], acc[4];
            for (int i = 0; i < 4; i++) kr[i] = load_kv(k, kv_f16, (size_t)(j < n ? j : 0) * HD + 16 * i, live);
            for (int h = 0; h < 4; h++) {
                acc[h] = _mm512_mul_ps(qv[h][0], kr[0]);
                for (int i = 1; i < 4; i++) acc[h] = _mm512_fmadd_ps(qv[h][i], kr[i], acc[h]);
            }
            __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(acc[0], acc[1], 0x44), _mm512_shuffle_f32x4(acc[0], acc[1], 0xEE));
            __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2], acc[3], 0x44), _mm512_shuffle_f32x4(acc[2], acc[3], 0xEE));
            /* lane h: four partial sums of head h */
            part[p] = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
        }
        __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(part[0], part[1]), _mm512_unpackhi_ps(part[0], part[1]));
        __m512 w = _mm512_add_ps(_mm512_unpacklo_ps(part[2], part[3]), _mm512_unpackhi_ps(part[2], part[3]));
        __m512 sc = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u), _mm512_castps_pd(w))),
                                  _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u), _mm512_castps_pd(w))));
        int left = n - 4 * blk;
        if (left < 4) { /* positions past n get no weight */
            __mmask16 past = (__mmask16)(((0xf << left) & 0xf) * 0x1111);
            sc = _mm512_mask_mov_ps(sc, past, _mm512_set1_ps(-INFINITY));
        }
        _mm512_storeu_ps(scores + 16 * blk, sc);
    }
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int blk = 0; blk < nb; blk++) mx = _mm512_max_ps(mx, _mm512_loadu_ps(scores + 16 * blk));
    mx = _mm512_max_ps(mx, _mm512_permute_ps(mx, 0x4E));
    mx = _mm512_max_ps(mx, _mm512_permute_ps(mx, 0xB1));
    __m512 sum = _mm512_setzero_ps();
    for (int blk = 0; blk < nb; blk++) {
        __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(scores + 16 * blk), mx));
        _mm512_storeu_ps(scores + 16 * blk, e);
        sum = _mm512_add_ps(sum, e);
    }
    sum = _mm512_add_ps(sum, _mm512_permute_ps(sum, 0x4E));
    sum = _mm512_add_ps(sum, _mm512_permute_ps(sum, 0xB1));
    float inv[16];
    _mm512_storeu_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), sum));
    __m512 o[4][4];
    for (int h = 0; h < 4; h++)
        for (int i = 0; i < 4; i++) o[h][i] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        prefetch_kv_row(v, j + KV_AHEAD, n, row);
        __m512 vr[4];
        for (int i = 0; i < 4; i++) vr[i] = load_kv(v, kv_f16, (size_t)j * HD + 16 * i, 0xffff);
        const float *pj = scores + 16 * (j / 4) + j % 4;
        for (int h = 0; h < 4; h++) {
            __m512 p = _mm512_set1_ps(pj[4 * h]);
            for (int i = 0; i < 4; i++) o[h][i] = _mm512_fmadd_ps(p, vr[i], o[h][i]);
        }
    }
    for (int h = 0; h < 4; h++)
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(out + h * HD + 16 * i, _mm512_mul_ps(o[h][i], _mm512_set1_ps(inv[4 * h])));
}

static void avx512_attend(const float *q, int n_q, const void *k, const void *v, int kv_f16, int n, int head_dim,
                          float scale, float *out, float *scores) {
    int h = 0;
    if (head_dim == 64)
        for (; h + 4 <= n_q; h += 4) attend4_hd64(q + (size_t)h * 64, k, v, kv_f16, n, scale, out + (size_t)h * 64, scores);
    for (; h < n_q; h++)
        attend_head(q + (size_t)h * head_dim, k, v, kv_f16, n, head_dim, scale, out + (size_t)h * head_dim, scores);
}

const kvlm_kernel_set kvlm_kernels_avx512 = {
    .name = "avx512",
    .matmul = avx512_matmul,
    .quantize_q8 = act_q8_quantize_avx512,
    .matmul_q8 = act_q8_matmul_avx512,
    .matmul_bf16 = act_bf16_matmul_avx512,
    .attend = avx512_attend,
    .silu_mul = avx512_silu_mul,
};
