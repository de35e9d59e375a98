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
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / 8388608.0f - 1.0f;
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

static void test_attention(const kvlm_kernel_set *ks) {
    int dims[] = {8, 32, 64, 128};
    int lens[] = {1, 5, 31, 100};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (int f16 = 0; f16 < 2; f16++) {
                int hd = dims[a], n = lens[b];
                float q[128], o1[128], o2[128], sc1[100], sc2[100];
                size_t esz = f16 ? 2 : 4;
                uint8_t *k = malloc(esz * (size_t)(n * hd) + 2), *v = malloc(esz * (size_t)(n * hd) + 2);
                for (int i = 0; i < hd; i++) q[i] = frand() * 3.0f;
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
                ks->attend(q, k, v, f16, n, hd, scale, o1, sc1);
                kvlm_kernels_scalar.attend(q, k, v, f16, n, hd, scale, o2, sc2);
                double worst = 0;
                for (int i = 0; i < hd; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
                CHECK_MSG(worst <= 1e-5, "%s attention hd %d n %d f16 %d: %.3g", ks->name, hd, n, f16, worst);
                free(k);
                free(v);
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
        printf("%s: every kernel matches the scalar path\n", ks->name);
    }
    if (!tested) test_skip("this CPU has no SIMD kernel set to compare (only the scalar path runs)");
    return test_finish();
}
