/* Pre-tokenizers: the steps that cut normalized text into the pieces BPE sees
 * (Hugging Face's Split with a regex or a string, ByteLevel's optional prefix
 * space and GPT-2 regex, Metaspace). Each step cuts every piece the step
 * before produced; the last hands its pieces to BPE. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "tok_impl.h"
#include "utf8.h"

/* Hugging Face runs these patterns with Oniguruma, where \s is Unicode
 * White_Space (it includes U+0085 and not U+180E). PCRE2's \s in UCP mode is
 * \p{Z} plus \h and \v, which adds U+180E, so \s and \S are rewritten to the
 * White_Space property, which PCRE2 and Oniguruma agree on. */
static char *rewrite_pattern(const char *p, size_t n, size_t *out_n) {
    static const char ws[] = "\\p{White_Space}", nws[] = "\\P{White_Space}";
    char *out = malloc(n * (sizeof ws) + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 >= n) {
            out[o++] = p[i];
            continue;
        }
        char e = p[i + 1];
        if (e == 's' || e == 'S') {
            const char *r = e == 's' ? ws : nws;
            memcpy(out + o, r, sizeof ws - 1);
            o += sizeof ws - 1;
            i++;
        } else if (e == 'Q') { /* literal up to \E: copied untouched */
            size_t j = i + 2;
            while (j < n && !(p[j] == '\\' && j + 1 < n && p[j + 1] == 'E')) j++;
            j = j < n ? j + 2 : n;
            memcpy(out + o, p + i, j - i);
            o += j - i;
            i = j - 1;
        } else {
            out[o++] = p[i];
            out[o++] = e;
            i++;
        }
    }
    out[o] = 0;
    *out_n = o;
    return out;
}

kvlm_status tok_add_pretok(kvlm_tokenizer *t, const pretok_step *st, const char *what) {
    if (t->n_pre >= TOK_MAX_PRETOK)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: more than %d pre-tokenizer steps", what, TOK_MAX_PRETOK);
    t->pre[t->n_pre++] = *st;
    return KVLM_OK;
}

kvlm_status tok_add_split(kvlm_tokenizer *t, const char *pattern, size_t len, int literal, int behavior, int invert,
                          const char *what) {
    if (t->n_pre >= TOK_MAX_PRETOK)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: more than %d pre-tokenizer steps", what, TOK_MAX_PRETOK);
    size_t n = len;
    char *pat = literal ? NULL : rewrite_pattern(pattern, len, &n);
    if (!literal && !pat) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", what);
    int err;
    PCRE2_SIZE erroff;
    uint32_t opts = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(literal ? pattern : pat), n, opts, &err, &erroff, NULL);
    free(pat);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: the pattern does not compile: %s (near offset %zu)", what,
                         (const char *)msg, (size_t)erroff);
    }
    pretok_step st;
    memset(&st, 0, sizeof st);
    st.src = malloc(len + 1);
    if (!st.src) {
        pcre2_code_free(re);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", what);
    }
    memcpy(st.src, pattern, len);
    st.src[len] = 0;
    st.src_len = len;
    st.literal = literal;
    st.type = PT_SPLIT;
    st.re = re;
    st.behavior = behavior;
    st.invert = invert;
    size_t jit_size = 0;
    /* JIT is optional: pcre2_match interprets the pattern without it */
    st.jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0 &&
             pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit_size) == 0 && jit_size > 0;
    t->pre[t->n_pre++] = st;
    return KVLM_OK;
}

static int run_level(const kvlm_tokenizer *t, tok_ctx *c, int lvl, const char *s, size_t n, int at_start);

/* Turns the stream of (span, is_match) from a split into pieces, following
 * Hugging Face's SplitDelimiterBehavior. */
typedef struct {
    const kvlm_tokenizer *t;
    tok_ctx *c;
    int lvl, at_start, behavior, rc;
    const char *s;
    int have;             /* a piece is pending */
    size_t ps, pe;        /* the pending piece */
    int pend_match;       /* MergedWithNext: the pending piece is a lone delimiter */
    int prev_match;       /* the previous span was a delimiter */
} splitter;

static void emit(splitter *sp, size_t a, size_t b) {
    if (b > a && sp->rc == 0) sp->rc = run_level(sp->t, sp->c, sp->lvl + 1, sp->s + a, b - a, sp->at_start && a == 0);
}

static void flush(splitter *sp) {
    if (sp->have) emit(sp, sp->ps, sp->pe);
    sp->have = 0;
}

static void pend(splitter *sp, size_t a, size_t b) {
    sp->have = 1;
    sp->ps = a;
    sp->pe = b;
}

static void span(splitter *sp, size_t a, size_t b, int is_match) {
    switch (sp->behavior) {
    case SPLIT_ISOLATED: emit(sp, a, b); break;
    case SPLIT_REMOVED:
        if (!is_match) emit(sp, a, b);
        break;
    case SPLIT_CONTIGUOUS:
        if (sp->have && is_match == sp->prev_match) {
            sp->pe = b;
        } else {
            flush(sp);
            pend(sp, a, b);
        }
        break;
    case SPLIT_MERGED_PREV:
        if (is_match && !sp->prev_match && sp->have) {
            sp->pe = b;
        } else {
            flush(sp);
            pend(sp, a, b);
        }
        break;
    default: /* SPLIT_MERGED_NEXT */
        if (sp->have && sp->pend_match && !is_match) {
            sp->pe = b;
            sp->pend_match = 0;
        } else {
            flush(sp);
            pend(sp, a, b);
            sp->pend_match = is_match;
        }
        break;
    }
    sp->prev_match = is_match;
}

