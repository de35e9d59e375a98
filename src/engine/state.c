/* States: allocation, reset, prefix copy, and the predict calls that check
 * their arguments completely before any compute, so a rejected call changes
 * nothing. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../kernels/act_q8.h"
#include "../kernels/kernels.h"
#include "threadpool.h"

static void workspace_free(kvlm_workspace *ws) {
    free(ws->x);
    free(ws->xb);
    free(ws->q);
    free(ws->k);
    free(ws->v);
    free(ws->hb);
    free(ws->hb2);
    free(ws->scores);
    free(ws->xq);
    free(ws->xq_d);
    free(ws->xq_sum);
    free(ws->xq_sum16);
    free(ws->xh);
    memset(ws, 0, sizeof *ws);
}

static int workspace_init(kvlm_workspace *ws, const kvlm_model *m, int n_ctx) {
    const kvlm_config *c = &m->cfg;
    size_t B = KVLM_CHUNK, dim = (size_t)c->dim, q = (size_t)c->n_heads * c->head_dim;
    size_t kv = (size_t)c->n_kv_heads * c->head_dim, hid = (size_t)c->hidden_dim;
    ws->x = malloc(B * dim * sizeof(float));
    ws->xb = malloc(B * (dim > q ? dim : q) * sizeof(float));
    ws->q = malloc(B * q * sizeof(float));
    ws->k = malloc(B * kv * sizeof(float));
    ws->v = malloc(B * kv * sizeof(float));
    ws->hb = malloc(B * hid * sizeof(float));
    ws->hb2 = malloc(B * hid * sizeof(float));
    int ok = ws->x && ws->xb && ws->q && ws->k && ws->v && ws->hb && ws->hb2;
    ws->scores_per_thread = attend_scratch(c->n_heads / c->n_kv_heads, n_ctx);
    ws->scores = malloc((size_t)pool_size(m->pool) * ws->scores_per_thread * sizeof(float));
    ok &= ws->scores != NULL;
    size_t k_max = dim > q ? dim : q;
    if (hid > k_max) k_max = hid;
    if (m->act == KVLM_ACT_BF16) {
        ws->xh = malloc(B * k_max * sizeof(uint16_t));
        ok &= ws->xh != NULL;
    }
    if (m->act == KVLM_ACT_Q8) {
        size_t groups = (size_t)act_q8_groups((int64_t)k_max);
        ws->xq = malloc(B * groups * ACT_Q8_GROUP_BYTES);
        ws->xq_d = malloc(B * groups * ACT_Q8_GROUP_BLOCKS * sizeof(float));
        ws->xq_sum = malloc(B * groups * ACT_Q8_GROUP_BLOCKS * sizeof(int32_t));
        ws->xq_sum16 = malloc(B * groups * ACT_Q8_GROUP_BLOCKS * sizeof(int32_t));
        ok &= ws->xq && ws->xq_d && ws->xq_sum && ws->xq_sum16;
    }
    if (!ok) workspace_free(ws);
    return ok;
}

kvlm_state *kvlm_state_new(kvlm_model *model, const kvlm_state_options *opts) {
    if (!model) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_state_new: no model");
        return NULL;
    }
    kvlm_state_options o = {0};
    if (opts) o = *opts;
    int n_ctx = o.n_ctx ? o.n_ctx : 512;
    if (n_ctx < 1 || n_ctx > model->cfg.max_pos) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_state_new: n_ctx %d is out of range (1..%d, the model's max_position_embeddings)",
                  n_ctx, model->cfg.max_pos);
        return NULL;
    }
    if (o.kv_type != KVLM_KV_F16 && o.kv_type != KVLM_KV_F32) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_state_new: unknown kv_type %d", (int)o.kv_type);
        return NULL;
    }
    kvlm_state *s = calloc(1, sizeof *s);
    if (!s) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_state_new: out of memory");
        return NULL;
    }
    const kvlm_config *c = &model->cfg;
    s->model = model;
    s->n_ctx = n_ctx;
    s->kv_f16 = o.kv_type == KVLM_KV_F16;
    s->kv_elem = s->kv_f16 ? 2 : 4;
    size_t elems = (size_t)c->n_layers * (size_t)c->n_kv_heads * (size_t)n_ctx * (size_t)c->head_dim;
    /* calloc: the pages of a large context are only touched when used */
    s->k_cache = calloc(elems, s->kv_elem);
    s->v_cache = calloc(elems, s->kv_elem);
    if (!s->k_cache || !s->v_cache || !workspace_init(&s->ws, model, n_ctx)) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_state_new: cannot allocate the KV cache for %d positions (%zu MiB)", n_ctx,
                  2 * elems * s->kv_elem >> 20);
        kvlm_state_free(s);
        return NULL;
    }
    return s;
}

void kvlm_state_free(kvlm_state *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    workspace_free(&s->ws);
    free(s);
}

/* Stale cache entries past pos are never read (attention covers 0..pos only),
 * so a reset only moves the position. */
void kvlm_state_reset(kvlm_state *s) {
    if (s) s->pos = 0;
}

int kvlm_state_pos(const kvlm_state *s) { return s ? s->pos : 0; }
int kvlm_state_n_ctx(const kvlm_state *s) { return s ? s->n_ctx : 0; }
kvlm_model *kvlm_state_model(const kvlm_state *s) { return s ? s->model : NULL; }

