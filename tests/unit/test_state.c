/* fixtures: synth_small */
/* The state contract: prefill == token-by-token, reset == fresh, states do
 * not disturb each other, rejected calls change nothing, batched decode ==
 * single decode (bit for bit), prefix copy == recompute. Run on every kernel
 * set. */
#include <math.h>
#include <string.h>

#include "test_util.h"

static int vocab;

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > worst) worst = d;
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
    }
    return mx > 0 ? worst / mx : worst;
}

static void make_ids(int32_t *ids, int n, int seed) {
    for (int i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)i * 7919 + (int64_t)seed * 104729 + 13) % 128000);
}

static void test_prefill_equals_steps(kvlm_model *m) {
    int sizes[] = {1, 7, 64, 200};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        int32_t ids[200];
        make_ids(ids, n, 3);
        kvlm_state_options so = {.n_ctx = 256};
        kvlm_state *a = kvlm_state_new(m, &so), *b = kvlm_state_new(m, &so);
        float *all = malloc(sizeof(float) * (size_t)vocab * n), *one = malloc(sizeof(float) * (size_t)vocab);
        CHECK(kvlm_predict(a, ids, n, all, KVLM_LOGITS_ALL) == KVLM_OK);
        CHECK(kvlm_state_pos(a) == n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            CHECK(kvlm_predict(b, &ids[i], 1, one, KVLM_LOGITS_LAST) == KVLM_OK);
            double d = max_rel_diff(all + (size_t)i * vocab, one, (size_t)vocab);
            if (d > worst) worst = d;
        }
        CHECK_MSG(worst <= 1e-4, "n=%d: prefill vs single steps differ by %.3g", n, worst);
        /* stronger, by design: every kernel set sums in one canonical order,
         * so prefill and decode are bit-identical */
        CHECK_MSG(worst == 0, "n=%d: prefill and single steps are not bit-identical (%.3g)", n, worst);
        /* LAST gives the last row of ALL */
        kvlm_state_reset(a);
        CHECK(kvlm_predict(a, ids, n, one, KVLM_LOGITS_LAST) == KVLM_OK);
        CHECK(max_rel_diff(one, all + (size_t)(n - 1) * vocab, (size_t)vocab) <= 1e-6);
        printf("  prefill %3d tokens vs %3d single steps: max rel diff %.3g\n", n, n, worst);
        free(all);
        free(one);
        kvlm_state_free(a);
        kvlm_state_free(b);
    }
}

/* Greedy ids from the state's current logits for n steps. */
static void greedy(kvlm_state *s, const int32_t *prompt, int np, int n, int32_t *out, float *logits) {
    CHECK(kvlm_predict(s, prompt, np, logits, KVLM_LOGITS_LAST) == KVLM_OK);
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < vocab; j++)
            if (logits[j] > logits[best]) best = j;
        out[i] = best;
        CHECK(kvlm_predict(s, &out[i], 1, logits, KVLM_LOGITS_LAST) == KVLM_OK);
    }
}

