/* Int8 activations (KVLM_ACT_Q8): the quantizer against its definition, the
 * scalar reference matmul against exact integer math done here in doubles
 * (K-quant blocks decoded by tests/kquant_ref.h, written from the format's
 * description), and every SIMD set against the scalar reference bit for bit
 * (the canonical order) for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K: odd sizes,
 * partial groups, row ranges, token counts on both sides of the
 * decode/prefill switch, accumulate on and off. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "format/ggml_types.h"
#include "kernels/act_q8.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"
#include "kquant_ref.h"
#include "test_util.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform [-1, 1) */
    return (float)(test_xorshift(&rng) >> 40) / 8388608.0f - 1.0f;
}

/* Buffers for n tokens of cols inputs. */
static act_q8 act_new(int64_t cols, int n) {
    int64_t groups = act_q8_groups(cols);
    act_q8 a = {.cols = cols, .q_ld = (size_t)groups * ACT_Q8_GROUP_BYTES, .s_ld = (size_t)groups * ACT_Q8_GROUP_BLOCKS};
    a.q = malloc(a.q_ld * (size_t)n);
    a.d = malloc(sizeof(float) * a.s_ld * (size_t)n);
    a.sum = malloc(sizeof(int32_t) * a.s_ld * (size_t)n);
    a.sum16 = malloc(sizeof(int32_t) * a.s_ld * (size_t)n);
    return a;
}

static void act_free(act_q8 *a) {
    free(a->q);
    free(a->d);
    free(a->sum);
    free(a->sum16);
}

static void test_quantizer(void) {
    /* ties round to even: amax 127 gives d = 1 exactly */
    float x[64] = {127.0f, 2.5f, 3.5f, -2.5f, -0.5f, 0.5f, 1.5f, -127.0f};
    act_q8 a = act_new(64, 1);
    act_q8_quantize(&a, 0, x);
    int8_t want[8] = {127, 2, 4, -2, 0, 0, 2, -127};
    for (int i = 0; i < 8; i++) CHECK_MSG(a.q[act_q8_at(i)] == want[i], "x %g -> %d, want %d", x[i], a.q[act_q8_at(i)], want[i]);
    CHECK(a.d[0] == 1.0f && a.d[1] == 0.0f && a.sum[1] == 0); /* an all-zero block */
    act_free(&a);

    int64_t sizes[] = {32, 96, 512, 544, 2048, 8224};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s], nb = n / 32;
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) v[i] = frand() * (float)(1 + i % 13);
        a = act_new(n, 2);
        memset(a.q, 0x55, a.q_ld * 2); /* the quantizer must clear the padding */
        act_q8_quantize(&a, 1, v);
        const int8_t *q = a.q + a.q_ld;
        int ok = 1;
        for (int64_t b = 0; b < nb; b++) {
            float amax = 0;
            int32_t sum = 0, sum16 = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[b * 32 + i]));
            float d = a.d[a.s_ld + (size_t)b];
            ok &= d == amax / 127.0f;
            for (int i = 0; i < 32; i++) {
                int qi = q[act_q8_at(b * 32 + i)];
                sum += qi;
                sum16 += i < 16 ? qi : 0;
                ok &= qi >= -127 && qi <= 127 && fabs((double)v[b * 32 + i] - (double)d * qi) <= 0.5001 * d;
            }
            ok &= sum == a.sum[a.s_ld + (size_t)b] && sum16 == a.sum16[a.s_ld + (size_t)b];
        }
        size_t used = 0;
        for (size_t i = 0; i < a.q_ld; i++) used += q[i] != 0;
        for (size_t b = (size_t)nb; b < a.s_ld; b++)
            ok &= a.d[a.s_ld + b] == 0 && a.sum[a.s_ld + b] == 0 && a.sum16[a.s_ld + b] == 0;
        for (size_t i = (size_t)n; i < a.q_ld; i++) ok &= q[act_q8_at((int64_t)i)] == 0; /* padding blocks */
        CHECK_MSG(ok && used > 0, "quantizer, %lld inputs", (long long)n);
        act_free(&a);
        free(v);
    }
}

/* A set's quantizer against the scalar one, byte for byte: random blocks of
 * many magnitudes, exact ties (amax 127 makes d = 1), all-zero blocks, and
 * blocks with an infinity or a NaN; output buffers start as junk. */
