/* The sampler: picks the next token from a row of logits.
 *
 * temperature <= 0: greedy. The argmax, the lowest id among equal maxima
 * (after the repetition penalty, if one is set, as llama.cpp and transformers
 * apply it in greedy decoding too). NaN logits never win.
 *
 * temperature > 0, in this order (transformers' order of logits processors
 * and warpers; llama.cpp's default chain runs the same filters, temperature last):
 *   1. repetition penalty: every distinct id among the last repeat_last_n ids
 *      of the history gets logit / penalty when its logit is > 0, else
 *      logit * penalty (once per id, however often it occurs);
 *   2. temperature: logits / temperature;
 *   3. top-k: keep the k largest logits (ties: lower ids first);
 *   4. softmax over what is left;
 *   5. top-p: keep the smallest set of most probable tokens whose probability
 *      sums to >= top_p (at least one token);
 *   6. min-p: drop the tokens with p < min_p * p_max;
 *   7. draw one of the rest in proportion to p with xoshiro256** seeded by
 *      splitmix64(seed): the same seed and inputs give the same choices.
 *
 * Everything the sampler needs is allocated by kvlm_sampler_new; a call
 * allocates nothing and never sorts the whole vocabulary in the usual cases:
 * top-k narrows the candidates with a histogram of the logits, then selects
 * (quickselect) and sorts only those; top-p without top-k builds a histogram
 * of probability mass and sorts only the bucket where the nucleus ends; min-p
 * alone is a threshold on the logits. Equal values are ordered by id (lower
 * first), so which tokens survive a cut is always well defined.
 *
 * The sampler modifies logits (penalty and temperature are applied in place). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "kvlm.h"

typedef struct {
    float v; /* a logit, then a probability */
    int32_t id;
} cand;

#define TOPK_BUCKETS 4096 /* linear in the logit, between the smallest and the largest */
#define TOPP_BUCKETS 8192 /* a probability's float bits >> 17: p <= 1 has bits <= 0x3F800000 */

struct kvlm_sampler {
    kvlm_sampler_params p;
    int vocab;
    cand *c;         /* vocab candidates */
    uint8_t *seen;   /* vocab flags, all 0 between calls */
    uint32_t *count; /* TOPK_BUCKETS */
    double *mass;    /* TOPP_BUCKETS */
    uint64_t rng[4];
};

