/* fixtures: synth_small */
/* The rounded-activation modes end to end, on Q8_0, Q4_0 and BF16 packages of
 * the small synthetic model: the mode is chosen by option or KVLM_ACT (a bad
 * value is refused by name); act_mode_check.h's checks on each file in its
 * mode (int8 for Q8_0/Q4_0, BF16 for BF16: prefill equals decode bit for bit
 * on every kernel set, logits within the rounding error of the FP32
 * activations); and a mode leaves the weights it does not take on the FP32
 * path (BF16 mode on Q8_0, int8 mode on BF16: the FP32 logits, bit for bit). */
#include "act_mode_check.h"

static void test_mode_choice(const char *path) {
    setenv("KVLM_ACT", "int4", 1);
    kvlm_model *m = kvlm_model_open(path, NULL);
    CHECK(m == NULL && strstr(kvlm_last_error(), "KVLM_ACT=int4") && strstr(kvlm_last_error(), "f32, q8 or bf16"));
    const char *modes[] = {"q8", "bf16", "f32"};
    for (int i = 0; i < 3; i++) {
        setenv("KVLM_ACT", modes[i], 1);
        m = kvlm_model_open(path, NULL);
        kvlm_model_info info;
        if (m) kvlm_model_get_info(m, &info);
        CHECK_MSG(m && !strcmp(info.activations, modes[i]), "KVLM_ACT=%s", modes[i]);
        kvlm_model_free(m);
    }
    unsetenv("KVLM_ACT");
    kvlm_model_options mo = {.activations = (kvlm_activations)7};
    CHECK(kvlm_model_open(path, &mo) == NULL && strstr(kvlm_last_error(), "activations"));
}

/* A mode on weights it does not take: the FP32 path's logits, bit for bit. */
static void test_untouched(const char *path, kvlm_activations mode) {
    int V = 0;
    float *f32 = act_prompt_logits(path, KVLM_KERNELS_AUTO, KVLM_ACT_F32, 0, &V);
    float *other = act_prompt_logits(path, KVLM_KERNELS_AUTO, mode, 0, &V);
    CHECK_MSG(f32 && other && !memcmp(f32, other, sizeof(float) * (size_t)V * ACT_CHECK_N),
              "%s: mode %d changed the logits of weights it does not take", path, (int)mode);
    free(f32);
    free(other);
}

int main(void) {
    char *src = test_work_path("synth-small");
    const char *types[] = {"q8_0", "q4_0", "bf16"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "synth-small-act-%s.gguf", types[i]);
        char *out = test_work_path(name);
        kvlm_convert_options co = {.type = types[i]};
        CHECK_MSG(kvlm_convert(src, out, &co) == KVLM_OK, "%s: %s", name, kvlm_last_error());
        if (i == 0) test_mode_choice(out);
        int bf16 = !strcmp(types[i], "bf16");
        act_mode_check(out, bf16 ? KVLM_ACT_BF16 : KVLM_ACT_Q8);
        test_untouched(out, bf16 ? KVLM_ACT_Q8 : KVLM_ACT_BF16);
        free(out);
    }
    free(src);
    return test_finish();
}
