#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../format/ggml_types.h"
#include "../format/gguf.h"
#include "../kernels/quant_blocks.h"
#include "../kernels/quantize.h"
#include "rope.h"

/* A tensor to write: a matrix from the model (dequantized row by row and
 * requantized) or a small FP32 vector. */
typedef struct {
    const kvlm_weight *w;   /* matrix source, or NULL */
    const float *vec;       /* vector source */
    int64_t vec_n;
    uint32_t type;          /* output type */
    int permute_heads;      /* > 0: rows are q/k heads to reorder for interleaved RoPE */
} conv_tensor;

typedef struct {
    const kvlm_model *m;
    conv_tensor *t;
    int n;
    float *row;
    void *qbuf;
    const convert_options *o;
} conv_ctx;

/* Output row r of a q/k matrix comes from source row src_row(r): within each
 * head, Hugging Face pairs dimension i with i + hd/2; GGUF (llama.cpp) stores
 * the pair next to each other. */
static int64_t src_row(int64_t r, int64_t head_dim) {
    int64_t h = r / head_dim, j = r % head_dim, half = head_dim / 2;
    return h * head_dim + (j % 2 == 0 ? j / 2 : j / 2 + half);
}

static int write_tensor(void *p, int i, FILE *f) {
    conv_ctx *c = p;
    const conv_tensor *t = &c->t[i];
    if (!t->w) return fwrite(t->vec, 4, (size_t)t->vec_n, f) == (size_t)t->vec_n ? 0 : -1;
    const kvlm_weight *w = t->w;
    ggml_type_info ti = ggml_type_get(t->type);
    size_t out_bytes = (size_t)(w->cols / ti.block_elems) * ti.block_bytes;
    int64_t hd = c->m->cfg.head_dim;
    for (int64_t r = 0; r < w->rows; r++) {
        int64_t s = t->permute_heads ? src_row(r, hd) : r;
        dequant_row(w->type, (const uint8_t *)w->data + (size_t)s * w->row_bytes, c->row, w->cols);
        if (quantize_row(t->type, c->row, c->qbuf, w->cols) != 0) return -1;
        if (fwrite(c->qbuf, 1, out_bytes, f) != out_bytes) return -1;
    }
    return 0;
}

static void progress(void *p, int done, int total) {
    conv_ctx *c = p;
    if (c->o->progress) c->o->progress(c->o->progress_ctx, done, total);
}

static const char *file_type_name(uint32_t t) { return ggml_type_get(t).name; }

/* llama.cpp's general.file_type ids for the types kvlm writes */
static uint32_t file_type_id(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: return 0;
    case GGML_TYPE_F16: return 1;
    case GGML_TYPE_Q4_0: return 2;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_BF16: return 32;
    default: return 0;
    }
}

static void write_hparams(gguf_writer *w, const kvlm_model *m, const convert_options *o) {
    const kvlm_config *c = &m->cfg;
    gguf_w_str(w, "general.architecture", "llama");
    if (o->name) gguf_w_str(w, "general.name", o->name);
    gguf_w_u32(w, "general.file_type", file_type_id(o->type));
    gguf_w_u32(w, "general.quantization_version", 2);
    gguf_w_u32(w, "llama.context_length", (uint32_t)c->max_pos);
    gguf_w_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_w_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    gguf_w_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_w_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
    gguf_w_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    gguf_w_f32(w, "llama.rope.freq_base", c->rope_theta);
    gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    gguf_w_u32(w, "llama.vocab_size", (uint32_t)c->vocab_size);
    /* stop ids: llama.cpp's keys for the first eos, and kvlm's full list (the
     * tokenizer export writes the bos id) */
    if (c->bos_id >= 0 && !m->tokenizer) gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)c->bos_id);
    if (c->n_eos > 0) {
        gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)c->eos_ids[0]);
        gguf_w_arr_i32(w, "kvlm.stop_token_ids", c->eos_ids, (size_t)c->n_eos);
    }
    if (m->tokenizer) {
        int32_t eot = kvlm_token_id(m->tokenizer, "<|eot_id|>"), eom = kvlm_token_id(m->tokenizer, "<|eom_id|>");
        if (eot >= 0) gguf_w_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)eot);
        if (eom >= 0) gguf_w_u32(w, "tokenizer.ggml.eom_token_id", (uint32_t)eom);
    }
    if (c->gen_temperature > 0) gguf_w_f32(w, "general.sampling.temp", c->gen_temperature);
    if (c->gen_top_p > 0) gguf_w_f32(w, "general.sampling.top_p", c->gen_top_p);
}

