/* llama2.c checkpoints (karpathy/llama2.c "legacy" export): a header of 7
 * int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative
 * when the classifier is separate — and seq_len), then FP32 weights in a fixed
 * order. RoPE pairs are interleaved, theta 10000, RMSNorm eps 1e-5. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../format/ggml_types.h"
#include "model.h"

typedef struct {
    const uint8_t *p;
    uint64_t off, size;
} weight_cursor;

/* The next n floats of the checkpoint. */
static const float *take(weight_cursor *c, uint64_t n) {
    const float *w = (const float *)(c->p + c->off);
    c->off += n * 4;
    return w;
}

static kvlm_status read_header(kvlm_model *m, const mapped_file *f) {
    const char *path = f->path;
    if (f->size >= 4 && memcmp(f->data, "ak42", 4) == 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED,
                         "%s: a llama2.c int8 export ('ak42'); kvlm reads the FP32 checkpoint (convert that to Q8_0 GGUF instead)",
                         path);
    if (f->size < 28)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: %zu bytes, a llama2.c checkpoint header has 28", path, f->size);
    int32_t h[7];
    memcpy(h, f->data, sizeof h);
    kvlm_config *c = &m->cfg;
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->tied = h[5] > 0;
    c->vocab_size = h[5] > 0 ? h[5] : (h[5] == INT32_MIN ? 0 : -h[5]);
    c->max_pos = h[6];
    if (c->dim <= 0 || c->n_heads <= 0 || c->dim % c->n_heads != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: not a llama2.c checkpoint (dim %d, n_heads %d in the header)", path, c->dim,
                         c->n_heads);
    c->head_dim = c->dim / c->n_heads;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->rope_scaling = ROPE_SCALING_NONE;
    c->bos_id = 1;
    c->n_eos = 1; /* llama2.c ends a sample when the model starts a new one (BOS) */
    c->eos_ids[0] = 1;
    return KVLM_OK;
}

kvlm_status load_llama2c(kvlm_model *m, const char *path) {
    m->source_format = "llama2c";
    m->rope_interleaved = 1;
    kvlm_status st = mapped_file_open(&m->raw, path);
    if (st) return st;
    if ((st = read_header(m, &m->raw)) || (st = model_config_finish(m, path))) return st;
    const kvlm_config *c = &m->cfg;
    uint64_t D = (uint64_t)c->dim, H = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers, V = (uint64_t)c->vocab_size;
    uint64_t Q = (uint64_t)c->n_heads * (uint64_t)c->head_dim, KV = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t floats = V * D + L * (2 * D + D * Q + 2 * D * KV + Q * D + 3 * D * H) + D +
                      (uint64_t)c->max_pos * (uint64_t)c->head_dim + (c->tied ? 0 : V * D);
    if (m->raw.size != 28 + floats * 4)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: %zu bytes, but the header (dim %d, layers %d, vocab %d, seq_len %d) implies %llu",
                         path, m->raw.size, c->dim, c->n_layers, c->vocab_size, c->max_pos,
                         (unsigned long long)(28 + floats * 4));
    m->f32_arena_cap = 0; /* norms are FP32 in the file: used in place */
    weight_cursor cur = {m->raw.data, 28, m->raw.size};
    const float *emb = take(&cur, V * D), *rms_att = take(&cur, L * D);
    const float *wq = take(&cur, L * D * Q), *wk = take(&cur, L * D * KV), *wv = take(&cur, L * D * KV);
    const float *wo = take(&cur, L * Q * D), *rms_ffn = take(&cur, L * D);
    const float *w1 = take(&cur, L * H * D), *w2 = take(&cur, L * D * H), *w3 = take(&cur, L * H * D);
    m->final_norm = take(&cur, D);
    take(&cur, (uint64_t)c->max_pos * (uint64_t)c->head_dim); /* freq_cis_real/imag: recomputed, not read */
    const float *wcls = c->tied ? emb : take(&cur, V * D);
#define BIND(w, ptr, r, cc)                                                                                         \
    if ((st = model_bind_weight(&(w), path, #w, GGML_TYPE_F32, ptr, (r) * (cc) * 4, (int64_t)(r), (int64_t)(cc),   \
                                (int64_t)(r), (int64_t)(cc))))                                                      \
        return st;
    BIND(m->embed, emb, V, D)
    BIND(m->output, wcls, V, D)
    for (uint64_t l = 0; l < L; l++) {
        kvlm_layer *y = &m->layers[l];
        y->attn_norm = rms_att + l * D;
        y->ffn_norm = rms_ffn + l * D;
        BIND(y->wq, wq + l * D * Q, Q, D)
        BIND(y->wk, wk + l * D * KV, KV, D)
        BIND(y->wv, wv + l * D * KV, KV, D)
        BIND(y->wo, wo + l * Q * D, D, Q)
        BIND(y->w_gate, w1 + l * H * D, H, D)
        BIND(y->w_down, w2 + l * D * H, D, H)
        BIND(y->w_up, w3 + l * H * D, H, D)
    }
#undef BIND
    return KVLM_OK;
}
