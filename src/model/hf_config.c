#include "hf_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "../core/error.h"

static kvlm_status load_object(const char *text, size_t len, const char *path, json_t **out) {
    json_error_t e;
    json_t *root = json_loadb(text, len, 0, &e);
    if (!root) return kvlm_fail(KVLM_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", path, e.line, e.column, e.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return KVLM_OK;
}

/* An integer field; absent → *out = dflt, or an error if dflt < 0 (required). */
static kvlm_status get_int(json_t *o, const char *key, long long dflt, const char *path, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (dflt < 0) return kvlm_fail(KVLM_ERR_FORMAT, "%s: missing field '%s'", path, key);
        *out = (int)dflt;
        return KVLM_OK;
    }
    if (!json_is_integer(v)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field '%s' is not an integer", path, key);
    long long x = json_integer_value(v);
    if (x < 0 || x > (1ll << 30)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field '%s' = %lld is out of range", path, key, x);
    *out = (int)x;
    return KVLM_OK;
}

static kvlm_status get_num(json_t *o, const char *key, double dflt, int required, const char *path, float *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return kvlm_fail(KVLM_ERR_FORMAT, "%s: missing field '%s'", path, key);
        *out = (float)dflt;
        return KVLM_OK;
    }
    if (!json_is_number(v)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field '%s' is not a number", path, key);
    *out = (float)json_number_value(v);
    return KVLM_OK;
}

static kvlm_status get_bool(json_t *o, const char *key, int dflt, const char *path, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return KVLM_OK;
    }
    if (!json_is_boolean(v)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field '%s' is not a boolean", path, key);
    *out = json_is_true(v);
    return KVLM_OK;
}

/* eos_token_id: an integer or a list of integers (at most 8). */
static kvlm_status get_eos(json_t *o, const char *path, kvlm_config *cfg) {
    json_t *v = json_object_get(o, "eos_token_id");
    if (!v || json_is_null(v)) return KVLM_OK;
    if (json_is_integer(v)) {
        cfg->n_eos = 1;
        cfg->eos_ids[0] = (int)json_integer_value(v);
        return KVLM_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > 8)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: field 'eos_token_id' must be an integer or a list of at most 8", path);
    int n = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > (1 << 30))
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: eos_token_id[%zu] is not a token id", path, i);
        cfg->eos_ids[n++] = (int)json_integer_value(e);
    }
    cfg->n_eos = n;
    return KVLM_OK;
}

