/* Tokenizers embedded in GGUF files, written by this test with a small GGUF
 * writer: the Llama 3 vocabulary and merges taken from tokenizer.json
 * (model "gpt2", pre "llama-bpe") must encode and decode exactly as the
 * tokenizer.json does; tok512.bin's pieces as a SentencePiece "llama" model
 * must encode as llama2.c does. tokenizer_export_gguf (for kvlm convert)
 * writes keys that read back to the same encoding. Plus malformed keys. */
#include <jansson.h>
#include <string.h>

#include "format/gguf_write.h"
#include "model/convert.h"
#include "test_util.h"
#include "text/tokenizer.h"

/* ------------------------------------------------------------ GGUF writer */

typedef struct {
    FILE *f;
    int n_kv;
} gw;

static void w_u32(gw *w, uint32_t v) { fwrite(&v, 4, 1, w->f); }
static void w_u64(gw *w, uint64_t v) { fwrite(&v, 8, 1, w->f); }
static void w_str(gw *w, const char *s, size_t n) {
    w_u64(w, n);
    fwrite(s, 1, n, w->f);
}
static void w_key(gw *w, const char *key, uint32_t type) {
    w_str(w, key, strlen(key));
    w_u32(w, type);
    w->n_kv++;
}
static void kv_str(gw *w, const char *key, const char *v) {
    w_key(w, key, 8);
    w_str(w, v, strlen(v));
}
static void kv_u32(gw *w, const char *key, uint32_t v) {
    w_key(w, key, 4);
    w_u32(w, v);
}
static void kv_bool(gw *w, const char *key, int v) {
    w_key(w, key, 7);
    fputc(v ? 1 : 0, w->f);
}
static void kv_strs(gw *w, const char *key, char **s, const size_t *len, size_t n) {
    w_key(w, key, 9);
    w_u32(w, 8);
    w_u64(w, n);
    for (size_t i = 0; i < n; i++) w_str(w, s[i], len[i]);
}
static void kv_i32s(gw *w, const char *key, const int32_t *v, size_t n) {
    w_key(w, key, 9);
    w_u32(w, 5);
    w_u64(w, n);
    fwrite(v, 4, n, w->f);
}
static void kv_f32s(gw *w, const char *key, const float *v, size_t n) {
    w_key(w, key, 9);
    w_u32(w, 6);
    w_u64(w, n);
    fwrite(v, 4, n, w->f);
}
/* The header is written last, with the count of what was added. */
static int gw_open(gw *w, const char *path) {
    w->f = fopen(path, "wb");
    w->n_kv = 0;
    if (!w->f) return 0;
    fwrite("GGUF", 1, 4, w->f);
    w_u32(w, 3);
    w_u64(w, 0); /* tensors */
    w_u64(w, 0); /* metadata count, patched */
    return 1;
}
static void gw_close(gw *w) {
    fseek(w->f, 16, SEEK_SET);
    w_u64(w, (uint64_t)w->n_kv);
    fclose(w->f);
}

/* -------------------------------------------------------- Llama 3 (gpt2) */

typedef struct {
    char **s;
    size_t *len;
    int32_t *type;
    size_t n;
    char **merges;
    size_t *mlen;
    size_t n_merges;
} vocab;

static void vocab_free(vocab *v) {
    for (size_t i = 0; i < v->n; i++) free(v->s[i]);
    for (size_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->s);
    free(v->len);
    free(v->type);
    free(v->merges);
    free(v->mlen);
}

