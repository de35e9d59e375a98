/* Hugging Face tokenizer.json (read with jansson): BPE models, byte-level
 * (Llama 3, GPT-2, Qwen) or SentencePiece-style with byte fallback (Llama 2,
 * Mistral, TinyLlama). Messages name the file and the field.
 *
 * Supported: normalizers Prepend, Replace (string pattern), NFC, Sequence; pre-tokenizers Split (regex or string, every behavior),
 * ByteLevel, Metaspace, Digits, WhitespaceSplit, Sequence; post-processor
 * TemplateProcessing (its leading special tokens are the BOS), decoders
 * ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
 * Added tokens are all matched on the raw text (Hugging Face matches
 * "normalized" ones on normalized text; no known Llama-family file differs). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mapped_file.h"
#include "byte_level.h"
#include "tok_impl.h"
#include "tokenizer.h"

typedef struct {
    const char *file;
    kvlm_tokenizer *t;
    int saw_bytelevel_pre; /* a ByteLevel pre-tokenizer was seen (later Splits would see its alphabet) */
} jctx;

#define FIELD_MAX 160

static kvlm_status jfail(const jctx *j, kvlm_status code, const char *field, const char *fmt, ...)
    KVLM_PRINTF(4, 5);
static kvlm_status jfail(const jctx *j, kvlm_status code, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kvlm_fail(code, "%s: %s: %s", j->file, field, msg);
}

static const char *jtype(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* obj.key as a string (NULL when absent or null and not required). */
static kvlm_status jstr(const jctx *j, json_t *obj, const char *key, const char *field, int required, const char **s,
                        size_t *n) {
    json_t *v = json_object_get(obj, key);
    *s = NULL;
    if (n) *n = 0;
    if (!v || json_is_null(v)) {
        if (required) return jfail(j, KVLM_ERR_FORMAT, field, "missing \"%s\"", key);
        return KVLM_OK;
    }
    if (!json_is_string(v))
        return jfail(j, KVLM_ERR_FORMAT, field, "\"%s\" should be a string, not %s", key, jtype(v));
    *s = json_string_value(v);
    if (n) *n = json_string_length(v);
    return KVLM_OK;
}

static kvlm_status jbool(const jctx *j, json_t *obj, const char *key, const char *field, int def, int *out) {
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v)) return KVLM_OK;
    if (!json_is_boolean(v))
        return jfail(j, KVLM_ERR_FORMAT, field, "\"%s\" should be a boolean, not %s", key, jtype(v));
    *out = json_is_true(v);
    return KVLM_OK;
}

static kvlm_status jint(const jctx *j, json_t *obj, const char *key, const char *field, int required, long long def,
                        long long *out) {
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v)) {
        if (required) return jfail(j, KVLM_ERR_FORMAT, field, "missing \"%s\"", key);
        return KVLM_OK;
    }
    if (!json_is_integer(v))
        return jfail(j, KVLM_ERR_FORMAT, field, "\"%s\" should be an integer, not %s", key, jtype(v));
    *out = json_integer_value(v);
    return KVLM_OK;
}

static kvlm_status jtype_of(const jctx *j, json_t *obj, const char *field, const char **type) {
    if (!json_is_object(obj)) return jfail(j, KVLM_ERR_FORMAT, field, "expected an object, not %s", jtype(obj));
    return jstr(j, obj, "type", field, 1, type, NULL);
}

/* A {"String": s} or {"Regex": r} pattern. */
static kvlm_status jpattern(const jctx *j, json_t *obj, const char *field, const char **s, size_t *n, int *is_regex) {
    char f[FIELD_MAX];
    snprintf(f, sizeof f, "%s.pattern", field);
    json_t *p = json_object_get(obj, "pattern");
    if (!p) return jfail(j, KVLM_ERR_FORMAT, field, "missing \"pattern\"");
    if (!json_is_object(p)) return jfail(j, KVLM_ERR_FORMAT, f, "expected an object, not %s", jtype(p));
    kvlm_status st = jstr(j, p, "String", f, 0, s, n);
    if (st) return st;
    *is_regex = 0;
    if (*s) return KVLM_OK;
    *is_regex = 1;
    st = jstr(j, p, "Regex", f, 0, s, n);
    if (st) return st;
    if (!*s) return jfail(j, KVLM_ERR_FORMAT, f, "expected \"String\" or \"Regex\"");
    return KVLM_OK;
}