kvlm_status model_convert_gguf(const kvlm_model *m, const char *out_path, const convert_options *o) {
    const kvlm_config *c = &m->cfg;
    uint32_t type = o->type;
    if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_BF16 && type != GGML_TYPE_Q8_0 &&
        type != GGML_TYPE_Q4_0)
        return kvlm_fail(KVLM_ERR_ARG, "convert: output type %s is not one kvlm writes (f32, f16, bf16, q8_0, q4_0)",
                         file_type_name(type));
    /* the embedding is read a row at a time, and for tied models it is also the
     * output head: Q4_0 files keep it in Q8_0 unless asked otherwise */
    uint32_t embed_type = o->embed_type >= 0 ? (uint32_t)o->embed_type : (type == GGML_TYPE_Q4_0 ? GGML_TYPE_Q8_0 : type);
    int n_max = 4 + 9 * c->n_layers;
    conv_tensor *t = calloc((size_t)n_max, sizeof *t);
    gguf_writer *w = gguf_writer_new();
    conv_ctx ctx = {.m = m, .t = t, .o = o};
    /* one row of the widest matrix, in FP32 and in the output type (FP32 is the largest) */
    size_t widest = (size_t)c->dim;
    if ((size_t)c->hidden_dim > widest) widest = (size_t)c->hidden_dim;
    if ((size_t)c->n_heads * (size_t)c->head_dim > widest) widest = (size_t)c->n_heads * (size_t)c->head_dim;
    ctx.row = malloc(sizeof(float) * widest);
    ctx.qbuf = malloc(sizeof(float) * widest);
    kvlm_status st = KVLM_OK;
    if (!t || !w || !ctx.row || !ctx.qbuf) st = kvlm_fail(KVLM_ERR_NOMEM, "convert: out of memory");
    float *rope_freqs = NULL;
    if (!st) {
        write_hparams(w, m, o);
        if (m->tokenizer) st = tokenizer_export_gguf(m->tokenizer, w);
    }
    if (!st && m->chat_template) gguf_w_str(w, "tokenizer.chat_template", m->chat_template);
    int n = 0;
    int permute = !m->rope_interleaved;
    char name[96];
/* A matrix whose rows are not a whole number of blocks of the asked type is
 * kept in F16, as llama.cpp's llama-quantize does (stories260K's FFN has
 * rows of 172); the tensor's type in the file says so. */
#define MATRIX(nm, weight, ty, perm)                                                      \
    do {                                                                                  \
        uint64_t ne[2] = {(uint64_t)(weight)->cols, (uint64_t)(weight)->rows};            \
        uint32_t ty_ = (ty);                                                              \
        if (ne[0] % ggml_type_get(ty_).block_elems) ty_ = GGML_TYPE_F16;                  \
        t[n] = (conv_tensor){.w = (weight), .type = ty_, .permute_heads = (perm)};        \
        if (gguf_w_tensor(w, nm, ty_, 2, ne) < 0) {                                       \
            st = kvlm_fail(KVLM_ERR_NOMEM, "convert: tensor '%s': out of memory", nm);    \
            break;                                                                        \
        }                                                                                 \
        n++;                                                                              \
    } while (0)
