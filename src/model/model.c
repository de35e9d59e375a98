#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/error.h"
#include "../core/half.h"
#include "../engine/threadpool.h"
#include "../format/ggml_types.h"
#include "../kernels/kernels.h"
#include "../text/tokenizer.h"
#include "rope.h"

kvlm_status model_config_finish(kvlm_model *m, const char *where) {
    kvlm_config *c = &m->cfg;
    struct {
        const char *name;
        int v, max;
    } sizes[] = {
        {"hidden_size", c->dim, 1 << 16},          {"num_hidden_layers", c->n_layers, 1024},
        {"num_attention_heads", c->n_heads, 1024}, {"num_key_value_heads", c->n_kv_heads, 1024},
        {"head_dim", c->head_dim, 512},           {"intermediate_size", c->hidden_dim, 1 << 18},
        {"vocab_size", c->vocab_size, 1 << 22},    {"max_position_embeddings", c->max_pos, 1 << 24},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v <= 0 || sizes[i].v > sizes[i].max)
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: %s = %d is out of range (1..%d)", where, sizes[i].name, sizes[i].v,
                             sizes[i].max);
    if (c->n_heads % c->n_kv_heads != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                         where, c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", where, c->head_dim);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: rms_norm_eps %g is out of range", where, c->norm_eps);
    if (!(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: rope_theta %g is out of range", where, c->rope_theta);
    if (c->rope_scaling == ROPE_SCALING_LLAMA3 &&
        !(c->rope_factor >= 1.0f && c->rope_low_freq_factor > 0.0f &&
          c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_orig_max_pos > 0))
        return kvlm_fail(KVLM_ERR_FORMAT,
                         "%s: rope_scaling llama3 needs factor >= 1, 0 < low_freq_factor < high_freq_factor and "
                         "original_max_position_embeddings > 0",
                         where);
    m->inv_freq = malloc(sizeof(float) * (size_t)(c->head_dim / 2));
    if (!m->inv_freq) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", where);
    rope_inv_freq(c, m->inv_freq);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", where);
    return KVLM_OK;
}

static int type_has_kernel(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

kvlm_status model_bind_weight(kvlm_weight *w, const char *where, const char *name, uint32_t type,
                              const void *data, uint64_t nbytes, int64_t rows, int64_t cols, int64_t want_rows,
                              int64_t want_cols) {
    ggml_type_info ti = ggml_type_get(type);
    if (!type_has_kernel(type))
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': type %s has no kernel in kvlm", where, name, ti.name);
    if (rows != want_rows || cols != want_cols)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': shape [%lld, %lld], the config implies [%lld, %lld]", where,
                         name, (long long)rows, (long long)cols, (long long)want_rows, (long long)want_cols);
    if (cols % ti.block_elems != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': row length %lld is not a multiple of the %s block (%u)",
                         where, name, (long long)cols, ti.name, ti.block_elems);
    size_t row_bytes = (size_t)(cols / ti.block_elems) * ti.block_bytes;
    if (nbytes != row_bytes * (uint64_t)rows)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %llu bytes of data, shape and type need %llu", where, name,
                         (unsigned long long)nbytes, (unsigned long long)(row_bytes * (uint64_t)rows));
    /* elements are read in place: plain float types must sit at their natural alignment */
    size_t align = ti.block_elems == 1 ? ti.block_bytes : 2;
    if ((uintptr_t)data % align != 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': data is not aligned to %zu bytes", where, name, align);
    w->type = type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = row_bytes;
    w->data = data;
    return KVLM_OK;
}

kvlm_status model_f32_vector(kvlm_model *m, const char *where, const char *name, uint32_t type, const void *data,
                             uint64_t nbytes, uint64_t n_elems, int64_t want, const float **out) {
    if ((int64_t)n_elems != want)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %llu elements, the config implies %lld", where, name,
                         (unsigned long long)n_elems, (long long)want);
    size_t esize = type == GGML_TYPE_F32 ? 4 : (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) ? 2 : 0;
    if (esize == 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': type %s (a norm must be F32, F16 or BF16)", where,
                         name, ggml_type_get(type).name);
    if (nbytes != n_elems * esize)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %llu bytes of data, %llu elements need %llu", where, name,
                         (unsigned long long)nbytes, (unsigned long long)n_elems,
                         (unsigned long long)(n_elems * esize));
    if (m->f32_arena_used + n_elems > m->f32_arena_cap)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': more norm vectors than the model has", where, name);
    float *dst = m->f32_arena + m->f32_arena_used;
    const uint8_t *src = data;
    for (uint64_t i = 0; i < n_elems; i++) {
        uint16_t h;
        uint32_t u;
        if (esize == 4) {
            memcpy(&u, src + 4 * i, 4);
            dst[i] = bits_f32(u);
        } else {
            memcpy(&h, src + 2 * i, 2);
            dst[i] = type == GGML_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
    m->f32_arena_used += n_elems;
    *out = dst;
    return KVLM_OK;
}

void model_release(kvlm_model *m) {
    for (int i = 0; i < m->n_st_files; i++) st_close(&m->st_files[i]);
    free(m->st_files);
    if (m->gguf) {
        gguf_close(m->gguf);
        free(m->gguf);
    }
    if (m->raw.path) mapped_file_close(&m->raw);
    free(m->f32_arena);
    free(m->inv_freq);
    free(m->layers);
    if (m->tokenizer) kvlm_tokenizer_free(m->tokenizer);
    free(m->chat_template);
    if (m->pool) pool_free(m->pool);
}

/* Physical cores: online CPUs with distinct (package, core) ids in sysfs; SMT
 * siblings share a core's FMA units and memory bandwidth, so one thread per
 * core is the default. Falls back to the online CPU count. */
static int physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) return 1;
    enum { MAX_CPUS = 1024 };
    long ids[MAX_CPUS];
    int n_ids = 0;
    for (long cpu = 0; cpu < online && cpu < MAX_CPUS; cpu++) {
        char path[128];
        long core = -1, pkg = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) return (int)online;
        if (fscanf(f, "%ld", &core) != 1) core = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%ld", &pkg) != 1) pkg = 0;
            fclose(f);
        }
        if (core < 0) return (int)online;
        long id = pkg * 65536 + core;
        int seen = 0;
        for (int i = 0; i < n_ids; i++) seen |= ids[i] == id;
        if (!seen) ids[n_ids++] = id;
    }
    return n_ids > 0 ? n_ids : (int)online;
}

