#include "quantize.h"

#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../format/ggml_types.h"
#include "quant_blocks.h"

/* Q8_0: d = max|x| / 127, q = round(x / d). */
static void quantize_q8_0(const float *x, block_q8_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        float amax = 0;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[b].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* Q4_0: the value of largest magnitude maps to -8, d = max / -8, and
 * q = clamp(x / d + 8.5, .., 15) truncated: 16 levels, -8..7 after the offset. */
static void quantize_q4_0(const float *x, block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / QK4_0; b++, x += QK4_0) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK4_0; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            float x0 = x[j] * id + 8.5f, x1 = x[j + QK4_0 / 2] * id + 8.5f;
            int q0 = (int)(x0 < 15.0f ? x0 : 15.0f), q1 = (int)(x1 < 15.0f ? x1 : 15.0f);
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

int quantize_row(uint32_t type, const float *x, void *out, int64_t n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(out, x, (size_t)n * 4); return 0;
    case GGML_TYPE_F16: {
        uint16_t *h = out;
        for (int64_t i = 0; i < n; i++) h[i] = f32_to_f16(x[i]);
        return 0;
    }
    case GGML_TYPE_BF16: {
        uint16_t *h = out;
        for (int64_t i = 0; i < n; i++) h[i] = f32_to_bf16(x[i]);
        return 0;
    }
    case GGML_TYPE_Q8_0: quantize_q8_0(x, out, n); return 0;
    case GGML_TYPE_Q4_0: quantize_q4_0(x, out, n); return 0;
    default: return -1;
    }
}
