/* Int8 activations on AVX-512 VNNI (act_q8.h): the quantizer, and the
 * matmuls for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K in the canonical order.
 *
 * Each row's blocks are rearranged 16 at a time (a group: 16 blocks of 32,
 * for K-quants two super-blocks) into the activations' interleaved layout as
 * unsigned codes, so one vpdpbusd takes 4 bytes of 16 blocks:
 *   Q8_0: q + 128 and Q4_0: the nibble (the signed value + 8): the offset c
 *         comes back off as −c·Σx, so A is the exact signed sum;
 *   Q4_K/Q5_K: q itself (A = Σ q·x; B = −Σx needs no weight);
 *   Q6_K: q (0..63), the −32 coming back off each half as −32·Σx of the half.
 * Decode streams each group from the row into registers; prefill rearranges
 * R rows into a stack block and runs every token tile over it. */
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "act_q8.h"
#include "avx512_util.h"
#include "quant_blocks.h"

enum { QR = 4, QT = 3 }; /* prefill tile: rows × tokens */

/* The terms a type's blocks give (act_q8.h): A alone, A and B = −Σx, or A
 * and B over the two halves. */
enum { ONE_TERM, MIN_TERM, HALF_TERMS };

INLINE int terms_of(uint32_t type) {
    return type == GGML_TYPE_Q6_K ? HALF_TERMS : type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q5_K ? MIN_TERM : ONE_TERM;
}

/* --------------------------------------------------- rows into the layout */

/* The transposes below turn 16 blocks of 8 dwords into 8 vectors, vector k
 * holding dword k of every block (the activations' layout), in three rounds
 * of two-source permutes that halve the dwords per block each time. Round 1:
 * blocks 4p..4p+3 (two per source) to a[p][h], dwords 4h..4h+3 of each. */
INLINE void q8_round1(const __m512i z[8], __m512i a[4][2]) {
    static const int32_t i1[2][16] = {{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27},
                                      {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}};
    for (int p = 0; p < 4; p++)
        for (int h = 0; h < 2; h++) a[p][h] = _mm512_permutex2var_epi32(z[2 * p], _mm512_loadu_si512(i1[h]), z[2 * p + 1]);
}

/* Rounds 2 and 3: a[p][h] (4 blocks × 4 dwords) to out[k] (16 blocks × dword k). */
INLINE void q8_rounds23(__m512i a[4][2], __m512i out[8]) {
    static const int32_t i2[2][16] = {{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29},
                                      {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31}};
    static const int32_t i3[2][16] = {{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30},
                                      {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}};
    __m512i b[2][2][2];
    for (int m = 0; m < 2; m++) /* blocks 8m..8m+7, dwords 4h+2e, 4h+2e+1 */
        for (int h = 0; h < 2; h++)
            for (int e = 0; e < 2; e++)
                b[m][h][e] = _mm512_permutex2var_epi32(a[2 * m][h], _mm512_loadu_si512(i2[e]), a[2 * m + 1][h]);
    for (int h = 0; h < 2; h++)
        for (int e = 0; e < 2; e++)
            for (int f = 0; f < 2; f++)
                out[4 * h + 2 * e + f] = _mm512_permutex2var_epi32(b[0][h][e], _mm512_loadu_si512(i3[f]), b[1][h][e]);
}

/* Group g of a Q8_0/Q4_0 row (blocks 16g.., zero past the row's nb blocks)
 * in the interleaved layout: out[k] lane i = dword k of block 16g + i's
 * unsigned codes, *sa lane i its scale. */
