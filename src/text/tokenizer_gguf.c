/* The tokenizer embedded in a GGUF file (tokenizer.ggml.*), as llama.cpp
 * reads it: model "gpt2" (byte-level BPE with merges; tokenizer.ggml.pre
 * names the pre-tokenizer regex) or "llama" (SentencePiece: merges by token
 * score, byte fallback through the <0xXX> tokens, "▁" for spaces). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "byte_level.h"
#include "tok_impl.h"
#include "tokenizer.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static const char *gname(const gguf_file *g) { return g->file.path ? g->file.path : "gguf"; }

static int is_int_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_INT16 ||
           t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

/* "▁" -> " " (SentencePiece pieces) */
static size_t unescape_spaces(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            out[o++] = ' ';
            i += 3;
        } else {
            out[o++] = s[i++];
        }
    }
    return o;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static kvlm_status set_tokens(kvlm_tokenizer *t, const gguf_file *g, const gguf_kv *toks, const gguf_kv *types,
                              int spm, uint8_t *usable) {
    const char *name = gname(g);
    size_t cap = 256;
    char *buf = malloc(cap);
    kvlm_status st = buf ? KVLM_OK : kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    for (int id = 0; id < t->n_vocab && !st; id++) {
        const char *s = toks->arr_strs[id].ptr;
        size_t n = (size_t)toks->arr_strs[id].len;
        int64_t type = types ? gguf_arr_i64(types, (uint64_t)id) : TT_NORMAL;
        if (n + 1 > cap) {
            cap = 2 * (n + 1);
            char *b = realloc(buf, cap);
            if (!b) {
                st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
            buf = b;
        }
        usable[id] = 0;
        if (type == TT_CONTROL || type == TT_UNKNOWN) {
            if (type == TT_UNKNOWN && t->unk_id < 0) t->unk_id = id;
            st = n ? tok_set(t, id, s, n, NULL, 0, TA_ADDED | TA_SPECIAL) : tok_set(t, id, s, n, NULL, 0, 0);
        } else if (type == TT_USER) {
            st = n ? tok_set(t, id, s, n, NULL, 0, TA_ADDED) : tok_set(t, id, s, n, NULL, 0, 0);
        } else if (type == TT_UNUSED) {
            st = tok_set(t, id, s, n, NULL, 0, 0);
        } else if (!spm) { /* byte-level: the key is the raw bytes */
            long r = byte_level_decode(s, n, buf);
            st = r >= 0 ? tok_set(t, id, buf, (size_t)r, NULL, 0, TA_VOCAB) : tok_set(t, id, s, n, NULL, 0, 0);
        } else if (type == TT_BYTE) {
            if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>' || hexval(s[3]) < 0 || hexval(s[4]) < 0) {
                st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%d]: a byte token should read <0xXX>",
                               name, id);
                break;
            }
            char byte = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            st = tok_set(t, id, s, n, &byte, 1, TA_VOCAB);
            usable[id] = 1;
        } else {
            size_t pn = unescape_spaces(s, n, buf);
            st = tok_set(t, id, s, n, buf, pn, TA_VOCAB);
            usable[id] = 1;
        }
        if (!st && (type == TT_CONTROL || type == TT_UNKNOWN)) t->attr[id] |= TA_SPECIAL;
    }
    free(buf);
    return st;
}

/* One merge "A B" on its way into the table; the strings are decoded into
 * the batch buffer at off (A's bytes, then B's). */
typedef struct {
    size_t off;
    long la, lb;
    uint64_t ha, hb, hm;
    int32_t a, b, m;
} merge_item;

enum { MERGE_BATCH = 32 };

/* Decodes merges[first .. first+count) into items and buf (growing it);
 * items that can never apply (outside the byte alphabet) get la = -1. */
