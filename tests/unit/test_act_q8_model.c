/* fixtures: synth_small */
/* The int8-activation mode end to end, on Q8_0 and Q4_0 packages of the
 * small synthetic model: the mode is chosen by option or KVLM_ACT (a bad
 * value is refused by name), a prefill equals token-by-token decode bit for
 * bit on every kernel set (the canonical order holds across the
 * decode/prefill switch), and the logits stay within the quantization error
 * of the FP32-activation logits of the same file: max |Δ| ≤ 5% of the largest
 * logit (measured 2.7% on both files), and not equal (the mode did run). */
#include <math.h>
#include <string.h>

#include "test_util.h"

enum { N = 12 }; /* a prefill of 12 (tiles and a tail), then 12 decode steps */

static float *prompt_logits(const char *path, kvlm_kernels k, kvlm_activations act, int one_by_one, int *vocab) {
    kvlm_model_options mo = {.n_threads = 2, .kernels = k, .activations = act};
    kvlm_model *m = kvlm_model_open(path, &mo);
    if (!m) return NULL;
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    CHECK(!strcmp(info.activations, act == KVLM_ACT_Q8 ? "q8" : "f32"));
    *vocab = info.vocab_size;
    size_t V = (size_t)info.vocab_size;
    kvlm_state_options so = {.n_ctx = 64};
    kvlm_state *s = kvlm_state_new(m, &so);
    float *out = s ? malloc(sizeof(float) * V * N) : NULL;
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 7919 + 11) % 128000);
    int ok = out != NULL;
    if (one_by_one)
        for (int i = 0; ok && i < N; i++) ok = kvlm_predict(s, &ids[i], 1, out + V * (size_t)i, KVLM_LOGITS_LAST) == KVLM_OK;
    else ok = ok && kvlm_predict(s, ids, N, out, KVLM_LOGITS_ALL) == KVLM_OK;
    kvlm_state_free(s);
    kvlm_model_free(m);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_mode_choice(const char *path) {
    setenv("KVLM_ACT", "int4", 1);
    kvlm_model *m = kvlm_model_open(path, NULL);
    CHECK(m == NULL && strstr(kvlm_last_error(), "KVLM_ACT=int4"));
    setenv("KVLM_ACT", "q8", 1);
    m = kvlm_model_open(path, NULL);
    kvlm_model_info info;
    if (m) kvlm_model_get_info(m, &info);
    CHECK(m && !strcmp(info.activations, "q8"));
    kvlm_model_free(m);
    unsetenv("KVLM_ACT");
    kvlm_model_options mo = {.activations = (kvlm_activations)7};
    CHECK(kvlm_model_open(path, &mo) == NULL && strstr(kvlm_last_error(), "activations"));
}

static void test_file(const char *path) {
    kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    int V = 0;
    float *f32 = prompt_logits(path, KVLM_KERNELS_AUTO, KVLM_ACT_F32, 0, &V);
    CHECK_MSG(f32 != NULL, "%s: %s", path, kvlm_last_error());
    for (size_t k = 0; k < 3; k++) {
        float *all = prompt_logits(path, sets[k], KVLM_ACT_Q8, 0, &V);
        if (!all) continue; /* a set this CPU lacks */
        float *one = prompt_logits(path, sets[k], KVLM_ACT_Q8, 1, &V);
        CHECK_MSG(one && memcmp(all, one, sizeof(float) * (size_t)V * N) == 0,
                  "%s set %d: q8 prefill differs from token-by-token decode", path, (int)sets[k]);
        if (f32) {
            double mx = 0, d = 0;
            for (size_t i = 0; i < (size_t)V * N; i++) {
                mx = fmax(mx, fabs(f32[i]));
                d = fmax(d, fabs((double)f32[i] - all[i]));
            }
            CHECK_MSG(d > 0 && d <= 0.05 * mx, "%s set %d: q8 vs f32 activations max |Δ| %.3g of max |logit| %.3g", path,
                      (int)sets[k], d, mx);
            printf("%s, kernel set %d: q8 vs f32 activations: max |Δlogit| / max |logit| = %.3g\n", path, (int)sets[k],
                   d / mx);
        }
        free(one);
        free(all);
    }
    free(f32);
}

int main(void) {
    char *src = test_work_path("synth-small");
    const char *types[] = {"q8_0", "q4_0"};
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "synth-small-act-%s.gguf", types[i]);
        char *out = test_work_path(name);
        kvlm_convert_options co = {.type = types[i]};
        CHECK_MSG(kvlm_convert(src, out, &co) == KVLM_OK, "%s: %s", name, kvlm_last_error());
        if (i == 0) test_mode_choice(out);
        test_file(out);
        free(out);
    }
    free(src);
    return test_finish();
}