INLINE void group_q8_q4(const uint32_t type, const void *row, int64_t nb, int64_t g, __m512i out[8], __m512 *sa) {
    const size_t bb = type == GGML_TYPE_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0);
    const int64_t b0 = 16 * g;
    const int n = nb - b0 >= 16 ? 16 : (int)(nb - b0);
    const char *base = (const char *)row + (size_t)b0 * bb;
    for (size_t off = 0; off < 16 * bb; off += 64) prefetch_ahead(base + off);
    /* the 16 FP16 scales (the first 2 bytes of each block) by one gather */
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 live = first_lanes(n);
    __m512i dwd = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)bb)),
                                              base, 1);
    *sa = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dwd));
    __m512i a[4][2];
    if (type == GGML_TYPE_Q4_0) {
        /* 4 blocks' 16 code bytes side by side: the low nibbles are dwords
         * 0..3 of each block and the high ones dwords 4..7 — round 1's output */
        const __m512i m15 = _mm512_set1_epi8(15);
        for (int p = 0; p < 4; p++) {
#define Q4_CODES(i) \
    (4 * p + (i) < n ? _mm_loadu_si128((const __m128i *)(base + (size_t)(4 * p + (i)) * bb + 2)) : _mm_setzero_si128())
            __m512i v = _mm512_castsi128_si512(Q4_CODES(0)); /* immediates even at -O0 */
            v = _mm512_inserti32x4(v, Q4_CODES(1), 1);
            v = _mm512_inserti32x4(v, Q4_CODES(2), 2);
            v = _mm512_inserti32x4(v, Q4_CODES(3), 3);
#undef Q4_CODES
            a[p][0] = _mm512_and_si512(v, m15);
            a[p][1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
        }
    } else {
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        __m512i z[8];
        for (int i = 0; i < 8; i++) {
            __m256i lo = 2 * i < n ? _mm256_loadu_si256((const __m256i *)(base + (size_t)(2 * i) * bb + 2)) : _mm256_setzero_si256();
            __m256i hi = 2 * i + 1 < n ? _mm256_loadu_si256((const __m256i *)(base + (size_t)(2 * i + 1) * bb + 2)) : _mm256_setzero_si256();
            /* (padding blocks meet zero activations: their codes do not matter) */
            z[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
        }
        q8_round1(z, a);
    }
    q8_rounds23(a, out);
}

/* Bits s, s+1 of every byte of h moved to bits 4, 5 (the rest zero). */
INLINE __m256i two_bits_to_4(__m256i h, int s) {
    __m256i v = s <= 4 ? _mm256_slli_epi16(h, 4 - s) : _mm256_srli_epi16(h, s - 4);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x30)); /* 16-bit shifts: the mask drops what crossed bytes */
}

/* Group g of a K-quant row: super-blocks 2g and 2g + 1 (the second absent
 * past the row's nsb), their 16 sub-blocks of 32 as in group_q8_q4 with the
 * codes q >= 0, and the terms' scales *sa, *sb (act_q8.h). */
INLINE void group_kq(const uint32_t type, const void *row, int64_t nsb, int64_t g, __m512i out[8], __m512 *sa,
                     __m512 *sb) {
    const size_t bb = type == GGML_TYPE_Q6_K ? sizeof(block_q6_K)
                      : type == GGML_TYPE_Q4_K ? sizeof(block_q4_K)
                                               : sizeof(block_q5_K);
    const int n_sb = nsb - 2 * g >= 2 ? 2 : 1;
    const char *base = (const char *)row + (size_t)(2 * g) * bb;
    for (size_t off = 0; off < 2 * bb; off += 64) prefetch_ahead(base + off);
    const __m256i m15 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m512i z[8]; /* z[i]: sub-blocks 2i, 2i + 1 of the group, 32 code bytes each */
    float d[2] = {0, 0}, dm[2] = {0, 0};
    uint64_t sc8[2] = {0, 0}, mn8[2] = {0, 0};
    __m512i sc6[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int h = 0; h < 2; h++) {
        if (h >= n_sb) {
            for (int i = 0; i < 4; i++) z[4 * h + i] = _mm512_setzero_si512();
            continue;
        }
        const char *blk = base + (size_t)h * bb;
        if (type == GGML_TYPE_Q6_K) {
            /* sub-blocks 2i, 2i + 1: half i / 2, nibble p = i % 2 of ql's two
             * 32-byte runs, bits 4p and 4p + 2 of qh */
            const block_q6_K *b6 = (const block_q6_K *)blk;
            for (int i = 0; i < 4; i++) {
                int half = i / 2, p = i % 2;
                __m256i A = _mm256_loadu_si256((const __m256i *)(b6->ql + 64 * half));
                __m256i B = _mm256_loadu_si256((const __m256i *)(b6->ql + 64 * half + 32));
                __m256i H = _mm256_loadu_si256((const __m256i *)(b6->qh + 32 * half));
                __m256i lo = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4 * p), m15), two_bits_to_4(H, 4 * p));
                __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4 * p), m15), two_bits_to_4(H, 4 * p + 2));
                z[4 * h + i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            }
            d[h] = f16_to_f32(b6->d);
            sc6[h] = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b6->scales));
        } else {
            /* sub-blocks 2c, 2c + 1: the low and high nibbles of qs[32c..],
             * Q5_K's fifth bits from bits 2c, 2c + 1 of qh */
            const block_q4_K *b4 = (const block_q4_K *)blk;
            const block_q5_K *b5 = (const block_q5_K *)blk;
            const uint8_t *qs = type == GGML_TYPE_Q4_K ? b4->qs : b5->qs;
            for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                __m256i lo = _mm256_and_si256(v, m15), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
                if (type == GGML_TYPE_Q5_K) {
                    __m256i qh = _mm256_loadu_si256((const __m256i *)b5->qh);
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
                }
                z[4 * h + c] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            }
            d[h] = f16_to_f32(type == GGML_TYPE_Q4_K ? b4->d : b5->d);
            dm[h] = f16_to_f32(type == GGML_TYPE_Q4_K ? b4->dmin : b5->dmin);
            k4_unpack_scales(type == GGML_TYPE_Q4_K ? b4->scales : b5->scales, &sc8[h], &mn8[h]);
        }
    }
    __m512i a[4][2];
    q8_round1(z, a);
    q8_rounds23(a, out);
    /* lanes 0..7: super-block 2g's sub-blocks, 8..15: the next one's */
    __m512 dv = _mm512_insertf32x8(_mm512_set1_ps(d[0]), _mm256_set1_ps(d[1]), 1);
    if (type == GGML_TYPE_Q6_K) { /* sub-block j's halves have scales 2j (A) and 2j + 1 (B) */
        static const int32_t even[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
        static const int32_t odd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
        *sa = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(sc6[0], _mm512_loadu_si512(even), sc6[1])));
        *sb = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(sc6[0], _mm512_loadu_si512(odd), sc6[1])));
        return;
    }
    __m512 dmv = _mm512_insertf32x8(_mm512_set1_ps(dm[0]), _mm256_set1_ps(dm[1]), 1);
    *sa = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_set_epi64x((long long)sc8[1], (long long)sc8[0]))));
    *sb = _mm512_mul_ps(dmv, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_set_epi64x((long long)mn8[1], (long long)mn8[0]))));
}

