/* AVX-512 kernels (F/BW/VL/DQ + VNNI): FP32 FMA for F32/F16/BF16 weights
 * with FP32 activations, VNNI int8 dot products for Q8_0/Q4_0 weights with
 * activations quantized to Q8_0 blocks (the same rounding as llama.cpp).
 * Other types take the generic path (dequantized rows, FP32 FMA).
 *
 * A matmul is tiled R weight rows × T tokens: R*T accumulators stay in
 * registers while the K loop streams each weight row once per T tokens; the
 * tile walks all tokens for one row block, so those rows stay in L1/L2, and
 * long rows are cut into K panels so the tokens' inputs stay in L2. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "kernels.h"
#include "quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))

/* --------------------------------------------------- float-weight matmul */

enum { FR = 4, FT = 6 };   /* tile: 4 rows × 6 tokens = 24 zmm accumulators */
enum { KPANEL = 2048 };    /* elements of K per panel (inputs: T × 8 KB) */

/* 16 weights starting at element k of a row, as FP32; masked for the tail. */
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

/* y[t][r] (+)= W[r, k0:k1] · x[t, k0:k1] for an R × T tile. */
INLINE void ftile(uint32_t type, const uint8_t *w, size_t w_stride, size_t esz, const float *x, size_t x_ld,
                  int64_t k0, int64_t k1, float *y, size_t ldy, int add, const int R, const int T) {
    __m512 acc[FR][FT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    int64_t k = k0;
    for (; k + 16 <= k1; k += 16) {
        __m512 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w_full(type, w + (size_t)r * w_stride, k);
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (k < k1) {
        __mmask16 m = (__mmask16)((1u << (k1 - k)) - 1);
        __m512 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w(type, w + (size_t)r * w_stride, k, m);
        for (int t = 0; t < T; t++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    (void)esz;
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

/* One row block (R rows) against all tokens, over one K panel. */
INLINE void frows(uint32_t type, const uint8_t *w, size_t w_stride, size_t esz, const float *x, size_t x_ld,
                  int n_tok, int64_t k0, int64_t k1, float *y, size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + FT <= n_tok; t += FT)
        ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, FT);
    switch (n_tok - t) {
    case 1: ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 1); break;
    case 2: ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 2); break;
    case 3: ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 3); break;
    case 4: ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 4); break;
    case 5: ftile(type, w, w_stride, esz, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 5); break;
    default: break;
    }
}

/* Decode (a few tokens): one weight row at a time, so each thread reads one
 * sequential stream (the prefetchers sustain far more bandwidth on one stream
 * than on several interleaved rows); the inputs stay in L1. */
INLINE void fgemv_row(uint32_t type, const uint8_t *row, const float *x, size_t x_ld, int64_t K, float *y, size_t ldy,
                      int add, const int T) {
    enum { U = 4 };
    __m512 acc[4][U];
    for (int t = 0; t < T; t++)
        for (int u = 0; u < U; u++) acc[t][u] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 * U <= K; k += 16 * U)
        for (int u = 0; u < U; u++) {
            __m512 wv = load_w_full(type, row, k + 16 * u);
            for (int t = 0; t < T; t++)
                acc[t][u] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + (size_t)t * x_ld + k + 16 * u), acc[t][u]);
        }
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 wv = load_w(type, row, k, m);
        for (int t = 0; t < T; t++)
            acc[t][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + (size_t)t * x_ld + k), acc[t][0]);
    }
    for (int t = 0; t < T; t++) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3])));
        y[(size_t)t * ldy] = add ? y[(size_t)t * ldy] + s : s;
    }
}

static void gemv_float(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy, int64_t r0,
                       int64_t r1, int add) {
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        switch (n_tok) {
        case 1: fgemv_row(w->type, row, x, x_ld, w->cols, y + r, ldy, add, 1); break;
        case 2: fgemv_row(w->type, row, x, x_ld, w->cols, y + r, ldy, add, 2); break;
        case 3: fgemv_row(w->type, row, x, x_ld, w->cols, y + r, ldy, add, 3); break;
        default: fgemv_row(w->type, row, x, x_ld, w->cols, y + r, ldy, add, 4); break;
        }
    }
}

enum { GEMV_MAX_TOK = 4 }; /* up to this many tokens: the streaming GEMV */