/* ------------------------------------------------------------------ PRNG */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform01(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

/* ------------------------------------------------------ ordering helpers */

/* The order every selection and sort uses: larger value first, then lower id. */
static int before(const cand *a, const cand *b) { return a->v > b->v || (a->v == b->v && a->id < b->id); }

static void swap(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(cand *c, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        /* a max-heap of the "last" elements: the root is the one that sorts last */
        if (child + 1 < n && before(&c[child], &c[child + 1])) child++;
        if (!before(&c[root], &c[child])) return;
        swap(&c[root], &c[child]);
        root = child;
    }
}

static void heap_sort(cand *c, size_t n) {
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(c, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        swap(&c[0], &c[end]);
        sift_down(c, 0, end);
    }
}

static void insertion_sort(cand *c, size_t n) {
    for (size_t i = 1; i < n; i++) {
        cand x = c[i];
        size_t j = i;
        for (; j > 0 && before(&x, &c[j - 1]); j--) c[j] = c[j - 1];
        c[j] = x;
    }
}

/* Median-of-three pivot into c[hi - 1], then a Lomuto partition of c[lo, hi):
 * returns the pivot's final index; everything before it sorts before it. */
static size_t partition(cand *c, size_t lo, size_t hi) {
    size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (before(&c[mid], &c[lo])) swap(&c[mid], &c[lo]);
    if (before(&c[last], &c[lo])) swap(&c[last], &c[lo]);
    if (before(&c[mid], &c[last])) swap(&c[mid], &c[last]); /* c[last] = the median */
    cand pivot = c[last];
    size_t store = lo;
    for (size_t i = lo; i < last; i++)
        if (before(&c[i], &pivot)) swap(&c[i], &c[store++]);
    swap(&c[store], &c[last]);
    return store;
}

static int log2_floor(size_t n) {
    int d = 0;
    while (n >>= 1) d++;
    return d;
}

/* Introsort: quicksort, heap sort when it degenerates, insertion sort for small runs. */
static void sort_cands(cand *c, size_t n) {
    int budget = 2 * log2_floor(n) + 2;
    while (n > 16) {
        if (budget-- == 0) {
            heap_sort(c, n);
            return;
        }
        size_t p = partition(c, 0, n);
        /* recurse into the smaller side, loop on the larger */
        if (p < n - p - 1) {
            sort_cands(c, p);
            c += p + 1;
            n -= p + 1;
        } else {
            sort_cands(c + p + 1, n - p - 1);
            n = p;
        }
    }
    insertion_sort(c, n);
}

/* Moves the k elements that sort first into c[0, k) (in no particular order).
 * Quickselect; falls back to a full sort if it degenerates. */
static void select_first(cand *c, size_t n, size_t k) {
    if (k >= n || k == 0) return;
    size_t lo = 0, hi = n;
    int budget = 2 * log2_floor(n) + 8;
    while (hi - lo > 16) {
        if (budget-- == 0) {
            sort_cands(c + lo, hi - lo);
            return;
        }
        size_t p = partition(c, lo, hi);
        if (p == k || p + 1 == k) return;
        if (p > k) hi = p;
        else lo = p + 1;
    }
    insertion_sort(c + lo, hi - lo);
}

/* Sorts the k elements that sort first into c[0, k). */
static void sort_first(cand *c, size_t n, size_t k) {
    if (k > n) k = n;
    if (k * 4 >= n) {
        sort_cands(c, n);
        return;
    }
    select_first(c, n, k);
    sort_cands(c, k);
}

/* ------------------------------------------------------------------- API */

static int params_check(const kvlm_sampler_params *p) {
    if (isnan(p->temperature) || isinf(p->temperature))
        return kvlm_fail(KVLM_ERR_ARG, "sampler: temperature %g is not a finite number", p->temperature), 0;
    if (p->top_k < 0) return kvlm_fail(KVLM_ERR_ARG, "sampler: top_k %d is negative (0 turns it off)", p->top_k), 0;
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return kvlm_fail(KVLM_ERR_ARG, "sampler: top_p %g is not in [0, 1] (0 or 1 turns it off)", p->top_p), 0;
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return kvlm_fail(KVLM_ERR_ARG, "sampler: min_p %g is not in [0, 1] (0 turns it off)", p->min_p), 0;
    if (!(p->repeat_penalty >= 0.0f) || isinf(p->repeat_penalty))
        return kvlm_fail(KVLM_ERR_ARG, "sampler: repeat_penalty %g is not a finite number >= 0 (1 or 0 turns it off)",
                         p->repeat_penalty),
               0;
    if (p->repeat_last_n < 0)
        return kvlm_fail(KVLM_ERR_ARG, "sampler: repeat_last_n %d is negative (0 means 64)", p->repeat_last_n), 0;
    return 1;
}

kvlm_sampler *kvlm_sampler_new(const kvlm_sampler_params *params, int vocab_size) {
    kvlm_sampler_params p = {0};
    if (params) p = *params;
    if (vocab_size <= 0) {
        kvlm_fail(KVLM_ERR_ARG, "sampler: vocab_size %d must be > 0", vocab_size);
        return NULL;
    }
    if (!params_check(&p)) return NULL;
    if (p.repeat_last_n == 0) p.repeat_last_n = 64;
    kvlm_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->c = malloc((size_t)vocab_size * sizeof *s->c);
        s->seen = calloc((size_t)vocab_size, 1);
        s->count = malloc(TOPK_BUCKETS * sizeof *s->count);
        s->mass = malloc(TOPP_BUCKETS * sizeof *s->mass);
    }
    if (!s || !s->c || !s->seen || !s->count || !s->mass) {
        kvlm_sampler_free(s);
        kvlm_fail(KVLM_ERR_NOMEM, "sampler: out of memory for a vocabulary of %d", vocab_size);
        return NULL;
    }
    s->p = p;
    s->vocab = vocab_size;
    uint64_t x = p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    return s;
}

