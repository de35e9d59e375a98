/* Added tokens ("<|eot_id|>", "<s>", ...): found in the text before anything
 * else, as Hugging Face's AddedVocabulary does: leftmost match first, the
 * longest at that position; a special token is kept as plain text unless
 * KVLM_TOKENIZE_SPECIAL is given (then the scan goes on after it). */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "tok_impl.h"
#include "utf8.h"

static int32_t trie_node_new(kvlm_tokenizer *t, uint8_t byte) {
    if (t->n_trie == t->cap_trie) {
        int cap = t->cap_trie ? t->cap_trie * 2 : 64;
        trie_node *v = realloc(t->trie, (size_t)cap * sizeof *v);
        if (!v) return -1;
        t->trie = v;
        t->cap_trie = cap;
    }
    trie_node *n = &t->trie[t->n_trie];
    n->child = n->sibling = n->id = -1;
    n->byte = byte;
    return t->n_trie++;
}

kvlm_status tok_trie_build(kvlm_tokenizer *t) {
    if (trie_node_new(t, 0) < 0) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
    for (int id = 0; id < t->n_vocab; id++) {
        if (!(t->attr[id] & TA_ADDED) || t->key_len[id] == 0) continue;
        const uint8_t *k = (const uint8_t *)tok_key(t, id);
        int32_t node = 0;
        for (uint32_t i = 0; i < t->key_len[id]; i++) {
            int32_t ch = t->trie[node].child;
            while (ch >= 0 && t->trie[ch].byte != k[i]) ch = t->trie[ch].sibling;
            if (ch < 0) {
                ch = trie_node_new(t, k[i]);
                if (ch < 0) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", t->name);
                t->trie[ch].sibling = t->trie[node].child;
                t->trie[node].child = ch;
            }
            node = ch;
        }
        if (t->trie[node].id < 0) t->trie[node].id = id; /* the same content twice: the first id */
        if (!(t->attr[id] & TA_SPECIAL)) t->n_plain_added++;
        t->trie_first[k[0]] = 1;
    }
    return KVLM_OK;
}

/* The longest added token starting at s[i], or -1; *end receives its end. */
static int32_t match_at(const kvlm_tokenizer *t, const uint8_t *s, size_t n, size_t i, size_t *end) {
    int32_t node = 0, found = -1;
    for (size_t j = i; j < n; j++) {
        int32_t ch = t->trie[node].child;
        while (ch >= 0 && t->trie[ch].byte != s[j]) ch = t->trie[ch].sibling;
        if (ch < 0) break;
        node = ch;
        if (t->trie[node].id >= 0) {
            found = t->trie[node].id;
            *end = j + 1;
        }
    }
    return found;
}

/* Hugging Face's word test for single_word tokens (char::is_alphanumeric),
 * approximated: ASCII letters and digits, and every non-ASCII character that
 * is not whitespace. */
static int is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
    return !utf8_is_space(cp);
}

static uint32_t char_before(const uint8_t *s, size_t i, size_t *start) {
    size_t k = i;
    do k--;
    while (k > 0 && (s[k] & 0xC0) == 0x80 && i - k < 4);
    uint32_t cp = 0xFFFD;
    if (utf8_decode(s + k, i - k, &cp) <= 0) cp = 0xFFFD;
    *start = k;
    return cp;
}

static uint32_t char_at(const uint8_t *s, size_t n, size_t i, size_t *len) {
    uint32_t cp = 0xFFFD;
    int k = utf8_decode(s + i, n - i, &cp);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 ? cp : 0xFFFD;
}

int32_t tok_find_added(const kvlm_tokenizer *t, const char *text, size_t n, size_t from, int special, size_t *start,
                       size_t *end) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = from;
    while (i < n) {
        if (!t->trie_first[s[i]]) {
            i++;
            continue;
        }
        size_t e = 0;
        int32_t id = match_at(t, s, n, i, &e);
        if (id < 0) {
            i++;
            continue;
        }
        uint8_t a = t->attr[id];
        if ((a & TA_SPECIAL) && !special) { /* kept as text; the scan resumes after it */
            i = e;
            continue;
        }
        if (a & TA_SINGLE_WORD) {
            size_t k, len;
            int ok_left = i == 0 || !is_word_char(char_before(s, i, &k));
            int ok_right = e == n || !is_word_char(char_at(s, n, e, &len));
            if (!ok_left || !ok_right) {
                i = e;
                continue;
            }
        }
        size_t st = i, en = e;
        if (a & TA_LSTRIP) {
            while (st > from) {
                size_t k;
                if (!utf8_is_space(char_before(s, st, &k)) || k < from) break;
                st = k;
            }
        }
        if (a & TA_RSTRIP) {
            while (en < n) {
                size_t len;
                if (!utf8_is_space(char_at(s, n, en, &len))) break;
                en += len;
            }
        }
        *start = st;
        *end = en;
        return id;
    }
    return -1;
}
