/* The forward pass of LlamaForCausalLM over a chunk of tokens, each going to
 * its own (state, position): a causal prefill when they share a state, a
 * batched decode step when they do not.
 *
 *   x = embed(id)
 *   per layer:  x += Wo · attention(rope(Wq·n), rope(Wk·n), Wv·n)   n = rmsnorm(x)
 *               x += Wdown · (silu(Wgate·n) * Wup·n)                 n = rmsnorm(x)
 *   logits = Wout · rmsnorm(x)
 *
 * Every stage is a parallel section on the model's thread pool. */
#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../kernels/act_bf16.h"
#include "../kernels/act_q8.h"
#include "../kernels/kernels.h"
#include "../kernels/quant_blocks.h"
#include "../model/rope.h"
#include "state.h"
#include "threadpool.h"

typedef struct {
    const kvlm_weight *w;
    const float *x;       /* FP32 input rows */
    size_t x_ld;          /* floats between tokens' inputs */
    float *y;
    size_t ldy;
    int accumulate;
    int64_t rows_per_task;
    int first_task;       /* index of this job's first task in the section */
    int q8;               /* multiplies the section's int8 activations */
    int bf16;             /* multiplies the section's BF16 activations */
} mm_job;

typedef struct {
    kvlm_model *m;
    kvlm_workspace *ws;
    const fwd_token *toks;
    int n;
    int layer;
    mm_job jobs[KVLM_MAX_JOBS];
    int n_jobs;
    act_q8 xq;            /* the jobs' input as int8 (Q8 mode) when some job wants it */
    const mm_job *xq_job; /* the first job that does: its x is what xq (or xh) holds */
    size_t xh_ld;         /* BF16 mode: the jobs' input as BF16 in ws->xh, this far apart */
} fwd_ctx;

/* ---------------------------------------------------------------- matmuls */

static void matmul_task(void *p, int task, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    int k = c->n_jobs - 1;
    while (task < c->jobs[k].first_task) k--;
    const mm_job *j = &c->jobs[k];
    int64_t r0 = (int64_t)(task - j->first_task) * j->rows_per_task;
    int64_t r1 = r0 + j->rows_per_task < j->w->rows ? r0 + j->rows_per_task : j->w->rows;
    if (j->q8) c->m->kernels->matmul_q8(j->w, &c->xq, c->n, j->y, j->ldy, r0, r1, j->accumulate);
    else if (j->bf16) c->m->kernels->matmul_bf16(j->w, c->ws->xh, c->xh_ld, c->n, j->y, j->ldy, r0, r1, j->accumulate);
    else c->m->kernels->matmul(j->w, j->x, j->x_ld, c->n, j->y, j->ldy, r0, r1, j->accumulate);
}

static void quantize_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    const float *x = c->xq_job->x + (size_t)t * c->xq_job->x_ld;
    if (c->m->act == KVLM_ACT_Q8) c->m->kernels->quantize_q8(&c->xq, t, x);
    else act_bf16_round(c->ws->xh + (size_t)t * c->xh_ld, x, c->xq_job->w->cols);
}

/* In Q8 or BF16 mode, the section's input once as int8 or BF16 for the jobs
 * whose weights take it (the jobs of one section read the same input). */
static void quantize_inputs(fwd_ctx *c, int n_tok) {
    const mm_job *first = NULL;
    kvlm_activations act = c->m->act;
    for (int i = 0; i < c->n_jobs; i++) {
        mm_job *j = &c->jobs[i];
        int takes = act == KVLM_ACT_Q8 ? act_q8_weight(j->w) : act == KVLM_ACT_BF16 && act_bf16_weight(j->w);
        takes = takes && (!first || (j->x == first->x && j->w->cols == first->w->cols));
        j->q8 = takes && act == KVLM_ACT_Q8;
        j->bf16 = takes && act == KVLM_ACT_BF16;
        if (takes && !first) first = j;
    }
    if (!first) return;
    c->xq_job = first;
    if (act == KVLM_ACT_Q8) {
        int64_t groups = act_q8_groups(first->w->cols);
        c->xq = (act_q8){.q = c->ws->xq, .d = c->ws->xq_d, .sum = c->ws->xq_sum, .sum16 = c->ws->xq_sum16,
                         .cols = first->w->cols, .q_ld = (size_t)groups * ACT_Q8_GROUP_BYTES,
                         .s_ld = (size_t)groups * ACT_Q8_GROUP_BLOCKS};
    } else {
        c->xh_ld = (size_t)first->w->cols;
    }
    pool_run(c->m->pool, n_tok, quantize_task, c);
}