kvlm_status kvlm_state_truncate(kvlm_state *s, int pos) {
    if (!s) return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_truncate: no state");
    if (pos < 0 || pos > s->pos)
        return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_truncate: position %d is outside 0..%d", pos, s->pos);
    s->pos = pos;
    return KVLM_OK;
}

kvlm_status kvlm_state_copy_prefix(kvlm_state *dst, const kvlm_state *src, int n) {
    if (!dst || !src) return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_copy_prefix: no state");
    if (dst == src) return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_copy_prefix: source and destination are the same state");
    if (dst->model != src->model) return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_copy_prefix: the states belong to different models");
    if (dst->kv_f16 != src->kv_f16) return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_copy_prefix: the states' KV types differ");
    if (n < 0 || n > src->pos)
        return kvlm_fail(KVLM_ERR_ARG, "kvlm_state_copy_prefix: %d tokens, the source holds %d", n, src->pos);
    if (n > dst->n_ctx)
        return kvlm_fail(KVLM_ERR_CONTEXT, "kvlm_state_copy_prefix: %d tokens do not fit the destination's %d positions", n,
                         dst->n_ctx);
    const kvlm_config *c = &src->model->cfg;
    size_t bytes = (size_t)n * (size_t)c->head_dim * src->kv_elem;
    for (int l = 0; l < c->n_layers; l++)
        for (int h = 0; h < c->n_kv_heads; h++) {
            memcpy(kv_at(dst, dst->k_cache, l, h), kv_at(src, src->k_cache, l, h), bytes);
            memcpy(kv_at(dst, dst->v_cache, l, h), kv_at(src, src->v_cache, l, h), bytes);
        }
    dst->pos = n;
    return KVLM_OK;
}

static kvlm_status check_ids(const kvlm_model *m, const int32_t *ids, int n, const char *fn) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return kvlm_fail(KVLM_ERR_ARG, "%s: token %d (index %d) is outside the vocabulary (0..%d)", fn, ids[i], i,
                             m->cfg.vocab_size - 1);
    return KVLM_OK;
}

kvlm_status kvlm_predict(kvlm_state *s, const int32_t *ids, int n, float *logits, int flags) {
    if (!s || !ids) return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict: no state or no ids");
    if (n < 1) return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict: n = %d, at least one token is needed", n);
    if (flags != KVLM_LOGITS_LAST && flags != KVLM_LOGITS_ALL)
        return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict: unknown flags %d", flags);
    if (n > s->n_ctx - s->pos)
        return kvlm_fail(KVLM_ERR_CONTEXT, "kvlm_predict: %d tokens at position %d would pass the context of %d", n,
                         s->pos, s->n_ctx);
    kvlm_status st = check_ids(s->model, ids, n, "kvlm_predict");
    if (st) return st;
    size_t vocab = (size_t)s->model->cfg.vocab_size;
    fwd_token toks[KVLM_CHUNK];
    for (int done = 0; done < n;) {
        int k = n - done < KVLM_CHUNK ? n - done : KVLM_CHUNK;
        for (int i = 0; i < k; i++) {
            int at = done + i;
            toks[i] = (fwd_token){.id = ids[at], .state = s, .pos = s->pos + i, .logits = NULL};
            if (logits && flags == KVLM_LOGITS_ALL) toks[i].logits = logits + (size_t)at * vocab;
            if (logits && flags == KVLM_LOGITS_LAST && at == n - 1) toks[i].logits = logits;
        }
        forward_chunk(s->model, &s->ws, toks, k);
        s->pos += k;
        done += k;
    }
    return KVLM_OK;
}

kvlm_status kvlm_predict_batch(kvlm_state *const *states, const int32_t *ids, int n, float *logits) {
    if (!states || !ids || n < 1) return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict_batch: no states, no ids or n < 1");
    kvlm_model *m = states[0] ? states[0]->model : NULL;
    for (int i = 0; i < n; i++) {
        if (!states[i] || states[i]->model != m)
            return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict_batch: state %d is missing or belongs to another model", i);
        for (int j = 0; j < i; j++)
            if (states[j] == states[i]) return kvlm_fail(KVLM_ERR_ARG, "kvlm_predict_batch: state %d appears twice", i);
        if (states[i]->pos >= states[i]->n_ctx)
            return kvlm_fail(KVLM_ERR_CONTEXT, "kvlm_predict_batch: state %d is full (%d positions)", i, states[i]->n_ctx);
    }
    kvlm_status st = check_ids(m, ids, n, "kvlm_predict_batch");
    if (st) return st;
    size_t vocab = (size_t)m->cfg.vocab_size;
    fwd_token toks[KVLM_CHUNK];
    for (int done = 0; done < n;) {
        int k = n - done < KVLM_CHUNK ? n - done : KVLM_CHUNK;
        for (int i = 0; i < k; i++) {
            kvlm_state *s = states[done + i];
            toks[i] = (fwd_token){.id = ids[done + i], .state = s, .pos = s->pos,
                                  .logits = logits ? logits + (size_t)(done + i) * vocab : NULL};
        }
        forward_chunk(m, &states[0]->ws, toks, k);
        for (int i = 0; i < k; i++) states[done + i]->pos++;
        done += k;
    }
    return KVLM_OK;
}
