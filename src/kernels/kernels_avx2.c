/* AVX2 + FMA + F16C kernels, for x86-64 CPUs without AVX-512: the same
 * structure as kernels_avx512.c with 256-bit vectors and 16 registers. Int8
 * dot products use maddubs (sign trick: |w| · sign(x, w), no saturation). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../format/ggml_types.h"
#include "kernels.h"
#include "quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))

enum { FR = 3, FT = 4 };  /* 12 ymm accumulators + 3 weight vectors + 1 input */
enum { KPANEL = 2048 };

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE __m256 load_w8(uint32_t type, const void *row, int64_t k) {
    switch (type) {
    case GGML_TYPE_BF16:
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k))), 16));
    case GGML_TYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    default: return _mm256_loadu_ps((const float *)row + k);
    }
}

/* Tail of fewer than 8 elements: copied into zero-padded buffers. */
INLINE void load_tail(uint32_t type, const void *row, int64_t k, int n, float *out8) {
    float tmp[8] = {0};
    uint16_t h[8] = {0};
    if (type == GGML_TYPE_F32) {
        memcpy(tmp, (const float *)row + k, 4 * (size_t)n);
        memcpy(out8, tmp, sizeof tmp);
        return;
    }
    memcpy(h, (const uint16_t *)row + k, 2 * (size_t)n);
    __m128i hv = _mm_loadu_si128((const __m128i *)h);
    __m256 v = type == GGML_TYPE_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(hv), 16))
                                      : _mm256_cvtph_ps(hv);
    _mm256_storeu_ps(out8, v);
}

INLINE void ftile(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int64_t k0,
                  int64_t k1, float *y, size_t ldy, int add, const int R, const int T) {
    __m256 acc[FR][FT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        __m256 wv[FR];
        for (int r = 0; r < R; r++) wv[r] = load_w8(type, w + (size_t)r * w_stride, k);
        for (int t = 0; t < T; t++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)t * x_ld + k);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (k < k1) {
        int n = (int)(k1 - k);
        float wt[FR][8], xt[8];
        for (int r = 0; r < R; r++) load_tail(type, w + (size_t)r * w_stride, k, n, wt[r]);
        for (int t = 0; t < T; t++) {
            memset(xt, 0, sizeof xt);
            memcpy(xt, x + (size_t)t * x_ld + k, 4 * (size_t)n);
            __m256 xv = _mm256_loadu_ps(xt);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(_mm256_loadu_ps(wt[r]), xv, acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = hsum(acc[r][t]);
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

INLINE void frows(uint32_t type, const uint8_t *w, size_t w_stride, const float *x, size_t x_ld, int n_tok, int64_t k0,
                  int64_t k1, float *y, size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + FT <= n_tok; t += FT)
        ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, FT);
    switch (n_tok - t) {
    case 1: ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 1); break;
    case 2: ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 2); break;
    case 3: ftile(type, w, w_stride, x + (size_t)t * x_ld, x_ld, k0, k1, y + (size_t)t * ldy, ldy, add, R, 3); break;
    default: break;
    }
}

static void matmul_float(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                         int64_t r0, int64_t r1, int accumulate) {
    for (int64_t k0 = 0; k0 < w->cols; k0 += KPANEL) {
        int64_t k1 = k0 + KPANEL < w->cols ? k0 + KPANEL : w->cols;
        int add = accumulate || k0 > 0;
        int64_t r = r0;
        for (; r + FR <= r1; r += FR)
            frows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, x, x_ld, n_tok, k0, k1,
                  y + r, ldy, add, FR);
        for (; r < r1; r++)
            frows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, x, x_ld, n_tok, k0, k1,
                  y + r, ldy, add, 1);
    }
}

/* ------------------------------------------------ Q8_0 / Q4_0 × Q8 input */

enum { QR = 2, QT = 4 };

INLINE __m256i q4_unpack(const block_q4_0 *b) {
    __m128i q = _mm_loadu_si128((const __m128i *)b->qs);
    __m128i m = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

/* Σ over 32 int8 pairs, as 8 int32 lanes: |w| · sign(x, w) never saturates. */
INLINE __m256i dot_i8(__m256i w, __m256i x) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

INLINE void qtile(uint32_t type, const uint8_t *w, size_t w_stride, const uint8_t *xq, size_t x_stride, int64_t nb,
                  int64_t b0, int64_t b1, float *y, size_t ldy, int add, const int R, const int T) {
    __m256 acc[QR][QT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    const float *xs[QT];
    for (int t = 0; t < T; t++) xs[t] = (const float *)(xq + (size_t)t * x_stride + (size_t)nb * 32);
    for (int64_t b = b0; b < b1; b++) {
        __m256i wv[QR];
        __m256 ws[QR];
        for (int r = 0; r < R; r++) {
            const uint8_t *row = w + (size_t)r * w_stride;
            if (type == GGML_TYPE_Q8_0) {
                const block_q8_0 *blk = (const block_q8_0 *)row + b;
                wv[r] = _mm256_loadu_si256((const __m256i *)blk->qs);
                ws[r] = _mm256_set1_ps(_cvtsh_ss(blk->d));
            } else {
                const block_q4_0 *blk = (const block_q4_0 *)row + b;
                wv[r] = _mm256_sub_epi8(q4_unpack(blk), _mm256_set1_epi8(8));
                ws[r] = _mm256_set1_ps(_cvtsh_ss(blk->d));
            }
        }
        for (int t = 0; t < T; t++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (size_t)t * x_stride + (size_t)b * 32));
            __m256 xsc = _mm256_loadu_ps(xs[t] + (size_t)b * 8);
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8(wv[r], xv)), _mm256_mul_ps(ws[r], xsc), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = hsum(acc[r][t]);
            float *dst = y + (size_t)t * ldy + r;
            *dst = add ? *dst + s : s;
        }
}

