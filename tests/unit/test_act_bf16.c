/* BF16 activations (KVLM_ACT_BF16): the rounding against its definition, the
 * scalar reference matmul against sums of the same BF16 values in doubles,
 * and every set's matmul against the scalar reference (to float rounding:
 * the AVX-512 kernels sum in their own order) for row lengths with and
 * without a partial last chunk, row counts around the 6-row tile, token
 * counts on both sides of the decode/prefill switch, misaligned rows,
 * accumulate on and off. The AVX-512 results must not depend on how many
 * tokens one call takes (prefill equals decode bit for bit). */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "format/ggml_types.h"
#include "kernels/act_bf16.h"
#include "kernels/kernels.h"
#include "test_util.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) { /* uniform [-1, 1) */
    return (float)(test_xorshift(&rng) >> 40) / 8388608.0f - 1.0f;
}

static void test_rounding(void) {
    /* 1 + 2^-8 lies halfway between two BF16 values: to even (1); 1 + 3·2^-8 to 1 + 2^-6 (even) */
    /* 3e38 to 2^127 · (1 + 98/128); FLT_MAX past the largest BF16 by more than half a step: to infinity */
    float x[7] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -1.0f - 0x1p-8f, 3.0e38f, NAN, -0.0f, 3.4028235e38f};
    uint16_t h[7];
    act_bf16_round(h, x, 7);
    CHECK(h[0] == 0x3f80 && h[1] == 0x3f82 && h[2] == 0xbf80);
    CHECK(h[3] == 0x7f62 && h[6] == 0x7f80);
    CHECK(isnan(bf16_to_f32(h[4])) && h[5] == 0x8000);
    for (int i = 0; i < 1000; i++) { /* nearest: no BF16 value lies closer */
        float v = frand() * ldexpf(1.0f, i % 60 - 30);
        uint16_t r;
        act_bf16_round(&r, &v, 1);
        float got = bf16_to_f32(r), up = bf16_to_f32((uint16_t)(r + 1)), down = bf16_to_f32((uint16_t)(r - 1));
        CHECK_MSG(fabsf(got - v) <= fabsf(up - v) && fabsf(got - v) <= fabsf(down - v), "%g rounds to %g", v, got);
    }
}

/* rows × cols of random BF16 weights at `misalign` bytes (even) past an aligned buffer */
static kvlm_weight make_weights(int64_t rows, int64_t cols, size_t misalign, void **base) {
    size_t row_bytes = (size_t)cols * 2;
    *base = malloc(row_bytes * (size_t)rows + 64);
    uint16_t *data = (uint16_t *)((uint8_t *)*base + misalign);
    for (int64_t i = 0; i < rows * cols; i++) data[i] = f32_to_bf16(frand() * (1.0f + (float)(i % 5)));
    return (kvlm_weight){.type = GGML_TYPE_BF16, .rows = rows, .cols = cols, .row_bytes = row_bytes, .data = data};
}

static uint16_t *make_inputs(int64_t cols, int n) {
    uint16_t *x = malloc(sizeof(uint16_t) * (size_t)(cols * n));
    for (int64_t i = 0; i < cols * n; i++) x[i] = f32_to_bf16(frand() * 3.0f);
    return x;
}

static void test_scalar_reference(void) {
    int64_t rows = 5, cols = 203;
    void *base;
    kvlm_weight w = make_weights(rows, cols, 0, &base);
    uint16_t *x = make_inputs(cols, 2);
    float y[2 * 5];
    act_bf16_matmul_scalar(&w, x, (size_t)cols, 2, y, 5, 0, rows, 0);
    const uint16_t *W = w.data;
    for (int t = 0; t < 2; t++)
        for (int64_t r = 0; r < rows; r++) {
            double want = 0, mag = 0;
            for (int64_t k = 0; k < cols; k++) {
                double p = (double)bf16_to_f32(W[r * cols + k]) * bf16_to_f32(x[t * cols + k]);
                want += p;
                mag += fabs(p);
            }
            CHECK_MSG(fabs(y[t * 5 + r] - want) <= 1e-6 * mag, "scalar bf16 row %lld token %d: %g vs %g", (long long)r, t,
                      y[t * 5 + r], want);
        }
    free(x);
    free(base);
}

static void test_set(const kvlm_kernel_set *ks, int64_t rows, int64_t cols, int n, int acc, size_t misalign) {
    void *base;
    kvlm_weight w = make_weights(rows, cols, misalign, &base);
    size_t x_ld = (size_t)cols + 3; /* inputs need not be packed */
    uint16_t *x = make_inputs((int64_t)x_ld, n);
    size_t ldy = (size_t)rows + 3;
    float *ys = malloc(sizeof(float) * ldy * (size_t)n), *yr = malloc(sizeof(float) * ldy * (size_t)n);
    for (size_t i = 0; i < ldy * (size_t)n; i++) ys[i] = yr[i] = frand();
    int64_t r0 = rows > 2 ? 1 : 0, r1 = rows > 3 ? rows - 1 : rows;
    ks->matmul_bf16(&w, x, x_ld, n, ys, ldy, r0, r1, acc);
    act_bf16_matmul_scalar(&w, x, x_ld, n, yr, ldy, r0, r1, acc);
    const uint16_t *W = w.data;
    int ok = 1;
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < (int64_t)ldy; r++) {
            size_t i = (size_t)t * ldy + (size_t)r;
            double mag = 1e-30;
            if (r < rows)
                for (int64_t k = 0; k < cols; k++)
                    mag += fabs((double)bf16_to_f32(W[r * cols + k]) * bf16_to_f32(x[(size_t)t * x_ld + (size_t)k]));
            /* rows outside [r0, r1) and the padding are untouched: equal */
            ok &= fabs((double)ys[i] - yr[i]) <= 2e-6 * (mag + (acc ? fabs(yr[i]) : 0));
        }
    CHECK_MSG(ok, "%s bf16 rows %lld cols %lld n %d acc %d: differs from the scalar reference", ks->name, (long long)rows,
              (long long)cols, n, acc);
    /* the same tokens one call at a time: the same bits */
    for (int t = 0; t < n && !acc; t++)
        ks->matmul_bf16(&w, x + (size_t)t * x_ld, x_ld, 1, yr + (size_t)t * ldy, ldy, r0, r1, 0);
    if (!acc) CHECK_MSG(memcmp(ys, yr, sizeof(float) * ldy * (size_t)n) == 0, "%s bf16 %lldx%lld: results depend on tokens per call",
                        ks->name, (long long)rows, (long long)cols);
    free(ys);
    free(yr);
    free(x);
    free(base);
}

int main(void) {
    test_rounding();
    test_scalar_reference();
    kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    int64_t cols[] = {2, 30, 32, 64, 95, 2048, 2050, 8192};
    int row_counts[] = {1, 2, 5, 6, 7, 9, 13, 17};
    int toks[] = {1, 2, 3, 4, 5, 7, 9, 13};
    for (size_t s = 0; s < 3; s++) {
        const kvlm_kernel_set *ks = kernels_select(sets[s]);
        if (!ks) {
            printf("kernel set %d not available: %s\n", (int)sets[s], kvlm_last_error());
            continue;
        }
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            for (size_t rc = 0; rc < sizeof row_counts / sizeof row_counts[0]; rc++)
                test_set(ks, row_counts[rc], cols[c], toks[(c + rc) % 8], (int)((c + rc) % 2), 2 * (rc % 3));
        printf("%s: BF16-activation matmuls agree with the scalar reference\n", ks->name);
    }
    return test_finish();
}