/* ------------------------------------------------------------- normalizer */

static kvlm_status parse_normalizer(jctx *j, json_t *n, const char *field) {
    if (!n || json_is_null(n)) return KVLM_OK;
    const char *type;
    kvlm_status st = jtype_of(j, n, field, &type);
    if (st) return st;
    char f[FIELD_MAX];
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "normalizers");
        if (!json_is_array(arr)) return jfail(j, KVLM_ERR_FORMAT, field, "\"normalizers\" should be an array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(f, sizeof f, "%s.normalizers[%zu]", field, i);
            if ((st = parse_normalizer(j, json_array_get(arr, i), f))) return st;
        }
        return KVLM_OK;
    }
    if (!strcmp(type, "Prepend")) {
        const char *s;
        size_t len;
        if ((st = jstr(j, n, "prepend", field, 1, &s, &len))) return st;
        return tok_add_norm(j->t, NORM_PREPEND, s, len, NULL, 0);
    }
    if (!strcmp(type, "Replace")) {
        const char *pat, *content;
        size_t plen, clen;
        int is_regex;
        if ((st = jpattern(j, n, field, &pat, &plen, &is_regex))) return st;
        if (is_regex)
            return jfail(j, KVLM_ERR_UNSUPPORTED, field, "a Replace normalizer with a regex is not supported");
        if ((st = jstr(j, n, "content", field, 1, &content, &clen))) return st;
        return tok_add_norm(j->t, NORM_REPLACE, pat, plen, content, clen);
    }
    if (!strcmp(type, "NFC")) return tok_add_norm(j->t, NORM_NFC, "", 0, NULL, 0);
    return jfail(j, KVLM_ERR_UNSUPPORTED, field, "normalizer type \"%s\" is not supported", type);
}

/* ---------------------------------------------------------- pre-tokenizer */

static int behavior_of(const char *s) {
    if (!s || !strcmp(s, "Isolated")) return SPLIT_ISOLATED;
    if (!strcmp(s, "Removed")) return SPLIT_REMOVED;
    if (!strcmp(s, "MergedWithPrevious")) return SPLIT_MERGED_PREV;
    if (!strcmp(s, "MergedWithNext")) return SPLIT_MERGED_NEXT;
    if (!strcmp(s, "Contiguous")) return SPLIT_CONTIGUOUS;
    return -1;
}

static kvlm_status parse_prepend_scheme(jctx *j, json_t *n, const char *field, int *scheme) {
    const char *ps;
    kvlm_status st = jstr(j, n, "prepend_scheme", field, 0, &ps, NULL);
    if (st) return st;
    if (ps) {
        if (!strcmp(ps, "always")) *scheme = PREPEND_ALWAYS;
        else if (!strcmp(ps, "first")) *scheme = PREPEND_FIRST;
        else if (!strcmp(ps, "never")) *scheme = PREPEND_NEVER;
        else return jfail(j, KVLM_ERR_FORMAT, field, "unknown prepend_scheme \"%s\"", ps);
        return KVLM_OK;
    }
    int aps;
    if ((st = jbool(j, n, "add_prefix_space", field, 1, &aps))) return st;
    *scheme = aps ? PREPEND_ALWAYS : PREPEND_NEVER;
    return KVLM_OK;
}