static kvlm_status decode_merge_batch(const gguf_file *g, const gguf_kv *merges, uint64_t first, int count,
                                      merge_item *items, char **buf, size_t *cap) {
    size_t used = 0;
    for (int k = 0; k < count; k++) {
        uint64_t i = first + (uint64_t)k;
        const char *s = merges->arr_strs[i].ptr;
        size_t n = (size_t)merges->arr_strs[i].len;
        const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL; /* as llama.cpp: find(' ', 1) */
        if (!sp)
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: tokenizer.ggml.merges[%llu]: expected two tokens separated by a space",
                             gname(g), (unsigned long long)i);
        if (used + 2 * n + 2 > *cap) {
            size_t c = 2 * (used + 2 * n + 2);
            char *b = realloc(*buf, c);
            if (!b) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", gname(g));
            *buf = b;
            *cap = c;
        }
        merge_item *it = &items[k];
        size_t la = (size_t)(sp - s);
        it->off = used;
        it->la = byte_level_decode(s, la, *buf + used);
        it->lb = it->la >= 0 ? byte_level_decode(sp + 1, n - la - 1, *buf + used + it->la) : -1;
        if (it->la < 0 || it->lb < 0) {
            it->la = -1;
            continue;
        }
        used += (size_t)(it->la + it->lb);
    }
    return KVLM_OK;
}

/* Loads the merges in batches: hash and prefetch every probe of a batch
 * before looking any of it up, so the cache misses of the vocabulary and
 * merge tables overlap instead of queueing (this is most of opening a GGUF). */
static kvlm_status load_merges(kvlm_tokenizer *t, const gguf_file *g, const gguf_kv *merges) {
    char *buf = NULL;
    size_t cap = 0;
    merge_item items[MERGE_BATCH];
    const strmap *v = &t->vocab;
    kvlm_status st = pairmap_init(&t->merges, (uint32_t)(merges->arr_n < (1u << 30) ? merges->arr_n : (1u << 30)));
    for (uint64_t first = 0; first < merges->arr_n && !st; first += MERGE_BATCH) {
        int count = (int)(merges->arr_n - first < MERGE_BATCH ? merges->arr_n - first : MERGE_BATCH);
        if ((st = decode_merge_batch(g, merges, first, count, items, &buf, &cap))) break;
        for (int k = 0; k < count; k++) {
            merge_item *it = &items[k];
            if (it->la < 0) continue;
            const char *p = buf + it->off;
            it->ha = hash_bytes(p, (size_t)it->la);
            it->hb = hash_bytes(p + it->la, (size_t)it->lb);
            it->hm = hash_bytes(p, (size_t)(it->la + it->lb));
            strmap_prefetch_slot(v, it->ha);
            strmap_prefetch_slot(v, it->hb);
            strmap_prefetch_slot(v, it->hm);
        }
        for (int k = 0; k < count; k++) {
            if (items[k].la < 0) continue;
            strmap_prefetch_key(v, items[k].ha);
            strmap_prefetch_key(v, items[k].hb);
            strmap_prefetch_key(v, items[k].hm);
        }
        for (int k = 0; k < count; k++) {
            merge_item *it = &items[k];
            if (it->la < 0) continue;
            const char *p = buf + it->off;
            it->a = strmap_get_hashed(v, p, (size_t)it->la, it->ha);
            it->b = strmap_get_hashed(v, p + it->la, (size_t)it->lb, it->hb);
            it->m = strmap_get_hashed(v, p, (size_t)(it->la + it->lb), it->hm);
            if (it->a >= 0 && it->b >= 0) pairmap_prefetch(&t->merges, it->a, it->b);
        }
        for (int k = 0; k < count && !st; k++) {
            const merge_item *it = &items[k];
            if (it->la < 0 || it->a < 0 || it->b < 0 || it->m < 0) continue; /* llama.cpp skips these too */
            /* a pair listed twice keeps its first rank (llama.cpp) */
            st = tok_add_merge(t, it->a, it->b, (uint32_t)(first + (uint64_t)k), it->m, 0);
        }
    }
    free(buf);
    return st;
}

