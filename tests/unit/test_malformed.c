/* A corpus of malformed models, one per failure mode: each must be rejected
 * with a message naming the file and the problem, without crashing or
 * reading out of bounds (this test also runs under ASan + UBSan). The
 * corpus is made here from a small valid model (HF folder, its GGUF, and a
 * llama2.c checkpoint) by targeted edits. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mapped_file.h"
#include "format/ggml_types.h"
#include "format/gguf.h"
#include "format/safetensors_write.h"
#include "model/convert.h"
#include "test_util.h"

static char *work;
static int n_cases;

static char *wpath(const char *name) {
    size_t n = strlen(work) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", work, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fwrite(data, 1, n, f);
    fclose(f);
}

static void expect_reject(const char *path, const char *what) {
    n_cases++;
    kvlm_model_options mo = {.n_threads = 1};
    kvlm_model *m = kvlm_model_open(path, &mo);
    CHECK_MSG(m == NULL, "%s was accepted (expected: %s)", path, what);
    if (m) {
        kvlm_model_free(m);
        return;
    }
    const char *err = kvlm_last_error();
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    CHECK_MSG(strstr(err, base) != NULL, "message does not name the file %s: %s", base, err);
    CHECK_MSG(strstr(err, what) != NULL, "for %s expected '%s' in: %s", base, what, err);
}

/* ------------------------------------------------------------ HF folders */

static const char *tiny_config =
    "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"intermediate_size\": 96, \"vocab_size\": 256, \"rms_norm_eps\": 1e-5,"
    " \"rope_theta\": 10000.0, \"tie_word_embeddings\": true, \"max_position_embeddings\": 256}";

/* The tiny model's tensors; `skip` leaves one out, `bad_shape` changes one. */
static void write_tiny_safetensors(const char *path, const char *skip, const char *bad_shape, const char *dtype) {
    st_write_tensor t[32];
    static char names[32][64];
    int n = 0;
#define T(nm, r, c)                                                                       \
    do {                                                                                  \
        snprintf(names[n], 64, "%s", nm);                                                 \
        if (skip && !strcmp(names[n], skip)) break;                                       \
        t[n] = (st_write_tensor){names[n], dtype, (c) ? 2 : 1, {(r), (c), 0, 0}};           \
        if (bad_shape && !strcmp(names[n], bad_shape)) t[n].shape[0] += 1;                \
        n++;                                                                              \
    } while (0)
    T("model.embed_tokens.weight", 256, 64);
    char nm[64];
    for (int l = 0; l < 2; l++) {
#define L(s) (snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, s), nm)
        T(L("input_layernorm"), 64, 0);
        T(L("self_attn.q_proj"), 64, 64);
        T(L("self_attn.k_proj"), 32, 64);
        T(L("self_attn.v_proj"), 32, 64);
        T(L("self_attn.o_proj"), 64, 64);
        T(L("post_attention_layernorm"), 64, 0);
        T(L("mlp.gate_proj"), 96, 64);
        T(L("mlp.up_proj"), 96, 64);
        T(L("mlp.down_proj"), 64, 96);
#undef L
    }
    T("model.norm.weight", 64, 0);
#undef T
    FILE *f = fopen(path, "wb");
    CHECK(st_write_header(f, path, t, n) == KVLM_OK);
    for (int i = 0; i < n; i++) {
        uint64_t b = st_tensor_bytes(&t[i]);
        for (uint64_t k = 0; k < b; k++) fputc((int)((k * 37 + (uint64_t)i) & 0x3f), f); /* small finite values */
    }
    fclose(f);
}

static char *make_folder(const char *name, const char *config, const char *skip, const char *bad_shape,
                         const char *dtype) {
    char *dir = wpath(name);
    mkdir(dir, 0755);
    char *cfg = path_join(dir, "config.json"), *st = path_join(dir, "model.safetensors");
    if (config) write_bytes(cfg, config, strlen(config));
    else remove(cfg);
    write_tiny_safetensors(st, skip, bad_shape, dtype);
    free(cfg);
    free(st);
    return dir;
}

