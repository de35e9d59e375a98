/* The sampler: greedy, repetition penalty, temperature, top-k, top-p, min-p on
 * small hand-made distributions (exact sets of allowed ids, frequencies), a
 * 128256-entry vocabulary, reproducibility, and bad parameters. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "test_util.h"

#define DRAWS 20000
#define TOL 0.02

static kvlm_sampler_params params(float temp, int top_k, float top_p, float min_p) {
    kvlm_sampler_params p = {0};
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = 1234;
    return p;
}

/* Draws DRAWS times from logits (copied fresh for each draw, since the sampler
 * modifies them) and fills freq[id] with the observed frequencies. Returns 0
 * if an id outside [0, n) came back. */
static int draw(const kvlm_sampler_params *p, const float *logits, int n, double *freq) {
    kvlm_sampler *s = kvlm_sampler_new(p, n);
    CHECK(s != NULL);
    if (!s) return 0;
    float *row = malloc((size_t)n * sizeof *row);
    int ok = 1;
    memset(freq, 0, (size_t)n * sizeof *freq);
    for (int i = 0; i < DRAWS; i++) {
        memcpy(row, logits, (size_t)n * sizeof *row);
        int32_t id = kvlm_sampler_sample(s, row, NULL, 0);
        if (id < 0 || id >= n) {
            ok = 0;
            break;
        }
        freq[id] += 1.0 / DRAWS;
    }
    free(row);
    kvlm_sampler_free(s);
    return ok;
}

/* Checks that only the ids with want[id] > 0 appear, at about those frequencies (want sums to 1). */
static void check_freq(const char *what, const double *freq, const double *want, int n) {
    for (int i = 0; i < n; i++) {
        if (want[i] == 0.0)
            CHECK_MSG(freq[i] == 0.0, "%s: id %d must never be drawn (frequency %.4f)", what, i, freq[i]);
        else
            CHECK_MSG(fabs(freq[i] - want[i]) < TOL, "%s: id %d frequency %.4f, want %.4f", what, i, freq[i], want[i]);
    }
}

/* want[] from probabilities restricted to a set and renormalized. */
static void renorm(const double *p, const int *keep, int n, double *want) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += keep[i] ? p[i] : 0;
    for (int i = 0; i < n; i++) want[i] = keep[i] ? p[i] / sum : 0;
}