static kvlm_status build(const gguf_file *g, kvlm_tokenizer **out) {
    const char *name = gname(g);
    char *model = NULL, *pre = NULL;
    kvlm_tokenizer *t = NULL;
    uint8_t *usable = NULL;
    float *scores = NULL;
    const gguf_kv *toks = NULL, *merges = NULL, *scores_kv = NULL;
    const gguf_kv *types = gguf_find(g, "tokenizer.ggml.token_type");
    kvlm_status st = gguf_get_str(g, "tokenizer.ggml.model", 1, &model);
    if (!st) st = gguf_get_str(g, "tokenizer.ggml.pre", 0, &pre);
    if (!st) st = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, 1, &toks);
    if (st) goto done;
    int spm = !strcmp(model, "llama");
    if (!spm && strcmp(model, "gpt2")) {
        st = kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported (gpt2 or llama)", name,
                       model);
        goto done;
    }
    if (toks->arr_n == 0 || toks->arr_n >= (1u << 28)) {
        st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens: %llu tokens", name, (unsigned long long)toks->arr_n);
        goto done;
    }
    int n = (int)toks->arr_n;
    if (types && (types->type != GGUF_TYPE_ARRAY || !is_int_type(types->arr_type) || types->arr_n != (uint64_t)n)) {
        st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tokenizer.ggml.token_type should be %d integers", name, n);
        goto done;
    }
    if (spm) {
        scores_kv = gguf_find(g, "tokenizer.ggml.scores");
        if (scores_kv && (scores_kv->type != GGUF_TYPE_ARRAY ||
                          (scores_kv->arr_type != GGUF_TYPE_FLOAT32 && scores_kv->arr_type != GGUF_TYPE_FLOAT64) ||
                          scores_kv->arr_n != (uint64_t)n)) {
            st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tokenizer.ggml.scores should be %d floats", name, n);
            goto done;
        }
    } else {
        st = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, 1, &merges);
        if (st) goto done;
    }
    t = tok_new(name, n);
    usable = malloc((size_t)n);
    scores = calloc((size_t)n, sizeof *scores);
    if (!t || !usable || !scores) {
        st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    t->byte_level = !spm;
    t->kind = spm ? TOK_KIND_SCORES : TOK_KIND_MERGES;
    if ((st = set_tokens(t, g, toks, types, spm, usable))) goto done;

    uint32_t bos = spm ? 1u : UINT32_MAX;
    if ((st = gguf_get_u32(g, "tokenizer.ggml.bos_token_id", 0, &bos))) goto done;
    if (bos < (uint32_t)n) {
        t->bos_id = (int32_t)bos;
        t->bos_ids[t->n_bos++] = (int32_t)bos;
    }
    if (spm) {
        int add_space = 1;
        if ((st = gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", 0, &add_space))) goto done;
        t->byte_fallback = 1;
        if ((st = tok_add_norm(t, NORM_REPLACE, " ", 1, "\xE2\x96\x81", 3))) goto done;
        if (add_space) {
            if ((st = tok_add_norm(t, NORM_PREPEND, "\xE2\x96\x81", 3, NULL, 0))) goto done;
            t->dec_strip_start = 1; /* llama.cpp drops the leading space of the text */
            t->dec_strip_char = ' ';
        }
        if ((st = tok_finish(t))) goto done;
        for (int i = 0; i < n; i++) scores[i] = scores_kv ? (float)gguf_arr_f64(scores_kv, (uint64_t)i) : 0.0f;
        st = tok_merges_from_scores(t, scores, usable);
    } else {
        const char *re = TOK_RE_GPT2;
        if (pre && (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "smaug-bpe"))) {
            re = TOK_RE_LLAMA3;
            t->ignore_merges = 1; /* as llama.cpp does for the Llama 3 pre-tokenizer */
        } else if (pre && !strcmp(pre, "qwen2")) {
            re = TOK_RE_QWEN2;
        } else if (pre && strcmp(pre, "default") && strcmp(pre, "gpt2") && strcmp(pre, "gpt-2")) {
            st = kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre \"%s\" is not supported", name, pre);
            goto done;
        }
        char what[512];
        snprintf(what, sizeof what, "%s: tokenizer.ggml.pre", name);
        if ((st = tok_add_split(t, re, strlen(re), 0, SPLIT_ISOLATED, 0, what))) goto done;
        if ((st = tok_finish(t))) goto done;
        st = load_merges(t, g, merges);
    }
done:
    free(model);
    free(pre);
    free(usable);
    free(scores);
    if (st) {
        kvlm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return KVLM_OK;
}

kvlm_status tokenizer_from_gguf(const gguf_file *g, kvlm_tokenizer **out) {
    if (!g || !out) return kvlm_fail(KVLM_ERR_ARG, "tokenizer_from_gguf: bad argument");
    *out = NULL;
    return build(g, out);
}