static char *config_with(const char *from, const char *to) {
    const char *at = strstr(tiny_config, from);
    size_t n = strlen(tiny_config) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - tiny_config), tiny_config, to, at + strlen(from));
    return s;
}

/* Replaces model.safetensors of dir with bytes produced from the valid one. */
static void rewrite_st(const char *dir, void (*edit)(uint8_t *, size_t *)) {
    char *st = path_join(dir, "model.safetensors");
    size_t n;
    char *buf = test_read_file(st, &n);
    uint8_t *b = malloc(n + 64);
    memcpy(b, buf, n);
    edit(b, &n);
    write_bytes(st, b, n);
    free(b);
    free(buf);
    free(st);
}

static uint64_t hdr_len(const uint8_t *b) {
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)b[i] << (8 * i);
    return h;
}

static void edit_truncate_5(uint8_t *b, size_t *n) { (void)b; *n = 5; }
static void edit_hlen_past_end(uint8_t *b, size_t *n) {
    uint64_t h = (uint64_t)*n;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(h >> (8 * i));
}
static void edit_not_json(uint8_t *b, size_t *n) { (void)n; b[8] = 'X'; }
static void edit_bad_json(uint8_t *b, size_t *n) { (void)n; b[8 + hdr_len(b) / 2] = '{'; }
static void edit_drop_tail(uint8_t *b, size_t *n) { (void)b; *n -= 100; }
/* rewrites the first "data_offsets":[0,N] of the header to [0,N+8] (same width) */
static void replace_in_header(uint8_t *b, const char *from, const char *to) {
    char *h = (char *)b + 8;
    size_t hl = (size_t)hdr_len(b);
    char *at = memmem(h, hl, from, strlen(from));
    if (at && strlen(from) == strlen(to)) memcpy(at, to, strlen(to));
}
static void edit_unknown_dtype(uint8_t *b, size_t *n) { (void)n; replace_in_header(b, "\"BF16\"", "\"XF16\""); }
static void edit_int_dtype(uint8_t *b, size_t *n) { (void)n; replace_in_header(b, "\"dtype\":\"BF16\"", "\"dtype\":\"I16\" "); }
/* the embedding's 2nd offset claims 32768 more bytes than the shape needs: overlap with the next */
static void edit_overlap(uint8_t *b, size_t *n) { (void)n; replace_in_header(b, "[0,32768]", "[0,32770]"); }
static void edit_size_mismatch(uint8_t *b, size_t *n) { (void)n; replace_in_header(b, "[0,32768]", "[2,32768]"); }