static void matmul_float(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                         int64_t r0, int64_t r1, int accumulate) {
    if (n_tok <= GEMV_MAX_TOK) {
        gemv_float(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        return;
    }
    size_t esz = w->type == GGML_TYPE_F32 ? 4 : 2;
    for (int64_t k0 = 0; k0 < w->cols; k0 += KPANEL) {
        int64_t k1 = k0 + KPANEL < w->cols ? k0 + KPANEL : w->cols;
        int add = accumulate || k0 > 0;
        int64_t r = r0;
        for (; r + FR <= r1; r += FR)
            frows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, esz, x, x_ld, n_tok, k0,
                  k1, y + r, ldy, add, FR);
        for (; r < r1; r++)
            frows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, esz, x, x_ld, n_tok, k0,
                  k1, y + r, ldy, add, 1);
    }
}

/* ------------------------------------------------ Q8_0 / Q4_0 × Q8 input */

/* The converted input of one token (avx512_prepare_input), for K = cols:
 *   int8   q[K]            x quantized per block of 32: x ≈ d_b q
 *   float  d[K / 32 * 8]   each block's d, 8 copies (a block pair's is one zmm)
 *   int32  c128[K / 4]     -128 Σ of each 4 consecutive q (see below)
 *   int32  c8[K / 4]       -8 Σ of each 4 consecutive q
 * VNNI multiplies unsigned by signed bytes, so the weights go in unsigned:
 * Q8_0 as w + 128 (w ^ 0x80), Q4_0 as its stored nibbles w + 8. Starting each
 * 4-byte lane's sum at c128 (or c8) removes the offset exactly. */
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *c128, *c8;
} qin;

INLINE qin qin_at(const uint8_t *base, int64_t K) {
    qin v = {(const int8_t *)base, (const float *)(base + K), (const int32_t *)(base + 2 * K),
             (const int32_t *)(base + 3 * K)};
    return v;
}

/* Scales of a block pair: {d0 ×8, d1 ×8} */
INLINE __m512 w_scales(const void *d0, const void *d1) {
    __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_broadcastw_epi16(_mm_loadu_si16(d0))),
                                        _mm_broadcastw_epi16(_mm_loadu_si16(d1)), 1);
    return _mm512_cvtph_ps(h);
}

/* 64 weights of a block pair, as unsigned bytes (w + 128 or the nibbles). */
INLINE __m512i q8_pair(const block_q8_0 *b) {
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b[0].qs)),
                                   _mm256_loadu_si256((const __m256i *)b[1].qs), 1);
    return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
}

INLINE __m512i q4_pair(const block_q4_0 *b) {
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b[0].qs)),
                                           _mm_loadu_si128((const __m128i *)b[1].qs), 1);
    __m256i mask = _mm256_set1_epi8(15);
    __m256i lo = _mm256_and_si256(both, mask), hi = _mm256_and_si256(_mm256_srli_epi16(both, 4), mask);
    /* order: b0 lo16, b0 hi16, b1 lo16, b1 hi16 (= elements 0..31 of b0, then of b1) */
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); /* lo0 lo1 hi0 hi1 */
    return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}

INLINE void load_pair(uint32_t type, const uint8_t *row, int64_t p, __m512i *wv, __m512 *ws) {
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)row + 2 * p;
        *wv = q8_pair(b);
        *ws = w_scales(&b[0].d, &b[1].d);
    } else {
        const block_q4_0 *b = (const block_q4_0 *)row + 2 * p;
        *wv = q4_pair(b);
        *ws = w_scales(&b[0].d, &b[1].d);
    }
}

/* acc += (Σ w x per lane) × d_w d_x, for one block pair and one token */
INLINE __m512 qdot_pair(uint32_t type, __m512i wv, __m512 ws, const qin *x, int64_t p, __m512 acc) {
    const int32_t *c = type == GGML_TYPE_Q8_0 ? x->c128 : x->c8;
    __m512i d = _mm512_dpbusd_epi32(_mm512_loadu_si512(c + 16 * p), wv, _mm512_loadu_si512(x->q + 64 * p));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(ws, _mm512_loadu_ps(x->d + 16 * p)), acc);
}

/* Decode: one row at a time (one memory stream per thread), 2 accumulators. */
INLINE void qgemv_row(uint32_t type, const uint8_t *row, const qin *x, int64_t np, float *y, size_t ldy, int add,
                      const int T) {
    __m512 acc[4][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= np; p += 2)
        for (int u = 0; u < 2; u++) {
            __m512i wv;
            __m512 ws;
            load_pair(type, row, p + u, &wv, &ws);
            for (int t = 0; t < T; t++) acc[t][u] = qdot_pair(type, wv, ws, &x[t], p + u, acc[t][u]);
        }
    for (; p < np; p++) {
        __m512i wv;
        __m512 ws;
        load_pair(type, row, p, &wv, &ws);
        for (int t = 0; t < T; t++) acc[t][0] = qdot_pair(type, wv, ws, &x[t], p, acc[t][0]);
    }
    for (int t = 0; t < T; t++) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
        y[(size_t)t * ldy] = add ? y[(size_t)t * ldy] + s : s;
    }
}