static kvlm_status parse_pretok(jctx *j, json_t *n, const char *field) {
    if (!n || json_is_null(n)) return KVLM_OK;
    const char *type;
    kvlm_status st = jtype_of(j, n, field, &type);
    if (st) return st;
    char f[FIELD_MAX];
    kvlm_tokenizer *t = j->t;
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "pretokenizers");
        if (!json_is_array(arr)) return jfail(j, KVLM_ERR_FORMAT, field, "\"pretokenizers\" should be an array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(f, sizeof f, "%s.pretokenizers[%zu]", field, i);
            if ((st = parse_pretok(j, json_array_get(arr, i), f))) return st;
        }
        return KVLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        int aps, use_regex;
        if ((st = jbool(j, n, "add_prefix_space", field, 1, &aps))) return st;
        if ((st = jbool(j, n, "use_regex", field, 1, &use_regex))) return st;
        t->byte_level = 1;
        if (aps) {
            pretok_step ps = {.type = PT_PREFIX_SPACE};
            if ((st = tok_add_pretok(t, &ps, field))) return st;
        }
        if (use_regex && (st = tok_add_split(t, TOK_RE_GPT2, strlen(TOK_RE_GPT2), 0, SPLIT_ISOLATED, 0, field)))
            return st;
        j->saw_bytelevel_pre = 1;
        return KVLM_OK;
    }
    if (j->saw_bytelevel_pre)
        return jfail(j, KVLM_ERR_UNSUPPORTED, field, "a \"%s\" pre-tokenizer after ByteLevel is not supported", type);
    if (!strcmp(type, "Split")) {
        const char *pat, *beh;
        size_t plen;
        int is_regex, invert;
        if ((st = jpattern(j, n, field, &pat, &plen, &is_regex))) return st;
        if ((st = jstr(j, n, "behavior", field, 0, &beh, NULL))) return st;
        if ((st = jbool(j, n, "invert", field, 0, &invert))) return st;
        int b = behavior_of(beh);
        if (b < 0) return jfail(j, KVLM_ERR_FORMAT, field, "unknown behavior \"%s\"", beh);
        snprintf(f, sizeof f, "%s.pattern", field);
        char what[FIELD_MAX + 256];
        snprintf(what, sizeof what, "%s: %s", j->file, f);
        return tok_add_split(t, pat, plen, !is_regex, b, invert, what);
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep;
        size_t rlen;
        pretok_step ms = {.type = PT_METASPACE};
        if ((st = jstr(j, n, "replacement", field, 1, &rep, &rlen))) return st;
        if (rlen == 0 || rlen >= sizeof ms.repl) return jfail(j, KVLM_ERR_FORMAT, field, "bad \"replacement\"");
        memcpy(ms.repl, rep, rlen);
        ms.repl_len = (int)rlen;
        if ((st = parse_prepend_scheme(j, n, field, &ms.prepend))) return st;
        if ((st = jbool(j, n, "split", field, 1, &ms.split))) return st;
        return tok_add_pretok(t, &ms, field);
    }
    if (!strcmp(type, "Digits")) {
        int individual;
        if ((st = jbool(j, n, "individual_digits", field, 0, &individual))) return st;
        const char *re = individual ? "\\p{N}" : "\\p{N}+";
        return tok_add_split(t, re, strlen(re), 0, SPLIT_ISOLATED, 0, field);
    }
    if (!strcmp(type, "WhitespaceSplit")) return tok_add_split(t, "\\s+", 3, 0, SPLIT_REMOVED, 0, field);
    return jfail(j, KVLM_ERR_UNSUPPORTED, field, "pre-tokenizer type \"%s\" is not supported", type);
}

/* ---------------------------------------------------------------- decoder */

