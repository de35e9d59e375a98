/* Hugging Face folder: config.json, model.safetensors (or shards listed in
 * model.safetensors.index.json), generation_config.json, tokenizer.json,
 * tokenizer_config.json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../text/tokenizer.h"
#include "hf_config.h"
#include "model.h"

/* Reads dir/name into a buffer; *text = NULL when the file does not exist and
 * optional is set. */
static kvlm_status read_in_dir(const char *dir, const char *name, int optional, char **text, size_t *len,
                               char **path_out) {
    *text = NULL;
    char *path = path_join(dir, name);
    if (!path) return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    kvlm_status st = KVLM_OK;
    if (!path_exists(path)) {
        if (!optional) st = kvlm_fail(KVLM_ERR_IO, "%s: missing (a Hugging Face model folder needs it)", path);
    } else {
        st = read_whole_file(path, text, len);
    }
    if (path_out && st == KVLM_OK)
        *path_out = path;
    else
        free(path);
    return st;
}

/* The shard file names from model.safetensors.index.json, distinct, in order of appearance. */
static kvlm_status index_shards(const char *text, size_t len, const char *path, char ***names, int *n) {
    json_error_t e;
    json_t *root = json_loadb(text, len, 0, &e);
    if (!root) return kvlm_fail(KVLM_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, e.line, e.text);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: missing object 'weight_map'", path);
    }
    size_t cap = json_object_size(wm) + 1;
    char **list = calloc(cap, sizeof *list);
    int count = 0;
    kvlm_status st = list ? KVLM_OK : kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (st) break;
        if (!json_is_string(v)) {
            st = kvlm_fail(KVLM_ERR_FORMAT, "%s: weight_map['%s'] is not a file name", path, key);
            break;
        }
        const char *f = json_string_value(v);
        if (strchr(f, '/') || !strcmp(f, "..")) {
            st = kvlm_fail(KVLM_ERR_FORMAT, "%s: weight_map['%s'] = '%s' is not a plain file name", path, key, f);
            break;
        }
        int seen = 0;
        for (int i = 0; i < count; i++) seen |= !strcmp(list[i], f);
        if (!seen && !(list[count++] = strdup(f))) st = kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    }
    json_decref(root);
    if (st) {
        for (int i = 0; list && i < count; i++) free(list[i]);
        free(list);
        return st;
    }
    *names = list;
    *n = count;
    return KVLM_OK;
}

static kvlm_status open_weights(kvlm_model *m, const char *dir) {
    char *idx_text;
    size_t idx_len;
    char *idx_path = NULL;
    kvlm_status st = read_in_dir(dir, "model.safetensors.index.json", 1, &idx_text, &idx_len, &idx_path);
    if (st) return st;
    char **names = NULL;
    int n = 0;
    if (idx_text) {
        st = index_shards(idx_text, idx_len, idx_path, &names, &n);
        free(idx_text);
        free(idx_path);
        if (st) return st;
        if (n == 0) return kvlm_fail(KVLM_ERR_FORMAT, "%s/model.safetensors.index.json: weight_map is empty", dir);
    } else {
        free(idx_path);
        names = malloc(sizeof *names);
        if (!names || !(names[0] = strdup("model.safetensors"))) {
            free(names);
            return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
        }
        n = 1;
    }
    m->st_files = calloc((size_t)n, sizeof *m->st_files);
    if (!m->st_files) st = kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++) {
        char *p = path_join(dir, names[i]);
        st = p ? st_open(&m->st_files[i], p) : kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
        free(p);
        if (!st) m->n_st_files++;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

static const st_tensor *find_tensor(const kvlm_model *m, const char *name, const char **file) {
    for (int i = 0; i < m->n_st_files; i++) {
        const st_tensor *t = st_find(&m->st_files[i], name);
        if (t) {
            *file = m->st_files[i].file.path;
            return t;
        }
    }
    return NULL;
}

static kvlm_status missing_tensor(const char *dir, const char *name) {
    return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s' is missing", dir, name);
}

static kvlm_status bind_matrix(kvlm_model *m, const char *dir, const char *name, kvlm_weight *w, int64_t rows,
                               int64_t cols) {
    const char *file;
    const st_tensor *t = find_tensor(m, name, &file);
    if (!t) return missing_tensor(dir, name);
    if (t->type == UINT32_MAX)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s (kvlm reads BF16, F16, F32)", file, name,
                         t->dtype_name);
    if (t->n_dims != 2)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %d dimensions, a matrix has 2", file, name, t->n_dims);
    return model_bind_weight(w, file, name, t->type, t->data, t->nbytes, (int64_t)t->shape[0], (int64_t)t->shape[1],
                             rows, cols);
}

