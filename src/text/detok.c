/* Decoding: each token's bytes are computed once at load time by the
 * decoder steps (tok_decode_token); the stream then glues them, holds the
 * bytes of a UTF-8 character split across tokens until it is complete, and
 * replaces ill-formed sequences by U+FFFD (as Hugging Face's
 * from_utf8_lossy does). No clean-up of spaces: decode(encode(x)) == x. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "byte_level.h"
#include "tok_impl.h"
#include "utf8.h"

/* Every match of a Replace step consumes at least one byte and writes blen,
 * so a step can multiply the length by blen, and chained steps compound (the
 * other steps never lengthen the text). SIZE_MAX when that does not fit: the
 * allocation then fails cleanly. */
size_t tok_decode_bound(const kvlm_tokenizer *t, size_t klen) {
    size_t bound = klen;
    for (int i = 0; i < t->n_dec; i++)
        if (t->dec[i].op == DEC_REPLACE && t->dec[i].blen > 1) {
            if (bound > (SIZE_MAX / 2) / t->dec[i].blen) return SIZE_MAX;
            bound *= t->dec[i].blen;
        }
    return bound + 8;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Replaces every a in src by b (b NULL: removes it). */
static size_t replace_all(const char *src, size_t n, const char *a, size_t alen, const char *b, size_t blen, char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (alen && i + alen <= n && memcmp(src + i, a, alen) == 0) {
            if (b) memcpy(dst + o, b, blen), o += blen;
            i += alen;
        } else {
            dst[o++] = src[i++];
        }
    }
    return o;
}

size_t tok_decode_token(const kvlm_tokenizer *t, const char *key, size_t klen, int is_first, char *out) {
    size_t cap = tok_decode_bound(t, klen);
    char stackbuf[512], *tmp = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    memcpy(out, key, klen);
    size_t n = klen;
    if (!tmp || t->n_dec == 0) {
        if (tmp != stackbuf) free(tmp);
        return n;
    }
    int fused = 0;
    for (int k = 0; k < t->n_dec; k++) {
        const dec_op *d = &t->dec[k];
        switch (d->op) {
        case DEC_BYTELEVEL: {
            long r = byte_level_decode(out, n, tmp);
            if (r >= 0) { /* else: not in the byte alphabet, the text is kept as is */
                memcpy(out, tmp, (size_t)r);
                n = (size_t)r;
            }
            fused = 1; /* Hugging Face's ByteLevel decoder joins all tokens */
            break;
        }
        case DEC_REPLACE:
            n = replace_all(out, n, d->a, d->alen, d->b, d->blen, tmp);
            memcpy(out, tmp, n);
            break;
        case DEC_METASPACE:
            n = replace_all(out, n, d->a, d->alen, (is_first && d->first_rule) ? NULL : " ", 1, tmp);
            memcpy(out, tmp, n);
            break;
        case DEC_BYTEFALLBACK:
            if (n == 6 && memcmp(out, "<0x", 3) == 0 && out[5] == '>' && hexval(out[3]) >= 0 && hexval(out[4]) >= 0) {
                out[0] = (char)(hexval(out[3]) * 16 + hexval(out[4]));
                n = 1;
            }
            break;
        case DEC_FUSE: fused = 1; break;
        case DEC_STRIP:
            if (!fused) { /* per token; after Fuse the stream strips the start of the text */
                size_t a = 0, z = n;
                for (int i = 0; i < d->start && a < z && out[a] == d->ch; i++) a++;
                for (int i = 0; i < d->stop && z > a && out[z - 1] == d->ch; i++) z--;
                memmove(out, out + a, z - a);
                n = z - a;
            }
            break;
        default: break;
        }
    }
    if (tmp != stackbuf) free(tmp);
    return n;
}

/* ----------------------------------------------------------------- stream */

struct kvlm_detok_stream {
    const kvlm_tokenizer *t;
    long n_pushed;
    int32_t prev;
    uint8_t pend[4]; /* the start of a character still incomplete */
    int npend;
    int strip_left;  /* characters still to strip at the start of the text */
    char *out;
    size_t len, cap;
    char *first; /* the first token's bytes when it decodes differently */
    size_t first_cap;
};

kvlm_detok_stream *kvlm_detok_stream_new(const kvlm_tokenizer *t) {
    if (!t) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_detok_stream_new: no tokenizer");
        return NULL;
    }
    kvlm_detok_stream *s = calloc(1, sizeof *s);
    if (!s) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_detok_stream_new: out of memory");
        return NULL;
    }
    s->t = t;
    s->prev = -1;
    s->strip_left = t->dec_strip_start;
    return s;
}