static void test_set_quantizer(const kvlm_kernel_set *ks) {
    int64_t sizes[] = {32, 96, 512, 544, 2048, 8224};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t b = i / 32;
            v[i] = frand() * ldexpf(1.0f, (int)(b % 40) - 20);
            if (b % 7 == 3) v[i] = i % 32 == 0 ? 127.0f : (float)((int)(frand() * 120)) + 0.5f; /* ties */
            if (b % 11 == 5) v[i] = 0.0f;
        }
        if (n >= 512) {
            v[64 + 5] = INFINITY;
            v[128 + 9] = NAN;
            v[160 + 1] = -INFINITY;
            v[160 + 2] = NAN;
        }
        act_q8 a = act_new(n, 2), b = act_new(n, 2);
        memset(a.q, 0x55, a.q_ld * 2);
        memset(b.q, 0x2a, b.q_ld * 2);
        memset(a.d, 0x7f, sizeof(float) * a.s_ld * 2);
        memset(a.sum, 0x7f, sizeof(int32_t) * a.s_ld * 2);
        memset(b.sum16, 0x3c, sizeof(int32_t) * b.s_ld * 2);
        act_q8_quantize(&a, 1, v);
        ks->quantize_q8(&b, 1, v);
        CHECK_MSG(!memcmp(a.q + a.q_ld, b.q + b.q_ld, a.q_ld) &&
                      !memcmp(a.d + a.s_ld, b.d + b.s_ld, sizeof(float) * a.s_ld) &&
                      !memcmp(a.sum + a.s_ld, b.sum + b.s_ld, sizeof(int32_t) * a.s_ld) &&
                      !memcmp(a.sum16 + a.s_ld, b.sum16 + b.s_ld, sizeof(int32_t) * a.s_ld),
                  "%s quantizer differs from scalar, %lld inputs", ks->name, (long long)n);
        act_free(&a);
        act_free(&b);
        free(v);
    }
}

static int is_kquant(uint32_t type) { return type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q5_K || type == GGML_TYPE_Q6_K; }

/* Random rows at `misalign` bytes past an aligned buffer: Q8_0/Q4_0 by the
 * quantizer; K-quants as random bytes (every code, 6-bit scale and min, and
 * negative Q6_K scales) with d and dmin set to small FP16 values. */
static kvlm_weight make_weights(uint32_t type, int64_t rows, int64_t cols, size_t misalign, void **base) {
    ggml_type_info ti = ggml_type_get(type);
    size_t row_bytes = (size_t)(cols / ti.block_elems) * ti.block_bytes;
    *base = malloc(row_bytes * (size_t)rows + 64);
    uint8_t *data = (uint8_t *)*base + misalign;
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = data + (size_t)r * row_bytes;
        if (!is_kquant(type)) {
            for (int64_t c = 0; c < cols; c++) tmp[c] = frand() * (1.0f + (float)(c % 5));
            quantize_row(type, tmp, row, cols);
            continue;
        }
        for (size_t i = 0; i < row_bytes; i++) row[i] = (uint8_t)(test_xorshift(&rng) >> 56);
        for (int64_t b = 0; b < cols / 256; b++) {
            uint8_t *blk = row + (size_t)b * ti.block_bytes;
            if (type == GGML_TYPE_Q6_K) ref_put_half(blk + 208, 0.001f * (1.0f + frand()));
            else {
                ref_put_half(blk, 0.002f * (1.0f + frand()));
                ref_put_half(blk + 2, 0.004f * (1.0f + frand()));
            }
        }
    }
    free(tmp);
    return (kvlm_weight){.type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes, .data = data};
}

/* Σ over block b (32 elements) of weight × activation code, exactly in
 * doubles, from the format's description (the min of Q4_K/Q5_K included). */
static double block_dot(uint32_t type, const uint8_t *row, int64_t b, const int8_t *xq) {
    size_t bb = ggml_type_get(type).block_bytes;
    double s = 0;
    if (!is_kquant(type)) {
        uint16_t dh;
        memcpy(&dh, row + (size_t)b * bb, 2);
        float wf[32];
        dequant_row(type, row + (size_t)b * bb, wf, 32);
        double dw = f16_to_f32(dh);
        for (int i = 0; i < 32; i++) s += (double)lround(wf[i] / dw) * xq[act_q8_at(b * 32 + i)];
        return dw * s;
    }
    const uint8_t *blk = row + (size_t)(b / 8) * bb;
    for (int i = 0; i < 32; i++) {
        int e = (int)(b % 8) * 32 + i;
        double x = xq[act_q8_at(b * 32 + i)], w;
        if (type == GGML_TYPE_Q6_K) w = ref_half(blk + 208) * (double)(int8_t)blk[192 + e / 16] * (ref_q6_K_quant(blk, e) - 32);
        else {
            int q = type == GGML_TYPE_Q4_K ? ref_q4_K_quant(blk, e) : ref_q5_K_quant(blk, e);
            w = (double)ref_half(blk) * ref_k_scale(blk + 4, e / 32, 0) * q - (double)ref_half(blk + 2) * ref_k_scale(blk + 4, e / 32, 1);
        }
        s += w * x;
    }
    return s;
}

/* The scalar reference against Σ_b dx_b · (weights · codes of block b) in
 * doubles. */
