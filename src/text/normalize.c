/* Normalizer steps (Hugging Face "Prepend", "Replace" with a plain string,
 * and "NFC"), applied to each stretch of text between added tokens. */
#include <string.h>

#include "tok_impl.h"
#include "unicode_nfc.h"

static size_t count_occurrences(const char *s, size_t n, const char *pat, size_t pn) {
    size_t count = 0;
    for (size_t i = 0; i + pn <= n;) {
        const char *p = memchr(s + i, pat[0], n - i);
        if (!p || (size_t)(p - s) + pn > n) break;
        i = (size_t)(p - s);
        if (memcmp(s + i, pat, pn) == 0) {
            count++;
            i += pn;
        } else {
            i++;
        }
    }
    return count;
}

const char *tok_normalize(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n, size_t *out_n) {
    int lvl = TOK_MAX_PRETOK; /* ping-pong between the two top scratch levels */
    for (int k = 0; k < t->n_norm; k++) {
        const norm_op *o = &t->norm[k];
        if (o->op == NORM_NFC) {
            if (nfc_quick_check(s, n)) continue;
            char *b = tok_scratch(c, lvl, nfc_bound(n));
            if (!b) return NULL;
            size_t nn = nfc_normalize(s, n, b);
            if (nn == (size_t)-1) {
                c->oom = 1;
                return NULL;
            }
            s = b;
            n = nn;
        } else if (o->op == NORM_PREPEND) {
            if (n == 0 || o->alen == 0) continue;
            char *b = tok_scratch(c, lvl, n + o->alen);
            if (!b) return NULL;
            memcpy(b, o->a, o->alen);
            memcpy(b + o->alen, s, n);
            s = b;
            n += o->alen;
        } else {
            if (o->alen == 0) continue;
            size_t cnt = count_occurrences(s, n, o->a, o->alen);
            if (cnt == 0) continue;
            size_t nn = n - cnt * o->alen + cnt * o->blen;
            char *b = tok_scratch(c, lvl, nn ? nn : 1);
            if (!b) return NULL;
            size_t i = 0, j = 0;
            while (i < n) {
                if (i + o->alen <= n && s[i] == o->a[0] && memcmp(s + i, o->a, o->alen) == 0) {
                    memcpy(b + j, o->b, o->blen);
                    j += o->blen;
                    i += o->alen;
                } else {
                    b[j++] = s[i++];
                }
            }
            s = b;
            n = j;
        }
        lvl = lvl == TOK_MAX_PRETOK ? TOK_MAX_PRETOK + 1 : TOK_MAX_PRETOK;
    }
    *out_n = n;
    return s;
}