static kvlm_status bind_vector(kvlm_model *m, const char *dir, const char *name, const float **out, int64_t n) {
    const char *file;
    const st_tensor *t = find_tensor(m, name, &file);
    if (!t) return missing_tensor(dir, name);
    if (t->n_dims != 1)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %d dimensions, a norm weight has 1", file, name, t->n_dims);
    if (t->type == UINT32_MAX)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s (kvlm reads BF16, F16, F32)", file, name,
                         t->dtype_name);
    return model_f32_vector(m, file, name, t->type, t->data, t->nbytes, t->shape[0], n, out);
}

static kvlm_status bind_all(kvlm_model *m, const char *dir) {
    const kvlm_config *c = &m->cfg;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    kvlm_status st;
    if ((st = bind_matrix(m, dir, "model.embed_tokens.weight", &m->embed, c->vocab_size, c->dim))) return st;
    if ((st = bind_vector(m, dir, "model.norm.weight", &m->final_norm, c->dim))) return st;
    const char *file;
    if (c->tied) {
        m->output = m->embed;
    } else if (!find_tensor(m, "lm_head.weight", &file)) {
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor 'lm_head.weight' is missing (tie_word_embeddings is false)", dir);
    } else if ((st = bind_matrix(m, dir, "lm_head.weight", &m->output, c->vocab_size, c->dim))) {
        return st;
    }
    for (int l = 0; l < c->n_layers; l++) {
        kvlm_layer *L = &m->layers[l];
        char name[128];
#define MAT(field, suffix, r, cc)                                                      \
    snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, suffix);               \
    if ((st = bind_matrix(m, dir, name, &L->field, r, cc))) return st;
#define VEC(field, suffix)                                                             \
    snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, suffix);               \
    if ((st = bind_vector(m, dir, name, &L->field, c->dim))) return st;
        VEC(attn_norm, "input_layernorm")
        MAT(wq, "self_attn.q_proj", q, c->dim)
        MAT(wk, "self_attn.k_proj", kv, c->dim)
        MAT(wv, "self_attn.v_proj", kv, c->dim)
        MAT(wo, "self_attn.o_proj", c->dim, q)
        VEC(ffn_norm, "post_attention_layernorm")
        MAT(w_gate, "mlp.gate_proj", c->hidden_dim, c->dim)
        MAT(w_up, "mlp.up_proj", c->hidden_dim, c->dim)
        MAT(w_down, "mlp.down_proj", c->dim, c->hidden_dim)
#undef MAT
#undef VEC
    }
    return KVLM_OK;
}

static kvlm_status load_text_side(kvlm_model *m, const char *dir) {
    char *text, *path = NULL;
    size_t len;
    kvlm_status st = read_in_dir(dir, "generation_config.json", 1, &text, &len, &path);
    if (!st && text) st = hf_parse_generation_config(&m->cfg, text, len, path);
    free(text);
    free(path);
    path = NULL;
    if (st) return st;
    st = read_in_dir(dir, "tokenizer_config.json", 1, &text, &len, &path);
    if (!st && text) st = hf_parse_chat_template(text, len, path, &m->chat_template);
    free(text);
    free(path);
    if (st) return st;
    char *tok = path_join(dir, "tokenizer.json");
    if (!tok) return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    if (path_exists(tok)) st = tokenizer_load_hf_json(tok, &m->tokenizer);
    free(tok);
    return st;
}

kvlm_status load_hf_folder(kvlm_model *m, const char *dir) {
    m->source_format = "hf";
    char *text, *path = NULL;
    size_t len;
    kvlm_status st = read_in_dir(dir, "config.json", 0, &text, &len, &path);
    if (st) return st;
    m->cfg.n_eos = 0;
    st = hf_parse_config(&m->cfg, text, len, path);
    if (!st) st = model_config_finish(m, path);
    free(text);
    free(path);
    if (st) return st;
    m->f32_arena_cap = (size_t)(2 * m->cfg.n_layers + 1) * (size_t)m->cfg.dim;
    m->f32_arena = malloc(m->f32_arena_cap * sizeof(float));
    if (!m->f32_arena) return kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
    if ((st = open_weights(m, dir)) || (st = bind_all(m, dir))) return st;
    return load_text_side(m, dir);
}
