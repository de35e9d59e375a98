/* The tokenizer object: building it (for the loaders), encoding text, and the
 * small public accessors. */
#include "tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mapped_file.h"
#include "tok_impl.h"
#include "utf8.h"

/* Hugging Face's pre-tokenizer patterns. GGUF files name them (tokenizer.ggml.pre);
 * tokenizer.json files carry their own. */
const char TOK_RE_GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char TOK_RE_LLAMA3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                             "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char TOK_RE_QWEN2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                            "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ------------------------------------------------------------------ build */

kvlm_tokenizer *tok_new(const char *name, int n_vocab) {
    if (n_vocab <= 0 || n_vocab > (1 << 28)) {
        kvlm_fail(KVLM_ERR_FORMAT, "%s: a vocabulary of %d tokens is not supported", name, n_vocab);
        return NULL;
    }
    kvlm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->n_vocab = n_vocab;
    t->name = strdup(name ? name : "tokenizer");
    size_t n = (size_t)n_vocab;
    t->key_off = calloc(n, sizeof *t->key_off);
    t->key_len = calloc(n, sizeof *t->key_len);
    t->piece_off = calloc(n, sizeof *t->piece_off);
    t->piece_len = calloc(n, sizeof *t->piece_len);
    t->attr = calloc(n, 1);
    t->arena_cap = 1 << 16;
    t->arena = malloc(t->arena_cap);
    if (!t->name || !t->key_off || !t->key_len || !t->piece_off || !t->piece_len || !t->attr || !t->arena) goto nomem;
    t->arena[0] = 0;
    t->arena_len = 1; /* offset 0: the empty string of unset ids */
    t->unk_id = -1;
    t->bos_id = -1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    for (int i = 0; i < 128; i++) t->ascii_id[i] = -1;
    return t;
nomem:
    kvlm_tokenizer_free(t);
    kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
}

static kvlm_status arena_add(kvlm_tokenizer *t, const char *s, size_t n, uint32_t *off) {
    if (t->arena_len + n + 1 > UINT32_MAX) return kvlm_fail(KVLM_ERR_FORMAT, "%s: the token strings exceed 4 GiB", t->name);
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap;
        while (cap < t->arena_len + n + 1) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
        t->arena = a;
        t->arena_cap = cap;
    }
    if (n) memcpy(t->arena + t->arena_len, s, n);
    t->arena[t->arena_len + n] = 0; /* keys stay NUL-terminated for messages */
    *off = (uint32_t)t->arena_len;
    t->arena_len += n + 1;
    return KVLM_OK;
}

kvlm_status tok_set(kvlm_tokenizer *t, int id, const char *key, size_t klen, const char *piece, size_t plen,
                    unsigned attr) {
    if (id < 0 || id >= t->n_vocab) return kvlm_fail(KVLM_ERR_FORMAT, "%s: token id %d is out of range", t->name, id);
    if (klen > UINT32_MAX / 2 || plen > UINT32_MAX / 2)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: token %d is too long", t->name, id);
    kvlm_status st = arena_add(t, key, klen, &t->key_off[id]);
    if (st) return st;
    t->key_len[id] = (uint32_t)klen;
    if (piece) {
        st = arena_add(t, piece, plen, &t->piece_off[id]);
        if (st) return st;
        t->piece_len[id] = (uint32_t)plen;
    } else {
        t->piece_off[id] = t->key_off[id];
        t->piece_len[id] = (uint32_t)klen;
    }
    t->attr[id] = (uint8_t)(attr | TA_USED);
    return KVLM_OK;
}

kvlm_status tok_add_merge(kvlm_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t id, int overwrite) {
    return pairmap_put(&t->merges, a, b, rank, id, overwrite);
}

static int cmp_float_desc(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a < b) - (a > b);
}