static kvlm_status parse_decoder(jctx *j, json_t *n, const char *field, int *fused) {
    if (!n || json_is_null(n)) return KVLM_OK;
    const char *type;
    kvlm_status st = jtype_of(j, n, field, &type);
    if (st) return st;
    char f[FIELD_MAX];
    kvlm_tokenizer *t = j->t;
    dec_op d;
    memset(&d, 0, sizeof d);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "decoders");
        if (!json_is_array(arr)) return jfail(j, KVLM_ERR_FORMAT, field, "\"decoders\" should be an array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(f, sizeof f, "%s.decoders[%zu]", field, i);
            if ((st = parse_decoder(j, json_array_get(arr, i), f, fused))) return st;
        }
        return KVLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        d.op = DEC_BYTELEVEL;
        *fused = 1;
    } else if (!strcmp(type, "ByteFallback")) {
        d.op = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d.op = DEC_FUSE;
        *fused = 1;
    } else if (!strcmp(type, "Replace")) {
        int is_regex;
        d.op = DEC_REPLACE;
        const char *a, *b;
        if ((st = jpattern(j, n, field, &a, &d.alen, &is_regex))) return st;
        if (is_regex) return jfail(j, KVLM_ERR_UNSUPPORTED, field, "a Replace decoder with a regex is not supported");
        if ((st = jstr(j, n, "content", field, 1, &b, &d.blen))) return st;
        d.a = (char *)a;
        d.b = (char *)b;
    } else if (!strcmp(type, "Strip")) {
        const char *c;
        size_t clen;
        long long start, stop;
        if ((st = jstr(j, n, "content", field, 1, &c, &clen))) return st;
        if ((st = jint(j, n, "start", field, 0, 0, &start))) return st;
        if ((st = jint(j, n, "stop", field, 0, 0, &stop))) return st;
        if (clen != 1 || (unsigned char)c[0] >= 0x80 || start < 0 || stop < 0 || start > 1000 || stop > 1000)
            return jfail(j, KVLM_ERR_UNSUPPORTED, field, "only a Strip of one ASCII character is supported");
        d.op = DEC_STRIP;
        d.ch = c[0];
        d.start = (int)start;
        d.stop = (int)stop;
        if (*fused) {
            if (stop > 0)
                return jfail(j, KVLM_ERR_UNSUPPORTED, field, "stripping the end of the whole text is not supported");
            t->dec_strip_start = (int)start;
            t->dec_strip_char = c[0];
        }
    } else if (!strcmp(type, "Metaspace")) {
        const char *rep;
        int scheme;
        if ((st = jstr(j, n, "replacement", field, 1, &rep, &d.alen))) return st;
        if (d.alen == 0) return jfail(j, KVLM_ERR_FORMAT, field, "empty \"replacement\"");
        if ((st = parse_prepend_scheme(j, n, field, &scheme))) return st;
        d.op = DEC_METASPACE;
        d.a = (char *)rep;
        d.first_rule = scheme != PREPEND_NEVER;
        if (d.first_rule) t->dec_first_differs = 1;
    } else {
        return jfail(j, KVLM_ERR_UNSUPPORTED, field, "decoder type \"%s\" is not supported", type);
    }
    return tok_add_dec(t, &d);
}

/* ---------------------------------------------------------- post-processor */

static kvlm_status parse_post(jctx *j, json_t *n, const char *field, int *found) {
    if (!n || json_is_null(n)) return KVLM_OK;
    const char *type;
    kvlm_status st = jtype_of(j, n, field, &type);
    if (st) return st;
    char f[FIELD_MAX];
    kvlm_tokenizer *t = j->t;
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "processors");
        if (!json_is_array(arr)) return jfail(j, KVLM_ERR_FORMAT, field, "\"processors\" should be an array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(f, sizeof f, "%s.processors[%zu]", field, i);
            if ((st = parse_post(j, json_array_get(arr, i), f, found))) return st;
        }
        return KVLM_OK;
    }
    if (strcmp(type, "TemplateProcessing")) return KVLM_OK; /* ByteLevel and the like add no tokens */
    *found = 1;
    json_t *single = json_object_get(n, "single"), *specials = json_object_get(n, "special_tokens");
    if (!json_is_array(single)) return jfail(j, KVLM_ERR_FORMAT, field, "\"single\" should be an array");
    for (size_t i = 0; i < json_array_size(single); i++) {
        snprintf(f, sizeof f, "%s.single[%zu]", field, i);
        json_t *item = json_array_get(single, i);
        if (!json_is_object(item)) return jfail(j, KVLM_ERR_FORMAT, f, "expected an object, not %s", jtype(item));
        json_t *sp = json_object_get(item, "SpecialToken");
        if (!sp) break; /* the sequence itself: what follows is not a prefix */
        const char *name;
        if ((st = jstr(j, sp, "id", f, 1, &name, NULL))) return st;
        json_t *entry = json_object_get(specials, name), *ids = json_object_get(entry, "ids");
        if (!json_is_array(ids))
            return jfail(j, KVLM_ERR_FORMAT, f, "special token \"%s\" has no \"ids\" in special_tokens", name);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_t *v = json_array_get(ids, k);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= t->n_vocab)
                return jfail(j, KVLM_ERR_FORMAT, f, "special_tokens[\"%s\"].ids[%zu] is not a token id", name, k);
            if (t->n_bos < (int)(sizeof t->bos_ids / sizeof t->bos_ids[0]))
                t->bos_ids[t->n_bos++] = (int32_t)json_integer_value(v);
        }
    }
    return KVLM_OK;
}