static void test_reset_and_isolation(kvlm_model *m) {
    int32_t p1[12], p2[9], g_fresh[10], g_reset[10], g_a[10], g_b[10], g_b_alone[10];
    make_ids(p1, 12, 5);
    make_ids(p2, 9, 6);
    float *logits = malloc(sizeof(float) * (size_t)vocab);
    kvlm_state *s = kvlm_state_new(m, NULL);
    CHECK(kvlm_state_n_ctx(s) == 512); /* the Core ML port's default */
    greedy(s, p1, 12, 10, g_fresh, logits);
    /* dirty the state with something else, reset, run again */
    kvlm_state_reset(s);
    greedy(s, p2, 9, 10, g_b_alone, logits);
    kvlm_state_reset(s);
    CHECK(kvlm_state_pos(s) == 0);
    greedy(s, p1, 12, 10, g_reset, logits);
    CHECK(memcmp(g_fresh, g_reset, sizeof g_fresh) == 0);
    /* two states used alternately */
    kvlm_state *a = kvlm_state_new(m, NULL), *b = kvlm_state_new(m, NULL);
    float *la = malloc(sizeof(float) * (size_t)vocab), *lb = malloc(sizeof(float) * (size_t)vocab);
    CHECK(kvlm_predict(a, p1, 12, la, 0) == KVLM_OK);
    CHECK(kvlm_predict(b, p2, 9, lb, 0) == KVLM_OK);
    for (int i = 0; i < 10; i++) {
        int ba = 0, bb = 0;
        for (int j = 1; j < vocab; j++) {
            if (la[j] > la[ba]) ba = j;
            if (lb[j] > lb[bb]) bb = j;
        }
        g_a[i] = ba;
        g_b[i] = bb;
        CHECK(kvlm_predict(a, &g_a[i], 1, la, 0) == KVLM_OK);
        CHECK(kvlm_predict(b, &g_b[i], 1, lb, 0) == KVLM_OK);
    }
    CHECK(memcmp(g_a, g_fresh, sizeof g_a) == 0);
    CHECK(memcmp(g_b, g_b_alone, sizeof g_b) == 0);
    free(la);
    free(lb);
    kvlm_state_free(a);
    kvlm_state_free(b);
    kvlm_state_free(s);
    free(logits);
}

static void test_rejected_calls_change_nothing(kvlm_model *m) {
    kvlm_state_options so = {.n_ctx = 16};
    kvlm_state *s = kvlm_state_new(m, &so), *ref = kvlm_state_new(m, &so);
    int32_t ids[16];
    make_ids(ids, 16, 9);
    float *l1 = malloc(sizeof(float) * (size_t)vocab), *l2 = malloc(sizeof(float) * (size_t)vocab);
    CHECK(kvlm_predict(s, ids, 10, NULL, 0) == KVLM_OK);
    CHECK(kvlm_predict(ref, ids, 10, NULL, 0) == KVLM_OK);
    /* overflow: 10 + 7 > 16 */
    for (int i = 0; i < vocab; i++) l1[i] = 12345.0f;
    CHECK(kvlm_predict(s, ids, 7, l1, 0) == KVLM_ERR_CONTEXT);
    CHECK(strstr(kvlm_last_error(), "context of 16") != NULL);
    CHECK(kvlm_state_pos(s) == 10);
    CHECK(l1[0] == 12345.0f); /* no output written either */
    /* an id outside the vocabulary in the middle of a batch */
    int32_t bad[3] = {ids[10], vocab, ids[11]};
    CHECK(kvlm_predict(s, bad, 3, l1, 0) == KVLM_ERR_ARG);
    CHECK(strstr(kvlm_last_error(), "outside the vocabulary") != NULL);
    int32_t neg = -1;
    CHECK(kvlm_predict(s, &neg, 1, l1, 0) == KVLM_ERR_ARG);
    CHECK(kvlm_predict(s, ids, 0, l1, 0) == KVLM_ERR_ARG);
    CHECK(kvlm_predict(s, ids, 1, l1, 7) == KVLM_ERR_ARG);
    CHECK(kvlm_predict(s, NULL, 1, l1, 0) == KVLM_ERR_ARG);
    CHECK(kvlm_state_pos(s) == 10);
    /* the state continues exactly as one that saw no failed call */
    CHECK(kvlm_predict(s, ids + 10, 6, l1, 0) == KVLM_OK);
    CHECK(kvlm_predict(ref, ids + 10, 6, l2, 0) == KVLM_OK);
    CHECK(memcmp(l1, l2, sizeof(float) * (size_t)vocab) == 0);
    CHECK(kvlm_state_pos(s) == 16);
    CHECK(kvlm_predict(s, ids, 1, l1, 0) == KVLM_ERR_CONTEXT); /* full */
    /* bad state options */
    kvlm_state_options big = {.n_ctx = 131073};
    CHECK(kvlm_state_new(m, &big) == NULL);
    CHECK(strstr(kvlm_last_error(), "131072") != NULL);
    kvlm_state_options neg_ctx = {.n_ctx = -5};
    CHECK(kvlm_state_new(m, &neg_ctx) == NULL);
    CHECK(kvlm_state_new(NULL, NULL) == NULL);
    free(l1);
    free(l2);
    kvlm_state_free(s);
    kvlm_state_free(ref);
}

