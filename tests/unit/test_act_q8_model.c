/* fixtures: synth_small */
/* The int8-activation mode end to end, on Q8_0 and Q4_0 packages of the
 * small synthetic model: the mode is chosen by option or KVLM_ACT (a bad
 * value is refused by name), and q8_mode_check.h's checks on each file
 * (prefill equals decode bit for bit on every kernel set; logits within the
 * quantization error of the FP32-activation logits). */
#include "q8_mode_check.h"

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
        q8_mode_check(out);
        free(out);
    }
    free(src);
    return test_finish();
}