/* ------------------------------------------------------------------ model */

/* One token's decoded bytes, with the decoder steps. */
static kvlm_status set_token(jctx *j, int id, const char *key, size_t klen, const char *text, size_t tlen,
                             unsigned attr) {
    kvlm_tokenizer *t = j->t;
    size_t cap = tok_decode_bound(t, tlen);
    char stackbuf[256], *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", j->file);
    size_t plen = tok_decode_token(t, text, tlen, 0, buf);
    int same = plen == klen && memcmp(buf, key, klen) == 0;
    kvlm_status st = tok_set(t, id, key, klen, same ? NULL : buf, plen, attr);
    if (buf != stackbuf) free(buf);
    return st;
}

static kvlm_status load_vocab(jctx *j, json_t *vocab) {
    kvlm_tokenizer *t = j->t;
    const char *k;
    json_t *v;
    char stackbuf[256];
    json_object_foreach(vocab, k, v) {
        int id = (int)json_integer_value(v);
        if (t->attr[id] & TA_USED) return jfail(j, KVLM_ERR_FORMAT, "model.vocab", "id %d is given twice", id);
        size_t klen = strlen(k);
        kvlm_status st;
        if (t->byte_level) {
            char *raw = klen <= sizeof stackbuf ? stackbuf : malloc(klen);
            if (!raw) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", j->file);
            long r = byte_level_decode(k, klen, raw);
            /* a token outside the byte alphabet can never come out of BPE: kept
             * for decoding only */
            if (r >= 0)
                st = set_token(j, id, raw, (size_t)r, k, klen, TA_VOCAB);
            else
                st = set_token(j, id, k, klen, k, klen, 0);
            if (raw != stackbuf) free(raw);
        } else {
            st = set_token(j, id, k, klen, k, klen, TA_VOCAB);
        }
        if (st) return st;
    }
    return KVLM_OK;
}

/* merges[i] as its two parts ("a b" or ["a", "b"]) */
static kvlm_status merge_parts(jctx *j, json_t *m, size_t i, const char **a, size_t *alen, const char **b,
                               size_t *blen) {
    char f[FIELD_MAX];
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        const char *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ')) {
            snprintf(f, sizeof f, "model.merges[%zu]", i);
            return jfail(j, KVLM_ERR_FORMAT, f, "expected two tokens separated by one space");
        }
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = strlen(sp + 1);
        return KVLM_OK;
    }
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *alen = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *blen = json_string_length(json_array_get(m, 1));
        return KVLM_OK;
    }
    snprintf(f, sizeof f, "model.merges[%zu]", i);
    return jfail(j, KVLM_ERR_FORMAT, f, "expected a string or a pair of strings, not %s", jtype(m));
}

/* The id of a merge part (in the vocabulary's own spelling), -2 when the
 * part exists but is outside the byte alphabet (that merge can never apply),
 * -1 when it is not in the vocabulary. */
