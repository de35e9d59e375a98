/* fixtures: synth_small */
/* The synthetic Llama 3.2-layout model (real 128256-token vocabulary, real
 * llama3 rope_scaling) against the independent numpy reference: a 32-token
 * prompt in one causal prefill, then 32 greedy steps, on every kernel set the
 * CPU runs and with both KV cache types. At every position: the same argmax
 * and max |logit difference| <= 1e-3 × max |logit|. */
#include <string.h>

#include "golden.h"
#include "test_util.h"

static void run_one(const char *model_dir, const golden *g, kvlm_kernels kernels, kvlm_kv_type kv) {
    kvlm_model_options mo = {.n_threads = 2, .kernels = kernels};
    kvlm_model *m = kvlm_model_open(model_dir, &mo);
    if (!m) {
        printf("  kernels %d: not available here (%s)\n", (int)kernels, kvlm_last_error());
        return;
    }
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    CHECK(info.vocab_size == (int)g->vocab);
    kvlm_state_options so = {.n_ctx = 128, .kv_type = kv};
    kvlm_state *s = kvlm_state_new(m, &so);
    CHECK(s != NULL);
    int n_pos = (int)(g->n_prompt + g->n_gen);
    float *logits = malloc(sizeof(float) * g->vocab * g->n_prompt);
    double worst = 0;
    int bad = 0;
    CHECK(kvlm_predict(s, g->prompt, (int)g->n_prompt, logits, KVLM_LOGITS_ALL) == KVLM_OK);
    for (int p = 0; p < n_pos; p++) {
        const float *row = logits + (size_t)p * g->vocab;
        if (p >= (int)g->n_prompt) {
            int32_t id = g->gen[p - g->n_prompt];
            CHECK(kvlm_predict(s, &id, 1, logits, KVLM_LOGITS_LAST) == KVLM_OK);
            row = logits;
        }
        double rel;
        int am;
        if (!golden_compare(g, p, row, 1e-3, &rel, &am)) {
            bad++;
            fprintf(stderr, "  %s kv=%s position %d: argmax %d (reference %d), max rel diff %.3g\n", info.kernels,
                    kv == KVLM_KV_F16 ? "f16" : "f32", p, am, g->argmax[p], rel);
        }
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(bad == 0, "%d of %d positions differ", bad, n_pos);
    printf("  %-7s kv=%s: %d positions, max |diff| / max |logit| = %.3g\n", info.kernels,
           kv == KVLM_KV_F16 ? "f16" : "f32", n_pos, worst);
    free(logits);
    kvlm_state_free(s);
    kvlm_model_free(m);
}

int main(void) {
    char *gold_path = test_data_path("golden/synth-small.gold");
    char *model_dir = test_work_path("synth-small");
    char *st_path = test_work_path("synth-small/model.safetensors");
    golden g;
    if (golden_load(&g, gold_path) != 0) return 1;
    uint64_t h = fnv1a_file(st_path);
    CHECK_MSG(h == g.model_fnv1a,
              "%s is not the model the golden was made from (fnv1a %016llx, golden %016llx): kvlm synth changed; "
              "regenerate with tests/reference/llama_ref.py",
              st_path, (unsigned long long)h, (unsigned long long)g.model_fnv1a);
    if (h == g.model_fnv1a) {
        kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
            run_one(model_dir, &g, sets[i], KVLM_KV_F16);
            run_one(model_dir, &g, sets[i], KVLM_KV_F32);
        }
    }
    golden_free(&g);
    free(gold_path);
    free(model_dir);
    free(st_path);
    return test_finish();
}
