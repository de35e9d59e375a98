/* Writes a tokenizer as GGUF tokenizer.ggml.* keys (for kvlm convert), in the
 * form tokenizer_from_gguf reads back to the same encoding:
 *   byte-level BPE -> model "gpt2": tokens in the byte-level alphabet, the
 *     merges in rank order, pre "llama-bpe" / "gpt2" / "qwen2" (other
 *     pre-tokenizers cannot be named in GGUF and are refused);
 *   SentencePiece style -> model "llama": "▁" pieces, token types, and scores
 *     that order the merges as they were ordered (for a tokenizer.json, the
 *     rank of the first merge that makes each token). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../model/convert.h"
#include "byte_level.h"
#include "tok_impl.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    char *buf;
    size_t len, cap;
    size_t *off, *slen;
    size_t n;
} strlist;

static int sl_add(strlist *l, size_t i, const char *s, size_t n) {
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 1 << 16;
        while (cap < l->len + n) cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) return -1;
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, s, n);
    l->off[i] = l->len;
    l->slen[i] = n;
    l->len += n;
    return 0;
}

static int sl_init(strlist *l, size_t n) {
    memset(l, 0, sizeof *l);
    l->n = n;
    l->off = calloc(n ? n : 1, sizeof *l->off);
    l->slen = calloc(n ? n : 1, sizeof *l->slen);
    return l->off && l->slen ? 0 : -1;
}

static void sl_free(strlist *l) {
    free(l->buf);
    free(l->off);
    free(l->slen);
}

/* gguf_w_arr_str wants pointers */
static kvlm_status sl_write(strlist *l, gguf_writer *w, const char *key) {
    const char **p = malloc((l->n ? l->n : 1) * sizeof *p);
    if (!p) return kvlm_fail(KVLM_ERR_NOMEM, "tokenizer export: out of memory");
    for (size_t i = 0; i < l->n; i++) p[i] = l->buf + l->off[i];
    gguf_w_arr_str(w, key, p, l->slen, l->n);
    free(p);
    return KVLM_OK;
}

static int cmp_rank(const void *a, const void *b) {
    uint32_t x = ((const pair_slot *)a)->rank, y = ((const pair_slot *)b)->rank;
    return (x > y) - (x < y);
}

/* NFC is the only normalizer a byte-level GGUF can stand for: llama.cpp does
 * not apply it (its Qwen files behave the same), so it is left out. */
static int only_nfc(const kvlm_tokenizer *t) {
    for (int i = 0; i < t->n_norm; i++)
        if (t->norm[i].op != NORM_NFC) return 0;
    return 1;
}