static void test_bad_params(void) {
    kvlm_sampler_params p = params(1.0f, 0, 1.0f, 0.0f);
    CHECK(kvlm_sampler_new(&p, 0) == NULL);
    CHECK(strstr(kvlm_last_error(), "vocab_size") != NULL);
    CHECK(kvlm_sampler_new(&p, -5) == NULL);

    struct {
        kvlm_sampler_params p;
        const char *word;
    } bad[] = {
        {params(NAN, 0, 1, 0), "temperature"},  {params(INFINITY, 0, 1, 0), "temperature"},
        {params(1, -1, 1, 0), "top_k"},         {params(1, 0, 1.5f, 0), "top_p"},
        {params(1, 0, -0.1f, 0), "top_p"},      {params(1, 0, NAN, 0), "top_p"},
        {params(1, 0, 1, -0.5f), "min_p"},      {params(1, 0, 1, 1.01f), "min_p"},
        {params(1, 0, 1, NAN), "min_p"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvlm_error_clear();
        kvlm_sampler *s = kvlm_sampler_new(&bad[i].p, 10);
        CHECK_MSG(s == NULL, "bad params %zu accepted", i);
        CHECK_MSG(strstr(kvlm_last_error(), bad[i].word) != NULL, "case %zu: error '%s'", i, kvlm_last_error());
        kvlm_sampler_free(s);
    }
    p = params(1, 0, 1, 0);
    p.repeat_penalty = -1.0f;
    CHECK(kvlm_sampler_new(&p, 10) == NULL && strstr(kvlm_last_error(), "repeat_penalty"));
    p.repeat_penalty = NAN;
    CHECK(kvlm_sampler_new(&p, 10) == NULL && strstr(kvlm_last_error(), "repeat_penalty"));
    p.repeat_penalty = 1.1f;
    p.repeat_last_n = -1;
    CHECK(kvlm_sampler_new(&p, 10) == NULL && strstr(kvlm_last_error(), "repeat_last_n"));

    /* NULL params: the defaults (greedy). */
    kvlm_sampler *s = kvlm_sampler_new(NULL, 4);
    CHECK(s != NULL);
    float l[4] = {0.1f, 3.0f, -2.0f, 2.9f};
    CHECK(kvlm_sampler_sample(s, l, NULL, 0) == 1);

    /* Bad calls. */
    int32_t hist[2] = {1, 2};
    kvlm_error_clear();
    CHECK(kvlm_sampler_sample(NULL, l, NULL, 0) == -1);
    CHECK(kvlm_last_error()[0] != 0);
    kvlm_error_clear();
    CHECK(kvlm_sampler_sample(s, NULL, NULL, 0) == -1);
    CHECK(strstr(kvlm_last_error(), "logits") != NULL);
    kvlm_error_clear();
    CHECK(kvlm_sampler_sample(s, l, hist, -1) == -1);
    CHECK(strstr(kvlm_last_error(), "history") != NULL);
    CHECK(kvlm_sampler_sample(s, l, NULL, 2) == -1);
    /* Ids outside the vocabulary in the history are ignored. */
    int32_t odd[3] = {-7, 4, 1 << 30};
    CHECK(kvlm_sampler_sample(s, l, odd, 3) == 1);
    kvlm_sampler_free(s);
    kvlm_sampler_free(NULL);
}

static void test_greedy(void) {
    kvlm_sampler_params p = params(0.0f, 0, 1.0f, 0.0f);
    kvlm_sampler *s = kvlm_sampler_new(&p, 6);
    float ties[6] = {1.0f, 5.0f, 2.0f, 5.0f, 5.0f, -1.0f};
    for (int i = 0; i < 5; i++) CHECK(kvlm_sampler_sample(s, ties, NULL, 0) == 1);
    float nan_first[6] = {NAN, -3.0f, NAN, -1.0f, -1.0f, -2.0f};
    CHECK(kvlm_sampler_sample(s, nan_first, NULL, 0) == 3);
    float all_neg_inf[6] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    CHECK(kvlm_sampler_sample(s, all_neg_inf, NULL, 0) == 0);
    float all_nan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    CHECK(kvlm_sampler_sample(s, all_nan, NULL, 0) == 0);
    float pos_inf[6] = {1.0f, INFINITY, 2.0f, INFINITY, 0.0f, 0.0f};
    CHECK(kvlm_sampler_sample(s, pos_inf, NULL, 0) == 1);
    kvlm_sampler_free(s);

    /* Negative temperature is greedy too; the seed does not matter. */
    p.temperature = -1.0f;
    p.seed = 99;
    s = kvlm_sampler_new(&p, 6);
    float l[6] = {0.0f, 0.0f, 0.5f, 0.49f, 0.5f, 0.0f};
    CHECK(kvlm_sampler_sample(s, l, NULL, 0) == 2);
    kvlm_sampler_free(s);

    /* A single-token vocabulary. */
    s = kvlm_sampler_new(&p, 1);
    float one = -5.0f;
    CHECK(kvlm_sampler_sample(s, &one, NULL, 0) == 0);
    kvlm_sampler_free(s);
}

static void test_penalty(void) {
    kvlm_sampler_params p = params(0.0f, 0, 1.0f, 0.0f);
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 3;
    kvlm_sampler *s = kvlm_sampler_new(&p, 5);

    /* Positive logits are divided, negative ones multiplied, each id once however often it repeats. */
    float l[5] = {4.0f, -1.0f, 3.0f, 0.0f, 1.0f};
    int32_t h1[3] = {0, 0, 1};
    CHECK(kvlm_sampler_sample(s, l, h1, 3) == 2);
    CHECK(l[0] == 2.0f && l[1] == -2.0f && l[2] == 3.0f && l[3] == 0.0f && l[4] == 1.0f);

    /* Only the last repeat_last_n ids count: 0 is outside the window. */
    float l2[5] = {4.0f, -1.0f, 3.0f, 0.0f, 1.0f};
    int32_t h2[4] = {0, 2, 3, 4};
    CHECK(kvlm_sampler_sample(s, l2, h2, 4) == 0);
    CHECK(l2[0] == 4.0f && l2[2] == 1.5f && l2[3] == 0.0f && l2[4] == 0.5f);

    /* Negative logits: the penalty pushes them down. */
    float l3[5] = {-1.0f, -1.1f, -5.0f, -5.0f, -5.0f};
    int32_t h3[1] = {0};
    CHECK(kvlm_sampler_sample(s, l3, h3, 1) == 1);
    kvlm_sampler_free(s);

    /* repeat_last_n 0 means 64. */
    p.repeat_last_n = 0;
    s = kvlm_sampler_new(&p, 5);
    int32_t h4[70];
    for (int i = 0; i < 70; i++) h4[i] = i < 6 ? 0 : 4; /* 0 only in the first 6: outside the last 64 */
    float l4[5] = {4.0f, 0.0f, 0.0f, 0.0f, 4.2f};
    CHECK(kvlm_sampler_sample(s, l4, h4, 70) == 0);
    CHECK(l4[0] == 4.0f && l4[4] == 2.1f);
    h4[6] = 0; /* now inside the window: 0 drops to 2.0, below 4's 2.1 */
    float l5[5] = {4.0f, 0.0f, 0.0f, 0.0f, 4.2f};
    CHECK(kvlm_sampler_sample(s, l5, h4, 70) == 4);
    kvlm_sampler_free(s);

    /* Penalty 1 (or 0) is off. */
    p.repeat_penalty = 1.0f;
    s = kvlm_sampler_new(&p, 5);
    float l6[5] = {4.0f, 0.0f, 0.0f, 0.0f, 3.9f};
    CHECK(kvlm_sampler_sample(s, l6, h1, 3) == 0 && l6[0] == 4.0f);
    kvlm_sampler_free(s);

    /* With sampling: the penalized token's share drops as the formula says. */
    p = params(1.0f, 0, 1.0f, 0.0f);
    p.repeat_penalty = 2.0f;
    s = kvlm_sampler_new(&p, 2);
    int32_t h5[1] = {0};
    double n0 = 0;
    for (int i = 0; i < DRAWS; i++) {
        float l7[2] = {2.0f, 0.0f}; /* after the penalty: {1, 0} */
        n0 += kvlm_sampler_sample(s, l7, h5, 1) == 0;
    }
    double want = exp(1.0) / (exp(1.0) + 1.0);
    CHECK_MSG(fabs(n0 / DRAWS - want) < TOL, "penalized frequency %.4f, want %.4f", n0 / DRAWS, want);
    kvlm_sampler_free(s);
}

static void test_temperature(void) {
    /* p ∝ exp(logit / T): logits {0, 2 ln 2} at T = 2 give {1, 2}/3. */
    float l[2] = {0.0f, (float)(2.0 * log(2.0))};
    double f[2], want[2] = {1.0 / 3, 2.0 / 3};
    kvlm_sampler_params p = params(2.0f, 0, 1.0f, 0.0f);
    CHECK(draw(&p, l, 2, f));
    check_freq("temperature 2", f, want, 2);
    /* T = 1: {1, 4}/5. */
    p.temperature = 1.0f;
    double want1[2] = {0.2, 0.8};
    CHECK(draw(&p, l, 2, f));
    check_freq("temperature 1", f, want1, 2);
    /* A tiny temperature is the argmax. */
    p.temperature = 0.01f;
    double want0[2] = {0.0, 1.0};
    CHECK(draw(&p, l, 2, f));
    check_freq("temperature 0.01", f, want0, 2);
}

static void test_top_k(void) {
    enum { N = 8 };
    float l[N] = {3.0f, 0.0f, 7.0f, 1.0f, 5.0f, 2.0f, 6.0f, 4.0f};
    double prob[N], want[N], f[N];
    double z = 0;
    for (int i = 0; i < N; i++) z += exp(l[i]);
    for (int i = 0; i < N; i++) prob[i] = exp(l[i]) / z;

    kvlm_sampler_params p = params(1.0f, 3, 1.0f, 0.0f);
    int keep3[N] = {0, 0, 1, 0, 1, 0, 1, 0}; /* logits 7, 5, 6 */
    renorm(prob, keep3, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_k 3", f, want, N);

    p.top_k = 1;
    int keep1[N] = {0, 0, 1, 0, 0, 0, 0, 0};
    renorm(prob, keep1, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_k 1", f, want, N);

    /* top_k >= vocab (and 0) is off: every id appears. */
    int all[N] = {1, 1, 1, 1, 1, 1, 1, 1};
    renorm(prob, all, N, want);
    p.top_k = N;
    CHECK(draw(&p, l, N, f));
    for (int i = 0; i < N; i++) CHECK(fabs(f[i] - want[i]) < TOL);
    p.top_k = 0;
    CHECK(draw(&p, l, N, f));
    for (int i = 0; i < N; i++) CHECK(fabs(f[i] - want[i]) < TOL);

    /* Ties at the boundary: the lower ids win. */
    float flat[N] = {1, 1, 1, 1, 1, 1, 1, 1};
    p.top_k = 3;
    CHECK(draw(&p, flat, N, f));
    double want_flat[N] = {1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0, 0, 0, 0};
    check_freq("top_k 3 of equal logits", f, want_flat, N);

    /* A vocabulary big enough for the quickselect path. */
    enum { M = 5000 };
    float *big = malloc(M * sizeof *big);
    double *fb = malloc(M * sizeof *fb);
    for (int i = 0; i < M; i++) big[i] = (float)((i * 7919) % M) / 1000.0f; /* a permutation of 0..4.999 */
    p.top_k = 50;
    CHECK(draw(&p, big, M, fb));
    int outside = 0, distinct = 0;
    for (int i = 0; i < M; i++) {
        if (fb[i] > 0 && big[i] < (float)(M - 50) / 1000.0f - 1e-4f) outside++;
        distinct += fb[i] > 0;
    }
    CHECK_MSG(outside == 0, "%d ids outside the top 50 drawn", outside);
    CHECK_MSG(distinct == 50, "%d distinct ids drawn, want 50", distinct);
    free(big);
    free(fb);
}

static void test_top_p(void) {
    enum { N = 5 };
    /* Probabilities, shuffled over the ids. */
    const double prob[N] = {0.15, 0.5, 0.05, 0.2, 0.1};
    float l[N];
    for (int i = 0; i < N; i++) l[i] = (float)log(prob[i]);
    double want[N], f[N];

    kvlm_sampler_params p = params(1.0f, 0, 0.8f, 0.0f); /* 0.5 + 0.2 + 0.15 = 0.85 >= 0.8 */
    int keep[N] = {1, 1, 0, 1, 0};
    renorm(prob, keep, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 0.8", f, want, N);

    p.top_p = 0.6f; /* 0.5 + 0.2 */
    int keep2[N] = {0, 1, 0, 1, 0};
    renorm(prob, keep2, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 0.6", f, want, N);

    p.top_p = 0.3f; /* the top token alone */
    int keep1[N] = {0, 1, 0, 0, 0};
    renorm(prob, keep1, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 0.3", f, want, N);

    p.top_p = 0.93f; /* all but the 0.05: 0.5 + 0.2 + 0.15 + 0.1 = 0.95 */
    int keep4[N] = {1, 1, 0, 1, 1};
    renorm(prob, keep4, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 0.93", f, want, N);

    /* With top-k first: top_k 3 leaves {0.5, 0.2, 0.15}/0.85 = {0.588, 0.235, 0.176}; top_p 0.8
     * of that keeps two (0.588 + 0.235 = 0.824 >= 0.8). */
    p = params(1.0f, 3, 0.8f, 0.0f);
    int keepk[N] = {0, 1, 0, 1, 0};
    renorm(prob, keepk, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_k 3 + top_p 0.8", f, want, N);

    /* Ties where the nucleus ends: the lower ids are kept. 20 odd ids at logit 2 (mass 0.731),
     * 20 even ids at 1 (0.0134 each); top_p 0.85 needs 9 of the even ones: 0, 2, ..., 16. */
    {
        enum { M = 40 };
        float tl[M];
        double tf[M], tw[M], tp[M];
        int tk[M];
        for (int i = 0; i < M; i++) tl[i] = i % 2 ? 2.0f : 1.0f, tp[i] = exp(tl[i]), tk[i] = i % 2 || i <= 16;
        renorm(tp, tk, M, tw);
        kvlm_sampler_params tpp = params(1.0f, 0, 0.85f, 0.0f);
        CHECK(draw(&tpp, tl, M, tf));
        check_freq("top_p 0.85 cutting through ties", tf, tw, M);
    }

    /* top_p 1 and 0 are off. */
    int all[N] = {1, 1, 1, 1, 1};
    renorm(prob, all, N, want);
    p = params(1.0f, 0, 1.0f, 0.0f);
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 1", f, want, N);
    p.top_p = 0.0f;
    CHECK(draw(&p, l, N, f));
    check_freq("top_p 0", f, want, N);
}

static void test_min_p(void) {
    enum { N = 5 };
    const double prob[N] = {0.06, 0.3, 0.04, 0.4, 0.2};
    float l[N];
    for (int i = 0; i < N; i++) l[i] = (float)log(prob[i]);
    double want[N], f[N];

    kvlm_sampler_params p = params(1.0f, 0, 1.0f, 0.2f); /* threshold 0.08 */
    int keep[N] = {0, 1, 0, 1, 1};
    renorm(prob, keep, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("min_p 0.2", f, want, N);

    p.min_p = 0.6f; /* threshold 0.24 */
    int keep2[N] = {0, 1, 0, 1, 0};
    renorm(prob, keep2, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("min_p 0.6", f, want, N);

    p.min_p = 1.0f; /* only the most probable */
    int keep1[N] = {0, 0, 0, 1, 0};
    renorm(prob, keep1, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("min_p 1", f, want, N);

    /* All three: top_k 4 drops 0.04; top_p 0.95 of {0.4,0.3,0.2,0.06}/0.96 keeps all four
     * (0.9/0.96 = 0.9375 < 0.95); min_p 0.2 then drops 0.06. */
    p = params(1.0f, 4, 0.95f, 0.2f);
    renorm(prob, keep, N, want);
    CHECK(draw(&p, l, N, f));
    check_freq("top_k 4 + top_p 0.95 + min_p 0.2", f, want, N);
}

/* The sets the filters keep, computed the slow and obvious way (full sort, doubles). */
static const float *g_ref_v;
static int by_value(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (g_ref_v[x] != g_ref_v[y]) return g_ref_v[x] > g_ref_v[y] ? -1 : 1;
    return x - y;
}

/* keep[id]: 2 = must be kept, 1 = on a rounding edge (may or may not be), 0 = must be dropped. */
static void reference_set(const float *logits, int n, const kvlm_sampler_params *p, char *keep) {
    float *v = malloc((size_t)n * sizeof *v);
    int *order = malloc((size_t)n * sizeof *order);
    double *pr = malloc((size_t)n * sizeof *pr);
    for (int i = 0; i < n; i++) v[i] = logits[i] / p->temperature, order[i] = i;
    g_ref_v = v;
    qsort(order, (size_t)n, sizeof *order, by_value);
    int m = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    double sum = 0;
    for (int i = 0; i < m; i++) sum += pr[i] = exp((double)v[order[i]] - v[order[0]]);
    memset(keep, 0, (size_t)n);
    int cut = m, edge = -1;
    if (p->top_p > 0 && p->top_p < 1) {
        double cum = 0;
        for (int i = 0; i < m; i++) {
            cum += pr[i] / sum;
            if (cum >= p->top_p) {
                cut = i + 1;
                if (fabs(cum - pr[i] / sum - p->top_p) < 1e-4 || fabs(cum - p->top_p) < 1e-4) edge = i;
                break;
            }
        }
    }
    for (int i = 0; i < cut; i++) {
        int k = 2;
        if (p->min_p > 0) {
            double r = pr[i] / pr[0];
            if (fabs(r - p->min_p) < 1e-4) k = 1;
            else if (r < p->min_p) k = 0;
        }
        if (i == edge || i == edge + 1) k = k ? 1 : 0;
        keep[order[i]] = (char)k;
    }
    if (edge >= 0 && edge + 1 < m && keep[order[edge + 1]] == 0) keep[order[edge + 1]] = 1;
    free(v);
    free(order);
    free(pr);
}

static void test_against_reference(void) {
    enum { N = 300 };
    float l[N];
    double f[N];
    char keep[N];
    struct {
        float temp;
        int top_k;
        float top_p, min_p, spread;
    } cfg[] = {
        {1.0f, 0, 0.5f, 0.0f, 2.0f},   {1.0f, 0, 0.8f, 0.3f, 2.0f},  {1.0f, 100, 0.7f, 0.0f, 4.0f},
        {0.7f, 0, 0.6f, 0.0f, 2.0f},   {1.0f, 0, 1.0f, 0.5f, 3.0f},  {1.0f, 50, 1.0f, 0.0f, 6.0f},
        {1.5f, 120, 0.9f, 0.2f, 5.0f}, {1.0f, 0, 0.95f, 0.0f, 1.0f}, {2.0f, 0, 0.3f, 0.0f, 8.0f},
    };
    uint32_t x = 99;
    for (size_t t = 0; t < sizeof cfg / sizeof cfg[0]; t++) {
        for (int i = 0; i < N; i++) {
            x = x * 1664525u + 1013904223u;
            l[i] = (float)(x >> 8) / (float)(1u << 24) * cfg[t].spread;
        }
        kvlm_sampler_params p = params(cfg[t].temp, cfg[t].top_k, cfg[t].top_p, cfg[t].min_p);
        p.seed = t;
        reference_set(l, N, &p, keep);
        CHECK(draw(&p, l, N, f));
        int outside = 0, missing = 0, size = 0;
        for (int i = 0; i < N; i++) {
            if (keep[i] == 0 && f[i] > 0) outside++;
            if (keep[i] == 2 && f[i] == 0) missing++;
            size += keep[i] == 2;
        }
        CHECK_MSG(outside == 0 && missing == 0 && size > 0,
                  "config %zu: %d drawn outside the reference set, %d of its %d never drawn", t, outside, missing,
                  size);
    }
}

static int32_t *sequence(uint64_t seed, const float *logits, int n, int len) {
    kvlm_sampler_params p = params(0.9f, 40, 0.95f, 0.01f);
    p.seed = seed;
    p.repeat_penalty = 1.1f;
    kvlm_sampler *s = kvlm_sampler_new(&p, n);
    int32_t *out = malloc((size_t)len * sizeof *out);
    float *row = malloc((size_t)n * sizeof *row);
    for (int i = 0; i < len; i++) {
        memcpy(row, logits, (size_t)n * sizeof *row);
        out[i] = kvlm_sampler_sample(s, row, out, i);
    }
    free(row);
    kvlm_sampler_free(s);
    return out;
}

static void test_reproducible(void) {
    enum { N = 1000, LEN = 500 };
    float *l = malloc(N * sizeof *l);
    for (int i = 0; i < N; i++) l[i] = (float)sin(i * 0.37) * 3.0f;
    int32_t *a = sequence(42, l, N, LEN), *b = sequence(42, l, N, LEN), *c = sequence(43, l, N, LEN);
    CHECK(!memcmp(a, b, LEN * sizeof *a));
    CHECK(memcmp(a, c, LEN * sizeof *a) != 0);
    int distinct = 0;
    for (int i = 0; i < LEN; i++) distinct += a[i] != a[0];
    CHECK(distinct > 0);
    free(a);
    free(b);
    free(c);
    free(l);
}

/* A Llama 3 sized vocabulary: correctness of the wide top-p path and speed. */
static void test_big_vocab(void) {
    enum { V = 128256, HIGH = 3000 };
    float *l = malloc(V * sizeof *l), *row = malloc(V * sizeof *row);
    char *high = calloc(V, 1);
    /* HIGH tokens at logit 10, scattered; the rest at 0. Their mass is ~0.998, so top_p 0.9 keeps
     * the ~2705 of them with the lowest ids (equal logits: lower ids first). */
    for (int i = 0; i < V; i++) l[i] = 0.0f;
    int placed = 0;
    for (uint32_t x = 12345; placed < HIGH;) {
        x = x * 1664525u + 1013904223u;
        int id = (int)(x % V);
        if (!high[id]) {
            high[id] = 1;
            l[id] = 10.0f;
            placed++;
        }
    }
    double e10 = exp(10.0), mass = HIGH * e10 + (V - HIGH);
    int need = (int)ceil(0.9 * mass / e10); /* high tokens the nucleus needs */
    int rank_limit = 0, seen = 0;                /* the id of the need-th high token */
    for (int i = 0; i < V && seen < need; i++)
        if (high[i]) seen++, rank_limit = i;

    kvlm_sampler_params p = params(1.0f, 0, 0.9f, 0.0f);
    kvlm_sampler *s = kvlm_sampler_new(&p, V);
    int bad = 0, over = 0;
    for (int i = 0; i < 2000; i++) {
        memcpy(row, l, V * sizeof *row);
        int32_t id = kvlm_sampler_sample(s, row, NULL, 0);
        if (id < 0 || id >= V || !high[id]) bad++;
        else if (id > rank_limit + 1000) over++; /* a little slack for float rounding at the edge */
    }
    CHECK_MSG(bad == 0, "%d low tokens drawn under top_p 0.9", bad);
    CHECK_MSG(over == 0, "%d tokens drawn past the nucleus", over);
    kvlm_sampler_free(s);

    /* Speed with typical settings on random logits. */
    uint32_t x = 7;
    for (int i = 0; i < V; i++) {
        x = x * 1664525u + 1013904223u;
        l[i] = (float)(x >> 8) / (float)(1u << 24) * 20.0f - 10.0f;
    }
    struct {
        kvlm_sampler_params p;
        const char *name;
    } cfg[] = {{params(0.0f, 0, 1.0f, 0.0f), "greedy"},
               {params(0.8f, 40, 0.95f, 0.05f), "top_k 40 + top_p 0.95 + min_p 0.05"},
               {params(0.8f, 0, 0.9f, 0.0f), "top_p 0.9 alone"},
               {params(1.0f, 0, 1.0f, 0.05f), "min_p 0.05 alone"}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        cfg[k].p.repeat_penalty = 1.1f;
        s = kvlm_sampler_new(&cfg[k].p, V);
        int32_t hist[64];
        for (int i = 0; i < 64; i++) hist[i] = i * 1000;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int reps = 50, ok = 1;
        for (int i = 0; i < reps; i++) {
            memcpy(row, l, V * sizeof *row);
            int32_t id = kvlm_sampler_sample(s, row, hist, 64);
            ok &= id >= 0 && id < V;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / reps;
        printf("sampler, vocab %d, %s: %.3f ms per token (incl. a %zu KB copy)\n", V, cfg[k].name, ms,
               V * sizeof *row / 1024);
        CHECK(ok);
        kvlm_sampler_free(s);
    }
    free(l);
    free(row);
    free(high);
}

int main(void) {
    test_bad_params();
    test_greedy();
    test_penalty();
    test_temperature();
    test_top_k();
    test_top_p();
    test_min_p();
    test_against_reference();
    test_reproducible();
    test_big_vocab();
    return test_finish();
}