static int read_llama3_vocab(const char *path, vocab *v) {
    json_t *root = json_load_file(path, 0, NULL);
    if (!root) return 0;
    json_t *jv = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *jm = json_object_get(json_object_get(root, "model"), "merges");
    json_t *ja = json_object_get(root, "added_tokens");
    v->n = json_object_size(jv) + json_array_size(ja);
    v->s = calloc(v->n, sizeof *v->s);
    v->len = calloc(v->n, sizeof *v->len);
    v->type = calloc(v->n, sizeof *v->type);
    const char *k;
    json_t *val;
    json_object_foreach(jv, k, val) {
        size_t id = (size_t)json_integer_value(val);
        v->s[id] = strdup(k);
        v->len[id] = strlen(k);
        v->type[id] = 1;
    }
    for (size_t i = 0; i < json_array_size(ja); i++) {
        json_t *a = json_array_get(ja, i);
        size_t id = (size_t)json_integer_value(json_object_get(a, "id"));
        v->s[id] = strdup(json_string_value(json_object_get(a, "content")));
        v->len[id] = strlen(v->s[id]);
        v->type[id] = json_is_true(json_object_get(a, "special")) ? 3 : 4;
    }
    v->n_merges = json_array_size(jm);
    v->merges = calloc(v->n_merges, sizeof *v->merges);
    v->mlen = calloc(v->n_merges, sizeof *v->mlen);
    for (size_t i = 0; i < v->n_merges; i++) {
        json_t *m = json_array_get(jm, i);
        if (json_is_string(m)) {
            v->merges[i] = strdup(json_string_value(m));
        } else { /* ["a", "b"] */
            const char *a = json_string_value(json_array_get(m, 0)), *b = json_string_value(json_array_get(m, 1));
            v->merges[i] = malloc(strlen(a) + strlen(b) + 2);
            sprintf(v->merges[i], "%s %s", a, b);
        }
        v->mlen[i] = strlen(v->merges[i]);
    }
    json_decref(root);
    return 1;
}

static void same_encoding(kvlm_tokenizer *a, kvlm_tokenizer *b, const char *text, size_t len, int flags,
                          const char *label) {
    int na = kvlm_tokenize(a, text, len, flags, NULL, 0), nb = kvlm_tokenize(b, text, len, flags, NULL, 0);
    CHECK_MSG(na >= 0 && na == nb, "%s: %d vs %d ids for \"%.40s\"", label, na, nb, text);
    if (na < 0 || na != nb) return;
    int32_t *ia = malloc(((size_t)na + 1) * sizeof *ia), *ib = malloc(((size_t)nb + 1) * sizeof *ib);
    kvlm_tokenize(a, text, len, flags, ia, na);
    kvlm_tokenize(b, text, len, flags, ib, nb);
    CHECK_MSG(memcmp(ia, ib, (size_t)na * sizeof *ia) == 0, "%s: ids differ for \"%.40s\"", label, text);
    char *da = malloc(len * 2 + 64), *db = malloc(len * 2 + 64);
    long la = kvlm_detokenize(a, ia, na, da, len * 2 + 64), lb = kvlm_detokenize(b, ib, nb, db, len * 2 + 64);
    CHECK_MSG(la == lb && la >= 0 && memcmp(da, db, (size_t)la) == 0, "%s: decodings differ for \"%.40s\"", label, text);
    free(ia);
    free(ib);
    free(da);
    free(db);
}