static void test_batch_and_prefix(kvlm_model *m) {
    enum { N = 3 };
    kvlm_state *bs[N], *single[N];
    int32_t prompts[N][8];
    for (int i = 0; i < N; i++) {
        make_ids(prompts[i], 5 + i, 20 + i);
        bs[i] = kvlm_state_new(m, NULL);
        single[i] = kvlm_state_new(m, NULL);
        CHECK(kvlm_predict(bs[i], prompts[i], 5 + i, NULL, 0) == KVLM_OK);
        CHECK(kvlm_predict(single[i], prompts[i], 5 + i, NULL, 0) == KVLM_OK);
    }
    float *lb = malloc(sizeof(float) * (size_t)vocab * N), *ls = malloc(sizeof(float) * (size_t)vocab);
    int32_t next[N] = {11, 22, 33};
    for (int step = 0; step < 3; step++) {
        CHECK(kvlm_predict_batch(bs, next, N, lb) == KVLM_OK);
        for (int i = 0; i < N; i++) {
            CHECK(kvlm_predict(single[i], &next[i], 1, ls, 0) == KVLM_OK);
            CHECK_MSG(memcmp(lb + (size_t)i * vocab, ls, sizeof(float) * (size_t)vocab) == 0,
                      "batch row %d step %d differs from a single decode", i, step);
            CHECK(kvlm_state_pos(bs[i]) == kvlm_state_pos(single[i]));
        }
    }
    kvlm_state *dup[2] = {bs[0], bs[0]};
    CHECK(kvlm_predict_batch(dup, next, 2, lb) == KVLM_ERR_ARG);
    /* prefix copy: continue from a copied prefix == continue the original */
    kvlm_state *copy = kvlm_state_new(m, NULL);
    int pos = kvlm_state_pos(single[2]);
    CHECK(kvlm_state_copy_prefix(copy, single[2], pos) == KVLM_OK);
    CHECK(kvlm_state_pos(copy) == pos);
    CHECK(kvlm_predict(copy, &next[0], 1, lb, 0) == KVLM_OK);
    CHECK(kvlm_predict(single[2], &next[0], 1, ls, 0) == KVLM_OK);
    CHECK(memcmp(lb, ls, sizeof(float) * (size_t)vocab) == 0);
    /* truncate back and redo gives the same */
    CHECK(kvlm_state_truncate(copy, pos) == KVLM_OK);
    CHECK(kvlm_predict(copy, &next[0], 1, lb, 0) == KVLM_OK);
    CHECK(memcmp(lb, ls, sizeof(float) * (size_t)vocab) == 0);
    CHECK(kvlm_state_truncate(copy, pos + 5) == KVLM_ERR_ARG);
    CHECK(kvlm_state_copy_prefix(copy, single[2], pos + 10) == KVLM_ERR_ARG);
    CHECK(kvlm_state_copy_prefix(copy, copy, 1) == KVLM_ERR_ARG);
    kvlm_state_free(copy);
    for (int i = 0; i < N; i++) {
        kvlm_state_free(bs[i]);
        kvlm_state_free(single[i]);
    }
    free(lb);
    free(ls);
}

int main(void) {
    char *dir = test_work_path("synth-small");
    kvlm_kernels sets[] = {KVLM_KERNELS_SCALAR, KVLM_KERNELS_AVX2, KVLM_KERNELS_AVX512};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        kvlm_model_options mo = {.n_threads = 2, .kernels = sets[k]};
        kvlm_model *m = kvlm_model_open(dir, &mo);
        if (!m) {
            printf("kernel set %d not available here: %s\n", (int)sets[k], kvlm_last_error());
            continue;
        }
        kvlm_model_info info;
        kvlm_model_get_info(m, &info);
        vocab = info.vocab_size;
        printf("kernels %s\n", info.kernels);
        test_prefill_equals_steps(m);
        test_reset_and_isolation(m);
        test_rejected_calls_change_nothing(m);
        test_batch_and_prefix(m);
        kvlm_model_free(m);
    }
    free(dir);
    return test_finish();
}