kvlm_status tok_merges_from_scores(kvlm_tokenizer *t, const float *scores, const uint8_t *usable) {
    size_t n = (size_t)t->n_vocab, nu = 0;
    float *sorted = malloc(n * sizeof *sorted);
    if (!sorted) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    for (size_t i = 0; i < n; i++)
        if (usable[i] && scores[i] == scores[i]) sorted[nu++] = scores[i];
    qsort(sorted, nu, sizeof *sorted, cmp_float_desc);
    size_t nd = 0; /* distinct scores (0.0 == -0.0, as llama2.c's '>' sees them) */
    for (size_t i = 0; i < nu; i++)
        if (nd == 0 || sorted[nd - 1] != sorted[i]) sorted[nd++] = sorted[i];
    kvlm_status st = KVLM_OK;
    for (size_t id = 0; id < n && !st; id++) {
        uint32_t len = t->key_len[id];
        if (!usable[id] || len < 2 || scores[id] != scores[id]) continue;
        const char *key = tok_key(t, (int)id);
        if (strmap_get(&t->vocab, key, len) != (int32_t)id) continue; /* a duplicate string */
        /* dense rank: position of the score among the distinct scores, best first */
        size_t lo = 0, hi = nd;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (sorted[mid] > scores[id])
                lo = mid + 1;
            else
                hi = mid;
        }
        for (uint32_t k = 1; k < len && !st; k++) {
            int32_t a = strmap_get(&t->vocab, key, k);
            if (a < 0 || !usable[a]) continue;
            int32_t b = strmap_get(&t->vocab, key + k, len - k);
            if (b < 0 || !usable[b]) continue;
            st = pairmap_put(&t->merges, a, b, (uint32_t)lo, (int32_t)id, 0);
        }
    }
    free(sorted);
    return st;
}

static char *memdup0(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        if (n) memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

kvlm_status tok_add_norm(kvlm_tokenizer *t, int op, const char *a, size_t alen, const char *b, size_t blen) {
    norm_op *v = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *v);
    if (!v) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    t->norm = v;
    norm_op *o = &v[t->n_norm];
    memset(o, 0, sizeof *o);
    o->op = op;
    o->a = memdup0(a, alen);
    o->b = memdup0(b ? b : "", b ? blen : 0);
    o->alen = alen;
    o->blen = b ? blen : 0;
    if (!o->a || !o->b) {
        free(o->a);
        free(o->b);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    }
    t->n_norm++;
    return KVLM_OK;
}

kvlm_status tok_add_dec(kvlm_tokenizer *t, const dec_op *src) {
    dec_op *v = realloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *v);
    if (!v) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    t->dec = v;
    dec_op *o = &v[t->n_dec];
    *o = *src;
    o->a = memdup0(src->a ? src->a : "", src->a ? src->alen : 0);
    o->b = memdup0(src->b ? src->b : "", src->b ? src->blen : 0);
    if (!o->a || !o->b) {
        free(o->a);
        free(o->b);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    }
    t->n_dec++;
    return KVLM_OK;
}

kvlm_status tok_finish(kvlm_tokenizer *t) {
    uint32_t nv = 0, na = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        nv += (t->attr[i] & TA_VOCAB) != 0;
        na += (t->attr[i] & TA_ADDED) != 0;
    }
    strmap_keys keys = {(const char *const *)&t->arena, (const uint32_t *const *)&t->key_off,
                        (const uint32_t *const *)&t->key_len};
    kvlm_status st = strmap_init(&t->vocab, nv, keys);
    if (!st) st = strmap_init(&t->added, na, keys);
    if (st) return st;
    for (int i = 0; i < t->n_vocab; i++) {
        if ((t->attr[i] & TA_VOCAB) && strmap_put(&t->vocab, i) < 0) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
        if ((t->attr[i] & TA_ADDED) && strmap_put(&t->added, i) < 0) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    }
    for (int b = 0; b < 256; b++) {
        if (t->byte_id[b] >= 0) continue;
        if (t->byte_level) {
            char c = (char)b;
            t->byte_id[b] = strmap_get(&t->vocab, &c, 1);
        } else if (t->byte_fallback) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            t->byte_id[b] = strmap_get(&t->vocab, name, 6);
        }
    }
    if (!t->byte_level)
        for (int c = 0; c < 128; c++) {
            char ch = (char)c;
            t->ascii_id[c] = strmap_get(&t->vocab, &ch, 1);
        }
    return tok_trie_build(t);
}

