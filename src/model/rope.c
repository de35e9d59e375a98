#include "rope.h"

#include <math.h>

void rope_inv_freq(const kvlm_config *cfg, float *inv_freq) {
    int half = cfg->head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in FP32 */
        float expo = (float)(2 * i) / (float)cfg->head_dim;
        inv_freq[i] = 1.0f / powf(cfg->rope_theta, expo);
    }
    if (cfg->rope_scaling != ROPE_SCALING_LLAMA3) return;
    /* Llama 3: long wavelengths are slowed by `factor`, short ones kept, and
     * the band between is blended smoothly (transformers' _compute_llama3_parameters). */
    float factor = cfg->rope_factor, lo = cfg->rope_low_freq_factor, hi = cfg->rope_high_freq_factor;
    float old_ctx = (float)cfg->rope_orig_max_pos;
    float low_freq_wavelen = old_ctx / lo, high_freq_wavelen = old_ctx / hi;
    for (int i = 0; i < half; i++) {
        float f = inv_freq[i];
        float wavelen = 2.0f * (float)M_PI / f;
        if (wavelen > low_freq_wavelen) {
            inv_freq[i] = f / factor;
        } else if (wavelen < high_freq_wavelen) {
            inv_freq[i] = f;
        } else {
            float smooth = (old_ctx / wavelen - lo) / (hi - lo);
            inv_freq[i] = (1.0f - smooth) * f / factor + smooth * f;
        }
    }
}

void rope_apply(float *x, int n_heads, int head_dim, const float *inv_freq, int pos, int interleaved) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i]; /* FP32 product, as HF */
        float c = cosf(angle), s = sinf(angle);
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)h * head_dim;
            int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}