static void test_llama3_gguf(void) {
    char *json_path = test_shared_path("llama-3.2-1b-instruct/tokenizer.json");
    char *cases_path = test_shared_path("tokenizer-tests/llama3-cases.jsonl");
    char *chat_path = test_shared_path("tokenizer-tests/llama3.2-chat-cases.jsonl");
    char *gguf_path = test_work_path("llama3-tokenizer.gguf"), *gguf_gpt2 = test_work_path("llama3-gpt2-pre.gguf");
    vocab v = {0};
    CHECK(read_llama3_vocab(json_path, &v));
    gw w;
    CHECK(gw_open(&w, gguf_path));
    kv_str(&w, "general.architecture", "llama");
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_str(&w, "tokenizer.ggml.pre", "llama-bpe");
    kv_strs(&w, "tokenizer.ggml.tokens", v.s, v.len, v.n);
    kv_i32s(&w, "tokenizer.ggml.token_type", v.type, v.n);
    kv_strs(&w, "tokenizer.ggml.merges", v.merges, v.mlen, v.n_merges);
    kv_u32(&w, "tokenizer.ggml.bos_token_id", 128000);
    kv_u32(&w, "tokenizer.ggml.eos_token_id", 128009);
    gw_close(&w);
    /* the same without tokenizer.ggml.pre: GPT-2's pattern */
    CHECK(gw_open(&w, gguf_gpt2));
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_strs(&w, "tokenizer.ggml.tokens", v.s, v.len, v.n);
    kv_i32s(&w, "tokenizer.ggml.token_type", v.type, v.n);
    kv_strs(&w, "tokenizer.ggml.merges", v.merges, v.mlen, v.n_merges);
    gw_close(&w);

    kvlm_tokenizer *tj = kvlm_tokenizer_load(json_path), *tg = kvlm_tokenizer_load(gguf_path);
    CHECK_MSG(tj && tg, "load: %s", kvlm_last_error());
    if (tj && tg) {
        CHECK(kvlm_tokenizer_vocab_size(tg) == 128256);
        CHECK(kvlm_tokenizer_bos(tg) == 128000);
        CHECK(kvlm_token_id(tg, "<|eot_id|>") == 128009 && kvlm_token_is_special(tg, 128009) == 1);
        FILE *f = fopen(cases_path, "r");
        char *line = NULL;
        size_t cap = 0;
        int n = 0;
        /* every Hugging Face case, also run together into one long text */
        size_t all_cap = 1 << 20, all_len = 0;
        char *all = malloc(all_cap);
        while (f && getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
            json_t *t = json_object_get(o, "text");
            const char *s = json_string_value(t);
            size_t len = json_string_length(t);
            same_encoding(tj, tg, s, len, 0, "llama3 gguf");
            same_encoding(tj, tg, s, len, KVLM_TOKENIZE_SPECIAL | KVLM_TOKENIZE_ADD_BOS, "llama3 gguf special");
            if (all_len + len + 1 < all_cap) {
                memcpy(all + all_len, s, len);
                all_len += len;
                all[all_len++] = '\n';
            }
            json_decref(o);
            n++;
        }
        if (f) fclose(f);
        CHECK(n > 500);
        same_encoding(tj, tg, all, all_len, 0, "llama3 gguf, all cases");
        same_encoding(tj, tg, all, all_len, KVLM_TOKENIZE_SPECIAL, "llama3 gguf, all cases, special");
        f = fopen(chat_path, "r");
        while (f && getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, 0, NULL);
            json_t *p = json_object_get(o, "prompt");
            same_encoding(tj, tg, json_string_value(p), json_string_length(p), KVLM_TOKENIZE_SPECIAL, "chat gguf");
            json_decref(o);
        }
        if (f) fclose(f);
        free(line);
        free(all);
    }
    /* GPT-2's pattern: digits are not cut in threes */
    kvlm_tokenizer *t2 = kvlm_tokenizer_load(gguf_gpt2);
    CHECK_MSG(t2 != NULL, "load: %s", kvlm_last_error());
    if (t2 && tj) {
        int32_t a[16], b[16];
        CHECK(kvlm_tokenize(t2, "Hello world", 11, 0, a, 16) == 2 && a[0] == 9906 && a[1] == 1917);
        int na = kvlm_tokenize(t2, " 1234567", 8, 0, a, 16), nb = kvlm_tokenize(tj, " 1234567", 8, 0, b, 16);
        CHECK(na > 0 && nb > 0 && (na != nb || memcmp(a, b, (size_t)na * 4) != 0));
        CHECK(kvlm_tokenizer_bos(t2) == -1);
    }
    kvlm_tokenizer_free(t2);
    kvlm_tokenizer_free(tj);
    kvlm_tokenizer_free(tg);
    vocab_free(&v);
    free(json_path);
    free(cases_path);
    free(chat_path);
    free(gguf_path);
    free(gguf_gpt2);
}

/* ------------------------------------------------------- SentencePiece */