static int32_t part_id(jctx *j, json_t *vocab, const char *s, size_t n, char *raw) {
    kvlm_tokenizer *t = j->t;
    if (!t->byte_level) return strmap_get(&t->vocab, s, n);
    long r = byte_level_decode(s, n, raw);
    if (r >= 0) return strmap_get(&t->vocab, raw, (size_t)r);
    char *z = strndup(s, n);
    int present = z && json_object_get(vocab, z) != NULL;
    free(z);
    return present ? -2 : -1;
}

static kvlm_status load_merges(jctx *j, json_t *vocab, json_t *merges) {
    kvlm_tokenizer *t = j->t;
    size_t n = json_array_size(merges);
    kvlm_status st = pairmap_init(&t->merges, (uint32_t)(n < UINT32_MAX / 2 ? n : UINT32_MAX / 2));
    if (st) return st;
    char *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        if ((st = merge_parts(j, json_array_get(merges, i), i, &a, &alen, &b, &blen))) break;
        if (alen + blen + 1 > cap) {
            cap = (alen + blen + 1) * 2;
            char *nb = realloc(buf, 2 * cap);
            if (!nb) {
                st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", j->file);
                break;
            }
            buf = nb;
        }
        char f[FIELD_MAX] = ""; /* named only when something is wrong */
        int32_t ia = part_id(j, vocab, a, alen, buf), ib = part_id(j, vocab, b, blen, buf);
        if (ia < 0 || ib < 0 || (size_t)t->key_len[ia] + t->key_len[ib] > cap) snprintf(f, sizeof f, "model.merges[%zu]", i);
        if (ia == -1 || ib == -1) {
            st = jfail(j, KVLM_ERR_FORMAT, f, "\"%.*s\" is not in the vocabulary", (int)(ia == -1 ? alen : blen),
                       ia == -1 ? a : b);
            break;
        }
        if (ia == -2 || ib == -2) continue;
        /* the merged token: the concatenation of the two parts' keys */
        size_t la = t->key_len[ia], lb = t->key_len[ib];
        char *cat = buf + cap;
        if (la + lb > cap) {
            st = jfail(j, KVLM_ERR_FORMAT, f, "malformed merge");
            break;
        }
        memcpy(cat, tok_key(t, ia), la);
        memcpy(cat + la, tok_key(t, ib), lb);
        int32_t id = strmap_get(&t->vocab, cat, la + lb);
        if (id < 0) {
            snprintf(f, sizeof f, "model.merges[%zu]", i);
            st = jfail(j, KVLM_ERR_FORMAT, f, "the merge of \"%.*s\" and \"%.*s\" is not in the vocabulary", (int)alen,
                       a, (int)blen, b);
            break;
        }
        /* a pair listed twice: the later rank wins, as in Hugging Face's map */
        st = tok_add_merge(t, ia, ib, (uint32_t)i, id, 1);
    }
    free(buf);
    return st;
}