/* A tokenizer named by the caller replaces the model's own. */
static kvlm_status attach_tokenizer(kvlm_model *m, const char *path) {
    kvlm_tokenizer *tok = kvlm_tokenizer_load(path);
    if (!tok) return KVLM_ERR_FORMAT;
    if (kvlm_tokenizer_vocab_size(tok) > m->cfg.vocab_size) {
        int n = kvlm_tokenizer_vocab_size(tok);
        kvlm_tokenizer_free(tok);
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: the tokenizer has %d tokens, the model only %d", path, n,
                         m->cfg.vocab_size);
    }
    if (m->tokenizer) kvlm_tokenizer_free(m->tokenizer);
    m->tokenizer = tok;
    return KVLM_OK;
}

/* The activation mode asked for: AUTO reads KVLM_ACT (f32 when unset). */
static kvlm_status activations_select(kvlm_activations a, kvlm_activations *out) {
    if (a == KVLM_ACT_AUTO) {
        const char *env = getenv("KVLM_ACT");
        a = KVLM_ACT_F32;
        if (env && *env) {
            if (!strcmp(env, "q8")) a = KVLM_ACT_Q8;
            else if (!strcmp(env, "bf16")) a = KVLM_ACT_BF16;
            else if (strcmp(env, "f32") != 0)
                return kvlm_fail(KVLM_ERR_ARG, "KVLM_ACT=%s: expected f32, q8 or bf16", env);
        }
    }
    if (a != KVLM_ACT_F32 && a != KVLM_ACT_Q8 && a != KVLM_ACT_BF16)
        return kvlm_fail(KVLM_ERR_ARG, "kvlm_model_open: unknown activations mode %d", (int)a);
    *out = a;
    return KVLM_OK;
}

