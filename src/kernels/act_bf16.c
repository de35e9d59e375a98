/* BF16 activations: the rounding every kernel set shares, and the scalar
 * reference matmul (read act_bf16.h). */
#include "act_bf16.h"

#include "../core/half.h"

void act_bf16_round(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

/* Each row against every token, 8 partial sums per dot product (as the
 * scalar FP32 matmul), the BF16 values widened exactly. */
void act_bf16_matmul_scalar(const kvlm_weight *w, const uint16_t *x, size_t x_ld, int n_tok, float *y, size_t ldy,
                            int64_t r0, int64_t r1, int accumulate) {
    int64_t K = w->cols;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = (const uint16_t *)((const uint8_t *)w->data + (size_t)r * w->row_bytes);
        for (int t = 0; t < n_tok; t++) {
            const uint16_t *xt = x + (size_t)t * x_ld;
            float acc[8] = {0};
            int64_t k = 0;
            for (; k + 8 <= K; k += 8)
                for (int i = 0; i < 8; i++) acc[i] += bf16_to_f32(row[k + i]) * bf16_to_f32(xt[k + i]);
            float s = 0;
            for (int i = 0; i < 8; i++) s += acc[i];
            for (; k < K; k++) s += bf16_to_f32(row[k]) * bf16_to_f32(xt[k]);
            float *dst = y + (size_t)t * ldy + (size_t)r;
            *dst = accumulate ? *dst + s : s;
        }
    }
}