/* Group g of any row: codes, and the terms' scales (sb unused for Q8_0/Q4_0). */
INLINE void row_group(const uint32_t type, const void *row, int64_t cols, int64_t g, __m512i out[8], __m512 *sa,
                      __m512 *sb) {
    if (terms_of(type) == ONE_TERM) {
        group_q8_q4(type, row, cols / 32, g, out, sa);
        *sb = _mm512_setzero_ps();
    } else {
        group_kq(type, row, cols / QK_K, g, out, sa, sb);
    }
}

/* ------------------------------------------------------- the dot products */

/* One token's view of group g: its codes, scales and sums. */
typedef struct {
    const int8_t *q;
    __m512 dx;
    __m512i sum, sum16;
} act_group;

INLINE act_group act_at(const act_q8 *x, int t, int64_t g) {
    size_t s = (size_t)t * x->s_ld + 16 * (size_t)g;
    return (act_group){.q = x->q + (size_t)t * x->q_ld + (size_t)g * 512,
                       .dx = _mm512_loadu_ps(x->d + s),
                       .sum = _mm512_loadu_si512(x->sum + s),
                       .sum16 = _mm512_loadu_si512(x->sum16 + s)};
}

/* acc += one group of one row × one token, in the canonical order: the codes
 * w[0..7] (dword k of the 16 blocks), the terms' scales sa, sb; c_shift: the
 * unsigned codes' offset 2^c_shift (ONE_TERM). */
INLINE __m512 group_dot(const int terms, int c_shift, const __m512i w[8], __m512 sa, __m512 sb, act_group x,
                        __m512 acc) {
    const __m512i zero = _mm512_setzero_si512();
    if (terms == HALF_TERMS) { /* A and B over dwords 0..3 and 4..7, each less 32·Σx of its half */
        __m512i ia = _mm512_sub_epi32(zero, _mm512_slli_epi32(x.sum16, 5));
        for (int k = 0; k < 4; k++) ia = _mm512_dpbusd_epi32(ia, w[k], _mm512_loadu_si512(x.q + 64 * k));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(sa, x.dx), acc);
        __m512i ib = _mm512_sub_epi32(zero, _mm512_slli_epi32(_mm512_sub_epi32(x.sum, x.sum16), 5));
        for (int k = 4; k < 8; k++) ib = _mm512_dpbusd_epi32(ib, w[k], _mm512_loadu_si512(x.q + 64 * k));
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(ib), _mm512_mul_ps(sb, x.dx), acc);
    }
    __m512i ia = terms == ONE_TERM ? _mm512_sub_epi32(zero, _mm512_slli_epi32(x.sum, (unsigned)c_shift)) : zero;
    for (int k = 0; k < 8; k++) ia = _mm512_dpbusd_epi32(ia, w[k], _mm512_loadu_si512(x.q + 64 * k));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(sa, x.dx), acc);
    if (terms == MIN_TERM) acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(zero, x.sum)), _mm512_mul_ps(sb, x.dx), acc);
    return acc;
}