static kvlm_status parse_rope_scaling(json_t *root, const char *path, kvlm_config *cfg) {
    json_t *rs = json_object_get(root, "rope_scaling");
    cfg->rope_scaling = ROPE_SCALING_NONE;
    if (!rs || json_is_null(rs)) return KVLM_OK;
    if (!json_is_object(rs)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field 'rope_scaling' is not an object", path);
    json_t *t = json_object_get(rs, "rope_type");
    if (!t) t = json_object_get(rs, "type");
    if (!json_is_string(t)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: rope_scaling has no 'rope_type' string", path);
    const char *type = json_string_value(t);
    if (!strcmp(type, "default")) return KVLM_OK;
    if (strcmp(type, "llama3") != 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: rope_scaling type '%s' is not supported (kvlm runs 'llama3' or none)",
                         path, type);
    cfg->rope_scaling = ROPE_SCALING_LLAMA3;
    kvlm_status st;
    if ((st = get_num(rs, "factor", 0, 1, path, &cfg->rope_factor)) ||
        (st = get_num(rs, "low_freq_factor", 0, 1, path, &cfg->rope_low_freq_factor)) ||
        (st = get_num(rs, "high_freq_factor", 0, 1, path, &cfg->rope_high_freq_factor)) ||
        (st = get_int(rs, "original_max_position_embeddings", -1, path, &cfg->rope_orig_max_pos))) {
        kvlm_error_prefix("rope_scaling");
        return st;
    }
    return KVLM_OK;
}

static kvlm_status check_architecture(json_t *root, const char *path) {
    json_t *mt = json_object_get(root, "model_type");
    if (mt && !json_is_string(mt)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: field 'model_type' is not a string", path);
    if (!mt) return kvlm_fail(KVLM_ERR_FORMAT, "%s: missing field 'model_type'", path);
    if (strcmp(json_string_value(mt), "llama") != 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (kvlm runs 'llama')", path,
                         json_string_value(mt));
    int attn_bias = 0, mlp_bias = 0;
    kvlm_status st;
    if ((st = get_bool(root, "attention_bias", 0, path, &attn_bias)) || (st = get_bool(root, "mlp_bias", 0, path, &mlp_bias)))
        return st;
    if (attn_bias || mlp_bias)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: attention_bias/mlp_bias are not supported", path);
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0))
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: hidden_act must be 'silu'", path);
    return KVLM_OK;
}

kvlm_status hf_parse_config(kvlm_config *cfg, const char *text, size_t len, const char *path) {
    json_t *root = NULL;
    kvlm_status st = load_object(text, len, path, &root);
    if (st) return st;
    int head_dim = 0;
    if ((st = check_architecture(root, path)) ||
        (st = get_int(root, "hidden_size", -1, path, &cfg->dim)) ||
        (st = get_int(root, "num_hidden_layers", -1, path, &cfg->n_layers)) ||
        (st = get_int(root, "num_attention_heads", -1, path, &cfg->n_heads)) ||
        (st = get_int(root, "intermediate_size", -1, path, &cfg->hidden_dim)) ||
        (st = get_int(root, "vocab_size", -1, path, &cfg->vocab_size)) ||
        (st = get_int(root, "num_key_value_heads", cfg->n_heads, path, &cfg->n_kv_heads)) ||
        (st = get_int(root, "head_dim", 0, path, &head_dim)) ||
        (st = get_int(root, "max_position_embeddings", 2048, path, &cfg->max_pos)) ||
        (st = get_num(root, "rms_norm_eps", 1e-6, 0, path, &cfg->norm_eps)) ||
        (st = get_num(root, "rope_theta", 10000.0, 0, path, &cfg->rope_theta)) ||
        (st = get_bool(root, "tie_word_embeddings", 0, path, &cfg->tied)) ||
        (st = get_int(root, "bos_token_id", 0, path, &cfg->bos_id)) || (st = get_eos(root, path, cfg)) ||
        (st = parse_rope_scaling(root, path, cfg))) {
        json_decref(root);
        return st;
    }
    json_t *bos = json_object_get(root, "bos_token_id");
    if (!bos || json_is_null(bos)) cfg->bos_id = -1;
    if (head_dim == 0 && cfg->n_heads > 0) {
        if (cfg->dim % cfg->n_heads != 0) st = kvlm_fail(KVLM_ERR_FORMAT, "%s: hidden_size is not a multiple of num_attention_heads", path);
        head_dim = cfg->n_heads ? cfg->dim / cfg->n_heads : 0;
    }
    cfg->head_dim = head_dim;
    json_decref(root);
    return st;
}

kvlm_status hf_parse_generation_config(kvlm_config *cfg, const char *text, size_t len, const char *path) {
    json_t *root = NULL;
    kvlm_status st = load_object(text, len, path, &root);
    if (st) return st;
    kvlm_config tmp = *cfg; /* nothing changes unless the whole file is good */
    if (json_object_get(root, "bos_token_id")) st = get_int(root, "bos_token_id", 0, path, &tmp.bos_id);
    if (!st) st = get_eos(root, path, &tmp);
    if (!st) st = get_num(root, "temperature", 0.0, 0, path, &tmp.gen_temperature);
    if (!st) st = get_num(root, "top_p", 0.0, 0, path, &tmp.gen_top_p);
    if (!st) *cfg = tmp;
    json_decref(root);
    return st;
}

kvlm_status hf_parse_chat_template(const char *text, size_t len, const char *path, char **out) {
    *out = NULL;
    json_t *root = NULL;
    kvlm_status st = load_object(text, len, path, &root);
    if (st) return st;
    json_t *t = json_object_get(root, "chat_template");
    const char *src = NULL;
    if (json_is_string(t)) {
        src = json_string_value(t);
    } else if (json_is_array(t)) {
        /* a list of {name, template}: take "default" */
        for (size_t i = 0; i < json_array_size(t); i++) {
            json_t *e = json_array_get(t, i);
            json_t *nm = json_object_get(e, "name"), *tp = json_object_get(e, "template");
            if (json_is_string(nm) && json_is_string(tp) && !strcmp(json_string_value(nm), "default"))
                src = json_string_value(tp);
        }
    } else if (t && !json_is_null(t)) {
        st = kvlm_fail(KVLM_ERR_FORMAT, "%s: field 'chat_template' is neither a string nor a list", path);
    }
    if (src && !(*out = strdup(src))) st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", path);
    json_decref(root);
    return st;
}