static kvlm_status load_added(jctx *j, json_t *added) {
    kvlm_tokenizer *t = j->t;
    for (size_t i = 0; i < json_array_size(added); i++) {
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "added_tokens[%zu]", i);
        json_t *a = json_array_get(added, i);
        if (!json_is_object(a)) return jfail(j, KVLM_ERR_FORMAT, f, "expected an object, not %s", jtype(a));
        long long id;
        const char *content;
        size_t clen;
        int special, lstrip, rstrip, single;
        kvlm_status st;
        if ((st = jint(j, a, "id", f, 1, 0, &id))) return st;
        if ((st = jstr(j, a, "content", f, 1, &content, &clen))) return st;
        if ((st = jbool(j, a, "special", f, 0, &special))) return st;
        if ((st = jbool(j, a, "lstrip", f, 0, &lstrip))) return st;
        if ((st = jbool(j, a, "rstrip", f, 0, &rstrip))) return st;
        if ((st = jbool(j, a, "single_word", f, 0, &single))) return st;
        if (id < 0 || id >= t->n_vocab) return jfail(j, KVLM_ERR_FORMAT, f, "bad id %lld", id);
        if (clen == 0) return jfail(j, KVLM_ERR_FORMAT, f, "empty \"content\"");
        unsigned attr = TA_ADDED | (special ? TA_SPECIAL : 0) | (lstrip ? TA_LSTRIP : 0) | (rstrip ? TA_RSTRIP : 0) |
                        (single ? TA_SINGLE_WORD : 0);
        /* also in the model's vocabulary under the same spelling: BPE may still produce it */
        if ((t->attr[id] & TA_VOCAB) && t->key_len[id] == clen && memcmp(tok_key(t, (int)id), content, clen) == 0)
            attr |= TA_VOCAB;
        if ((st = set_token(j, (int)id, content, clen, content, clen, attr))) return st;
    }
    return KVLM_OK;
}

/* The largest id of the vocabulary and the added tokens, checking their types. */
static kvlm_status count_ids(jctx *j, json_t *vocab, json_t *added, long long *max_id) {
    const char *k;
    json_t *v;
    *max_id = -1;
    json_object_foreach(vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 28))
            return jfail(j, KVLM_ERR_FORMAT, "model.vocab", "\"%s\": expected a token id, not %s", k,
                         json_is_integer(v) ? "an out-of-range integer" : jtype(v));
        if (json_integer_value(v) > *max_id) *max_id = json_integer_value(v);
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *id = json_object_get(json_array_get(added, i), "id");
        if (json_is_integer(id) && json_integer_value(id) >= 0 && json_integer_value(id) < (1 << 28) &&
            json_integer_value(id) > *max_id)
            *max_id = json_integer_value(id);
    }
    if (*max_id < 0) return jfail(j, KVLM_ERR_FORMAT, "model.vocab", "the vocabulary is empty");
    return KVLM_OK;
}

static kvlm_status parse_model_options(jctx *j, json_t *model, json_t *vocab) {
    kvlm_tokenizer *t = j->t;
    kvlm_status st;
    const char *s;
    if ((st = jbool(j, model, "ignore_merges", "model", 0, &t->ignore_merges))) return st;
    if ((st = jbool(j, model, "byte_fallback", "model", 0, &t->byte_fallback))) return st;
    if ((st = jbool(j, model, "fuse_unk", "model", 0, &t->fuse_unk))) return st;
    if ((st = jstr(j, model, "continuing_subword_prefix", "model", 0, &s, NULL))) return st;
    if (s && *s) return jfail(j, KVLM_ERR_UNSUPPORTED, "model", "continuing_subword_prefix is not supported");
    if ((st = jstr(j, model, "end_of_word_suffix", "model", 0, &s, NULL))) return st;
    if (s && *s) return jfail(j, KVLM_ERR_UNSUPPORTED, "model", "end_of_word_suffix is not supported");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return jfail(j, KVLM_ERR_UNSUPPORTED, "model", "BPE dropout is not supported");
    if ((st = jstr(j, model, "unk_token", "model", 0, &s, NULL))) return st;
    if (s) {
        json_t *id = json_object_get(vocab, s);
        if (!id) return jfail(j, KVLM_ERR_FORMAT, "model.unk_token", "\"%s\" is not in the vocabulary", s);
        t->unk_id = (int32_t)json_integer_value(id);
    }
    return KVLM_OK;
}