/* The next match at or after from: 1 found, 0 none, -1 error (set). */
static int re_find(const pretok_step *st, tok_ctx *c, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    if (!c->md) {
        c->md = pcre2_match_data_create(1, NULL);
        if (!c->md) {
            c->oom = 1;
            return -1;
        }
    }
    int rc = PCRE2_ERROR_JIT_BADOPTION;
    if (st->jit) rc = pcre2_jit_match(st->re, (PCRE2_SPTR)s, n, from, 0, c->md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* no JIT, or its stack ran out: the interpreter */
        rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, c->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        kvlm_fail(KVLM_ERR_ARG, "kvlm_tokenize: the pre-tokenizer regex failed: %s", (const char *)msg);
        return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    if (ov[0] < from || ov[1] < ov[0] || ov[1] > n) {
        kvlm_fail(KVLM_ERR_UNSUPPORTED, "kvlm_tokenize: the pre-tokenizer regex gave a match kvlm cannot use");
        return -1;
    }
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

static int split_regex(const kvlm_tokenizer *t, tok_ctx *c, int lvl, const char *s, size_t n, int at_start) {
    const pretok_step *st = &t->pre[lvl];
    splitter sp = {.t = t, .c = c, .lvl = lvl, .at_start = at_start, .behavior = st->behavior, .s = s};
    /* Oniguruma's find_iter: an empty match right where the previous match
     * ended is skipped by moving one character on. */
    size_t prev = 0, from = 0;
    int have_last = 0;
    size_t last_end = 0;
    while (from <= n && sp.rc == 0) {
        size_t ms, me;
        int r = re_find(st, c, s, n, from, &ms, &me);
        if (r < 0) return -1;
        if (r == 0) break;
        if (ms == me && have_last && me == last_end) {
            if (from >= n) break;
            from += (size_t)utf8_len_lead((uint8_t)s[from]);
            continue;
        }
        if (ms > prev) span(&sp, prev, ms, st->invert);
        span(&sp, ms, me, !st->invert);
        prev = me;
        from = me;
        last_end = me;
        have_last = 1;
    }
    if (sp.rc == 0 && prev < n) span(&sp, prev, n, st->invert);
    if (sp.rc == 0) flush(&sp);
    return sp.rc;
}

static int metaspace(const kvlm_tokenizer *t, tok_ctx *c, int lvl, const char *s, size_t n, int at_start) {
    const pretok_step *st = &t->pre[lvl];
    size_t rl = (size_t)st->repl_len;
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    char *b = tok_scratch(c, lvl, n + spaces * rl + rl + 1);
    if (!b) return -1;
    size_t o = 0;
    int starts = n >= rl ? memcmp(s, st->repl, rl) == 0 : 0;
    if (n > 0 && s[0] == ' ') starts = 1;
    if (!starts && (st->prepend == PREPEND_ALWAYS || (st->prepend == PREPEND_FIRST && at_start))) {
        memcpy(b, st->repl, rl);
        o = rl;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(b + o, st->repl, rl);
            o += rl;
        } else {
            b[o++] = s[i];
        }
    }
    if (!st->split) return run_level(t, c, lvl + 1, b, o, at_start);
    splitter sp = {.t = t, .c = c, .lvl = lvl, .at_start = at_start, .behavior = SPLIT_MERGED_NEXT, .s = b};
    size_t prev = 0;
    for (size_t i = 0; i + rl <= o && sp.rc == 0;) {
        if (b[i] == st->repl[0] && memcmp(b + i, st->repl, rl) == 0) {
            if (i > prev) span(&sp, prev, i, 0);
            span(&sp, i, i + rl, 1);
            i += rl;
            prev = i;
        } else {
            i++;
        }
    }
    if (sp.rc == 0 && prev < o) span(&sp, prev, o, 0);
    if (sp.rc == 0) flush(&sp);
    return sp.rc;
}

static int run_level(const kvlm_tokenizer *t, tok_ctx *c, int lvl, const char *s, size_t n, int at_start) {
    if (lvl >= t->n_pre) return tok_bpe_word(t, c, s, n);
    const pretok_step *st = &t->pre[lvl];
    switch (st->type) {
    case PT_SPLIT: return split_regex(t, c, lvl, s, n, at_start);
    case PT_METASPACE: return metaspace(t, c, lvl, s, n, at_start);
    default: /* PT_PREFIX_SPACE */
        if (n > 0 && s[0] != ' ') {
            char *b = tok_scratch(c, lvl, n + 1);
            if (!b) return -1;
            b[0] = ' ';
            memcpy(b + 1, s, n);
            return run_level(t, c, lvl + 1, b, n + 1, at_start);
        }
        return run_level(t, c, lvl + 1, s, n, at_start);
    }
}

int tok_pretokenize(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n, int at_start) {
    if (n == 0) return 0;
    return run_level(t, c, 0, s, n, at_start);
}