void kvlm_detok_stream_free(kvlm_detok_stream *s) {
    if (!s) return;
    free(s->out);
    free(s->first);
    free(s);
}

static int reserve(kvlm_detok_stream *s, size_t extra) {
    if (s->len + extra + 1 <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + extra + 1) cap *= 2;
    char *o = realloc(s->out, cap);
    if (!o) return -1;
    s->out = o;
    s->cap = cap;
    return 0;
}

static void put_fffd(kvlm_detok_stream *s) {
    memcpy(s->out + s->len, "\xEF\xBF\xBD", 3);
    s->len += 3;
}

/* Appends n bytes, completing or holding split characters. */
static int feed(kvlm_detok_stream *s, const uint8_t *b, size_t n) {
    while (s->strip_left > 0 && n > 0 && s->npend == 0 && b[0] == (uint8_t)s->t->dec_strip_char) {
        b++;
        n--;
        s->strip_left--;
    }
    if (n == 0) return 0;
    s->strip_left = 0;
    /* each input byte yields at most 3 bytes out (U+FFFD), plus the held ones */
    if (reserve(s, 3 * n + 12)) return -1;
    for (size_t i = 0; i < n;) {
        uint8_t c = b[i++];
        if (s->npend == 0) {
            if (c < 0x80) {
                s->out[s->len++] = (char)c;
                continue;
            }
            s->pend[s->npend++] = c;
        } else {
            s->pend[s->npend++] = c;
        }
        uint32_t cp;
        int r = utf8_decode(s->pend, (size_t)s->npend, &cp);
        if (r > 0) {
            memcpy(s->out + s->len, s->pend, (size_t)r);
            s->len += (size_t)r;
            s->npend = 0;
        } else if (r < 0) {
            /* the held bytes were a valid start, so the maximal subpart is
             * everything but the byte just added, which starts afresh */
            put_fffd(s);
            int again = s->npend > 1;
            s->npend = 0;
            if (again) i--; /* i >= 1 here: the byte just taken */
        }
    }
    return 0;
}

const char *kvlm_detok_stream_push(kvlm_detok_stream *s, int32_t id, size_t *len) {
    if (!s || id < 0 || id >= s->t->n_vocab) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_detok_stream_push: token id %d is out of range", (int)id);
        return NULL;
    }
    const kvlm_tokenizer *t = s->t;
    s->len = 0;
    const char *p = tok_piece(t, id);
    size_t n = t->piece_len[id];
    if (s->n_pushed == 0 && t->dec_first_differs) {
        size_t need = tok_decode_bound(t, t->key_len[id]);
        if (need > s->first_cap) {
            char *f = realloc(s->first, need);
            if (!f) goto nomem;
            s->first = f;
            s->first_cap = need;
        }
        n = tok_decode_token(t, tok_key(t, id), t->key_len[id], 1, s->first);
        p = s->first;
    }
    if (t->dec_llama2c && s->prev >= 0 && s->prev == t->bos_id && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (feed(s, (const uint8_t *)p, n)) goto nomem;
    s->n_pushed++;
    s->prev = id;
    if (reserve(s, 0)) goto nomem;
    s->out[s->len] = 0;
    if (len) *len = s->len;
    return s->out;
nomem:
    kvlm_fail(KVLM_ERR_NOMEM, "kvlm_detok_stream_push: out of memory");
    return NULL;
}

const char *kvlm_detok_stream_flush(kvlm_detok_stream *s, size_t *len) {
    if (!s) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_detok_stream_flush: no stream");
        return NULL;
    }
    s->len = 0;
    if (reserve(s, 4)) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_detok_stream_flush: out of memory");
        return NULL;
    }
    if (s->npend) put_fffd(s);
    s->npend = 0;
    s->out[s->len] = 0;
    if (len) *len = s->len;
    return s->out;
}

long kvlm_detokenize(const kvlm_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap) {
    if (!t || n < 0 || (n > 0 && !ids) || (cap > 0 && !out)) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_detokenize: bad argument");
        return -1;
    }
    kvlm_detok_stream *s = kvlm_detok_stream_new(t);
    if (!s) return -1;
    size_t total = 0;
    for (int i = 0; i <= n; i++) {
        size_t len;
        const char *p = i < n ? kvlm_detok_stream_push(s, ids[i], &len) : kvlm_detok_stream_flush(s, &len);
        if (!p) {
            if (i < n) kvlm_error_prefix("kvlm_detokenize: ids[%d]", i);
            kvlm_detok_stream_free(s);
            return -1;
        }
        if (total < cap) memcpy(out + total, p, len < cap - total ? len : cap - total);
        total += len;
    }
    kvlm_detok_stream_free(s);
    if (total < cap) out[total] = 0;
    return (long)total;
}
