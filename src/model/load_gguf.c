/* GGUF v2/v3 for architecture "llama", as llama.cpp writes it: keys llama.*,
 * tensors token_embd, blk.N.*, output_norm, output (absent when tied),
 * rope_freqs (Llama 3 frequency factors). q/k rows are in llama.cpp's
 * interleaved RoPE order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../format/ggml_types.h"
#include "../text/tokenizer.h"
#include "model.h"

static kvlm_status read_hparams(kvlm_model *m, const gguf_file *g) {
    const char *path = g->file.path;
    char *arch = NULL;
    kvlm_status st = gguf_get_str(g, "general.architecture", 1, &arch);
    if (st) return st;
    if (strcmp(arch, "llama") != 0) {
        st = kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (kvlm runs 'llama')", path, arch);
        free(arch);
        return st;
    }
    free(arch);
    kvlm_config *c = &m->cfg;
    uint32_t dim = 0, layers = 0, ff = 0, heads = 0, kv = 0, ctx = 2048, key_len = 0, rope_dims = 0;
    float eps = 0, theta = 10000.0f;
    if ((st = gguf_get_u32(g, "llama.embedding_length", 1, &dim)) ||
        (st = gguf_get_u32(g, "llama.block_count", 1, &layers)) ||
        (st = gguf_get_u32(g, "llama.feed_forward_length", 1, &ff)) ||
        (st = gguf_get_u32(g, "llama.attention.head_count", 1, &heads)) ||
        (st = gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", 1, &eps)) ||
        (st = gguf_get_u32(g, "llama.context_length", 0, &ctx)) ||
        (st = gguf_get_f32(g, "llama.rope.freq_base", 0, &theta)))
        return st;
    kv = heads;
    if ((st = gguf_get_u32(g, "llama.attention.head_count_kv", 0, &kv)) ||
        (st = gguf_get_u32(g, "llama.attention.key_length", 0, &key_len)) ||
        (st = gguf_get_u32(g, "llama.rope.dimension_count", 0, &rope_dims)))
        return st;
    if (dim > (1u << 20) || heads > 4096 || layers > 4096 || ff > (1u << 22) || kv > 4096 || ctx > (1u << 26))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: hyper-parameters out of range", path);
    c->dim = (int)dim;
    c->n_layers = (int)layers;
    c->hidden_dim = (int)ff;
    c->n_heads = (int)heads;
    c->n_kv_heads = (int)kv;
    c->max_pos = (int)ctx;
    c->norm_eps = eps;
    c->rope_theta = theta;
    c->head_dim = key_len ? (int)key_len : (heads ? (int)(dim / heads) : 0);
    if (rope_dims && (int)rope_dims != c->head_dim)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: llama.rope.dimension_count %u differs from head_dim %d (partial RoPE)",
                         path, rope_dims, c->head_dim);
    char *scaling = NULL;
    if ((st = gguf_get_str(g, "llama.rope.scaling.type", 0, &scaling))) return st;
    if (scaling && strcmp(scaling, "none") != 0) {
        st = kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: rope scaling type '%s' is not supported", path, scaling);
        free(scaling);
        return st;
    }
    free(scaling);
    const gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", path);
    uint32_t vocab = (uint32_t)(emb->ne[1] > (1u << 22) ? 0 : emb->ne[1]);
    if ((st = gguf_get_u32(g, "llama.vocab_size", 0, &vocab))) return st;
    c->vocab_size = (int)vocab;
    c->tied = gguf_find_tensor(g, "output.weight") == NULL;
    return KVLM_OK;
}

/* Stop ids: kvlm's own list when the file has it (written by kvlm convert from
 * generation_config.json); else the eos, eot and eom keys and the Llama 3 end
 * tokens found by their text, as llama.cpp does. */
static void read_stop_ids(kvlm_model *m, const gguf_file *g) {
    kvlm_config *c = &m->cfg;
    uint32_t id;
    c->bos_id = -1;
    if (gguf_get_u32(g, "tokenizer.ggml.bos_token_id", 0, &id) == KVLM_OK && gguf_find(g, "tokenizer.ggml.bos_token_id"))
        c->bos_id = (int)id;
    gguf_get_f32(g, "general.sampling.temp", 0, &c->gen_temperature);
    gguf_get_f32(g, "general.sampling.top_p", 0, &c->gen_top_p);
    const gguf_kv *list = NULL;
    if (gguf_get_arr(g, "kvlm.stop_token_ids", GGUF_TYPE_INT32, 0, &list) == KVLM_OK && list && list->arr_n > 0 &&
        list->arr_n <= 8) {
        c->n_eos = 0;
        for (uint64_t i = 0; i < list->arr_n; i++) {
            int64_t v = gguf_arr_i64(list, i);
            if (v >= 0 && v < c->vocab_size) c->eos_ids[c->n_eos++] = (int)v;
        }
        return;
    }
    const char *keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"};
    int ids[8], n = 0;
    for (size_t k = 0; k < 3; k++)
        if (gguf_find(g, keys[k]) && gguf_get_u32(g, keys[k], 0, &id) == KVLM_OK) ids[n++] = (int)id;
    if (m->tokenizer) {
        const char *texts[] = {"<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"};
        for (size_t k = 0; k < 3 && n < 8; k++) {
            int32_t t = kvlm_token_id(m->tokenizer, texts[k]);
            if (t >= 0) ids[n++] = t;
        }
    }
    /* distinct, ascending */
    c->n_eos = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size) continue;
        int dup = 0;
        for (int j = 0; j < c->n_eos; j++) dup |= c->eos_ids[j] == ids[i];
        if (!dup) c->eos_ids[c->n_eos++] = ids[i];
    }
    for (int i = 1; i < c->n_eos; i++)
        for (int j = i; j > 0 && c->eos_ids[j - 1] > c->eos_ids[j]; j--) {
            int t = c->eos_ids[j];
            c->eos_ids[j] = c->eos_ids[j - 1];
            c->eos_ids[j - 1] = t;
        }
}