static void add_job(fwd_ctx *c, const kvlm_weight *w, const float *x, size_t x_ld, float *y, size_t ldy,
                    int accumulate) {
    mm_job *j = &c->jobs[c->n_jobs++];
    *j = (mm_job){.w = w, .x = x, .x_ld = x_ld, .y = y, .ldy = ldy, .accumulate = accumulate};
}

/* Runs the queued jobs (matmuls that read the same inputs) as one parallel
 * section: rows are cut into tasks, ~8 per thread and job, so threads that
 * finish early take more. */
static void run_jobs(fwd_ctx *c, int n_tok) {
    int n_threads = pool_size(c->m->pool);
    int total = 0;
    for (int i = 0; i < c->n_jobs; i++) {
        mm_job *j = &c->jobs[i];
        int64_t per = (j->w->rows + (int64_t)n_threads * 8 - 1) / ((int64_t)n_threads * 8);
        per = (per + 15) / 16 * 16;
        j->rows_per_task = per;
        j->first_task = total;
        total += (int)((j->w->rows + per - 1) / per);
    }
    c->n = n_tok;
    quantize_inputs(c, n_tok);
    pool_run(c->m->pool, total, matmul_task, c);
    c->n_jobs = 0;
}

/* ------------------------------------------------------- per-token stages */

static void embed_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    const kvlm_weight *e = &c->m->embed;
    dequant_row(e->type, (const uint8_t *)e->data + (size_t)c->toks[t].id * e->row_bytes,
                c->ws->x + (size_t)t * c->m->cfg.dim, e->cols);
}

static void norm_attn_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    int dim = c->m->cfg.dim;
    rms_norm(c->ws->xb + (size_t)t * dim, c->ws->x + (size_t)t * dim, c->m->layers[c->layer].attn_norm, dim,
             c->m->cfg.norm_eps);
}

static void norm_ffn_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    int dim = c->m->cfg.dim;
    rms_norm(c->ws->xb + (size_t)t * dim, c->ws->x + (size_t)t * dim, c->m->layers[c->layer].ffn_norm, dim,
             c->m->cfg.norm_eps);
}

static void silu_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    size_t h = (size_t)c->m->cfg.hidden_dim;
    c->m->kernels->silu_mul(c->ws->hb + t * h, c->ws->hb2 + t * h, (int)h);
}

/* RoPE on the token's queries and keys (all heads of each in one call, so the
 * angles' sines and cosines are taken twice per token, not once per query
 * head), then K and V into its state's cache. */
static void rope_store_task(void *p, int t, int thread) {
    (void)thread;
    fwd_ctx *c = p;
    const kvlm_config *cfg = &c->m->cfg;
    const fwd_token *tk = &c->toks[t];
    kvlm_state *s = tk->state;
    int hd = cfg->head_dim, kv_dim = cfg->n_kv_heads * hd, q_dim = cfg->n_heads * hd;
    float *k = c->ws->k + (size_t)t * kv_dim, *v = c->ws->v + (size_t)t * kv_dim;
    rope_apply(c->ws->q + (size_t)t * q_dim, cfg->n_heads, hd, c->m->inv_freq, tk->pos, c->m->rope_interleaved);
    rope_apply(k, cfg->n_kv_heads, hd, c->m->inv_freq, tk->pos, c->m->rope_interleaved);
    for (int h = 0; h < cfg->n_kv_heads; h++) {
        size_t at = (size_t)tk->pos * hd;
        const float *ks = k + (size_t)h * hd, *vs = v + (size_t)h * hd;
        if (s->kv_f16) {
            uint16_t *kd = (uint16_t *)kv_at(s, s->k_cache, c->layer, h) + at;
            uint16_t *vd = (uint16_t *)kv_at(s, s->v_cache, c->layer, h) + at;
            for (int d = 0; d < hd; d++) {
                kd[d] = f32_to_f16(ks[d]);
                vd[d] = f32_to_f16(vs[d]);
            }
        } else {
            memcpy((float *)kv_at(s, s->k_cache, c->layer, h) + at, ks, sizeof(float) * hd);
            memcpy((float *)kv_at(s, s->v_cache, c->layer, h) + at, vs, sizeof(float) * hd);
        }
    }
}