static void test_spm_gguf(void) {
    char *bin = test_shared_path("models/stories260K/tok512.bin");
    char *path = test_work_path("tok512-spm.gguf");
    size_t n;
    unsigned char *d = (unsigned char *)test_read_file(bin, &n);
    CHECK(d != NULL);
    if (!d) return;
    char *s[512];
    size_t len[512];
    int32_t type[512];
    float score[512];
    size_t off = 4;
    for (int i = 0; i < 512; i++) {
        int32_t l;
        memcpy(&score[i], d + off, 4);
        memcpy(&l, d + off + 4, 4);
        off += 8;
        s[i] = malloc((size_t)l * 3 + 1);
        len[i] = 0;
        for (int k = 0; k < l; k++) {
            if (d[off + k] == ' ') {
                memcpy(s[i] + len[i], "\xE2\x96\x81", 3);
                len[i] += 3;
            } else {
                s[i][len[i]++] = (char)d[off + k];
            }
        }
        off += (size_t)l;
        type[i] = i == 0 ? 2 : i <= 2 ? 3 : i <= 258 ? 6 : 1;
    }
    strcpy(s[1], "<s>");
    len[1] = 3;
    strcpy(s[2], "</s>");
    len[2] = 4;
    gw w;
    CHECK(gw_open(&w, path));
    kv_str(&w, "tokenizer.ggml.model", "llama");
    kv_strs(&w, "tokenizer.ggml.tokens", s, len, 512);
    kv_f32s(&w, "tokenizer.ggml.scores", score, 512);
    kv_i32s(&w, "tokenizer.ggml.token_type", type, 512);
    kv_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    kv_bool(&w, "tokenizer.ggml.add_space_prefix", 1);
    gw_close(&w);
    kvlm_tokenizer *tg = kvlm_tokenizer_load(path), *tl = kvlm_tokenizer_load(bin);
    CHECK_MSG(tg && tl, "load: %s", kvlm_last_error());
    if (tg && tl) {
        static const char *const texts[] = {"Once upon a time",
                                            "Lily and Tom played in the park. They were happy.",
                                            "h\xC3\xA9llo \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",
                                            "The end.\nNew line",
                                            "1234567890 #@!",
                                            "tab\there",
                                            ""};
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            size_t tl_len = strlen(texts[i]);
            int32_t a[128], b[128];
            int na = kvlm_tokenize(tg, texts[i], tl_len, KVLM_TOKENIZE_ADD_BOS, a, 128);
            int nb = kvlm_tokenize(tl, texts[i], tl_len, KVLM_TOKENIZE_ADD_BOS, b, 128);
            CHECK_MSG(na > 0 && na == nb && memcmp(a, b, (size_t)na * 4) == 0, "spm gguf: \"%s\"", texts[i]);
            /* llama.cpp drops the leading space of the text when decoding */
            char out[256];
            long m = kvlm_detokenize(tg, a + 1, na - 1, out, sizeof out);
            CHECK_MSG(m == (long)tl_len && memcmp(out, texts[i], tl_len) == 0, "spm gguf decodes \"%s\"", out);
        }
        CHECK(kvlm_token_is_special(tg, 1) == 1 && kvlm_token_is_special(tg, 0) == 1);
        CHECK(kvlm_token_id(tg, "\xE2\x96\x81the") == 265);
        int32_t ids[8];
        CHECK(kvlm_tokenize(tg, "<s>", 3, KVLM_TOKENIZE_SPECIAL, ids, 8) == 1 && ids[0] == 1);
    }
    kvlm_tokenizer_free(tg);
    kvlm_tokenizer_free(tl);
    for (int i = 0; i < 512; i++) free(s[i]);
    free(d);
    free(bin);
    free(path);
}

/* ------------------------------------------------------------- errors */

