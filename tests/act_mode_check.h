/* The checks of a rounded-activation mode (KVLM_ACT_Q8 or KVLM_ACT_BF16) on
 * one model file, shared by test_act_modes (Q8_0, Q4_0 and BF16 packages)
 * and test_kquant_model (a K-quant file): on every kernel set this CPU runs,
 * a prefill equals token-by-token decode bit for bit (one summation order
 * across the decode/prefill switch), and the logits stay within the rounding
 * error of the FP32-activation logits of the same file: max |Δ| ≤ 5% of the
 * largest logit (measured: int8 2.6-3%, BF16 0.8%), and not equal (the mode
 * did run). */
#ifndef KVLM_TEST_ACT_MODE_CHECK_H
#define KVLM_TEST_ACT_MODE_CHECK_H

#include <math.h>
#include <string.h>

#include "test_util.h"

enum { ACT_CHECK_N = 12 }; /* a prefill of 12 (tiles and a tail), and the same 12 one at a time */

static float *act_prompt_logits(const char *path, kvlm_kernels k, kvlm_activations act, int one_by_one, int *vocab) {
    kvlm_model_options mo = {.n_threads = 2, .kernels = k, .activations = act};
    kvlm_model *m = kvlm_model_open(path, &mo);
    if (!m) return NULL;
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    CHECK(!strcmp(info.activations, act == KVLM_ACT_Q8 ? "q8" : act == KVLM_ACT_BF16 ? "bf16" : "f32"));
    *vocab = info.vocab_size;
    size_t V = (size_t)info.vocab_size;
    kvlm_state_options so = {.n_ctx = 64};
    kvlm_state *s = kvlm_state_new(m, &so);
    float *out = s ? malloc(sizeof(float) * V * ACT_CHECK_N) : NULL;
    int32_t ids[ACT_CHECK_N];
    for (int i = 0; i < ACT_CHECK_N; i++) ids[i] = (int32_t)((i * 7919 + 11) % 128000);
    int ok = out != NULL;
    if (one_by_one)
        for (int i = 0; ok && i < ACT_CHECK_N; i++) ok = kvlm_predict(s, &ids[i], 1, out + V * (size_t)i, KVLM_LOGITS_LAST) == KVLM_OK;
    else ok = ok && kvlm_predict(s, ids, ACT_CHECK_N, out, KVLM_LOGITS_ALL) == KVLM_OK;
    kvlm_state_free(s);
    kvlm_model_free(m);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static void act_mode_check(const char *path, kvlm_activations mode) {
    kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    const char *name = mode == KVLM_ACT_Q8 ? "q8" : "bf16";
    int V = 0;
    float *f32 = act_prompt_logits(path, KVLM_KERNELS_AUTO, KVLM_ACT_F32, 0, &V);
    CHECK_MSG(f32 != NULL, "%s: %s", path, kvlm_last_error());
    for (size_t k = 0; k < 3; k++) {
        float *all = act_prompt_logits(path, sets[k], mode, 0, &V);
        if (!all) continue; /* a set this CPU lacks */
        float *one = act_prompt_logits(path, sets[k], mode, 1, &V);
        CHECK_MSG(one && memcmp(all, one, sizeof(float) * (size_t)V * ACT_CHECK_N) == 0,
                  "%s set %d: %s prefill differs from token-by-token decode", path, (int)sets[k], name);
        if (f32) {
            double mx = 0, d = 0;
            for (size_t i = 0; i < (size_t)V * ACT_CHECK_N; i++) {
                mx = fmax(mx, fabs(f32[i]));
                d = fmax(d, fabs((double)f32[i] - all[i]));
            }
            CHECK_MSG(d > 0 && d <= 0.05 * mx, "%s set %d: %s vs f32 activations max |Δ| %.3g of max |logit| %.3g", path,
                      (int)sets[k], name, d, mx);
            printf("%s, kernel set %d: %s vs f32 activations: max |Δlogit| / max |logit| = %.3g\n", path, (int)sets[k],
                   name, d / mx);
        }
        free(one);
        free(all);
    }
    free(f32);
}

#endif