enum { QR = 4, QT = 4 };

/* Prefill: an R × T tile over block pairs [p0, p1). */
INLINE void qtile(uint32_t type, const uint8_t *w, size_t w_stride, const qin *x, int64_t p0, int64_t p1, float *y,
                  size_t ldy, int add, const int R, const int T) {
    __m512 acc[QR][QT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t p = p0; p < p1; p++) {
        __m512i wv[QR];
        __m512 ws[QR];
        for (int r = 0; r < R; r++) load_pair(type, w + (size_t)r * w_stride, p, &wv[r], &ws[r]);
        for (int t = 0; t < T; t++)
            for (int r = 0; r < R; r++) acc[r][t] = qdot_pair(type, wv[r], ws[r], &x[t], p, acc[r][t]);
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

INLINE void qrows(uint32_t type, const uint8_t *w, size_t w_stride, const qin *x, int n_tok, int64_t p0, int64_t p1,
                  float *y, size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + QT <= n_tok; t += QT) qtile(type, w, w_stride, x + t, p0, p1, y + (size_t)t * ldy, ldy, add, R, QT);
    switch (n_tok - t) {
    case 1: qtile(type, w, w_stride, x + t, p0, p1, y + (size_t)t * ldy, ldy, add, R, 1); break;
    case 2: qtile(type, w, w_stride, x + t, p0, p1, y + (size_t)t * ldy, ldy, add, R, 2); break;
    case 3: qtile(type, w, w_stride, x + t, p0, p1, y + (size_t)t * ldy, ldy, add, R, 3); break;
    default: break;
    }
}

enum { QMAX_TOK = 64 };

static void matmul_q(const kvlm_weight *w, const uint8_t *xq, size_t x_stride, int n_tok, float *y, size_t ldy,
                     int64_t r0, int64_t r1, int accumulate) {
    int64_t np = w->cols / 64;
    qin x[QMAX_TOK];
    for (int t = 0; t < n_tok; t++) x[t] = qin_at(xq + (size_t)t * x_stride, w->cols);
    if (n_tok <= GEMV_MAX_TOK) {
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
            switch (n_tok) {
            case 1: qgemv_row(w->type, row, x, np, y + r, ldy, accumulate, 1); break;
            case 2: qgemv_row(w->type, row, x, np, y + r, ldy, accumulate, 2); break;
            case 3: qgemv_row(w->type, row, x, np, y + r, ldy, accumulate, 3); break;
            default: qgemv_row(w->type, row, x, np, y + r, ldy, accumulate, 4); break;
            }
        }
        return;
    }
    const int64_t ppanel = KPANEL / 64;
    for (int64_t p0 = 0; p0 < np; p0 += ppanel) {
        int64_t p1 = p0 + ppanel < np ? p0 + ppanel : np;
        int add = accumulate || p0 > 0;
        int64_t r = r0;
        for (; r + QR <= r1; r += QR)
            qrows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, x, n_tok, p0, p1, y + r,
                  ldy, add, QR);
        for (; r < r1; r++)
            qrows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, x, n_tok, p0, p1, y + r,
                  ldy, add, 1);
    }
}

/* --------------------------------------------------------------- dispatch */

static size_t avx512_input_bytes(uint32_t type, int64_t cols) {
    /* see qin: q, d, c128, c8 */
    if ((type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) && cols % 64 == 0) return 4 * (size_t)cols;
    return 0;
}

/* Q8_0 quantization of one input row: d = max|x| / 127 (kept in FP32),
 * q = round-to-nearest-even(x / d), and the lane corrections (see qin). */
static void avx512_prepare_input(uint32_t type, const float *x, int64_t cols, void *out) {
    (void)type;
    int8_t *q = out;
    float *sc = (float *)((uint8_t *)out + cols);
    int32_t *c128 = (int32_t *)((uint8_t *)out + 2 * cols), *c8 = (int32_t *)((uint8_t *)out + 3 * cols);
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t b = 0; b < cols / 32; b++) {
        __m512 a = _mm512_loadu_ps(x + 32 * b), c = _mm512_loadu_ps(x + 32 * b + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m128i qa = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(a, vid)));
        __m128i qc = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(c, vid)));
        _mm_storeu_si128((__m128i *)(q + 32 * b), qa);
        _mm_storeu_si128((__m128i *)(q + 32 * b + 16), qc);
        _mm256_storeu_ps(sc + 8 * b, _mm256_set1_ps(d));
        /* Σ of each 4 bytes: dpbusd of ones (unsigned) with q (signed) */
        __m256i qv = _mm256_inserti128_si256(_mm256_castsi128_si256(qa), qc, 1);
        __m256i s4 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm512_castsi512_si256(ones), qv);
        _mm256_storeu_si256((__m256i *)(c128 + 8 * b), _mm256_mullo_epi32(s4, _mm256_set1_epi32(-128)));
        _mm256_storeu_si256((__m256i *)(c8 + 8 * b), _mm256_mullo_epi32(s4, _mm256_set1_epi32(-8)));
    }
}

