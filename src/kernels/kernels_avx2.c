/* AVX2 + FMA + F16C kernels, for x86-64 CPUs without AVX-512: the structure
 * of kernels_avx512.c (read its header comment: FP32 activations, one
 * canonical summation order — here over 8-element groups — so prefill,
 * decode and batched decode are bit-identical, streaming decode,
 * register-tiled prefill) with 8-lane vectors and 16 registers. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../format/ggml_types.h"
#include "act_bf16.h"
#include "act_q8.h"
#include "kernels.h"
#include "quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))

enum { FR = 2, FT = 3 };  /* prefill tile: 2 rows × 3 tokens × 2 accumulators */
enum { GEMV_MAX_TOK = 4 };
enum { MAX_WIDEN_K = 16384 };

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ------------------------------------------------------- loading weights */

INLINE __m256 load_w8(uint32_t type, const void *row, int64_t k) {
    switch (type) {
    case GGML_TYPE_BF16:
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k))), 16));
    case GGML_TYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    default: return _mm256_loadu_ps((const float *)row + k);
    }
}

/* n < 8 elements at k, zero-padded (through a small buffer: no over-read). */
INLINE __m256 load_w_tail(uint32_t type, const void *row, int64_t k, int n) {
    if (type == GGML_TYPE_F32) {
        float tmp[8] = {0};
        memcpy(tmp, (const float *)row + k, 4 * (size_t)n);
        return _mm256_loadu_ps(tmp);
    }
    uint16_t h[8] = {0};
    memcpy(h, (const uint16_t *)row + k, 2 * (size_t)n);
    __m128i hv = _mm_loadu_si128((const __m128i *)h);
    return type == GGML_TYPE_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(hv), 16))
                                  : _mm256_cvtph_ps(hv);
}

INLINE __m256 load_x_tail(const float *x, int n) {
    float tmp[8] = {0};
    memcpy(tmp, x, 4 * (size_t)n);
    return _mm256_loadu_ps(tmp);
}

/* 8 elements at k (a multiple of 8) of a Q8_0/Q4_0 row as FP32: d × q. */
INLINE __m256 load_q(uint32_t type, const void *row, int64_t k) {
    int64_t b = k / 32, j = k % 32;
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *blk = (const block_q8_0 *)row + b;
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk->qs + j))));
        return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(blk->d)), q);
    }
    const block_q4_0 *blk = (const block_q4_0 *)row + b;
    /* byte i holds element i (low nibble) and i + 16 (high), each as w + 8 */
    __m128i q = _mm_loadl_epi64((const __m128i *)(blk->qs + (j & 15)));
    if (j >= 16) q = _mm_srli_epi16(q, 4);
    q = _mm_sub_epi8(_mm_and_si128(q, _mm_set1_epi8(15)), _mm_set1_epi8(8));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(blk->d)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
}

INLINE __m256 load_any(uint32_t type, const void *row, int64_t k) {
    if (type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) return load_q(type, row, k);
    return load_w8(type, row, k);
}

static int float_type(uint32_t t) { return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16; }

/* ---------------------------------------------------------- K-quants */

/* K-quant decode, decoded in registers as the row streams by, to exactly
 * the values of the scalar dequantizer (dequant.c: x = (d·sc)·q − dmin·m with
 * two roundings for Q4_K/Q5_K, (d·sc)·(q − 32) for Q6_K), so the canonical
 * order gives the same sums as a widened row. */
static int kquant_type(uint32_t t) { return t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K || t == GGML_TYPE_Q6_K; }

typedef struct {
    float sc[16], mn[8];
} kq_scales_sb;