void kvlm_sampler_free(kvlm_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->seen);
    free(s->count);
    free(s->mass);
    free(s);
}

static void apply_penalty(kvlm_sampler *s, float *logits, const int32_t *history, int n_history) {
    float pen = s->p.repeat_penalty;
    if (pen == 0.0f || pen == 1.0f || n_history <= 0) return;
    int from = n_history > s->p.repeat_last_n ? n_history - s->p.repeat_last_n : 0;
    for (int i = from; i < n_history; i++) {
        int32_t id = history[i];
        if (id < 0 || id >= s->vocab || s->seen[id]) continue; /* ids outside the vocabulary are ignored */
        s->seen[id] = 1;
        logits[id] = logits[id] > 0.0f ? logits[id] / pen : logits[id] * pen;
    }
    for (int i = from; i < n_history; i++)
        if (history[i] >= 0 && history[i] < s->vocab) s->seen[history[i]] = 0;
}

static int32_t argmax(const float *logits, int n) {
    int32_t best = 0;
    float bv = -INFINITY;
    int found = 0;
    for (int i = 0; i < n; i++) {
        float v = logits[i];
        if (v != v) continue; /* NaN */
        if (!found || v > bv) {
            bv = v;
            best = i;
            found = 1;
        }
    }
    return best;
}

/* Top-k prefilter: moves every candidate whose logit lies in the linear
 * histogram buckets that hold the k largest to the front and returns how many
 * there are (>= k; usually k plus a few). Two sequential passes, no sort. */
static size_t top_k_prefilter(kvlm_sampler *s, cand *c, size_t m, size_t k, float minv, float maxv) {
    double range = (double)maxv - (double)minv;
    if (!(range > 0.0) || !isfinite(range)) return m;
    const double scale = (TOPK_BUCKETS - 1) / range;
    uint32_t *count = s->count;
    memset(count, 0, TOPK_BUCKETS * sizeof *count);
    for (size_t i = 0; i < m; i++) {
        int b = (int)(((double)c[i].v - minv) * scale);
        count[b < 0 ? 0 : b >= TOPK_BUCKETS ? TOPK_BUCKETS - 1 : b]++;
    }
    size_t cum = 0;
    int lo = TOPK_BUCKETS - 1;
    for (; lo > 0; lo--) {
        cum += count[lo];
        if (cum >= k) break;
    }
    size_t w = 0;
    for (size_t i = 0; i < m; i++) {
        int b = (int)(((double)c[i].v - minv) * scale);
        if (b >= lo) swap(&c[w++], &c[i]);
    }
    return w;
}

/* The bucket of a probability in [0, 1]: its float bits, 1/64-octave steps (monotonic). */
static uint32_t prob_bucket(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    return u >> 17;
}

/* Top-p over unsorted candidates holding unnormalized probabilities (sum =
 * total): the candidates whose probability-mass histogram bucket lies above
 * the one where the cumulative mass (from the top) reaches target all stay;
 * only that boundary bucket is sorted. Returns the new candidate count. */
static size_t top_p_buckets(kvlm_sampler *s, cand *c, size_t m, double target) {
    double *mass = s->mass;
    memset(mass, 0, TOPP_BUCKETS * sizeof *mass);
    for (size_t i = 0; i < m; i++) mass[prob_bucket(c[i].v)] += c[i].v;
    double above = 0.0;
    uint32_t edge = TOPP_BUCKETS;
    for (uint32_t b = TOPP_BUCKETS; b-- > 0;) {
        if (above + mass[b] >= target) {
            edge = b;
            break;
        }
        above += mass[b];
    }
    if (edge == TOPP_BUCKETS) return m; /* rounding: the whole mass never reached it */
    size_t a = 0;
    for (size_t i = 0; i < m; i++)
        if (prob_bucket(c[i].v) > edge) swap(&c[a++], &c[i]);
    size_t z = a;
    for (size_t i = a; i < m; i++)
        if (prob_bucket(c[i].v) == edge) swap(&c[z++], &c[i]);
    sort_cands(c + a, z - a);
    size_t j = a;
    while (j < z) {
        above += c[j++].v;
        if (above >= target) break;
    }
    return j;
}