kvlm_model *kvlm_model_open(const char *path, const kvlm_model_options *opts) {
    kvlm_model_options o = {0};
    if (opts) o = *opts;
    if (!path || !*path) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_model_open: no path given");
        return NULL;
    }
    if (o.n_threads < 0 || o.n_threads > 256) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_model_open: n_threads %d is out of range (0..256)", o.n_threads);
        return NULL;
    }
    const kvlm_kernel_set *ks = kernels_select(o.kernels);
    if (!ks) return NULL;
    kvlm_activations act = KVLM_ACT_F32;
    if (activations_select(o.activations, &act) != KVLM_OK) return NULL;
    kvlm_model *m = calloc(1, sizeof *m);
    if (!m) {
        kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    kvlm_status st;
    if (path_is_dir(path)) {
        st = load_hf_folder(m, path);
    } else {
        mapped_file probe;
        st = mapped_file_open(&probe, path);
        if (st == KVLM_OK) {
            /* by magic, or by name: a .gguf file that lacks the magic gets the GGUF reader's message */
            size_t len = strlen(path);
            int is_gguf = (probe.size >= 4 && memcmp(probe.data, "GGUF", 4) == 0) ||
                          (len > 5 && !strcmp(path + len - 5, ".gguf"));
            mapped_file_close(&probe);
            st = is_gguf ? load_gguf(m, path) : load_llama2c(m, path);
        }
    }
    if (st == KVLM_OK && o.tokenizer_path) st = attach_tokenizer(m, o.tokenizer_path);
    if (st == KVLM_OK) {
        m->kernels = ks;
        m->act = act;
        m->n_threads = o.n_threads ? o.n_threads : physical_cores();
        m->pool = pool_new(m->n_threads);
        if (!m->pool) st = kvlm_fail(KVLM_ERR_NOMEM, "%s: cannot start %d threads", path, m->n_threads);
    }
    if (st != KVLM_OK) {
        model_release(m);
        free(m);
        return NULL;
    }
    return m;
}

void kvlm_model_free(kvlm_model *m) {
    if (!m) return;
    model_release(m);
    free(m);
}

static uint64_t weight_bytes(const kvlm_weight *w) { return w->data ? w->row_bytes * (uint64_t)w->rows : 0; }

void kvlm_model_get_info(const kvlm_model *m, kvlm_model_info *info) {
    memset(info, 0, sizeof *info);
    const kvlm_config *c = &m->cfg;
    info->dim = c->dim;
    info->n_layers = c->n_layers;
    info->n_heads = c->n_heads;
    info->n_kv_heads = c->n_kv_heads;
    info->head_dim = c->head_dim;
    info->hidden_dim = c->hidden_dim;
    info->vocab_size = c->vocab_size;
    info->max_pos = c->max_pos;
    info->rope_theta = c->rope_theta;
    info->norm_eps = c->norm_eps;
    info->tied_embeddings = c->tied;
    info->bos_id = c->bos_id;
    info->n_eos = c->n_eos;
    memcpy(info->eos_ids, c->eos_ids, sizeof info->eos_ids);
    info->source_format = m->source_format;
    info->weight_type = m->layers ? ggml_type_get(m->layers[0].wq.type).name : "none";
    uint64_t b = weight_bytes(&m->output);
    for (int l = 0; l < c->n_layers; l++) {
        const kvlm_layer *L = &m->layers[l];
        b += weight_bytes(&L->wq) + weight_bytes(&L->wk) + weight_bytes(&L->wv) + weight_bytes(&L->wo) +
             weight_bytes(&L->w_gate) + weight_bytes(&L->w_up) + weight_bytes(&L->w_down);
    }
    info->weight_bytes = b;
    info->kernels = m->kernels ? m->kernels->name : "none";
    info->activations = m->act == KVLM_ACT_Q8 ? "q8" : m->act == KVLM_ACT_BF16 ? "bf16" : "f32";
    info->n_threads = m->n_threads;
    info->gen_temperature = c->gen_temperature;
    info->gen_top_p = c->gen_top_p;
}

const kvlm_tokenizer *kvlm_model_tokenizer(const kvlm_model *m) { return m ? m->tokenizer : NULL; }
const char *kvlm_model_chat_template(const kvlm_model *m) { return m ? m->chat_template : NULL; }