INLINE void qrows(uint32_t type, const uint8_t *w, size_t w_stride, const uint8_t *xq, size_t x_stride, int n_tok,
                  int64_t nb, int64_t b0, int64_t b1, float *y, size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + QT <= n_tok; t += QT)
        qtile(type, w, w_stride, xq + (size_t)t * x_stride, x_stride, nb, b0, b1, y + (size_t)t * ldy, ldy, add, R, QT);
    switch (n_tok - t) {
    case 1: qtile(type, w, w_stride, xq + (size_t)t * x_stride, x_stride, nb, b0, b1, y + (size_t)t * ldy, ldy, add, R, 1); break;
    case 2: qtile(type, w, w_stride, xq + (size_t)t * x_stride, x_stride, nb, b0, b1, y + (size_t)t * ldy, ldy, add, R, 2); break;
    case 3: qtile(type, w, w_stride, xq + (size_t)t * x_stride, x_stride, nb, b0, b1, y + (size_t)t * ldy, ldy, add, R, 3); break;
    default: break;
    }
}

static void matmul_q(const kvlm_weight *w, const uint8_t *xq, size_t x_stride, int n_tok, float *y, size_t ldy,
                     int64_t r0, int64_t r1, int accumulate) {
    int64_t nb = w->cols / 32;
    const int64_t bpanel = KPANEL / 32;
    for (int64_t b0 = 0; b0 < nb; b0 += bpanel) {
        int64_t b1 = b0 + bpanel < nb ? b0 + bpanel : nb;
        int add = accumulate || b0 > 0;
        int64_t r = r0;
        for (; r + QR <= r1; r += QR)
            qrows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, xq, x_stride, n_tok, nb,
                  b0, b1, y + r, ldy, add, QR);
        for (; r < r1; r++)
            qrows(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, xq, x_stride, n_tok, nb,
                  b0, b1, y + r, ldy, add, 1);
    }
}

/* ------------------------------------------------------------ the rest */

static size_t avx2_input_bytes(uint32_t type, int64_t cols) {
    /* int8 values, then 8 FP32 copies of each block's scale */
    if ((type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) && cols % 32 == 0) return (size_t)cols + (size_t)cols;
    return 0;
}

/* Same quantization as the AVX-512 path: d = max|x| / 127 in FP32,
 * q = round-to-nearest-even(x / d). */
static void avx2_prepare_input(uint32_t type, const float *x, int64_t cols, void *out) {
    (void)type;
    int8_t *q = out;
    float *sc = (float *)((uint8_t *)out + cols);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < cols / 32; b++) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 32 * b + 8 * i);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float d = _mm_cvtss_f32(m4) / 127.0f, id = d ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v[0], vid)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v[1], vid));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v[2], vid)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v[3], vid));
        __m256i p01 = _mm256_packs_epi32(i0, i1), p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        /* packs work within 128-bit lanes: restore element order */
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + 32 * b), p);
        _mm256_storeu_ps(sc + 8 * b, _mm256_set1_ps(d));
    }
}

static void matmul_generic(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                           int64_t r0, int64_t r1, int accumulate) {
    enum { CHUNK = 1024 };
    float row[CHUNK] __attribute__((aligned(32)));
    ggml_type_info ti = ggml_type_get(w->type);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int64_t c0 = 0; c0 < w->cols; c0 += CHUNK) {
            int64_t n = w->cols - c0 < CHUNK ? w->cols - c0 : CHUNK;
            dequant_row(w->type, wr + (size_t)(c0 / ti.block_elems) * ti.block_bytes, row, n);
            for (int t = 0; t < n_tok; t++) {
                const float *xt = x + (size_t)t * x_ld + c0;
                __m256 acc = _mm256_setzero_ps();
                int64_t k = 0;
                for (; k + 8 <= n; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(row + k), _mm256_loadu_ps(xt + k), acc);
                float s = hsum(acc);
                for (; k < n; k++) s += row[k] * xt[k];
                float *dst = y + (size_t)t * ldy + r;
                *dst = (accumulate || c0 > 0) ? *dst + s : s;
            }
        }
    }
}

static void avx2_matmul(const kvlm_weight *w, const void *x, size_t x_stride, int n_tok, float *y, size_t ldy,
                        int64_t r0, int64_t r1, int accumulate) {
    switch (w->type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        matmul_float(w, x, x_stride / sizeof(float), n_tok, y, ldy, r0, r1, accumulate);
        return;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
        if (w->cols % 32 == 0) {
            matmul_q(w, x, x_stride, n_tok, y, ldy, r0, r1, accumulate);
            return;
        }
        break;
    default: break;
    }
    matmul_generic(w, x, x_stride / sizeof(float), n_tok, y, ldy, r0, r1, accumulate);
}

INLINE __m256 load_kv8(const void *base, int kv_f16, size_t at) {
    if (kv_f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + at)));
    return _mm256_loadu_ps((const float *)base + at);
}

static void avx2_attend(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                        float *out, float *scores) {
    if (head_dim % 8 != 0 || head_dim > 256) {
        kvlm_kernels_scalar.attend(q, k, v, kv_f16, n, head_dim, scale, out, scores);
        return;
    }
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

const kvlm_kernel_set kvlm_kernels_avx2 = {
    .name = "avx2",
    .input_bytes = avx2_input_bytes,
    .prepare_input = avx2_prepare_input,
    .matmul = avx2_matmul,
    .attend = avx2_attend,
};
