/* The state (Core ML's MLState): a KV cache allocated once and updated in
 * place, the position, and the scratch the forward pass works in. */
#ifndef KVLM_STATE_H
#define KVLM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "../model/model.h"

/* Tokens one forward pass handles at once; longer prefills run in chunks. */
#define KVLM_CHUNK 64
/* Matmuls that may run in one parallel section (q, k and v). */
#define KVLM_MAX_JOBS 3

/* Scratch for one forward chunk of up to KVLM_CHUNK tokens. */
typedef struct {
    float *x;      /* [CHUNK][dim] the residual stream */
    float *xb;     /* [CHUNK][max(dim, q_dim)] normed input / attention output */
    float *q;      /* [CHUNK][q_dim] */
    float *k, *v;  /* [CHUNK][kv_dim] */
    float *hb, *hb2; /* [CHUNK][hidden] */
    float *scores; /* [n_threads][scores_per_thread] attention scratch per thread */
    size_t scores_per_thread; /* attend_scratch(query heads per K/V head, n_ctx) */
    /* Q8 activations (model->act Q8 only): a matmul's input quantized once,
     * room for CHUNK tokens of the longest input (act_q8.h's layout) */
    int8_t *xq;
    float *xq_d;
    int32_t *xq_sum, *xq_sum16;
    uint16_t *xh; /* BF16 activations (model->act BF16 only): [CHUNK][longest input] */
} kvlm_workspace;

struct kvlm_state {
    kvlm_model *model;
    int n_ctx;
    int pos;
    int kv_f16;
    size_t kv_elem;   /* bytes per cached element */
    void *k_cache;    /* [layer][kv_head][n_ctx][head_dim] */
    void *v_cache;
    kvlm_workspace ws;
};

/* Address of (layer, kv_head, position 0) in a cache. */
static inline void *kv_at(const kvlm_state *s, void *cache, int layer, int kv_head) {
    const kvlm_config *c = &s->model->cfg;
    size_t idx = ((size_t)layer * (size_t)c->n_kv_heads + (size_t)kv_head) * (size_t)s->n_ctx * (size_t)c->head_dim;
    return (uint8_t *)cache + idx * s->kv_elem;
}

/* One token's place in a forward chunk: which state and position it goes to,
 * and where its logits go (NULL: none wanted). */
typedef struct {
    int32_t id;
    kvlm_state *state;
    int pos;
    float *logits;
} fwd_token;

/* Runs n <= KVLM_CHUNK tokens through the model, writing their K/V into their
 * states' caches at their positions. Attention for each token covers its
 * state's positions 0..pos (causal). Uses ws for scratch; the caller has
 * checked ids, positions and room. */
void forward_chunk(kvlm_model *m, kvlm_workspace *ws, const fwd_token *toks, int n);

#endif