/* Decode (<= 4 tokens): each group of a row straight from the weights into
 * registers and on into the dot products, rows streamed front to back. */
INLINE void gemv_row(const uint32_t type, const void *row, int64_t cols, int64_t G, const act_q8 *x, int c_shift,
                     float *y, size_t ldy, int add, const int T) {
    __m512 acc[GEMV_MAX_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; g++) {
        __m512i w[8];
        __m512 sa, sb;
        row_group(type, row, cols, g, w, &sa, &sb);
        for (int t = 0; t < T; t++) acc[t] = group_dot(terms_of(type), c_shift, w, sa, sb, act_at(x, t, g), acc[t]);
    }
    for (int t = 0; t < T; t++) store_sum16(y + (size_t)t * ldy, acc[t], add);
}

INLINE void gemv_type(const uint32_t type, const kvlm_weight *w, const act_q8 *x, int n_tok, int c_shift, float *y,
                      size_t ldy, int64_t r0, int64_t r1, int add) {
    int64_t G = act_q8_groups(w->cols);
    for (int64_t r = r0; r < r1; r++) {
        const void *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        switch (n_tok) {
        case 1: gemv_row(type, row, w->cols, G, x, c_shift, y + r, ldy, add, 1); break;
        case 2: gemv_row(type, row, w->cols, G, x, c_shift, y + r, ldy, add, 2); break;
        case 3: gemv_row(type, row, w->cols, G, x, c_shift, y + r, ldy, add, 3); break;
        default: gemv_row(type, row, w->cols, G, x, c_shift, y + r, ldy, add, 4); break;
        }
    }
}

/* Prefill: R rows rearranged into the stack block (G groups of 512 code
 * bytes and 16 + 16 scales per row)... */
typedef struct {
    uint8_t *q;
    float *sa, *sb;
    int64_t G;
} rows_block;

INLINE void rearrange_rows(const uint32_t type, const kvlm_weight *w, int64_t r, int R, rows_block *rb) {
    for (int i = 0; i < R; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes;
        for (int64_t g = 0; g < rb->G; g++) {
            __m512i o[8];
            __m512 sa, sb;
            row_group(type, row, w->cols, g, o, &sa, &sb);
            size_t at = (size_t)i * (size_t)rb->G + (size_t)g;
            for (int k = 0; k < 8; k++) _mm512_store_si512(rb->q + at * 512 + 64 * k, o[k]);
            _mm512_store_ps(rb->sa + at * 16, sa);
            _mm512_store_ps(rb->sb + at * 16, sb);
        }
    }
}

/* R rows' codes k0..k1 − 1 into ia (per row and token): each weight vector
 * loaded once for the T tokens, each token's once for the R rows. */
INLINE void tile_codes(const rows_block *rb, int64_t g, const act_group xg[QT], int k0, int k1, __m512i ia[QR][QT],
                       const int R, const int T) {
    for (int k = k0; k < k1; k++) {
        __m512i wv[QR];
        for (int r = 0; r < R; r++) wv[r] = _mm512_load_si512(rb->q + ((size_t)r * (size_t)rb->G + (size_t)g) * 512 + 64 * k);
        for (int t = 0; t < T; t++) {
            __m512i xv = _mm512_loadu_si512(xg[t].q + 64 * k);
            for (int r = 0; r < R; r++) ia[r][t] = _mm512_dpbusd_epi32(ia[r][t], wv[r], xv);
        }
    }
}

