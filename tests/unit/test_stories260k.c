/* The one real trained model here: stories260K (llama2.c checkpoint), greedy
 * from BOS on every kernel set and both KV types, decoded with tok512.bin,
 * must be byte-identical to llama2.c's published output. llama2.c's `-n 256`
 * runs 256 forward passes (BOS and 255 generated tokens fill the 256
 * positions) and prints each pass's choice: 256 generated tokens. */
#include <string.h>

#include "test_util.h"

static char *greedy_story(const char *model, const char *tok, kvlm_kernels k, kvlm_kv_type kv) {
    kvlm_model_options mo = {.n_threads = 2, .kernels = k, .tokenizer_path = tok};
    kvlm_model *m = kvlm_model_open(model, &mo);
    if (!m) return NULL;
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    kvlm_state_options so = {.n_ctx = 256, .kv_type = kv};
    kvlm_state *s = kvlm_state_new(m, &so);
    float *logits = malloc(sizeof(float) * (size_t)info.vocab_size);
    int32_t ids[257];
    ids[0] = info.bos_id;
    int n = 1;
    for (; n < 257; n++) {
        CHECK(kvlm_predict(s, &ids[n - 1], 1, logits, KVLM_LOGITS_LAST) == KVLM_OK);
        int best = 0;
        for (int j = 1; j < info.vocab_size; j++)
            if (logits[j] > logits[best]) best = j;
        if (best == info.eos_ids[0]) break;
        ids[n] = best;
    }
    const kvlm_tokenizer *t = kvlm_model_tokenizer(m);
    long len = kvlm_detokenize(t, ids, n, NULL, 0);
    char *text = malloc((size_t)len + 2);
    kvlm_detokenize(t, ids, n, text, (size_t)len + 1);
    strcat(text, "\n"); /* run.c prints a newline after generating */
    free(logits);
    kvlm_state_free(s);
    kvlm_model_free(m);
    return text;
}

int main(void) {
    char *model = test_shared_path("models/stories260K/stories260K.bin");
    char *tok = test_shared_path("models/stories260K/tok512.bin");
    char *exp_path = test_shared_path("models/stories260K/expected-greedy.txt");
    char *expected = test_read_file(exp_path, NULL);
    CHECK(expected != NULL);
    kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    const char *names[] = {"scalar", "avx2", "avx512"};
    for (size_t i = 0; i < 3 && expected; i++)
        for (int kv = 0; kv < 2; kv++) {
            char *got = greedy_story(model, tok, sets[i], (kvlm_kv_type)kv);
            if (!got) {
                printf("%s: not available here\n", names[i]);
                continue;
            }
            int same = strcmp(got, expected) == 0;
            CHECK_MSG(same, "%s kv=%s: the story differs from llama2.c's:\n%s", names[i], kv ? "f32" : "f16", got);
            printf("%s kv=%s: %s\n", names[i], kv ? "f32" : "f16", same ? "byte-identical to llama2.c" : "DIFFERENT");
            free(got);
        }
    free(expected);
    free(model);
    free(tok);
    free(exp_path);
    return test_finish();
}