/* ----------------------------------------------------------------- encode */

int tok_push(tok_ctx *c, int32_t id) {
    if (c->n_ids == c->cap_ids) {
        size_t cap = c->cap_ids ? c->cap_ids * 2 : 256;
        int32_t *v = realloc(c->ids, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return -1;
        }
        c->ids = v;
        c->cap_ids = cap;
    }
    c->ids[c->n_ids++] = id;
    return 0;
}

char *tok_scratch(tok_ctx *c, int lvl, size_t n) {
    if (n > c->buf_cap[lvl]) {
        size_t cap = c->buf_cap[lvl] ? c->buf_cap[lvl] : 256;
        while (cap < n) cap *= 2;
        char *b = realloc(c->buf[lvl], cap);
        if (!b) {
            c->oom = 1;
            return NULL;
        }
        c->buf[lvl] = b;
        c->buf_cap[lvl] = cap;
    }
    return c->buf[lvl];
}

static void ctx_free(tok_ctx *c) {
    free(c->ids);
    free(c->syms);
    free(c->tree);
    free(c->cache);
    free(c->cache_arena);
    for (int i = 0; i < TOK_MAX_PRETOK + 2; i++) free(c->buf[i]);
    if (c->md) pcre2_match_data_free(c->md);
}

/* One stretch of text between added tokens: normalize, pre-tokenize, BPE. */
static int encode_text(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n, int at_start) {
    size_t nn;
    const char *ns = tok_normalize(t, c, s, n, &nn);
    if (!ns) return -1;
    return tok_pretokenize(t, c, ns, nn, at_start);
}

/* Invalid UTF-8 in the input is replaced by U+FFFD (one per maximal ill-formed
 * subsequence, as Python's errors="replace" and Rust's from_utf8_lossy do)
 * before anything else: Hugging Face only accepts valid strings, so this is the
 * text a caller converting bytes to a string would have given it. */
int kvlm_tokenize(const kvlm_tokenizer *t, const char *text, size_t len, int flags, int32_t *ids, int max_ids) {
    if (!t || (!text && len) || max_ids < 0 || (max_ids > 0 && !ids) ||
        (flags & ~(KVLM_TOKENIZE_ADD_BOS | KVLM_TOKENIZE_SPECIAL))) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_tokenize: bad argument");
        return -1;
    }
    if (len > (size_t)INT32_MAX / 4) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_tokenize: text of %zu bytes is too long", len);
        return -1;
    }
    const char *s = len ? text : "";
    char *owned = NULL;
    if (len && utf8_valid_prefix((const uint8_t *)s, len) != len) {
        owned = utf8_sanitize(s, len, &len);
        if (!owned) {
            kvlm_fail(KVLM_ERR_NOMEM, "kvlm_tokenize: out of memory");
            return -1;
        }
        s = owned;
    }
    tok_ctx c;
    memset(&c, 0, sizeof c);
    c.cache_on = len >= 4096; /* a word cache pays off on long texts only */
    int rc = 0;
    if (flags & KVLM_TOKENIZE_ADD_BOS)
        for (int i = 0; i < t->n_bos && rc == 0; i++) rc = tok_push(&c, t->bos_ids[i]);
    int special = (flags & KVLM_TOKENIZE_SPECIAL) != 0;
    /* only special added tokens and KVLM_TOKENIZE_SPECIAL not given: nothing to look for */
    int look = t->n_trie > 1 && (special || t->n_plain_added > 0);
    size_t pos = 0;
    while (pos < len && rc == 0) {
        size_t ms = len, me = len;
        int32_t id = look ? tok_find_added(t, s, len, pos, special, &ms, &me) : -1;
        if (id < 0) ms = me = len;
        if (ms > pos) rc = encode_text(t, &c, s + pos, ms - pos, pos == 0);
        if (id >= 0 && rc == 0) rc = tok_push(&c, id);
        pos = me;
    }
    int result;
    if (rc != 0 || c.oom) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_tokenize: out of memory");
        result = -1;
    } else if (c.n_ids > (size_t)INT_MAX) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_tokenize: the text needs more than INT_MAX tokens");
        result = -1;
    } else {
        size_t k = c.n_ids < (size_t)max_ids ? c.n_ids : (size_t)max_ids;
        if (k) memcpy(ids, c.ids, k * sizeof *ids);
        result = (int)c.n_ids;
    }
    ctx_free(&c);
    free(owned);
    return result;
}