static void test_scalar_reference(uint32_t type) {
    int64_t rows = 3, cols = is_kquant(type) ? 768 : 800; /* a whole group and a partial one */
    void *base;
    kvlm_weight w = make_weights(type, rows, cols, 0, &base);
    float x[800], y[3];
    for (int i = 0; i < 800; i++) x[i] = frand() * 4.0f;
    act_q8 a = act_new(cols, 1);
    act_q8_quantize(&a, 0, x);
    act_q8_matmul_scalar(&w, &a, 1, y, 3, 0, rows, 0);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w.data + (size_t)r * w.row_bytes;
        double want = 0, mag = 0;
        for (int64_t b = 0; b < cols / 32; b++) {
            double v = a.d[b] * block_dot(type, row, b, a.q);
            want += v;
            mag += fabs(v);
        }
        CHECK_MSG(fabs(y[r] - want) <= 1e-6 * mag + 1e-30, "%s scalar q8 row %lld: %g vs %g", ggml_type_get(type).name,
                  (long long)r, y[r], want);
    }
    act_free(&a);
    free(base);
}

static void test_set(const kvlm_kernel_set *ks, uint32_t type, int64_t rows, int64_t cols, int n, int acc,
                     size_t misalign) {
    void *base;
    kvlm_weight w = make_weights(type, rows, cols, misalign, &base);
    float *x = malloc(sizeof(float) * (size_t)(cols * n));
    for (int64_t i = 0; i < cols * n; i++) x[i] = frand() * 3.0f;
    act_q8 a = act_new(cols, n);
    for (int t = 0; t < n; t++) ks->quantize_q8(&a, t, x + (size_t)t * (size_t)cols);
    size_t ldy = (size_t)rows + 3;
    float *ys = malloc(sizeof(float) * ldy * (size_t)n), *yr = malloc(sizeof(float) * ldy * (size_t)n);
    for (size_t i = 0; i < ldy * (size_t)n; i++) ys[i] = yr[i] = frand();
    int64_t r0 = rows > 2 ? 1 : 0, r1 = rows > 3 ? rows - 1 : rows;
    ks->matmul_q8(&w, &a, n, ys, ldy, r0, r1, acc);
    act_q8_matmul_scalar(&w, &a, n, yr, ldy, r0, r1, acc);
    CHECK_MSG(memcmp(ys, yr, sizeof(float) * ldy * (size_t)n) == 0, "%s %s q8 rows %lld cols %lld n %d acc %d: not bit-identical to scalar",
              ks->name, ggml_type_get(type).name, (long long)rows, (long long)cols, n, acc);
    /* the same tokens one call at a time */
    for (int t = 0; t < n && !acc; t++) {
        act_q8 one = a;
        one.q += (size_t)t * a.q_ld;
        one.d += (size_t)t * a.s_ld;
        one.sum += (size_t)t * a.s_ld;
        one.sum16 += (size_t)t * a.s_ld;
        ks->matmul_q8(&w, &one, 1, yr + (size_t)t * ldy, ldy, r0, r1, 0);
    }
    if (!acc) CHECK_MSG(memcmp(ys, yr, sizeof(float) * ldy * (size_t)n) == 0, "%s %s q8 %lldx%lld: results depend on tokens per call",
                        ks->name, ggml_type_get(type).name, (long long)rows, (long long)cols);
    act_free(&a);
    free(ys);
    free(yr);
    free(x);
    free(base);
}

int main(void) {
    test_quantizer();
    const uint32_t types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    for (int ty = 0; ty < 5; ty++) test_scalar_reference(types[ty]);
    kvlm_kernels sets[] = {KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    int64_t cols[] = {32, 96, 512, 544, 2048, 8224, 16416}; /* the last: longer than the prefill stack block */
    int64_t kcols[] = {256, 512, 768, 2048, 8192, 16640};   /* K-quants: whole super-blocks, odd counts too */
    int row_counts[] = {1, 3, 4, 5, 9, 17};
    int toks[] = {1, 2, 3, 4, 5, 7, 13};
    for (size_t s = 0; s < 2; s++) {
        const kvlm_kernel_set *ks = kernels_select(sets[s]);
        if (!ks) {
            printf("kernel set %d not available: %s\n", (int)sets[s], kvlm_last_error());
            continue;
        }
        test_set_quantizer(ks);
        for (int ty = 0; ty < 5; ty++) {
            int k = is_kquant(types[ty]);
            size_t n_cols = k ? sizeof kcols / sizeof kcols[0] : sizeof cols / sizeof cols[0];
            for (size_t c = 0; c < n_cols; c++)
                for (size_t rc = 0; rc < sizeof row_counts / sizeof row_counts[0]; rc++) {
                    int n = toks[(c + rc + (size_t)ty) % 7];
                    test_set(ks, types[ty], row_counts[rc], k ? kcols[c] : cols[c], n, (int)((c + rc) % 2), 2 * (rc % 2));
                }
        }
        printf("%s: int8-activation matmuls equal the scalar reference bit for bit\n", ks->name);
    }
    return test_finish();
}