static kvlm_status export_gpt2(const kvlm_tokenizer *t, gguf_writer *w) {
    const char *pre = NULL;
    if (only_nfc(t) && t->n_pre == 1 && t->pre[0].type == PT_SPLIT && !t->pre[0].literal &&
        t->pre[0].behavior == SPLIT_ISOLATED && !t->pre[0].invert) {
        const char *src = t->pre[0].src;
        if (!strcmp(src, TOK_RE_LLAMA3) && t->ignore_merges) pre = "llama-bpe";
        else if (!strcmp(src, TOK_RE_GPT2) && !t->ignore_merges) pre = "gpt2";
        else if (!strcmp(src, TOK_RE_QWEN2) && !t->ignore_merges) pre = "qwen2";
    }
    if (!pre)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: this tokenizer's normalizer or pre-tokenizer has no GGUF name "
                                               "(kvlm writes the Llama 3, GPT-2 and Qwen 2 ones)", t->name);
    size_t n = (size_t)t->n_vocab;
    strlist toks, merges;
    int32_t *types = malloc(n * sizeof *types);
    pair_slot *ms = malloc(((size_t)t->merges.count + 1) * sizeof *ms);
    char *tmp = NULL;
    size_t tmp_cap = 0;
    kvlm_status st = KVLM_OK;
    int ok = sl_init(&toks, n) == 0 && sl_init(&merges, t->merges.count) == 0 && types && ms;
    for (size_t i = 0; i < n && ok; i++) {
        uint8_t a = t->attr[i];
        const char *k = tok_key(t, (int)i);
        size_t kl = t->key_len[i];
        if (2 * kl + 32 > tmp_cap) {
            tmp_cap = 2 * kl + 32;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) {
                ok = 0;
                break;
            }
            tmp = nt;
        }
        if (!(a & TA_USED)) {
            int len = snprintf(tmp, tmp_cap, "[PAD%zu]", i);
            types[i] = TT_UNUSED;
            ok = sl_add(&toks, i, tmp, (size_t)len) == 0;
        } else if (a & TA_ADDED) {
            types[i] = (a & TA_SPECIAL) ? TT_CONTROL : TT_USER;
            ok = sl_add(&toks, i, k, kl) == 0;
        } else if (a & TA_VOCAB) {
            types[i] = TT_NORMAL;
            ok = sl_add(&toks, i, tmp, byte_level_encode((const uint8_t *)k, kl, tmp)) == 0;
        } else { /* outside the byte alphabet: kept as written */
            types[i] = TT_NORMAL;
            ok = sl_add(&toks, i, k, kl) == 0;
        }
    }
    size_t nm = 0;
    if (ok && t->merges.slots)
        for (uint32_t i = 0; i <= t->merges.mask; i++)
            if (t->merges.slots[i].key != UINT64_MAX) ms[nm++] = t->merges.slots[i];
    qsort(ms, nm, sizeof *ms, cmp_rank);
    for (size_t i = 0; i < nm && ok; i++) {
        int32_t x = (int32_t)(ms[i].key >> 32), y = (int32_t)(uint32_t)ms[i].key;
        size_t need = 2 * ((size_t)t->key_len[x] + t->key_len[y]) + 2;
        if (need > tmp_cap) {
            tmp_cap = need;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) {
                ok = 0;
                break;
            }
            tmp = nt;
        }
        size_t o = byte_level_encode((const uint8_t *)tok_key(t, x), t->key_len[x], tmp);
        tmp[o++] = ' ';
        o += byte_level_encode((const uint8_t *)tok_key(t, y), t->key_len[y], tmp + o);
        ok = sl_add(&merges, i, tmp, o) == 0;
    }
    merges.n = nm;
    if (!ok) {
        st = kvlm_fail(KVLM_ERR_NOMEM, "tokenizer export: out of memory");
    } else {
        gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_w_str(w, "tokenizer.ggml.pre", pre);
        st = sl_write(&toks, w, "tokenizer.ggml.tokens");
        gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, n);
        if (!st) st = sl_write(&merges, w, "tokenizer.ggml.merges");
    }
    sl_free(&toks);
    sl_free(&merges);
    free(types);
    free(ms);
    free(tmp);
    return st;
}

static int is_byte_token(const kvlm_tokenizer *t, int id) {
    const char *k = tok_key(t, id);
    return t->key_len[id] == 6 && t->piece_len[id] == 1 && memcmp(k, "<0x", 3) == 0 && k[5] == '>';
}

#define META "\xE2\x96\x81"

/* Whether text gets a "▁" prefix, or -1 when spaces are not turned into "▁". */
static int space_prefix(const kvlm_tokenizer *t) {
    if (t->kind == TOK_KIND_LLAMA2C) return 1;
    int replace = 0, prepend = 0;
    for (int i = 0; i < t->n_norm; i++) {
        const norm_op *o = &t->norm[i];
        if (o->op == NORM_REPLACE && o->alen == 1 && o->a[0] == ' ' && o->blen == 3 && !memcmp(o->b, META, 3))
            replace = 1;
        else if (o->op == NORM_PREPEND && o->alen == 3 && !memcmp(o->a, META, 3))
            prepend = 1;
        else
            return -1;
    }
    for (int i = 0; i < t->n_pre; i++) {
        const pretok_step *p = &t->pre[i];
        if (p->type != PT_METASPACE || p->repl_len != 3 || memcmp(p->repl, META, 3)) return -1;
        replace = 1;
        prepend |= p->prepend != PREPEND_NEVER;
    }
    return replace ? prepend : -1;
}