static kvlm_status bind_matrix(const gguf_file *g, const char *name, kvlm_weight *w, int64_t rows, int64_t cols) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s' is missing", g->file.path, name);
    if (t->n_dims != 2)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %u dimensions, a matrix has 2", g->file.path, name, t->n_dims);
    return model_bind_weight(w, g->file.path, name, t->type, t->data, t->nbytes, (int64_t)t->ne[1],
                             (int64_t)t->ne[0], rows, cols);
}

static kvlm_status bind_vector(kvlm_model *m, const gguf_file *g, const char *name, const float **out, int64_t n) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s' is missing", g->file.path, name);
    if (t->n_dims != 1)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %u dimensions, expected 1", g->file.path, name, t->n_dims);
    return model_f32_vector(m, g->file.path, name, t->type, t->data, t->nbytes, t->ne[0], n, out);
}

static kvlm_status bind_all(kvlm_model *m, const gguf_file *g) {
    const kvlm_config *c = &m->cfg;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    kvlm_status st;
    if ((st = bind_matrix(g, "token_embd.weight", &m->embed, c->vocab_size, c->dim)) ||
        (st = bind_vector(m, g, "output_norm.weight", &m->final_norm, c->dim)))
        return st;
    if (c->tied)
        m->output = m->embed;
    else if ((st = bind_matrix(g, "output.weight", &m->output, c->vocab_size, c->dim)))
        return st;
    for (int l = 0; l < c->n_layers; l++) {
        kvlm_layer *L = &m->layers[l];
        char name[96];
#define MAT(field, suffix, r, cc)                                  \
    snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix);    \
    if ((st = bind_matrix(g, name, &L->field, r, cc))) return st;
#define VEC(field, suffix)                                         \
    snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix);    \
    if ((st = bind_vector(m, g, name, &L->field, c->dim))) return st;
        VEC(attn_norm, "attn_norm")
        MAT(wq, "attn_q", q, c->dim)
        MAT(wk, "attn_k", kv, c->dim)
        MAT(wv, "attn_v", kv, c->dim)
        MAT(wo, "attn_output", c->dim, q)
        VEC(ffn_norm, "ffn_norm")
        MAT(w_gate, "ffn_gate", c->hidden_dim, c->dim)
        MAT(w_up, "ffn_up", c->hidden_dim, c->dim)
        MAT(w_down, "ffn_down", c->dim, c->hidden_dim)
#undef MAT
#undef VEC
    }
    return KVLM_OK;
}

/* rope_freqs holds, per frequency, the factor the base frequency is divided by
 * (llama.cpp's encoding of Llama 3 scaling). */
static kvlm_status apply_rope_freqs(kvlm_model *m, const gguf_file *g) {
    const gguf_tensor *t = gguf_find_tensor(g, "rope_freqs.weight");
    if (!t) return KVLM_OK;
    int half = m->cfg.head_dim / 2;
    if (t->type != GGML_TYPE_F32 || t->n_dims != 1 || t->ne[0] != (uint64_t)half)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor 'rope_freqs.weight' must be F32 [%d]", g->file.path, half);
    for (int i = 0; i < half; i++) {
        float f;
        memcpy(&f, t->data + 4 * (size_t)i, 4);
        if (!(f > 0.0f && f < 1e6f))
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a positive factor", g->file.path, i, f);
        m->inv_freq[i] /= f;
    }
    return KVLM_OK;
}

kvlm_status load_gguf(kvlm_model *m, const char *path) {
    m->source_format = "gguf";
    m->rope_interleaved = 1;
    m->gguf = calloc(1, sizeof *m->gguf);
    if (!m->gguf) return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    kvlm_status st = gguf_open(m->gguf, path);
    if (st) {
        free(m->gguf);
        m->gguf = NULL;
        return st;
    }
    const gguf_file *g = m->gguf;
    if ((st = read_hparams(m, g)) || (st = model_config_finish(m, path)) || (st = apply_rope_freqs(m, g))) return st;
    m->f32_arena_cap = (size_t)(2 * m->cfg.n_layers + 1) * (size_t)m->cfg.dim;
    m->f32_arena = malloc(m->f32_arena_cap * sizeof(float));
    if (!m->f32_arena) return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    if ((st = bind_all(m, g))) return st;
    if (gguf_find(g, "tokenizer.ggml.model") && (st = tokenizer_from_gguf(g, &m->tokenizer))) return st;
    if ((st = gguf_get_str(g, "tokenizer.chat_template", 0, &m->chat_template))) return st;
    read_stop_ids(m, g);
    return KVLM_OK;
}