/* One (token, K/V head): attention of the query heads that share it over
 * positions 0..pos. */
static void attention_task(void *p, int task, int thread) {
    fwd_ctx *c = p;
    const kvlm_config *cfg = &c->m->cfg;
    int t = task / cfg->n_kv_heads, kvh = task % cfg->n_kv_heads;
    const fwd_token *tk = &c->toks[t];
    kvlm_state *s = tk->state;
    int hd = cfg->head_dim, q_dim = cfg->n_heads * hd, group = cfg->n_heads / cfg->n_kv_heads;
    size_t at = (size_t)t * q_dim + (size_t)kvh * group * hd;
    float *scores = s->ws.scores + (size_t)thread * s->ws.scores_per_thread;
    c->m->kernels->attend(c->ws->q + at, group, kv_at(s, s->k_cache, c->layer, kvh), kv_at(s, s->v_cache, c->layer, kvh),
                          s->kv_f16, tk->pos + 1, hd, 1.0f / sqrtf((float)hd), c->ws->xb + at, scores);
}

/* ------------------------------------------------------------------ layers */

static void layer_forward(fwd_ctx *c, int l) {
    kvlm_model *m = c->m;
    kvlm_workspace *ws = c->ws;
    const kvlm_config *cfg = &m->cfg;
    const kvlm_layer *L = &m->layers[l];
    size_t dim = (size_t)cfg->dim, q_dim = (size_t)cfg->n_heads * cfg->head_dim;
    size_t kv_dim = (size_t)cfg->n_kv_heads * cfg->head_dim, hid = (size_t)cfg->hidden_dim;
    int n = c->n;
    c->layer = l;

    pool_run(m->pool, n, norm_attn_task, c);
    add_job(c, &L->wq, ws->xb, dim, ws->q, q_dim, 0);
    add_job(c, &L->wk, ws->xb, dim, ws->k, kv_dim, 0);
    add_job(c, &L->wv, ws->xb, dim, ws->v, kv_dim, 0);
    run_jobs(c, n);
    pool_run(m->pool, n, rope_store_task, c);
    pool_run(m->pool, n * cfg->n_kv_heads, attention_task, c);
    add_job(c, &L->wo, ws->xb, q_dim, ws->x, dim, 1);
    run_jobs(c, n);

    pool_run(m->pool, n, norm_ffn_task, c);
    add_job(c, &L->w_gate, ws->xb, dim, ws->hb, hid, 0);
    add_job(c, &L->w_up, ws->xb, dim, ws->hb2, hid, 0);
    run_jobs(c, n);
    pool_run(m->pool, n, silu_task, c);
    add_job(c, &L->w_down, ws->hb, hid, ws->x, dim, 1);
    run_jobs(c, n);
}

/* Final norm and the output head, for the tokens that want logits. Tokens
 * whose logits rows follow each other in memory share one matmul. */
static void logits_forward(fwd_ctx *c) {
    kvlm_model *m = c->m;
    const kvlm_config *cfg = &m->cfg;
    size_t dim = (size_t)cfg->dim, vocab = (size_t)cfg->vocab_size;
    const fwd_token *toks = c->toks;
    int n_all = c->n;
    for (int t = 0; t < n_all;) {
        if (!toks[t].logits) {
            t++;
            continue;
        }
        int run = 1;
        while (t + run < n_all && toks[t + run].logits == toks[t].logits + run * vocab) run++;
        for (int k = 0; k < run; k++)
            rms_norm(c->ws->xb + k * dim, c->ws->x + (size_t)(t + k) * dim, m->final_norm, (int)dim, cfg->norm_eps);
        add_job(c, &m->output, c->ws->xb, dim, toks[t].logits, vocab, 0);
        run_jobs(c, run);
        t += run;
    }
    c->n = n_all;
}

void forward_chunk(kvlm_model *m, kvlm_workspace *ws, const fwd_token *toks, int n) {
    fwd_ctx c = {.m = m, .ws = ws, .toks = toks, .n = n};
    pool_run(m->pool, n, embed_task, &c);
    for (int l = 0; l < m->cfg.n_layers; l++) layer_forward(&c, l);
    logits_forward(&c);
}