/* acc[r][t] += (float) ia[r][t] · (s_r · dx_t): one term of every block. */
INLINE void tile_term(const float *s, int64_t G, int64_t g, const act_group xg[QT], __m512i ia[QR][QT],
                      __m512 acc[QR][QT], const int R, const int T) {
    for (int r = 0; r < R; r++) {
        __m512 sr = _mm512_load_ps(s + ((size_t)r * (size_t)G + (size_t)g) * 16);
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][t]), _mm512_mul_ps(sr, xg[t].dx), acc[r][t]);
    }
}

/* ... then R rows × T tokens (from t0), every group, in the canonical order
 * (group_dot's arithmetic, scheduled for the tile). */
INLINE void tile(const int terms, const rows_block *rb, const act_q8 *x, int t0, int c_shift, float *y, size_t ldy,
                 int add, const int R, const int T) {
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[QR][QT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < rb->G; g++) {
        act_group xg[QT];
        __m512i ia[QR][QT];
        for (int t = 0; t < T; t++) {
            xg[t] = act_at(x, t0 + t, g);
            __m512i init = terms == ONE_TERM    ? _mm512_sub_epi32(zero, _mm512_slli_epi32(xg[t].sum, (unsigned)c_shift))
                           : terms == MIN_TERM ? zero
                                               : _mm512_sub_epi32(zero, _mm512_slli_epi32(xg[t].sum16, 5));
            for (int r = 0; r < R; r++) ia[r][t] = init;
        }
        tile_codes(rb, g, xg, 0, terms == HALF_TERMS ? 4 : 8, ia, R, T);
        tile_term(rb->sa, rb->G, g, xg, ia, acc, R, T);
        if (terms == ONE_TERM) continue;
        for (int t = 0; t < T; t++) {
            __m512i init = terms == MIN_TERM ? _mm512_sub_epi32(zero, xg[t].sum)
                                             : _mm512_sub_epi32(zero, _mm512_slli_epi32(_mm512_sub_epi32(xg[t].sum, xg[t].sum16), 5));
            for (int r = 0; r < R; r++) ia[r][t] = init;
        }
        if (terms == HALF_TERMS) tile_codes(rb, g, xg, 4, 8, ia, R, T);
        tile_term(rb->sb, rb->G, g, xg, ia, acc, R, T);
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) store_sum16(y + (size_t)(t0 + t) * ldy + r, acc[r][t], add);
}

INLINE void tiles(const int terms, const rows_block *rb, const act_q8 *x, int n_tok, int c_shift, float *y,
                  size_t ldy, int add, const int R) {
    int t = 0;
    for (; t + QT <= n_tok; t += QT) tile(terms, rb, x, t, c_shift, y, ldy, add, R, QT);
    if (n_tok - t == 2) tile(terms, rb, x, t, c_shift, y, ldy, add, R, 2);
    else if (n_tok - t == 1) tile(terms, rb, x, t, c_shift, y, ldy, add, R, 1);
}

INLINE void gemm_type(const uint32_t type, const kvlm_weight *w, const act_q8 *x, int n_tok, int c_shift, float *y,
                      size_t ldy, int64_t r0, int64_t r1, int add) {
    int64_t G = act_q8_groups(w->cols);
    uint8_t q[QR * G * 512] __attribute__((aligned(64)));
    float sa[QR * G * 16] __attribute__((aligned(64))), sb[QR * G * 16] __attribute__((aligned(64)));
    rows_block rb = {.q = q, .sa = sa, .sb = sb, .G = G};
    for (int64_t r = r0; r < r1;) {
        int R = r1 - r >= QR ? QR : 1;
        rearrange_rows(type, w, r, R, &rb);
        if (R == QR) tiles(terms_of(type), &rb, x, n_tok, c_shift, y + r, ldy, add, QR);
        else tiles(terms_of(type), &rb, x, n_tok, c_shift, y + r, ldy, add, 1);
        r += R;
    }
}

/* One instance per type, so the decoding inlines with its type constant. */
#define FOR_TYPE(fn, ...)                                                                                 \
    switch (w->type) {                                                                                    \
    case GGML_TYPE_Q8_0: fn(GGML_TYPE_Q8_0, __VA_ARGS__); break;                                          \
    case GGML_TYPE_Q4_0: fn(GGML_TYPE_Q4_0, __VA_ARGS__); break;                                          \
    case GGML_TYPE_Q4_K: fn(GGML_TYPE_Q4_K, __VA_ARGS__); break;                                          \
    case GGML_TYPE_Q5_K: fn(GGML_TYPE_Q5_K, __VA_ARGS__); break;                                          \
    default: fn(GGML_TYPE_Q6_K, __VA_ARGS__); break;                                                      \
    }