static kvlm_status export_llama(const kvlm_tokenizer *t, gguf_writer *w) {
    int prefix = space_prefix(t);
    if (prefix < 0 || !t->byte_fallback)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: this tokenizer's normalizer or pre-tokenizer has no GGUF form",
                         t->name);
    size_t n = (size_t)t->n_vocab;
    strlist toks;
    int32_t *types = malloc(n * sizeof *types);
    float *scores = malloc(n * sizeof *scores);
    uint32_t *rank = malloc(n * sizeof *rank);
    char *tmp = NULL;
    size_t tmp_cap = 0;
    kvlm_status st = KVLM_OK;
    int ok = sl_init(&toks, n) == 0 && types && scores && rank;
    /* a token's score: minus the rank of the best merge that makes it */
    uint32_t worst = 0;
    for (size_t i = 0; ok && i < n; i++) rank[i] = UINT32_MAX;
    if (ok && t->merges.slots)
        for (uint32_t i = 0; i <= t->merges.mask; i++) {
            const pair_slot *p = &t->merges.slots[i];
            if (p->key == UINT64_MAX) continue;
            if (p->rank < rank[p->id]) rank[p->id] = p->rank;
            if (p->rank > worst) worst = p->rank;
        }
    for (size_t i = 0; i < n && ok; i++) {
        uint8_t a = t->attr[i];
        const char *k = tok_key(t, (int)i);
        size_t kl = t->key_len[i];
        scores[i] = rank[i] == UINT32_MAX ? -(float)worst - 1.0f : -(float)rank[i];
        if (3 * kl + 32 > tmp_cap) {
            tmp_cap = 3 * kl + 32;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) {
                ok = 0;
                break;
            }
            tmp = nt;
        }
        size_t o = 0;
        if (t->kind == TOK_KIND_LLAMA2C && !(a & TA_SPECIAL)) { /* llama2.c pieces have ' ' for '▁' */
            for (size_t j = 0; j < kl; j++) {
                if (k[j] == ' ') {
                    memcpy(tmp + o, META, 3);
                    o += 3;
                } else {
                    tmp[o++] = k[j];
                }
            }
        } else {
            memcpy(tmp, k, kl);
            o = kl;
        }
        if (!(a & TA_USED)) {
            o = (size_t)snprintf(tmp, tmp_cap, "[PAD%zu]", i);
            types[i] = TT_UNUSED;
        } else if ((int)i == t->unk_id) {
            types[i] = TT_UNKNOWN;
        } else if (a & TA_SPECIAL) {
            types[i] = TT_CONTROL;
        } else if (a & TA_ADDED) {
            types[i] = TT_USER;
        } else if (is_byte_token(t, (int)i)) {
            types[i] = TT_BYTE;
        } else {
            types[i] = (a & TA_VOCAB) ? TT_NORMAL : TT_UNUSED;
        }
        ok = sl_add(&toks, i, tmp, o) == 0;
    }
    if (!ok) {
        st = kvlm_fail(KVLM_ERR_NOMEM, "tokenizer export: out of memory");
    } else {
        gguf_w_str(w, "tokenizer.ggml.model", "llama");
        st = sl_write(&toks, w, "tokenizer.ggml.tokens");
        gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, n);
        gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, n);
        gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", prefix);
        if (t->unk_id >= 0) gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk_id);
    }
    sl_free(&toks);
    free(types);
    free(scores);
    free(rank);
    free(tmp);
    return st;
}

kvlm_status tokenizer_export_gguf(const kvlm_tokenizer *t, gguf_writer *w) {
    if (!t || !w) return kvlm_fail(KVLM_ERR_ARG, "tokenizer_export_gguf: bad argument");
    kvlm_status st = t->byte_level ? export_gpt2(t, w) : export_llama(t, w);
    if (st) return st;
    if (t->bos_id >= 0) gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos_id);
    gguf_w_bool(w, "tokenizer.ggml.add_bos_token", t->n_bos > 0);
    return KVLM_OK;
}
