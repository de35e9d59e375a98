/* Every SIMD kernel against the scalar reference on random inputs: each
 * weight type, odd sizes and tails, K panels, partial row ranges, token
 * counts on both sides of the decode/prefill switch, accumulate on/off, and
 * misaligned weights and inputs. Relative error bound: 1e-5 of Σ|w·x|. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "format/ggml_types.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"
#include "test_util.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* uniform [-1, 1) */
    return (float)(test_xorshift(&rng) >> 40) / 8388608.0f - 1.0f;
}

/* A random matrix of `type`, at `misalign` bytes past an aligned buffer. */
static void *make_weights(uint32_t type, int64_t rows, int64_t cols, size_t misalign, void **base, kvlm_weight *w) {
    ggml_type_info ti = ggml_type_get(type);
    size_t row_bytes = (size_t)(cols / ti.block_elems) * ti.block_bytes;
    *base = malloc(row_bytes * (size_t)rows + 64);
    uint8_t *data = (uint8_t *)*base + misalign;
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = data + (size_t)r * row_bytes;
        for (int64_t c = 0; c < cols; c++) tmp[c] = frand() * (1.0f + (float)(c % 7));
        if (quantize_row(type, tmp, row, cols) != 0) {
            /* K-quants: random bits with sane FP16 scales */
            for (size_t i = 0; i < row_bytes; i++) row[i] = (uint8_t)(rng = rng * 6364136223846793005ull + 1442695040888963407ull) ;
            for (int64_t b = 0; b < cols / 256; b++) {
                uint8_t *blk = row + (size_t)b * ti.block_bytes;
                uint16_t d = f32_to_f16(0.01f + 0.001f * (float)(b % 5)), dm = f32_to_f16(0.005f);
                if (type == GGML_TYPE_Q6_K) memcpy(blk + 208, &d, 2);
                else {
                    memcpy(blk, &d, 2);
                    memcpy(blk + 2, &dm, 2);
                }
            }
        }
    }
    free(tmp);
    *w = (kvlm_weight){.type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes, .data = data};
    return data;
}

static void test_matmul(const kvlm_kernel_set *ks, uint32_t type, int64_t rows, int64_t cols, int n, int acc,
                        size_t w_mis, size_t x_mis_floats) {
    void *base;
    kvlm_weight w;
    make_weights(type, rows, cols, w_mis, &base, &w);
    size_t x_ld = (size_t)cols + 3; /* odd stride */
    float *xbuf = malloc(sizeof(float) * (x_ld * (size_t)n + 16));
    float *x = xbuf + x_mis_floats;
    for (size_t i = 0; i < x_ld * (size_t)n; i++) x[i] = frand() * 2.0f;
    size_t ldy = (size_t)rows + 5;
    float *ys = malloc(sizeof(float) * ldy * (size_t)n), *yr = malloc(sizeof(float) * ldy * (size_t)n);
    for (size_t i = 0; i < ldy * (size_t)n; i++) ys[i] = yr[i] = frand();
    int64_t r0 = rows > 2 ? 1 : 0, r1 = rows > 3 ? rows - 1 : rows;
    ks->matmul(&w, x, x_ld, n, ys, ldy, r0, r1, acc);
    kvlm_kernels_scalar.matmul(&w, x, x_ld, n, yr, ldy, r0, r1, acc);
    double worst = 0;
    int untouched_ok = 1;
    for (int t = 0; t < n; t++) {
        for (int64_t r = 0; r < (int64_t)ldy; r++) {
            size_t i = (size_t)t * ldy + (size_t)r;
            if (r < r0 || r >= r1) {
                untouched_ok &= ys[i] == yr[i];
                continue;
            }
            /* scale: Σ |w x| of this dot product */
            float wrow[8192];
            dequant_row(type, (const uint8_t *)w.data + (size_t)r * w.row_bytes, wrow, cols);
            double mag = 0;
            for (int64_t c = 0; c < cols; c++) mag += fabs((double)wrow[c] * x[(size_t)t * x_ld + (size_t)c]);
            mag += 1e-30;
            double e = fabs((double)ys[i] - yr[i]) / mag;
            if (e > worst) worst = e;
        }
    }
    const char *tn = ggml_type_get(type).name;
    CHECK_MSG(worst <= 1e-5, "%s %s rows %lld cols %lld n %d acc %d: vs scalar %.3g", ks->name, tn, (long long)rows,
              (long long)cols, n, acc, worst);
    CHECK_MSG(untouched_ok, "%s %s: rows outside [r0, r1) were written", ks->name, tn);
    free(ys);
    free(yr);
    free(xbuf);
    free(base);
}

/* The canonical summation order: for a token, the result must not depend on
 * how many tokens share the call (decode GEMV for <= 4, prefill tiles above). */