int32_t kvlm_sampler_sample(kvlm_sampler *s, float *logits, const int32_t *history, int n_history) {
    if (!s || !logits) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_sampler_sample: %s is NULL", !s ? "the sampler" : "logits");
        return -1;
    }
    if (n_history < 0 || (n_history > 0 && !history)) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_sampler_sample: bad history (%d ids at %p)", n_history, (const void *)history);
        return -1;
    }
    const int n = s->vocab;
    apply_penalty(s, logits, history, n_history);
    if (s->p.temperature <= 0.0f) return argmax(logits, n);

    /* Temperature; the largest and smallest logits. NaN counts as -inf. */
    const float inv_t = 1.0f / s->p.temperature;
    float maxv = -INFINITY, minv = INFINITY;
    for (int i = 0; i < n; i++) {
        float v = logits[i];
        v = v != v ? -INFINITY : v * inv_t;
        logits[i] = v;
        if (v > maxv) maxv = v;
        if (v < minv) minv = v;
    }
    /* Nothing finite to normalize (all -inf, or +inf present): the argmax decides. */
    if (!isfinite(maxv)) return argmax(logits, n);

    const float top_p = s->p.top_p, min_p = s->p.min_p;
    const int use_top_p = top_p > 0.0f && top_p < 1.0f;
    /* Candidates: tokens with p = 0 (-inf) never win and are left out. Min-p
     * without top-p can be applied to the logits already: p < min_p * p_max
     * is v < max + log(min_p); the cut here is a little looser, the exact one
     * comes below. */
    float floor_v = -INFINITY;
    if (min_p > 0.0f && !use_top_p) floor_v = maxv + logf(min_p) - 1e-3f;
    cand *c = s->c;
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] > -INFINITY && logits[i] >= floor_v) c[m].v = logits[i], c[m++].id = i;
    if (!isfinite(minv)) minv = -87.0f + maxv; /* -inf was present: exp underflows below this anyway */

    int sorted = 0; /* c[0, m) in order */
    if (s->p.top_k > 0 && (size_t)s->p.top_k < m) {
        size_t k = (size_t)s->p.top_k;
        size_t t = top_k_prefilter(s, c, m, k, minv, maxv);
        sort_first(c, t, k);
        m = k;
        sorted = 1;
    }

    /* Softmax over the candidates (unnormalized: p = exp(v - max) <= 1; sums in double). */
    double sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        float e = expf(c[i].v - maxv);
        c[i].v = e;
        sum += e;
    }

    if (use_top_p && m > 1) {
        const double target = (double)top_p * sum;
        if (sorted) {
            double cum = 0.0;
            size_t i = 0;
            while (i < m) {
                cum += c[i++].v;
                if (cum >= target) break;
            }
            m = i;
        } else {
            m = top_p_buckets(s, c, m, target);
        }
    }

    if (min_p > 0.0f && m > 1) {
        float pmax = 0.0f;
        for (size_t i = 0; i < m; i++)
            if (c[i].v > pmax) pmax = c[i].v;
        const float thr = min_p * pmax;
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (c[i].v >= thr) c[w++] = c[i];
        m = w;
    }

    double total = 0.0;
    for (size_t i = 0; i < m; i++) total += c[i].v;
    double r = uniform01(s->rng) * total, acc = 0.0;
    for (size_t i = 0; i < m; i++) {
        acc += c[i].v;
        if (r < acc) return c[i].id;
    }
    /* Rounding left r at the very end: the last candidate with any weight. */
    for (size_t i = m; i-- > 0;)
        if (c[i].v > 0.0f) return c[i].id;
    return c[0].id;
}
