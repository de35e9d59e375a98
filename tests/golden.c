#include "golden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

int golden_load(golden *g, const char *path) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    char magic[8];
    uint32_t version;
    int ok = rd(f, magic, 8) && !memcmp(magic, "KVLMGOLD", 8) && rd(f, &version, 4) && version == 1 &&
             rd(f, &g->vocab, 4) && rd(f, &g->n_prompt, 4) && rd(f, &g->n_gen, 4) && rd(f, &g->n_sample, 4) &&
             rd(f, &g->top_k, 4) && rd(f, &g->model_fnv1a, 8);
    if (ok) {
        size_t n_pos = g->n_prompt + g->n_gen;
        g->prompt = malloc(4 * g->n_prompt);
        g->gen = malloc(4 * g->n_gen);
        g->sample_ids = malloc(4 * g->n_sample);
        g->argmax = malloc(4 * n_pos);
        g->max_abs = malloc(4 * n_pos);
        g->sampled = malloc(4 * n_pos * g->n_sample);
        g->top_ids = malloc(4 * n_pos * g->top_k);
        g->top_vals = malloc(4 * n_pos * g->top_k);
        ok = rd(f, g->prompt, 4 * g->n_prompt) && rd(f, g->gen, 4 * g->n_gen) && rd(f, g->sample_ids, 4 * g->n_sample);
        for (size_t p = 0; ok && p < n_pos; p++)
            ok = rd(f, &g->argmax[p], 4) && rd(f, &g->max_abs[p], 4) &&
                 rd(f, g->sampled + p * g->n_sample, 4 * g->n_sample) && rd(f, g->top_ids + p * g->top_k, 4 * g->top_k) &&
                 rd(f, g->top_vals + p * g->top_k, 4 * g->top_k);
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: not a valid golden file\n", path);
        golden_free(g);
        return -1;
    }
    return 0;
}

void golden_free(golden *g) {
    free(g->prompt);
    free(g->gen);
    free(g->sample_ids);
    free(g->argmax);
    free(g->max_abs);
    free(g->sampled);
    free(g->top_ids);
    free(g->top_vals);
    memset(g, 0, sizeof *g);
}

uint64_t fnv1a_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    static unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
    fclose(f);
    return h;
}

int golden_compare(const golden *g, int p, const float *logits, double rel, double *max_rel, int *argmax) {
    int best = 0;
    for (uint32_t i = 1; i < g->vocab; i++)
        if (logits[i] > logits[best]) best = (int)i;
    double worst = 0;
    const float *ref = g->sampled + (size_t)p * g->n_sample;
    for (uint32_t i = 0; i < g->n_sample; i++) {
        double d = fabs((double)logits[g->sample_ids[i]] - ref[i]);
        if (d > worst) worst = d;
    }
    for (uint32_t i = 0; i < g->top_k; i++) {
        size_t k = (size_t)p * g->top_k + i;
        double d = fabs((double)logits[g->top_ids[k]] - g->top_vals[k]);
        if (d > worst) worst = d;
    }
    worst /= g->max_abs[p];
    if (max_rel) *max_rel = worst;
    if (argmax) *argmax = best;
    return best == g->argmax[p] && worst <= rel;
}