static void test_batch_invariance(const kvlm_kernel_set *ks, uint32_t type, int64_t rows, int64_t cols) {
    void *base;
    kvlm_weight w;
    make_weights(type, rows, cols, 0, &base, &w);
    enum { N = 11 };
    float *x = malloc(sizeof(float) * (size_t)cols * N);
    for (size_t i = 0; i < (size_t)cols * N; i++) x[i] = frand() * 3.0f;
    float *all = malloc(sizeof(float) * (size_t)rows * N), *part = malloc(sizeof(float) * (size_t)rows * N);
    ks->matmul(&w, x, (size_t)cols, N, all, (size_t)rows, 0, rows, 0);
    int same = 1;
    for (int group = 1; group <= 5; group++) { /* calls of 1..5 tokens */
        for (int t0 = 0; t0 < N; t0 += group) {
            int n = N - t0 < group ? N - t0 : group;
            ks->matmul(&w, x + (size_t)t0 * cols, (size_t)cols, n, part + (size_t)t0 * rows, (size_t)rows, 0, rows, 0);
        }
        same &= memcmp(all, part, sizeof(float) * (size_t)rows * N) == 0;
    }
    CHECK_MSG(same, "%s %s %lldx%lld: results depend on the number of tokens per call", ks->name,
              ggml_type_get(type).name, (long long)rows, (long long)cols);
    free(x);
    free(all);
    free(part);
    free(base);
}

/* Head sizes of 1, 2, 4, 5, 8 and 13 vectors of 16 (and a partial one),
 * 1 to 8 query heads per K/V head (4 × 64 is the grouped fast path; 5 and 8
 * mix it with single heads), lengths around the blocks of 4 and 16
 * positions; "sharp" queries push most scores tens of units below the max,
 * into exp's underflow. */
static void test_attention(const kvlm_kernel_set *ks) {
    int dims[] = {8, 32, 64, 80, 128, 200};
    int lens[] = {1, 2, 3, 5, 16, 17, 31, 100, 300};
    int groups[] = {1, 3, 4, 5, 8};
    for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
        for (size_t b = 0; b < sizeof lens / sizeof *lens; b++)
            for (int f16 = 0; f16 < 2; f16++)
                for (int sharp = 0; sharp < 2; sharp++) {
                    int hd = dims[a], n = lens[b], n_q = groups[(a + b + (size_t)sharp) % 5];
                    if (hd == 64) n_q = groups[(b + (size_t)f16 + (size_t)sharp) % 5];
                    size_t qn = (size_t)n_q * (size_t)hd;
                    float *q = malloc(sizeof(float) * qn), *o1 = malloc(sizeof(float) * qn);
                    float *o2 = malloc(sizeof(float) * qn);
                    float *sc1 = malloc(sizeof(float) * attend_scratch(n_q, n));
                    float *sc2 = malloc(sizeof(float) * attend_scratch(n_q, n));
                    size_t esz = f16 ? 2 : 4;
                    uint8_t *k = malloc(esz * (size_t)(n * hd) + 2), *v = malloc(esz * (size_t)(n * hd) + 2);
                    for (size_t i = 0; i < qn; i++) q[i] = frand() * (sharp ? 40.0f : 3.0f);
                    for (int i = 0; i < n * hd; i++) {
                        float kv = frand() * 2.0f, vv = frand();
                        if (f16) {
                            uint16_t hk = f32_to_f16(kv), hv = f32_to_f16(vv);
                            memcpy(k + 2 * i, &hk, 2);
                            memcpy(v + 2 * i, &hv, 2);
                        } else {
                            memcpy(k + 4 * i, &kv, 4);
                            memcpy(v + 4 * i, &vv, 4);
                        }
                    }
                    float scale = 1.0f / sqrtf((float)hd);
                    ks->attend(q, n_q, k, v, f16, n, hd, scale, o1, sc1);
                    kvlm_kernels_scalar.attend(q, n_q, k, v, f16, n, hd, scale, o2, sc2);
                    double worst = 0;
                    for (size_t i = 0; i < qn; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
                    CHECK_MSG(worst <= 1e-5, "%s attention hd %d n %d heads %d f16 %d sharp %d: %.3g", ks->name, hd, n,
                              n_q, f16, sharp, worst);
                    free(k);
                    free(v);
                    free(q);
                    free(o1);
                    free(o2);
                    free(sc1);
                    free(sc2);
                }
}

/* The softmax's exponentials, held to a few ulps: with small integer q and
 * K and a power-of-two scale every score is exact on both paths, so the
 * unnormalized probabilities left in the score buffer must agree to the
 * precision of expf itself (the outputs alone would hide an error that is
 * the same relative size for every position). Scores run from 0 down to
 * -80 sqrt(hd), through exp's subnormal range and underflow. */
static void test_softmax_exp(const kvlm_kernel_set *ks) {
    int dims[] = {16, 64, 256};
    int lens[] = {1, 17, 300};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++) {
            int hd = dims[a], n = lens[b];
            float q[256], o1[256], o2[256], sc1[300], sc2[300];
            float *k = malloc(sizeof(float) * (size_t)(n * hd)), *v = malloc(sizeof(float) * (size_t)(n * hd));
            for (int i = 0; i < hd; i++) q[i] = (float)(rand() % 7 - 3);
            q[0] = (float)hd; /* with k[j][0] in -40..40: scores spread over +-40 sqrt(hd) */
            for (int i = 0; i < n * hd; i++) {
                k[i] = (float)(i % hd == 0 ? rand() % 81 - 40 : rand() % 5 - 2);
                v[i] = frand();
            }
            float scale = 1.0f / sqrtf((float)hd); /* 1/4, 1/8, 1/16: exact */
            ks->attend(q, 1, k, v, 0, n, hd, scale, o1, sc1);
            kvlm_kernels_scalar.attend(q, 1, k, v, 0, n, hd, scale, o2, sc2);
            int bad = 0;
            for (int j = 0; j < n; j++) {
                double tol = fmax(3e-7 * fabs(sc2[j]), 1e-44);
                if (fabs(sc1[j] - sc2[j]) > tol) bad++;
            }
            CHECK_MSG(bad == 0, "%s softmax exp hd %d n %d: %d of %d differ", ks->name, hd, n, bad, n);
            free(k);
            free(v);
        }
}