static kvlm_status load(jctx *j, json_t *root) {
    if (!json_is_object(root)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: expected a JSON object", j->file);
    json_t *model = json_object_get(root, "model");
    if (!model) return jfail(j, KVLM_ERR_FORMAT, "model", "missing");
    if (!json_is_object(model)) return jfail(j, KVLM_ERR_FORMAT, "model", "expected an object, not %s", jtype(model));
    const char *type;
    kvlm_status st = jstr(j, model, "type", "model", 0, &type, NULL);
    if (st) return st;
    if (type && strcmp(type, "BPE"))
        return jfail(j, KVLM_ERR_UNSUPPORTED, "model.type", "\"%s\" models are not supported (only BPE)", type);
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!vocab) return jfail(j, KVLM_ERR_FORMAT, "model.vocab", "missing");
    if (!json_is_object(vocab))
        return jfail(j, KVLM_ERR_FORMAT, "model.vocab", "expected an object, not %s", jtype(vocab));
    if (!merges) return jfail(j, KVLM_ERR_FORMAT, "model.merges", "missing");
    if (!json_is_array(merges))
        return jfail(j, KVLM_ERR_FORMAT, "model.merges", "expected an array, not %s", jtype(merges));
    json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_null(added) && !json_is_array(added))
        return jfail(j, KVLM_ERR_FORMAT, "added_tokens", "expected an array, not %s", jtype(added));
    long long max_id;
    if ((st = count_ids(j, vocab, added, &max_id))) return st;

    j->t = tok_new(j->file, (int)max_id + 1);
    if (!j->t) return KVLM_ERR_NOMEM;
    /* the pieces of the pipeline first: the decoder is needed to store the tokens */
    if ((st = parse_normalizer(j, json_object_get(root, "normalizer"), "normalizer"))) return st;
    if ((st = parse_pretok(j, json_object_get(root, "pre_tokenizer"), "pre_tokenizer"))) return st;
    int fused = 0, found_template = 0;
    if ((st = parse_decoder(j, json_object_get(root, "decoder"), "decoder", &fused))) return st;
    if ((st = parse_model_options(j, model, vocab))) return st;
    if ((st = load_vocab(j, vocab))) return st;
    strmap_keys keys = {(const char *const *)&j->t->arena, (const uint32_t *const *)&j->t->key_off,
                        (const uint32_t *const *)&j->t->key_len};
    /* a first vocabulary table for the merges; tok_finish rebuilds it with added tokens */
    if ((st = strmap_init(&j->t->vocab, (uint32_t)json_object_size(vocab), keys))) return st;
    for (int i = 0; i < j->t->n_vocab; i++)
        if ((j->t->attr[i] & TA_VOCAB) && strmap_put(&j->t->vocab, i) < 0)
            return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", j->file);
    if ((st = load_merges(j, vocab, merges))) return st;
    strmap_free(&j->t->vocab);
    if ((st = load_added(j, added))) return st;
    if ((st = parse_post(j, json_object_get(root, "post_processor"), "post_processor", &found_template))) return st;
    if ((st = tok_finish(j->t))) return st;
    kvlm_tokenizer *t = j->t;
    if (t->n_bos > 0) {
        t->bos_id = t->bos_ids[0];
    } else if (!found_template) {
        static const char *const names[] = {"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"};
        for (size_t i = 0; i < sizeof names / sizeof names[0] && t->bos_id < 0; i++) {
            int32_t id = strmap_get(&t->added, names[i], strlen(names[i]));
            if (id >= 0) {
                t->bos_id = id;
                t->bos_ids[t->n_bos++] = id;
            }
        }
    }
    return KVLM_OK;
}

kvlm_status tokenizer_load_hf_json(const char *path, kvlm_tokenizer **out) {
    if (!path || !out) return kvlm_fail(KVLM_ERR_ARG, "tokenizer_load_hf_json: bad argument");
    *out = NULL;
    char *text;
    size_t len;
    kvlm_status st = read_whole_file(path, &text, &len); /* faster than jansson's reading by getc */
    if (st) return st;
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    free(text);
    if (!root) return kvlm_fail(KVLM_ERR_FORMAT, "%s: line %d, column %d: %s", path, err.line, err.column, err.text);
    jctx j = {.file = path};
    st = load(&j, root);
    json_decref(root);
    if (st) {
        kvlm_tokenizer_free(j.t);
        return st;
    }
    *out = j.t;
    return KVLM_OK;
}