/* The scales of one super-block: Q4_K/Q5_K sc[0..7], mn[0..7]; Q6_K sc[0..15]. */
INLINE void kq_sb(uint32_t type, const void *blk_, kq_scales_sb *s) {
    if (type == GGML_TYPE_Q6_K) {
        const block_q6_K *blk = blk_;
        __m256 d = _mm256_set1_ps(_cvtsh_ss(blk->d));
        __m128i sc = _mm_loadu_si128((const __m128i *)blk->scales);
        _mm256_storeu_ps(s->sc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
        _mm256_storeu_ps(s->sc + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
        return;
    }
    const uint8_t *q = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)blk_)->scales : ((const block_q5_K *)blk_)->scales;
    uint16_t dh = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)blk_)->d : ((const block_q5_K *)blk_)->d;
    uint16_t mh = type == GGML_TYPE_Q4_K ? ((const block_q4_K *)blk_)->dmin : ((const block_q5_K *)blk_)->dmin;
    uint64_t sc8, mn8;
    k4_unpack_scales(q, &sc8, &mn8);
    __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc8)));
    __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mn8)));
    _mm256_storeu_ps(s->sc, _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(dh)), sc));
    _mm256_storeu_ps(s->mn, _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(mh)), mn));
}

INLINE __m256i bytes8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }

/* Elements 64j .. 64j+63 of a super-block as eight groups of 8, in order. */
INLINE void kq_chunk(uint32_t type, const void *blk_, int j, const kq_scales_sb *s, __m256 w[8]) {
    const __m256i m15 = _mm256_set1_epi32(15);
    if (type == GGML_TYPE_Q6_K) {
        const block_q6_K *blk = blk_;
        int half = j >> 1, nib = j & 1; /* 32-element runs qq = 2·nib, 2·nib + 1 */
        const uint8_t *ql = blk->ql + 64 * half, *qh = blk->qh + 32 * half;
        for (int g = 0; g < 8; g++) {
            int qq = 2 * nib + (g >> 2), l0 = 8 * (g & 3);
            __m256i lo = bytes8(ql + 32 * (qq & 1) + l0);
            lo = nib ? _mm256_srli_epi32(lo, 4) : _mm256_and_si256(lo, m15);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi32(bytes8(qh + l0), 2 * qq), _mm256_set1_epi32(3));
            __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
            w[g] = _mm256_mul_ps(_mm256_set1_ps(s->sc[4 * j + g / 2]), _mm256_cvtepi32_ps(q));
        }
        return;
    }
    const uint8_t *qs = (type == GGML_TYPE_Q4_K ? ((const block_q4_K *)blk_)->qs : ((const block_q5_K *)blk_)->qs) + 32 * j;
    for (int g = 0; g < 8; g++) {
        int h = g >> 2, l0 = 8 * (g & 3), i = 2 * j + h; /* sub-block i: low nibbles (h = 0), then high */
        __m256i q = bytes8(qs + l0);
        q = h ? _mm256_srli_epi32(q, 4) : _mm256_and_si256(q, m15);
        if (type == GGML_TYPE_Q5_K) {
            __m256i hb = _mm256_and_si256(_mm256_srli_epi32(bytes8(((const block_q5_K *)blk_)->qh + l0), i), _mm256_set1_epi32(1));
            q = _mm256_or_si256(q, _mm256_slli_epi32(hb, 4));
        }
        w[g] = _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(s->sc[i]), _mm256_cvtepi32_ps(q)), _mm256_set1_ps(s->mn[i]));
    }
}

INLINE void gemv_row_kq(uint32_t type, const void *row, const float *x, size_t x_ld, int64_t K, float *y, size_t ldy,
                        int add, const int T) {
    const size_t bb = type == GGML_TYPE_Q6_K ? sizeof(block_q6_K)
                      : type == GGML_TYPE_Q4_K ? sizeof(block_q4_K)
                                               : sizeof(block_q5_K);
    __m256 a0[4], a1[4];
    for (int t = 0; t < T; t++) a0[t] = a1[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < K / QK_K; b++) {
        const char *blk = (const char *)row + (size_t)b * bb;
        for (size_t off = 0; off < bb; off += 64) _mm_prefetch(blk + 2048 + off, _MM_HINT_T0);
        kq_scales_sb sc;
        kq_sb(type, blk, &sc);
        for (int j = 0; j < 4; j++) {
            __m256 w[8];
            kq_chunk(type, blk, j, &sc, w);
            const int64_t k = b * QK_K + 64 * j;
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * x_ld + k;
                for (int g = 0; g < 8; g += 2) {
                    a0[t] = _mm256_fmadd_ps(w[g], _mm256_loadu_ps(xt + 8 * g), a0[t]);
                    a1[t] = _mm256_fmadd_ps(w[g + 1], _mm256_loadu_ps(xt + 8 * g + 8), a1[t]);
                }
            }
        }
    }
    for (int t = 0; t < T; t++) {
        float v = hsum(_mm256_add_ps(a0[t], a1[t]));
        y[(size_t)t * ldy] = add ? y[(size_t)t * ldy] + v : v;
    }
}