/* The FFN activation against the scalar path: gates from -120 to 120 (exp
 * overflowing to infinity, results through the subnormals) and tails. */
static void test_silu(const kvlm_kernel_set *ks) {
    int lens[] = {1, 15, 16, 17, 100, 8192};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        int n = lens[l];
        float *g1 = malloc(sizeof(float) * (size_t)n), *g2 = malloc(sizeof(float) * (size_t)n);
        float *up = malloc(sizeof(float) * (size_t)n);
        for (int i = 0; i < n; i++) {
            g1[i] = g2[i] = i % 3 ? frand() * 120.0f : frand() * 6.0f;
            up[i] = frand() * 4.0f;
        }
        if (n > 4) g1[1] = g2[1] = 0.0f, g1[2] = g2[2] = -0.0f, g1[3] = g2[3] = -88.9f;
        ks->silu_mul(g1, up, n);
        kvlm_kernels_scalar.silu_mul(g2, up, n);
        int bad = 0;
        for (int i = 0; i < n; i++) bad += !(fabsf(g1[i] - g2[i]) <= fmaxf(4e-7f * fabsf(g2[i]), 1e-44f));
        CHECK_MSG(bad == 0, "%s silu n %d: %d differ", ks->name, n, bad);
        free(g1);
        free(g2);
        free(up);
    }
}

int main(void) {
    kvlm_kernels sets[] = {KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    int tested = 0;
    for (size_t s = 0; s < 2; s++) {
        const kvlm_kernel_set *ks = kernels_select(sets[s]);
        if (!ks) {
            printf("kernel set %d not available: %s\n", (int)sets[s], kvlm_last_error());
            continue;
        }
        tested++;
        struct {
            uint32_t type;
            int64_t cols[6];
        } shapes[] = {
            {GGML_TYPE_F32, {1, 7, 16, 33, 100, 2100}},
            {GGML_TYPE_F16, {1, 9, 16, 47, 128, 4111}},
            {GGML_TYPE_BF16, {3, 8, 31, 64, 250, 2049}},
            {GGML_TYPE_Q8_0, {32, 64, 96, 160, 2112, 4160}},
            {GGML_TYPE_Q4_0, {32, 64, 96, 160, 2112, 4160}},
            {GGML_TYPE_Q4_K, {256, 512, 768, 256, 2304, 256}},
            {GGML_TYPE_Q5_K, {256, 512, 768, 256, 2304, 256}},
            {GGML_TYPE_Q6_K, {256, 512, 768, 256, 2304, 256}},
        };
        int row_counts[] = {1, 3, 5, 17, 40};
        int toks[] = {1, 2, 5, 7, 13};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int c = 0; c < 6; c++)
                for (int rc = 0; rc < 5; rc++) {
                    int n = toks[(c + rc) % 5];
                    int acc = (c + rc) % 2;
                    size_t w_mis = shapes[i].type == GGML_TYPE_F32 ? 4 * (size_t)(rc % 2) : 2 * (size_t)(rc % 2);
                    test_matmul(ks, shapes[i].type, row_counts[rc], shapes[i].cols[c], n, acc, w_mis, (size_t)(c % 3));
                }
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            test_batch_invariance(ks, shapes[i].type, 9, shapes[i].cols[4]);
            test_batch_invariance(ks, shapes[i].type, 5, shapes[i].cols[1]);
        }
        test_attention(ks);
        test_softmax_exp(ks);
        test_silu(ks);
        printf("%s: every kernel matches the scalar path\n", ks->name);
    }
    if (!tested) test_skip("this CPU has no SIMD kernel set to compare (only the scalar path runs)");
    return test_finish();
}