static void hf_cases(void) {
    char *d;
    d = make_folder("hf-missing-config", NULL, NULL, NULL, "BF16");
    expect_reject(d, "config.json: missing");
    free(d);
    d = make_folder("hf-config-not-json", "{\"model_type\": ", NULL, NULL, "BF16");
    expect_reject(d, "invalid JSON");
    free(d);
    char *c = config_with("\"hidden_size\": 64, ", "");
    d = make_folder("hf-config-no-hidden", c, NULL, NULL, "BF16");
    expect_reject(d, "missing field 'hidden_size'");
    free(c);
    free(d);
    c = config_with("\"num_hidden_layers\": 2", "\"num_hidden_layers\": \"2\"");
    d = make_folder("hf-config-wrong-type", c, NULL, NULL, "BF16");
    expect_reject(d, "'num_hidden_layers' is not an integer");
    free(c);
    free(d);
    c = config_with("\"llama\"", "\"gpt2\"");
    d = make_folder("hf-config-arch", c, NULL, NULL, "BF16");
    expect_reject(d, "model_type 'gpt2' is not supported");
    free(c);
    free(d);
    c = config_with("\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}");
    d = make_folder("hf-config-rope", c, NULL, NULL, "BF16");
    expect_reject(d, "rope_scaling type 'yarn' is not supported");
    free(c);
    free(d);
    c = config_with("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
    d = make_folder("hf-config-gqa", c, NULL, NULL, "BF16");
    expect_reject(d, "not a multiple of num_key_value_heads");
    free(c);
    free(d);
    d = make_folder("hf-missing-tensor", tiny_config, "model.layers.1.mlp.up_proj.weight", NULL, "BF16");
    expect_reject(d, "tensor 'model.layers.1.mlp.up_proj.weight' is missing");
    free(d);
    d = make_folder("hf-wrong-shape", tiny_config, NULL, "model.layers.0.self_attn.k_proj.weight", "BF16");
    expect_reject(d, "the config implies [32, 64]");
    free(d);
    struct {
        const char *name;
        void (*edit)(uint8_t *, size_t *);
        const char *what;
    } st_cases[] = {
        {"st-truncated", edit_truncate_5, "truncated"},
        {"st-header-past-end", edit_hlen_past_end, "header length"},
        {"st-bad-magic", edit_not_json, "bad magic"},
        {"st-bad-json", edit_bad_json, "header JSON"},
        {"st-data-past-end", edit_drop_tail, "runs past the end of the file"},
        {"st-unknown-dtype", edit_unknown_dtype, "unknown dtype 'XF16'"},
        {"st-int-dtype", edit_int_dtype, "dtype I16"},
        {"st-overlap", edit_overlap, "overlap"},
        {"st-size-mismatch", edit_size_mismatch, "shape and dtype BF16 need"},
    };
    for (size_t i = 0; i < sizeof st_cases / sizeof st_cases[0]; i++) {
        d = make_folder(st_cases[i].name, tiny_config, NULL, NULL, "BF16");
        rewrite_st(d, st_cases[i].edit);
        char *st = path_join(d, "model.safetensors");
        n_cases++;
        kvlm_model *m = kvlm_model_open(d, NULL);
        CHECK_MSG(m == NULL, "%s accepted", st_cases[i].name);
        if (m) kvlm_model_free(m);
        CHECK_MSG(strstr(kvlm_last_error(), "model.safetensors") && strstr(kvlm_last_error(), st_cases[i].what),
                  "%s: expected '%s' in: %s", st_cases[i].name, st_cases[i].what, kvlm_last_error());
        free(st);
        free(d);
    }
}

/* ------------------------------------------------------------------ GGUF */

static uint8_t *valid_gguf;
static size_t valid_gguf_n;

static void gguf_put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void gguf_put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets (in the valid file) of a tensor info's fields. */
typedef struct {
    size_t name_len_at, n_dims_at, dims_at, type_at, offset_at;
} tinfo_pos;

static tinfo_pos tensor_pos(const char *name) {
    gguf_file g;
    memset(&g, 0, sizeof g);
    tinfo_pos p = {0};
    if (gguf_parse(&g, valid_gguf, valid_gguf_n, "valid") != KVLM_OK) return p;
    const gguf_tensor *t = gguf_find_tensor(&g, name);
    if (t) {
        size_t name_at = (size_t)((const uint8_t *)t->name.ptr - valid_gguf);
        p.name_len_at = name_at - 8;
        p.n_dims_at = name_at + (size_t)t->name.len;
        p.dims_at = p.n_dims_at + 4;
        p.type_at = p.dims_at + 8 * t->n_dims;
        p.offset_at = p.type_at + 4;
    }
    gguf_close(&g);
    return p;
}

/* Offset of a metadata entry's value (after its type). */
static size_t kv_value_pos(const char *key, size_t *type_at) {
    gguf_file g;
    memset(&g, 0, sizeof g);
    size_t at = 0;
    if (gguf_parse(&g, valid_gguf, valid_gguf_n, "valid") == KVLM_OK) {
        const gguf_kv *kv = gguf_find(&g, key);
        if (kv) {
            *type_at = (size_t)((const uint8_t *)kv->key.ptr - valid_gguf) + (size_t)kv->key.len;
            at = *type_at + 4;
        }
    }
    gguf_close(&g);
    return at;
}

static void gguf_case(const char *name, void (*edit)(uint8_t *, size_t *), const char *what) {
    uint8_t *b = malloc(valid_gguf_n + 64);
    memcpy(b, valid_gguf, valid_gguf_n);
    size_t n = valid_gguf_n;
    edit(b, &n);
    char *p = wpath(name);
    write_bytes(p, b, n);
    expect_reject(p, what);
    free(p);
    free(b);
}

static void g_magic(uint8_t *b, size_t *n) { (void)n; b[0] = 'X'; }
static void g_trunc_header(uint8_t *b, size_t *n) { (void)b; *n = 20; }
static void g_trunc_kv(uint8_t *b, size_t *n) { (void)b; *n = 200; }
static void g_version(uint8_t *b, size_t *n) { (void)n; gguf_put32(b + 4, 9); }
static void g_count_overflow(uint8_t *b, size_t *n) { (void)n; gguf_put64(b + 8, 0x0fffffffffffffffull); }
static void g_kv_count_overflow(uint8_t *b, size_t *n) { (void)n; gguf_put64(b + 16, 0xffffffffffffffffull); }
static void g_str_past_end(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put64(b + 24, 0x7fffffffffffull); /* the first key's length */
}
static void g_kv_type(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    kv_value_pos("llama.block_count", &type_at);
    gguf_put32(b + type_at, 77);
}
static void g_arch(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0, at = kv_value_pos("general.architecture", &type_at);
    memcpy(b + at + 8, "qwen2", 5); /* same length as "llama" */
}
static void g_missing_key(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    kv_value_pos("llama.embedding_length", &type_at);
    memcpy(b + type_at - 6, "lengtX", 6); /* renames the key */
}
static void g_wrong_key_type(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    kv_value_pos("llama.attention.layer_norm_rms_epsilon", &type_at);
    gguf_put32(b + type_at, GGUF_TYPE_UINT32); /* same 4-byte size as FLOAT32 */
}
static void g_tensor_type(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put32(b + tensor_pos("blk.0.attn_q.weight").type_at, 99);
}
static void g_tensor_past_end(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put64(b + tensor_pos("output_norm.weight").offset_at, (uint64_t)valid_gguf_n);
}
static void g_tensor_misaligned(uint8_t *b, size_t *n) {
    (void)n;
    size_t at = tensor_pos("blk.1.ffn_up.weight").offset_at;
    uint64_t off = 0;
    for (int i = 0; i < 8; i++) off |= (uint64_t)b[at + i] << (8 * i);
    gguf_put64(b + at, off + 2);
}
static void g_tensor_overlap(uint8_t *b, size_t *n) {
    (void)n;
    size_t a = tensor_pos("blk.0.attn_k.weight").offset_at, c = tensor_pos("blk.0.attn_v.weight").offset_at;
    memcpy(b + c, b + a, 8);
}
static void g_tensor_shape(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put64(b + tensor_pos("blk.0.ffn_gate.weight").dims_at + 8, 64); /* 96 rows -> 64 */
}
static void g_tensor_dims(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put32(b + tensor_pos("blk.0.attn_norm.weight").n_dims_at, 7);
}
static void g_tensor_dup(uint8_t *b, size_t *n) {
    (void)n;
    tinfo_pos p = tensor_pos("blk.0.attn_v.weight");
    b[p.n_dims_at - 8] = 'k'; /* "blk.0.attn_v.weight" -> "blk.0.attn_k.weight" */
}
static void g_truncated_data(uint8_t *b, size_t *n) { (void)b; *n -= 64; }

/* --- more GGUF failure modes (found while fuzzing, and for K-quant files) --- */

static void g_eps_nan(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0, at = kv_value_pos("llama.attention.layer_norm_rms_epsilon", &type_at);
    gguf_put32(b + at, 0x7fc00000u);
}
static void g_theta_inf(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0, at = kv_value_pos("llama.rope.freq_base", &type_at);
    gguf_put32(b + at, 0x7f800000u);
}
/* renames general.file_type (17 characters) to another 17-character key */
static void rename_file_type(uint8_t *b, const char *to, uint32_t value) {
    size_t type_at = 0, at = kv_value_pos("general.file_type", &type_at);
    memcpy(b + type_at - 17, to, 17);
    gguf_put32(b + at, value);
}
static void g_alignment(uint8_t *b, size_t *n) { (void)n; rename_file_type(b, "general.alignment", 48); }
static void g_dup_key(uint8_t *b, size_t *n) { (void)n; rename_file_type(b, "llama.block_count", 2); }
static void g_zero_dim(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put64(b + tensor_pos("blk.1.attn_v.weight").dims_at, 0);
}
static void g_dim_overflow(uint8_t *b, size_t *n) {
    (void)n;
    tinfo_pos p = tensor_pos("blk.0.ffn_up.weight");
    gguf_put64(b + p.dims_at, 1ull << 40);
    gguf_put64(b + p.dims_at + 8, 1ull << 40);
}
static void g_offset_huge2(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put64(b + tensor_pos("blk.0.attn_output.weight").offset_at, 0xffffffffffffffe0ull);
}
static void g_kquant_row(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put32(b + tensor_pos("blk.0.attn_q.weight").type_at, GGML_TYPE_Q4_K);
}
static void g_no_kernel(uint8_t *b, size_t *n) {
    (void)n;
    gguf_put32(b + tensor_pos("token_embd.weight").type_at, GGML_TYPE_Q8_1);
}
static void g_vocab_key(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    gguf_put32(b + kv_value_pos("llama.vocab_size", &type_at), 1000);
}
static void g_kv_heads(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    gguf_put32(b + kv_value_pos("llama.attention.head_count_kv", &type_at), 3);
}
static void g_zero_heads(uint8_t *b, size_t *n) {
    (void)n;
    size_t type_at = 0;
    gguf_put32(b + kv_value_pos("llama.attention.head_count", &type_at), 0);
}

/* A metadata entry (key, type, raw value bytes) inserted after the last one:
 * the tensor infos move, and the data section moves to the next aligned offset. */
static void gguf_insert_case(const char *name, const char *key, uint32_t type, const void *val, size_t val_len,
                             const char *what, void (*edit)(uint8_t *)) {
    gguf_file g;
    memset(&g, 0, sizeof g);
    if (gguf_parse(&g, valid_gguf, valid_gguf_n, "valid") != KVLM_OK) return;
    size_t at = (size_t)((const uint8_t *)g.tensors[0].name.ptr - valid_gguf) - 8; /* the first tensor info */
    size_t old_doff = (size_t)g.data_offset;
    gguf_close(&g);
    size_t klen = strlen(key), add = 8 + klen + 4 + val_len;
    size_t new_doff = (old_doff + add + 31) / 32 * 32, n = new_doff + (valid_gguf_n - old_doff);
    uint8_t *b = calloc(1, n);
    memcpy(b, valid_gguf, at);
    uint8_t *p = b + at;
    gguf_put64(p, klen);
    memcpy(p + 8, key, klen);
    gguf_put32(p + 8 + klen, type);
    memcpy(p + 12 + klen, val, val_len);
    memcpy(b + at + add, valid_gguf + at, old_doff - at); /* tensor infos and padding */
    memcpy(b + new_doff, valid_gguf + old_doff, valid_gguf_n - old_doff);
    uint64_t n_kv = 0;
    for (int i = 0; i < 8; i++) n_kv |= (uint64_t)b[16 + i] << (8 * i);
    gguf_put64(b + 16, n_kv + 1);
    if (edit) edit(b); /* the header before the new entry is where it was */
    char *path = wpath(name);
    write_bytes(path, b, n);
    expect_reject(path, what);
    free(path);
    free(b);
}

/* renames the file's own llama.rope.freq_base so that an inserted one is the only one */
static void hide_freq_base(uint8_t *b) {
    size_t type_at = 0;
    kv_value_pos("llama.rope.freq_base", &type_at);
    b[type_at - 20] = 'x';
}

static void gguf_insert_cases(void) {
    uint8_t v[64];
    /* an int32 array whose length runs past the end */
    gguf_put32(v, GGUF_TYPE_INT32);
    gguf_put64(v + 4, 1ull << 61);
    gguf_insert_case("gguf-array-past-end.gguf", "kvlm.stop_token_ids", GGUF_TYPE_ARRAY, v, 12,
                     "runs past the end of the file", NULL);
    /* an array of strings whose count runs past the end */
    gguf_put32(v, GGUF_TYPE_STRING);
    gguf_put64(v + 4, 1ull << 40);
    gguf_insert_case("gguf-string-array-past-end.gguf", "tokenizer.ggml.tokens", GGUF_TYPE_ARRAY, v, 12, "strings",
                     NULL);
    /* one string of the array whose length runs past the end */
    gguf_put32(v, GGUF_TYPE_STRING);
    gguf_put64(v + 4, 2);
    gguf_put64(v + 12, 1);
    v[20] = 'a';
    gguf_put64(v + 21, 0x7fffffffffffull);
    gguf_insert_case("gguf-array-string-past-end.gguf", "tokenizer.ggml.tokens", GGUF_TYPE_ARRAY, v, 29, "element 1",
                     NULL);
    /* arrays of arrays */
    gguf_put32(v, GGUF_TYPE_ARRAY);
    gguf_put64(v + 4, 0);
    gguf_insert_case("gguf-nested-array.gguf", "kvlm.stop_token_ids", GGUF_TYPE_ARRAY, v, 12,
                     "unsupported array element type 9", NULL);
    /* a tokenizer model without its tokens */
    gguf_put64(v, 4);
    memcpy(v + 8, "gpt2", 4);
    gguf_insert_case("gguf-tokenizer-no-tokens.gguf", "tokenizer.ggml.model", GGUF_TYPE_STRING, v, 12,
                     "tokenizer.ggml.tokens", NULL);
    /* a float64 beyond float's range */
    double big = 1e300;
    memcpy(v, &big, 8);
    gguf_insert_case("gguf-float64-range.gguf", "llama.rope.freq_base", GGUF_TYPE_FLOAT64, v, 8,
                     "'llama.rope.freq_base' = 1e+300 is out of range", hide_freq_base);
    /* general.alignment of another type */
    gguf_put64(v, 32);
    gguf_insert_case("gguf-alignment-type.gguf", "general.alignment", GGUF_TYPE_UINT64, v, 8, "power-of-two uint32",
                     NULL);
}

static void gguf_cases(void) {
    /* the valid GGUF of the tiny model */
    char *dir = make_folder("hf-valid", tiny_config, NULL, NULL, "BF16");
    kvlm_model *m = kvlm_model_open(dir, NULL);
    CHECK_MSG(m != NULL, "the valid tiny model: %s", kvlm_last_error());
    if (!m) return;
    char *gp = wpath("valid.gguf");
    convert_options co = {.type = GGML_TYPE_BF16, .embed_type = -1};
    CHECK(model_convert_gguf(m, gp, &co) == KVLM_OK);
    kvlm_model_free(m);
    valid_gguf = (uint8_t *)test_read_file(gp, &valid_gguf_n);
    kvlm_model *ok = kvlm_model_open(gp, NULL);
    CHECK_MSG(ok != NULL, "the valid GGUF: %s", kvlm_last_error());
    kvlm_model_free(ok);
    gguf_case("gguf-bad-magic.gguf", g_magic, "bad magic");
    gguf_case("gguf-truncated-header.gguf", g_trunc_header, "truncated");
    gguf_case("gguf-truncated-metadata.gguf", g_trunc_kv, "truncated");
    gguf_case("gguf-version.gguf", g_version, "GGUF version 9");
    gguf_case("gguf-tensor-count-overflow.gguf", g_count_overflow, "exceed the file size");
    gguf_case("gguf-kv-count-overflow.gguf", g_kv_count_overflow, "exceed the file size");
    gguf_case("gguf-string-past-end.gguf", g_str_past_end, "truncated");
    gguf_case("gguf-unknown-value-type.gguf", g_kv_type, "unknown value type 77");
    gguf_case("gguf-architecture.gguf", g_arch, "architecture 'qwen2' is not supported");
    gguf_case("gguf-missing-key.gguf", g_missing_key, "missing metadata key 'llama.embedding_length'");
    gguf_case("gguf-wrong-key-type.gguf", g_wrong_key_type, "is not a float");
    gguf_case("gguf-unknown-tensor-type.gguf", g_tensor_type, "unknown tensor type 99");
    gguf_case("gguf-tensor-past-end.gguf", g_tensor_past_end, "runs past the end of the file");
    gguf_case("gguf-tensor-misaligned.gguf", g_tensor_misaligned, "is not aligned");
    gguf_case("gguf-tensor-overlap.gguf", g_tensor_overlap, "overlap");
    gguf_case("gguf-tensor-shape.gguf", g_tensor_shape, "the config implies [96, 64]");
    gguf_case("gguf-tensor-dims.gguf", g_tensor_dims, "7 dimensions");
    gguf_case("gguf-duplicate-tensor.gguf", g_tensor_dup, "appears twice");
    gguf_case("gguf-truncated-data.gguf", g_truncated_data, "runs past the end of the file");
    gguf_case("gguf-eps-nan.gguf", g_eps_nan, "rms_norm_eps nan is out of range");
    gguf_case("gguf-theta-inf.gguf", g_theta_inf, "'llama.rope.freq_base' = inf is out of range");
    gguf_case("gguf-alignment.gguf", g_alignment, "general.alignment must be a power-of-two");
    gguf_case("gguf-duplicate-key.gguf", g_dup_key, "metadata key 'llama.block_count' appears twice");
    gguf_case("gguf-zero-dimension.gguf", g_zero_dim, "dimension 0 = 0 is zero or too large");
    gguf_case("gguf-dimension-overflow.gguf", g_dim_overflow, "is zero or too large");
    gguf_case("gguf-offset-huge.gguf", g_offset_huge2, "runs past the end of the file");
    gguf_case("gguf-kquant-row.gguf", g_kquant_row, "row length 64 is not a multiple of the q4_K block size 256");
    gguf_case("gguf-no-kernel.gguf", g_no_kernel, "type q8_1 has no kernel");
    gguf_case("gguf-vocab-size.gguf", g_vocab_key, "the config implies [1000, 64]");
    gguf_case("gguf-kv-heads.gguf", g_kv_heads, "not a multiple of num_key_value_heads 3");
    gguf_case("gguf-zero-heads.gguf", g_zero_heads, "num_attention_heads = 0 is out of range");
    gguf_insert_cases();
    free(gp);
    free(dir);
}

/* -------------------------------------------------------------- llama2.c */

static void llama2c_cases(void) {
    int32_t hdr[7] = {64, 96, 2, 4, 2, 256, 128};
    char *p = wpath("l2c-truncated.bin");
    write_bytes(p, hdr, 12);
    expect_reject(p, "truncated");
    free(p);
    p = wpath("l2c-size.bin");
    write_bytes(p, hdr, sizeof hdr); /* header only: no weights */
    expect_reject(p, "implies");
    free(p);
    int32_t zero[7] = {0, 96, 2, 4, 2, 256, 128};
    p = wpath("l2c-nonsense.bin");
    write_bytes(p, zero, sizeof zero);
    expect_reject(p, "not a llama2.c checkpoint");
    free(p);
    p = wpath("l2c-q80.bin");
    write_bytes(p, "ak42\2\0\0\0", 8);
    expect_reject(p, "int8 export");
    free(p);
    p = wpath("does-not-exist.gguf");
    expect_reject(p, "cannot open");
    free(p);
    p = wpath("empty.bin");
    write_bytes(p, "", 0);
    expect_reject(p, "truncated");
    free(p);
}

int main(void) {
    work = test_work_path("malformed");
    mkdir(work, 0755);
    hf_cases();
    gguf_cases();
    llama2c_cases();
    printf("%d malformed inputs rejected cleanly\n", n_cases);
    CHECK(n_cases >= 20);
    free(valid_gguf);
    free(work);
    return test_finish();
}