/* --------------------------------------------------------------- decode */

/* One row against T tokens in the canonical order: A0 over the even
 * 8-element groups, A1 over the odd ones, then hsum(A0 + A1). */
INLINE void gemv_row(uint32_t type, const void *row, const float *x, size_t x_ld, int64_t K, float *y, size_t ldy,
                     int add, const int T) {
    if (kquant_type(type)) {
        gemv_row_kq(type, row, x, x_ld, K, y, ldy, add, T);
        return;
    }
    __m256 a0[4], a1[4];
    for (int t = 0; t < T; t++) a0[t] = a1[t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 w0 = load_any(type, row, k), w1 = load_any(type, row, k + 8);
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * x_ld + k;
            a0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), a0[t]);
            a1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), a1[t]);
        }
    }
    for (int odd = 0; k < K; k += 8, odd ^= 1) {
        int n = K - k >= 8 ? 8 : (int)(K - k);
        __m256 w = n == 8 ? load_any(type, row, k) : load_w_tail(type, row, k, n);
        for (int t = 0; t < T; t++) {
            __m256 xv = n == 8 ? _mm256_loadu_ps(x + (size_t)t * x_ld + k) : load_x_tail(x + (size_t)t * x_ld + k, n);
            if (odd) a1[t] = _mm256_fmadd_ps(w, xv, a1[t]);
            else a0[t] = _mm256_fmadd_ps(w, xv, a0[t]);
        }
    }
    for (int t = 0; t < T; t++) {
        float v = hsum(_mm256_add_ps(a0[t], a1[t]));
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

/* The weight type as a compile-time constant in each instance. */
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

/* -------------------------------------------------------------- prefill */

INLINE void ftile(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int64_t K, float *y,
                  size_t ldy, int add, const int R, const int T) {
    __m256 A0[FR][FT], A1[FR][FT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) A0[r][t] = A1[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w8(type, w + (size_t)r * w_stride, k);
        for (int t = 0; t < T; t++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) A0[r][t] = _mm256_fmadd_ps(wv[r], xv, A0[r][t]);
        }
        for (int r = 0; r < R; r++) wv[r] = load_w8(type, w + (size_t)r * w_stride, k + 8);
        for (int t = 0; t < T; t++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)t * x_ld + k + 8);
            for (int r = 0; r < R; r++) A1[r][t] = _mm256_fmadd_ps(wv[r], xv, A1[r][t]);
        }
    }
    for (int odd = 0; k < K; k += 8, odd ^= 1) {
        int n = K - k >= 8 ? 8 : (int)(K - k);
        __m256 wv[FR];
        for (int r = 0; r < R; r++)
            wv[r] = n == 8 ? load_w8(type, w + (size_t)r * w_stride, k) : load_w_tail(type, w + (size_t)r * w_stride, k, n);
        for (int t = 0; t < T; t++) {
            __m256 xv = n == 8 ? _mm256_loadu_ps(x + (size_t)t * x_ld + k) : load_x_tail(x + (size_t)t * x_ld + k, n);
            for (int r = 0; r < R; r++) {
                if (odd) A1[r][t] = _mm256_fmadd_ps(wv[r], xv, A1[r][t]);
                else A0[r][t] = _mm256_fmadd_ps(wv[r], xv, A0[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = hsum(_mm256_add_ps(A0[r][t], A1[r][t]));
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

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

static void gemm(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy, int64_t r0,
                 int64_t r1, int add) {
    int widen = !float_type(w->type);
    int64_t K = w->cols;
    float stack_rows[widen ? FR * (K <= MAX_WIDEN_K ? K : 1) : 1] __attribute__((aligned(32)));
    for (int64_t r = r0; r < r1;) {
        int R = r1 - r >= FR ? FR : 1;
        const uint8_t *base = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        uint32_t type = w->type;
        size_t stride = w->row_bytes;
        if (widen) {
            for (int i = 0; i < R; i++) {
                const uint8_t *row = base + (size_t)i * w->row_bytes;
                if (w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0)
                    for (int64_t k = 0; k < K; k += 8) _mm256_store_ps(stack_rows + (size_t)i * K + k, load_q(w->type, row, k));
                else
                    dequant_row(w->type, row, stack_rows + (size_t)i * K, K);
            }
            base = (const uint8_t *)stack_rows;
            type = GGML_TYPE_F32;
            stride = (size_t)K * sizeof(float);
        }
        frows_any(type, base, stride, x, x_ld, n_tok, K, y + r, ldy, add, R);
        r += R;
    }
}

static void gemv_widened(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                         int64_t r0, int64_t r1, int add) {
    float row[MAX_WIDEN_K] __attribute__((aligned(32)));
    for (int64_t r = r0; r < r1; r++) {
        dequant_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, row, w->cols);
        gemv(GGML_TYPE_F32, (const uint8_t *)row, 0, w->cols, x, x_ld, n_tok, y + r, ldy, 0, 1, add);
    }
}


static void avx2_matmul(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                        int64_t r0, int64_t r1, int accumulate) {
    int quant_native = w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0;
    if (!float_type(w->type) && w->cols > MAX_WIDEN_K) {
        kvlm_kernels_scalar.matmul(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        return;
    }
    if (float_type(w->type) || quant_native) {
        if (n_tok <= GEMV_MAX_TOK) gemv(w->type, w->data, w->row_bytes, w->cols, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        else gemm(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
        return;
    }
    if (n_tok <= GEMV_MAX_TOK && kquant_type(w->type) && w->cols % QK_K == 0)
        gemv(w->type, w->data, w->row_bytes, w->cols, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
    else if (n_tok <= GEMV_MAX_TOK) gemv_widened(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
    else gemm(w, x, x_ld, n_tok, y, ldy, r0, r1, accumulate);
}

INLINE __m256 load_kv8(const void *base, int kv_f16, size_t at) {
    if (kv_f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + at)));
    return _mm256_loadu_ps((const float *)base + at);
}

static void attend_head(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                        float *out, float *scores) {
    int nv = head_dim / 8;
    __m256 qv[32];
    for (int i = 0; i < nv; i++) qv[i] = _mm256_loadu_ps(q + 8 * i);
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < nv; i++) acc = _mm256_fmadd_ps(qv[i], load_kv8(k, kv_f16, (size_t)j * head_dim + 8 * i), acc);
        float s = hsum(acc) * scale;
        scores[j] = s;
        if (s > mx) mx = s;
    }
    float sum = 0;
    for (int j = 0; j < n; j++) {
        scores[j] = expf(scores[j] - mx);
        sum += scores[j];
    }
    float inv = 1.0f / sum;
    __m256 o[32];
    for (int i = 0; i < nv; i++) o[i] = _mm256_setzero_ps();
    for (int j = 0; j < n; j++) {
        __m256 p = _mm256_set1_ps(scores[j] * inv);
        for (int i = 0; i < nv; i++) o[i] = _mm256_fmadd_ps(p, load_kv8(v, kv_f16, (size_t)j * head_dim + 8 * i), o[i]);
    }
    for (int i = 0; i < nv; i++) _mm256_storeu_ps(out + 8 * i, o[i]);
}

static void avx2_attend(const float *q, int n_q, const void *k, const void *v, int kv_f16, int n, int head_dim,
                        float scale, float *out, float *scores) {
    if (head_dim % 8 != 0 || head_dim > 256) {
        kvlm_kernels_scalar.attend(q, n_q, k, v, kv_f16, n, head_dim, scale, out, scores);
        return;
    }
    for (int h = 0; h < n_q; h++)
        attend_head(q + (size_t)h * head_dim, k, v, kv_f16, n, head_dim, scale, out + (size_t)h * head_dim, scores);
}

const kvlm_kernel_set kvlm_kernels_avx2 = {
    .name = "avx2",
    .matmul = avx2_matmul,
    .quantize_q8 = act_q8_quantize,
    .matmul_q8 = act_q8_matmul_scalar,
    .matmul_bf16 = act_bf16_matmul_scalar,
    .attend = avx2_attend,
    .silu_mul = silu_mul,
};
