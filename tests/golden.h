/* Reader of the reference's golden files (tests/reference/llama_ref.py). */
#ifndef KVLM_TEST_GOLDEN_H
#define KVLM_TEST_GOLDEN_H

#include <stdint.h>

typedef struct {
    uint32_t vocab, n_prompt, n_gen, n_sample, top_k;
    uint64_t model_fnv1a;
    int32_t *prompt, *gen, *sample_ids;
    /* per fed position p < n_prompt + n_gen */
    int32_t *argmax;     /* [n_pos] */
    float *max_abs;      /* [n_pos] */
    float *sampled;      /* [n_pos][n_sample] */
    int32_t *top_ids;    /* [n_pos][top_k] */
    float *top_vals;     /* [n_pos][top_k] */
} golden;

/* 0 on success; the error goes to stderr. */
int golden_load(golden *g, const char *path);
void golden_free(golden *g);
uint64_t fnv1a_file(const char *path);

/* Compares logits (vocab floats) at position p with the golden: the argmax
 * must match and max |diff| over the stored ids must be <= rel * max_abs.
 * Returns 1 when it holds; *max_rel gets the worst relative difference. */
int golden_compare(const golden *g, int p, const float *logits, double rel, double *max_rel, int *argmax);

#endif