void act_q8_matmul_avx512(const kvlm_weight *w, const act_q8 *x, int n_tok, float *y, size_t ldy, int64_t r0,
                          int64_t r1, int add) {
    int c_shift = w->type == GGML_TYPE_Q8_0 ? 7 : 3; /* ONE_TERM offsets: 128 or 8 */
    if (n_tok <= GEMV_MAX_TOK) {
        FOR_TYPE(gemv_type, w, x, n_tok, c_shift, y, ldy, r0, r1, add);
    } else if (w->cols > MAX_WIDEN_K) { /* rows longer than any Llama's: too big for the stack block */
        act_q8_matmul_scalar(w, x, n_tok, y, ldy, r0, r1, add);
    } else {
        FOR_TYPE(gemm_type, w, x, n_tok, c_shift, y, ldy, r0, r1, add);
    }
}

/* ------------------------------------------------------------- quantizer */

/* act_q8_quantize's arithmetic, 16 lanes at a time: the same max (NaN never
 * wins: max_ps returns its second operand then, as fmaxf drops NaN), the
 * same IEEE divisions, and cvtps2dq's round-half-even in place of the
 * magic-number rounding; NaN products go to 0 as they come out there. Each
 * block's 8 dwords land 64 bytes apart (the interleaved layout) by one
 * scatter. */
void act_q8_quantize_avx512(act_q8 *a, int t, const float *x) {
    int8_t *q = a->q + (size_t)t * a->q_ld;
    float *d = a->d + (size_t)t * a->s_ld;
    int32_t *sum = a->sum + (size_t)t * a->s_ld, *sum16 = a->sum16 + (size_t)t * a->s_ld;
    int64_t nb = a->cols / ACT_Q8_BLOCK;
    if ((size_t)nb < a->s_ld) { /* a partial last group: its padding blocks are zero */
        int64_t g0 = nb / ACT_Q8_GROUP_BLOCKS * ACT_Q8_GROUP_BLOCKS;
        memset(q + act_q8_block_at(g0), 0, a->q_ld - act_q8_block_at(g0));
        memset(d + nb, 0, sizeof(float) * (a->s_ld - (size_t)nb));
        memset(sum + nb, 0, sizeof(int32_t) * (a->s_ld - (size_t)nb));
        memset(sum16 + nb, 0, sizeof(int32_t) * (a->s_ld - (size_t)nb));
    }
    const __m512 sign = _mm512_set1_ps(-0.0f);
    const __m512i lim = _mm512_set1_epi32(127), nlim = _mm512_set1_epi32(-127);
    const __m256i dword_at = _mm256_setr_epi32(0, 64, 128, 192, 256, 320, 384, 448);
    for (int64_t b = 0; b < nb; b++) {
        __m512 x0 = _mm512_loadu_ps(x + b * ACT_Q8_BLOCK), x1 = _mm512_loadu_ps(x + b * ACT_Q8_BLOCK + 16);
        __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_setzero_ps());
        m = _mm512_max_ps(_mm512_andnot_ps(sign, x1), m);
        float amax = _mm512_reduce_max_ps(m);
        float db = amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        __m512 s0 = _mm512_mul_ps(x0, _mm512_set1_ps(id)), s1 = _mm512_mul_ps(x1, _mm512_set1_ps(id));
        __m512i v0 = _mm512_maskz_cvtps_epi32(_mm512_cmp_ps_mask(s0, s0, _CMP_ORD_Q), s0);
        __m512i v1 = _mm512_maskz_cvtps_epi32(_mm512_cmp_ps_mask(s1, s1, _CMP_ORD_Q), s1);
        v0 = _mm512_max_epi32(_mm512_min_epi32(v0, lim), nlim);
        v1 = _mm512_max_epi32(_mm512_min_epi32(v1, lim), nlim);
        sum16[b] = _mm512_reduce_add_epi32(v0);
        sum[b] = sum16[b] + _mm512_reduce_add_epi32(v1);
        d[b] = db;
        __m256i bytes = _mm256_set_m128i(_mm512_cvtepi32_epi8(v1), _mm512_cvtepi32_epi8(v0));
        _mm256_i32scatter_epi32(q + act_q8_block_at(b), dword_at, bytes, 1);
    }
}