#define VECTOR(nm, ptr, len)                                                              \
    do {                                                                                  \
        uint64_t ne[1] = {(uint64_t)(len)};                                               \
        t[n] = (conv_tensor){.vec = (ptr), .vec_n = (len), .type = GGML_TYPE_F32};        \
        gguf_w_tensor(w, nm, GGML_TYPE_F32, 1, ne);                                       \
        n++;                                                                              \
    } while (0)
    if (!st) {
        MATRIX("token_embd.weight", &m->embed, embed_type, 0);
        if (c->rope_scaling == ROPE_SCALING_LLAMA3 && !st) {
            /* llama.cpp encodes Llama 3 scaling as per-frequency divisors of the base frequency */
            kvlm_config plain = *c;
            plain.rope_scaling = ROPE_SCALING_NONE;
            int half = c->head_dim / 2;
            rope_freqs = malloc(sizeof(float) * (size_t)half * 2);
            if (!rope_freqs) st = kvlm_fail(KVLM_ERR_NOMEM, "convert: out of memory");
            else {
                rope_inv_freq(&plain, rope_freqs + half);
                for (int i = 0; i < half; i++) rope_freqs[i] = rope_freqs[half + i] / m->inv_freq[i];
                VECTOR("rope_freqs.weight", rope_freqs, half);
            }
        }
    }
    if (!st) VECTOR("output_norm.weight", m->final_norm, c->dim);
    if (!st && !c->tied) MATRIX("output.weight", &m->output, type, 0);
    for (int l = 0; l < c->n_layers && !st; l++) {
        const kvlm_layer *L = &m->layers[l];
#define NM(s) (snprintf(name, sizeof name, "blk.%d.%s.weight", l, s), name)
        VECTOR(NM("attn_norm"), L->attn_norm, c->dim);
        MATRIX(NM("attn_q"), &L->wq, type, permute);
        if (!st) MATRIX(NM("attn_k"), &L->wk, type, permute);
        if (!st) MATRIX(NM("attn_v"), &L->wv, type, 0);
        if (!st) MATRIX(NM("attn_output"), &L->wo, type, 0);
        if (!st) VECTOR(NM("ffn_norm"), L->ffn_norm, c->dim);
        if (!st) MATRIX(NM("ffn_gate"), &L->w_gate, type, 0);
        if (!st) MATRIX(NM("ffn_up"), &L->w_up, type, 0);
        if (!st) MATRIX(NM("ffn_down"), &L->w_down, type, 0);
#undef NM
    }
#undef MATRIX
#undef VECTOR
    ctx.n = n;
    if (!st) st = gguf_writer_write(w, out_path, write_tensor, progress, &ctx);
    free(rope_freqs);
    free(ctx.row);
    free(ctx.qbuf);
    free(t);
    gguf_writer_free(w);
    return st;
}

static int type_from_name(const char *s, uint32_t *out) {
    static const struct {
        const char *name;
        uint32_t type;
    } t[] = {{"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16},
             {"q8_0", GGML_TYPE_Q8_0}, {"q4_0", GGML_TYPE_Q4_0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].name)) {
            *out = t[i].type;
            return 1;
        }
    return 0;
}

kvlm_status kvlm_convert(const char *src, const char *dst, const kvlm_convert_options *opts) {
    kvlm_convert_options o = {0};
    if (opts) o = *opts;
    if (!src || !dst) return kvlm_fail(KVLM_ERR_ARG, "kvlm_convert: source and destination are needed");
    uint32_t type = GGML_TYPE_BF16, embed = 0;
    if (o.type && !type_from_name(o.type, &type))
        return kvlm_fail(KVLM_ERR_ARG, "unknown type '%s' (choose bf16, f16, f32, q8_0 or q4_0)", o.type);
    if (o.embed_type && !type_from_name(o.embed_type, &embed))
        return kvlm_fail(KVLM_ERR_ARG, "unknown embedding type '%s' (choose bf16, f16, f32, q8_0 or q4_0)", o.embed_type);
    kvlm_model_options mo = {.n_threads = 1, .kernels = KVLM_KERNELS_SCALAR, .tokenizer_path = o.tokenizer_path};
    kvlm_model *m = kvlm_model_open(src, &mo);
    if (!m) return KVLM_ERR_FORMAT;
    const char *name = o.name;
    if (!name) {
        size_t n = strlen(src);
        while (n > 1 && src[n - 1] == '/') n--;
        const char *slash = memrchr(src, '/', n - 1);
        name = slash ? slash + 1 : src;
    }
    char nm[256];
    snprintf(nm, sizeof nm, "%s", name);
    char *trail = nm + strlen(nm);
    while (trail > nm && trail[-1] == '/') *--trail = 0;
    convert_options co = {.type = type, .embed_type = o.embed_type ? (int64_t)embed : -1, .name = nm,
                          .progress = o.progress, .progress_ctx = o.progress_ctx};
    kvlm_status st = model_convert_gguf(m, dst, &co);
    kvlm_model_free(m);
    return st;
}