static void expect_error(const char *name, kvlm_status code, const char *needle) {
    char *path = test_work_path(name);
    kvlm_tokenizer *t = kvlm_tokenizer_load(path);
    CHECK_MSG(t == NULL, "%s loaded", name);
    kvlm_tokenizer_free(t);
    gguf_file g;
    if (gguf_open(&g, path) == KVLM_OK) {
        t = (kvlm_tokenizer *)1;
        CHECK_MSG(tokenizer_from_gguf(&g, &t) == code && t == NULL, "%s: status", name);
        gguf_close(&g);
    }
    CHECK_MSG(strstr(kvlm_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", name, kvlm_last_error(),
              needle);
    free(path);
}

static void test_bad_gguf(void) {
    char *toks[3] = {"a", "b", "ab"};
    size_t len[3] = {1, 1, 2};
    int32_t types[2] = {1, 1};
    char *merges[1] = {"a b"};
    size_t mlen[1] = {3};
    char *bad_merge[1] = {"ab"};
    gw w;
    char *p;

    p = test_work_path("bad-no-tokens.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_close(&w);
    free(p);
    expect_error("bad-no-tokens.gguf", KVLM_ERR_FORMAT, "tokenizer.ggml.tokens");

    p = test_work_path("bad-model.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "bert");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    gw_close(&w);
    free(p);
    expect_error("bad-model.gguf", KVLM_ERR_UNSUPPORTED, "\"bert\"");

    p = test_work_path("bad-pre.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_str(&w, "tokenizer.ggml.pre", "mystery");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    kv_strs(&w, "tokenizer.ggml.merges", merges, mlen, 1);
    gw_close(&w);
    free(p);
    expect_error("bad-pre.gguf", KVLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre \"mystery\"");

    p = test_work_path("bad-no-merges.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    gw_close(&w);
    free(p);
    expect_error("bad-no-merges.gguf", KVLM_ERR_FORMAT, "tokenizer.ggml.merges");

    p = test_work_path("bad-merge.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    kv_strs(&w, "tokenizer.ggml.merges", bad_merge, mlen, 1);
    gw_close(&w);
    free(p);
    expect_error("bad-merge.gguf", KVLM_ERR_FORMAT, "tokenizer.ggml.merges[0]");

    p = test_work_path("bad-types.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "gpt2");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    kv_i32s(&w, "tokenizer.ggml.token_type", types, 2);
    kv_strs(&w, "tokenizer.ggml.merges", merges, mlen, 1);
    gw_close(&w);
    free(p);
    expect_error("bad-types.gguf", KVLM_ERR_FORMAT, "tokenizer.ggml.token_type");

    p = test_work_path("bad-scores.gguf");
    gw_open(&w, p);
    kv_str(&w, "tokenizer.ggml.model", "llama");
    kv_strs(&w, "tokenizer.ggml.tokens", toks, len, 3);
    kv_f32s(&w, "tokenizer.ggml.scores", (float[]){0, 0}, 2);
    gw_close(&w);
    free(p);
    expect_error("bad-scores.gguf", KVLM_ERR_FORMAT, "tokenizer.ggml.scores");

    /* a truncated file: the GGUF reader's error */
    p = test_work_path("bad-truncated.gguf");
    FILE *f = fopen(p, "wb");
    fwrite("GGUF\x03\x00\x00\x00", 1, 8, f);
    fclose(f);
    CHECK(kvlm_tokenizer_load(p) == NULL && strlen(kvlm_last_error()) > 0);
    free(p);
}

/* ------------------------------------------------------------- export */

static kvlm_tokenizer *export_and_load(const kvlm_tokenizer *t, const char *name) {
    char *path = test_work_path(name);
    gguf_writer *w = gguf_writer_new();
    kvlm_status st = tokenizer_export_gguf(t, w);
    CHECK_MSG(st == KVLM_OK, "export %s: %s", name, kvlm_last_error());
    if (!st) st = gguf_writer_write(w, path, NULL, NULL, NULL);
    gguf_writer_free(w);
    kvlm_tokenizer *r = st ? NULL : kvlm_tokenizer_load(path);
    CHECK_MSG(r != NULL, "reload %s: %s", name, kvlm_last_error());
    free(path);
    return r;
}

static void test_export(void) {
    static const char *const texts[] = {
        "Hello world", "The quick brown fox jumps over the lazy dog.", "  leading spaces\n\n\tand tabs  ",
        "In 1492, Columbus sailed the ocean blue. 12345678", "h\xC3\xA9llo \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "Once upon a time, Lily's mom said hi.", ""};
    char *json_path = test_shared_path("llama-3.2-1b-instruct/tokenizer.json");
    char *bin_path = test_shared_path("models/stories260K/tok512.bin");
    kvlm_tokenizer *src[2] = {kvlm_tokenizer_load(json_path), kvlm_tokenizer_load(bin_path)};
    const char *names[2] = {"export-llama3.gguf", "export-tok512.gguf"};
    for (int k = 0; k < 2; k++) {
        CHECK(src[k] != NULL);
        if (!src[k]) continue;
        kvlm_tokenizer *r = export_and_load(src[k], names[k]);
        if (r) {
            CHECK(kvlm_tokenizer_vocab_size(r) == kvlm_tokenizer_vocab_size(src[k]));
            CHECK(kvlm_tokenizer_bos(r) == kvlm_tokenizer_bos(src[k]));
            for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
                int flags = KVLM_TOKENIZE_ADD_BOS | (k == 0 ? KVLM_TOKENIZE_SPECIAL : 0);
                int32_t a[256], b[256];
                int na = kvlm_tokenize(src[k], texts[i], strlen(texts[i]), flags, a, 256);
                int nb = kvlm_tokenize(r, texts[i], strlen(texts[i]), flags, b, 256);
                CHECK_MSG(na > 0 && na == nb && memcmp(a, b, (size_t)na * 4) == 0, "%s: \"%s\"", names[k], texts[i]);
            }
        }
        kvlm_tokenizer_free(r);
        kvlm_tokenizer_free(src[k]);
    }
    free(json_path);
    free(bin_path);
}

int main(void) {
    test_export();
    test_llama3_gguf();
    test_spm_gguf();
    test_bad_gguf();
    return test_finish();
}