/* Types without a tiled kernel: each row dequantized to FP32 (in chunks),
 * then FMA dot products with every token's FP32 input. */
static void matmul_generic(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                           int64_t r0, int64_t r1, int accumulate) {
    enum { CHUNK = 1024 };
    float row[CHUNK] __attribute__((aligned(64)));
    ggml_type_info ti = ggml_type_get(w->type);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int64_t c0 = 0; c0 < w->cols; c0 += CHUNK) {
            int64_t n = w->cols - c0 < CHUNK ? w->cols - c0 : CHUNK;
            dequant_row(w->type, wr + (size_t)(c0 / ti.block_elems) * ti.block_bytes, row, n);
            for (int t = 0; t < n_tok; t++) {
                const float *xt = x + (size_t)t * x_ld + c0;
                __m512 acc = _mm512_setzero_ps();
                int64_t k = 0;
                for (; k + 16 <= n; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(row + k), _mm512_loadu_ps(xt + k), acc);
                if (k < n) {
                    __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
                    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + k), _mm512_maskz_loadu_ps(m, xt + k), acc);
                }
                float s = _mm512_reduce_add_ps(acc);
                float *dst = y + (size_t)t * ldy + r;
                *dst = (accumulate || c0 > 0) ? *dst + s : s;
            }
        }
    }
}

static void avx512_matmul(const kvlm_weight *w, const void *x, size_t x_stride, int n_tok, float *y, size_t ldy,
                          int64_t r0, int64_t r1, int accumulate) {
    switch (w->type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        matmul_float(w, x, x_stride / sizeof(float), n_tok, y, ldy, r0, r1, accumulate);
        return;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
        if (w->cols % 64 == 0) {
            matmul_q(w, x, x_stride, n_tok, y, ldy, r0, r1, accumulate);
            return;
        }
        break;
    default: break;
    }
    matmul_generic(w, x, x_stride / sizeof(float), n_tok, y, ldy, r0, r1, accumulate);
}

/* ---------------------------------------------------------------- attention */

INLINE __m512 load_kv(const void *base, int kv_f16, size_t at, __mmask16 m) {
    if (kv_f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + at));
    return _mm512_maskz_loadu_ps(m, (const float *)base + at);
}

/* Scores for all positions, one softmax, then the weighted sum of V: the
 * same two passes as the scalar reference, vectorized over head_dim. */
static void avx512_attend(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                          float *out, float *scores) {
    int nv = (head_dim + 15) / 16;
    __m512 qv[32];
    __mmask16 mk[32];
    for (int i = 0; i < nv; i++) {
        int left = head_dim - 16 * i;
        mk[i] = (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
        qv[i] = _mm512_maskz_loadu_ps(mk[i], q + 16 * i);
    }
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        __m512 acc = _mm512_setzero_ps();
        for (int i = 0; i < nv; i++)
            acc = _mm512_fmadd_ps(qv[i], load_kv(k, kv_f16, (size_t)j * head_dim + 16 * i, mk[i]), acc);
        float s = _mm512_reduce_add_ps(acc) * scale;
        scores[j] = s;
        if (s > mx) mx = s;
    }
    float sum = 0;
    for (int j = 0; j < n; j++) {
        scores[j] = expf(scores[j] - mx);
        sum += scores[j];
    }
    float inv = 1.0f / sum;
    __m512 o[32];
    for (int i = 0; i < nv; i++) o[i] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        __m512 p = _mm512_set1_ps(scores[j] * inv);
        for (int i = 0; i < nv; i++)
            o[i] = _mm512_fmadd_ps(p, load_kv(v, kv_f16, (size_t)j * head_dim + 16 * i, mk[i]), o[i]);
    }
    for (int i = 0; i < nv; i++) _mm512_mask_storeu_ps(out + 16 * i, mk[i], o[i]);
}

const kvlm_kernel_set kvlm_kernels_avx512 = {
    .name = "avx512",
    .input_bytes = avx512_input_bytes,
    .prepare_input = avx512_prepare_input,
    .matmul = avx512_matmul,
    .attend = avx512_attend,
};