/* -------------------------------------------------------------- accessors */

int kvlm_tokenizer_vocab_size(const kvlm_tokenizer *t) { return t ? t->n_vocab : 0; }

int kvlm_tokenizer_bos(const kvlm_tokenizer *t) { return t ? t->bos_id : -1; }

int kvlm_token_is_special(const kvlm_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_vocab) return -1;
    return (t->attr[id] & TA_SPECIAL) != 0;
}

/* Added tokens by their content first, then the model's vocabulary by its key
 * (raw bytes for byte-level vocabularies: " hello", not "Ġhello"; the piece
 * as written for SentencePiece ones: "▁hello"). */
int32_t kvlm_token_id(const kvlm_tokenizer *t, const char *text) {
    if (!t || !text) return -1;
    size_t n = strlen(text);
    int32_t id = strmap_get(&t->added, text, n);
    return id >= 0 ? id : strmap_get(&t->vocab, text, n);
}

void kvlm_tokenizer_free(kvlm_tokenizer *t) {
    if (!t) return;
    free(t->name);
    free(t->arena);
    free(t->key_off);
    free(t->key_len);
    free(t->piece_off);
    free(t->piece_len);
    free(t->attr);
    strmap_free(&t->vocab);
    strmap_free(&t->added);
    pairmap_free(&t->merges);
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
    }
    free(t->norm);
    for (int i = 0; i < t->n_pre; i++) {
        if (t->pre[i].re) pcre2_code_free(t->pre[i].re);
        free(t->pre[i].src);
    }
    for (int i = 0; i < t->n_dec; i++) {
        free(t->dec[i].a);
        free(t->dec[i].b);
    }
    free(t->dec);
    free(t->trie);
    free(t);
}

/* ------------------------------------------------------------------- load */

kvlm_tokenizer *kvlm_tokenizer_load(const char *path) {
    if (!path) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_tokenizer_load: no path");
        return NULL;
    }
    kvlm_tokenizer *t = NULL;
    kvlm_status st;
    if (path_is_dir(path)) {
        char *p = path_join(path, "tokenizer.json");
        if (!p) {
            kvlm_fail(KVLM_ERR_NOMEM, "out of memory");
            return NULL;
        }
        st = tokenizer_load_hf_json(p, &t);
        free(p);
        return st ? NULL : t;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        kvlm_fail(KVLM_ERR_IO, "%s: cannot open the tokenizer", path);
        return NULL;
    }
    char head[64];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0) {
        gguf_file g;
        st = gguf_open(&g, path);
        if (st) return NULL;
        st = tokenizer_from_gguf(&g, &t);
        gguf_close(&g);
        return st ? NULL : t;
    }
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r')) i++;
    if (i < n && head[i] == '{')
        st = tokenizer_load_hf_json(path, &t);
    else
        st = tokenizer_load_llama2c(path, 0, &t);
    return st ? NULL : t;
}
