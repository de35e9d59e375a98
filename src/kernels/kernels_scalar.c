/* The portable reference kernels: plain C, FP32 accumulation, no assumptions
 * about the CPU. Each dot product keeps 8 partial sums so compilers can
 * vectorize it without reassociating anything. */
#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "act_bf16.h"
#include "act_q8.h"
#include "kernels.h"
#include "quant_blocks.h"

static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0;
    for (int k = 0; k < 8; k++) s += acc[k];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Dequantizes a row at a time (into a stack buffer, in chunks) and dots it
 * with every token's input, so each weight is read once per call. */
static void scalar_matmul(const kvlm_weight *w, const float *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                          int64_t r0, int64_t r1, int accumulate) {
    enum { CHUNK = 1024 }; /* a multiple of every block size */
    float row[CHUNK];
    ggml_type_info ti = ggml_type_get(w->type);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int t = 0; t < n_tok; t++)
            if (!accumulate) y[(size_t)t * ldy + (size_t)r] = 0.0f;
        for (int64_t c0 = 0; c0 < w->cols; c0 += CHUNK) {
            int64_t n = w->cols - c0 < CHUNK ? w->cols - c0 : CHUNK;
            size_t off = (size_t)(c0 / ti.block_elems) * ti.block_bytes; /* column c0 within the row */
            dequant_row(w->type, wr + off, row, n);
            for (int t = 0; t < n_tok; t++) {
                const float *xt = x + (size_t)t * x_ld + c0;
                y[(size_t)t * ldy + (size_t)r] += dot_f32(row, xt, n);
            }
        }
    }
}

static void attend_head(const float *q, const void *k, const void *v, int kv_f16, int n, int head_dim, float scale,
                        float *out, float *scores) {
    float kv_row[512];
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj;
        if (kv_f16) {
            const uint16_t *kh = (const uint16_t *)k + (size_t)j * head_dim;
            for (int d = 0; d < head_dim; d++) kv_row[d] = f16_to_f32(kh[d]);
            kj = kv_row;
        } else {
            kj = (const float *)k + (size_t)j * head_dim;
        }
        scores[j] = dot_f32(q, kj, head_dim) * scale;
        if (scores[j] > mx) mx = scores[j];
    }
    float sum = 0;
    for (int j = 0; j < n; j++) {
        scores[j] = expf(scores[j] - mx);
        sum += scores[j];
    }
    float inv = 1.0f / sum;
    memset(out, 0, sizeof(float) * (size_t)head_dim);
    for (int j = 0; j < n; j++) {
        float p = scores[j] * inv;
        if (kv_f16) {
            const uint16_t *vh = (const uint16_t *)v + (size_t)j * head_dim;
            for (int d = 0; d < head_dim; d++) out[d] += p * f16_to_f32(vh[d]);
        } else {
            const float *vj = (const float *)v + (size_t)j * head_dim;
            for (int d = 0; d < head_dim; d++) out[d] += p * vj[d];
        }
    }
}

static void scalar_attend(const float *q, int n_q, const void *k, const void *v, int kv_f16, int n, int head_dim,
                          float scale, float *out, float *scores) {
    for (int h = 0; h < n_q; h++)
        attend_head(q + (size_t)h * head_dim, k, v, kv_f16, n, head_dim, scale, out + (size_t)h * head_dim, scores);
}

const kvlm_kernel_set kvlm_kernels_scalar = {
    .name = "scalar",
    .matmul = scalar_matmul,
    .quantize_q8 = act_q8_quantize,
    .matmul_q8 = act_q8_matmul_scalar,
    .matmul_bf16 = act_bf16_matmul_scalar,
    .attend = scalar_attend,
    .silu_mul = silu_mul,
};

void rms_norm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

void silu_mul(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
