/* The translator and copy-editor (the Core ML port's provider), and plain
 * completion, on the public API.
 *
 * A chat request renders [system prompt, user text] with the model's chat
 * template and its generation prompt: A + text + B, where A (everything the
 * template puts before the user's text) and B (after it) are found by
 * rendering two one-letter probes. The prompt is tokenized as one string with
 * the special tokens of the template parsed, as Hugging Face's
 * apply_chat_template does; when the text itself holds the text of a special
 * token ("<|eot_id|>"), the text is tokenized on its own with specials off, so
 * a user's text can never end the turn.
 *
 * Prefix reuse: the tokens of A are prefilled once per (task, languages) into
 * a small state of their own; a request copies the common token prefix of its
 * prompt and A (kvlm_state_copy_prefix) and prefills only the rest. A prefill
 * gives the same KV and logits however the positions are split into calls, so
 * the output does not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "kvlm.h"

#define PREFIX_SLOTS 8
#define DEFAULT_CTX 2048
#define MAX_LANGUAGE 100

typedef struct {
    char *key; /* NULL: a free slot */
    kvlm_state *state;
    int32_t *ids;
    int n;
    double ms; /* what the prefill took */
    unsigned long used;
} prefix_slot;

struct kvlm_provider {
    kvlm_model *model;
    int own_model;
    const kvlm_tokenizer *tok;
    kvlm_provider_options o;
    char *date;
    kvlm_chat_format fmt; /* AUTO: none (why in fmt_error) */
    char fmt_error[400];
    int n_ctx;
    kvlm_state *state;
    prefix_slot slots[PREFIX_SLOTS];
    unsigned long clock;
};

static const char *task_fn(kvlm_task task) {
    switch (task) {
    case KVLM_TASK_TRANSLATE: return "kvlm_provider_translate";
    case KVLM_TASK_COPYEDIT: return "kvlm_provider_copyedit";
    default: return "kvlm_provider_complete";
    }
}

/* ------------------------------------------------------- system prompts */

static const char COPYEDIT_PROMPT[] =
    "You are a copy-editor of speech-to-text transcripts. Correct only words the transcriber misheard or "
    "misspelled (for example \"sight\" written for \"site\"), capitalization and obvious punctuation. Keep the "
    "speaker's wording, word order, filler words (um, uh, like, you know, repeated words) and meaning exactly; "
    "do not rephrase, shorten, summarize, translate or add anything. If nothing needs fixing, return the text "
    "unchanged. Output only the corrected transcript.";

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The trimmed extent of s. */
static void trim(const char *s, const char **start, size_t *len) {
    size_t n = strlen(s);
    while (n && is_space((unsigned char)*s)) s++, n--;
    while (n && is_space((unsigned char)s[n - 1])) n--;
    *start = s;
    *len = n;
}

/* Checks a language name; which: "source" or "target". */
static kvlm_status check_language(const char *fn, const char *name, const char *which, const char **start,
                                  size_t *len) {
    if (!name) return kvlm_fail(KVLM_ERR_ARG, "%s: no %s language", fn, which);
    trim(name, start, len);
    if (*len == 0)
        return kvlm_fail(KVLM_ERR_ARG, "%s: the %s language name is empty%s", fn, which,
                         !strcmp(which, "source") ? " (pass NULL to leave the source out)" : "");
    if (*len > MAX_LANGUAGE)
        return kvlm_fail(KVLM_ERR_ARG, "%s: the %s language name is %zu bytes long (at most %d)", fn, which, *len,
                         MAX_LANGUAGE);
    for (size_t i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)(*start)[i];
        if (c < 0x20 || c == 0x7f)
            return kvlm_fail(KVLM_ERR_ARG, "%s: the %s language name holds a control character (byte 0x%02x)", fn,
                             which, c);
    }
    return KVLM_OK;
}

static char *system_prompt(const char *fn, kvlm_task task, const char *source, const char *target) {
    if (task == KVLM_TASK_COPYEDIT) {
        char *s = strdup(COPYEDIT_PROMPT);
        if (!s) kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
        return s;
    }
    if (task != KVLM_TASK_TRANSLATE) {
        kvlm_fail(KVLM_ERR_ARG, "%s: task %d has no system prompt (translate and copyedit have one)", fn, (int)task);
        return NULL;
    }
    const char *t, *s = NULL;
    size_t tn, sn = 0;
    if (check_language(fn, target, "target", &t, &tn)) return NULL;
    if (source && check_language(fn, source, "source", &s, &sn)) return NULL;
    char *out = NULL;
    int r;
    if (s)
        r = asprintf(&out,
                     "You are a %.*s translator. Translate the user message from %.*s to %.*s. "
                     "Output only the translation.",
                     (int)tn, t, (int)sn, s, (int)tn, t);
    else
        r = asprintf(&out,
                     "You are a %.*s translator. Translate the user message to %.*s. Output only the translation.",
                     (int)tn, t, (int)tn, t);
    if (r < 0) {
        kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    return out;
}

char *kvlm_task_system_prompt(kvlm_task task, const char *source_language, const char *target_language) {
    return system_prompt("kvlm_task_system_prompt", task, source_language, target_language);
}

/* ------------------------------------------------------------ provider */

kvlm_provider *kvlm_provider_new(kvlm_model *model, const kvlm_provider_options *opts) {
    if (!model) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_new: no model");
        return NULL;
    }
    kvlm_provider_options o = {0};
    if (opts) o = *opts;
    if (o.max_tokens < 0) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_new: max_tokens %d is negative", o.max_tokens);
        return NULL;
    }
    if (o.n_ctx < 0) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_new: n_ctx %d is negative", o.n_ctx);
        return NULL;
    }
    if (o.chat_format != KVLM_CHAT_AUTO && o.chat_format != KVLM_CHAT_LLAMA32 && o.chat_format != KVLM_CHAT_LLAMA3 &&
        o.chat_format != KVLM_CHAT_CHATML) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_new: unknown chat format %d", (int)o.chat_format);
        return NULL;
    }
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(model);
    if (!tok) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_new: the model has no tokenizer (a llama2.c checkpoint needs "
                                "tokenizer_path)");
        return NULL;
    }
    kvlm_model_info info;
    kvlm_model_get_info(model, &info);
    kvlm_provider *p = calloc(1, sizeof *p);
    if (!p) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_provider_new: out of memory");
        return NULL;
    }
    p->model = model;
    p->tok = tok;
    p->o = o;
    p->o.date = NULL;
    p->o.tokenizer_path = NULL;
    if (o.date && !(p->date = strdup(o.date))) {
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_provider_new: out of memory");
        free(p);
        return NULL;
    }
    p->n_ctx = o.n_ctx ? o.n_ctx : (info.max_pos < DEFAULT_CTX ? info.max_pos : DEFAULT_CTX);
    kvlm_state_options so = {.n_ctx = p->n_ctx};
    p->state = kvlm_state_new(model, &so);
    if (!p->state) {
        kvlm_error_prefix("kvlm_provider_new");
        free(p->date);
        free(p);
        return NULL;
    }
    p->fmt = o.chat_format;
    if (p->fmt == KVLM_CHAT_AUTO) {
        const char *src = kvlm_model_chat_template(model);
        if (!src) {
            snprintf(p->fmt_error, sizeof p->fmt_error,
                     "the model has no chat template: choose a chat format (llama3.2, llama3, chatml)");
        } else {
            p->fmt = kvlm_chat_format_detect(src);
            if (p->fmt == KVLM_CHAT_AUTO) snprintf(p->fmt_error, sizeof p->fmt_error, "%s", kvlm_last_error());
        }
        kvlm_error_clear();
    }
    return p;
}

kvlm_provider *kvlm_provider_open(const char *model_path, const kvlm_provider_options *opts) {
    if (!model_path) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_open: no model path");
        return NULL;
    }
    kvlm_model_options mo = {0};
    if (opts) {
        mo.n_threads = opts->n_threads;
        mo.kernels = opts->kernels;
        mo.tokenizer_path = opts->tokenizer_path;
    }
    kvlm_model *m = kvlm_model_open(model_path, &mo);
    if (!m) return NULL;
    kvlm_provider *p = kvlm_provider_new(m, opts);
    if (!p) {
        kvlm_model_free(m);
        return NULL;
    }
    p->own_model = 1;
    return p;
}

static void slot_clear(prefix_slot *s) {
    free(s->key);
    kvlm_state_free(s->state);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void kvlm_provider_reset_session(kvlm_provider *p) {
    if (!p) return;
    for (int i = 0; i < PREFIX_SLOTS; i++) slot_clear(&p->slots[i]);
    kvlm_state_reset(p->state);
}

void kvlm_provider_free(kvlm_provider *p) {
    if (!p) return;
    kvlm_provider_reset_session(p);
    kvlm_state_free(p->state);
    if (p->own_model) kvlm_model_free(p->model);
    free(p->date);
    free(p);
}

kvlm_model *kvlm_provider_model(const kvlm_provider *p) { return p ? p->model : NULL; }

/* ------------------------------------------------------------- requests */

typedef struct {
    int32_t *v;
    int n, cap;
} idbuf;

/* Appends the ids of len bytes of text. */
static kvlm_status tokenize_append(const char *fn, const kvlm_tokenizer *tok, idbuf *b, const char *text, size_t len,
                                   int flags) {
    int need = kvlm_tokenize(tok, text, len, flags, NULL, 0);
    if (need < 0) {
        kvlm_error_prefix("%s", fn);
        return KVLM_ERR_ARG;
    }
    if (need > (1 << 28) - b->n) return kvlm_fail(KVLM_ERR_ARG, "%s: the text is too long (%d tokens)", fn, need);
    if (b->n + need > b->cap) {
        int cap = b->n + need + 16;
        int32_t *v = realloc(b->v, sizeof(int32_t) * (size_t)cap);
        if (!v) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
        b->v = v;
        b->cap = cap;
    }
    if (need && kvlm_tokenize(tok, text, len, flags, b->v + b->n, need) != need) {
        kvlm_error_prefix("%s", fn);
        return KVLM_ERR_ARG;
    }
    b->n += need;
    return KVLM_OK;
}

/* Whether the text holds the text of a special token: its ids with special
 * tokens parsed differ from its ids without. */
static int holds_special(const kvlm_tokenizer *tok, const char *text, size_t len, int *err) {
    idbuf a = {0}, b = {0};
    *err = tokenize_append("tokenize", tok, &a, text, len, 0) ||
           tokenize_append("tokenize", tok, &b, text, len, KVLM_TOKENIZE_SPECIAL);
    int differ = !*err && (a.n != b.n || memcmp(a.v, b.v, sizeof(int32_t) * (size_t)a.n) != 0);
    free(a.v);
    free(b.v);
    return differ;
}

/* The prompt of a chat task, tokenized: ids (the whole prompt), the number of
 * tokens of the text (*n_text) and the tokens of A (*prefix, *n_prefix). */
typedef struct {
    idbuf ids;
    idbuf prefix;
    int n_text;
} chat_prompt;

static kvlm_status build_chat_prompt(kvlm_provider *p, const char *fn, const char *sys, const char *text,
                                     size_t text_len, chat_prompt *out) {
    if (p->fmt == KVLM_CHAT_AUTO) return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: %s", fn, p->fmt_error);
    kvlm_status st = KVLM_OK;
    char *content = strndup(text, text_len);
    char *r[3] = {NULL, NULL, NULL};
    const char *probes[3] = {content, "x", "y"};
    if (!content) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < 3; i++) {
        kvlm_chat_message msgs[2] = {{"system", sys}, {"user", probes[i]}};
        if (!(r[i] = kvlm_chat_render(p->fmt, msgs, 2, 1, p->date))) {
            kvlm_error_prefix("%s", fn);
            st = KVLM_ERR_ARG;
            goto done;
        }
    }
    /* A: up to where the two probes differ; B: after the probe */
    size_t a = 0;
    while (r[1][a] && r[1][a] == r[2][a]) a++;
    size_t n0 = strlen(r[0]), n1 = strlen(r[1]), nb = n1 - a - 1;
    if (r[1][a] != 'x' || strcmp(r[1] + a + 1, r[2] + a + 1) || n0 < a + nb || memcmp(r[0], r[1], a) ||
        memcmp(r[0] + n0 - nb, r[1] + a + 1, nb)) {
        st = kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: the chat template does not put the user's text in one piece", fn);
        goto done;
    }
    const char *mid = r[0] + a; /* the text as the template wrote it (trimmed) */
    size_t mid_len = n0 - a - nb;
    int err = 0;
    if ((st = tokenize_append(fn, p->tok, &out->prefix, r[0], a, KVLM_TOKENIZE_SPECIAL))) goto done;
    if ((st = tokenize_append(fn, p->tok, &out->ids, mid, mid_len, 0))) goto done;
    out->n_text = out->ids.n;
    out->ids.n = 0;
    if (holds_special(p->tok, mid, mid_len, &err)) {
        /* A, the text with specials off, B */
        if ((st = tokenize_append(fn, p->tok, &out->ids, r[0], a, KVLM_TOKENIZE_SPECIAL))) goto done;
        if ((st = tokenize_append(fn, p->tok, &out->ids, mid, mid_len, 0))) goto done;
        st = tokenize_append(fn, p->tok, &out->ids, r[0] + n0 - nb, nb, KVLM_TOKENIZE_SPECIAL);
    } else if (err) {
        st = KVLM_ERR_ARG;
    } else {
        st = tokenize_append(fn, p->tok, &out->ids, r[0], n0, KVLM_TOKENIZE_SPECIAL);
    }
done:
    for (int i = 0; i < 3; i++) free(r[i]);
    free(content);
    return st;
}

/* The cached prefix for key, computed from ids[0..n) when absent. Sets
 * *computed_ms when this call prefilled it. NULL on error. */
static prefix_slot *get_prefix(kvlm_provider *p, const char *fn, const char *key, const int32_t *ids, int n,
                               double *computed_ms) {
    *computed_ms = 0;
    prefix_slot *s = NULL;
    for (int i = 0; i < PREFIX_SLOTS; i++)
        if (p->slots[i].key && !strcmp(p->slots[i].key, key) && p->slots[i].n == n &&
            !memcmp(p->slots[i].ids, ids, sizeof(int32_t) * (size_t)n)) {
            s = &p->slots[i];
            break;
        }
    if (!s) {
        /* a free slot, else the least recently used */
        s = &p->slots[0];
        for (int i = 0; i < PREFIX_SLOTS; i++) {
            if (!p->slots[i].key) {
                s = &p->slots[i];
                break;
            }
            if (p->slots[i].used < s->used) s = &p->slots[i];
        }
        slot_clear(s);
        kvlm_state_options so = {.n_ctx = n};
        s->key = strdup(key);
        s->ids = malloc(sizeof(int32_t) * (size_t)n);
        s->state = s->key && s->ids ? kvlm_state_new(p->model, &so) : NULL;
        if (!s->state) {
            if (s->key && s->ids)
                kvlm_error_prefix("%s: the prefix state", fn);
            else
                kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
            slot_clear(s);
            return NULL;
        }
        memcpy(s->ids, ids, sizeof(int32_t) * (size_t)n);
        s->n = n;
        double t0 = kvlm_now_ms();
        if (kvlm_predict(s->state, ids, n, NULL, KVLM_LOGITS_LAST)) {
            kvlm_error_prefix("%s: prefilling the prefix", fn);
            slot_clear(s);
            return NULL;
        }
        s->ms = kvlm_now_ms() - t0;
        *computed_ms = s->ms;
    }
    s->used = ++p->clock;
    return s;
}

/* Decodes out[0..n) as the continuation of prompt[0..n_prompt) (the decoder
 * sees the prompt first, as `kvlm run` streams it). */
static char *decode_after(const kvlm_tokenizer *tok, const char *fn, const int32_t *prompt, int n_prompt,
                          const int32_t *out, int n) {
    kvlm_detok_stream *ds = kvlm_detok_stream_new(tok);
    size_t cap = 64, len = 0;
    char *text = malloc(cap);
    if (!ds || !text) goto nomem;
    for (int i = 0; i < n_prompt; i++)
        if (!kvlm_detok_stream_push(ds, prompt[i], NULL)) goto bad;
    if (!kvlm_detok_stream_flush(ds, NULL)) goto bad;
    for (int i = 0; i <= n; i++) {
        size_t k = 0;
        const char *piece = i < n ? kvlm_detok_stream_push(ds, out[i], &k) : kvlm_detok_stream_flush(ds, &k);
        if (!piece) goto bad;
        if (len + k + 1 > cap) {
            while (len + k + 1 > cap) cap *= 2;
            char *t = realloc(text, cap);
            if (!t) goto nomem;
            text = t;
        }
        memcpy(text + len, piece, k);
        len += k;
    }
    text[len] = 0;
    kvlm_detok_stream_free(ds);
    return text;
nomem:
    kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
bad:
    kvlm_error_prefix("%s: decoding the output", fn);
    kvlm_detok_stream_free(ds);
    free(text);
    return NULL;
}

/* The whole output, its surrounding white space trimmed. */
static char *decode_trimmed(const kvlm_tokenizer *tok, const char *fn, const int32_t *out, int n) {
    long need = n ? kvlm_detokenize(tok, out, n, NULL, 0) : 0;
    char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
    if (need < 0 || !text) {
        if (need < 0)
            kvlm_error_prefix("%s: decoding the output", fn);
        else
            kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
        free(text);
        return NULL;
    }
    text[0] = 0;
    if (n && kvlm_detokenize(tok, out, n, text, (size_t)need + 1) != need) {
        kvlm_error_prefix("%s: decoding the output", fn);
        free(text);
        return NULL;
    }
    const char *s;
    size_t len;
    trim(text, &s, &len);
    memmove(text, s, len);
    text[len] = 0;
    return text;
}

char *kvlm_provider_run(kvlm_provider *p, kvlm_task task, const char *text, const char *source_language,
                        const char *target_language, int max_tokens, kvlm_request_timing *timing) {
    const char *fn = task_fn(task);
    double t_start = kvlm_now_ms();
    kvlm_request_timing tm;
    memset(&tm, 0, sizeof tm);
    if (timing) *timing = tm;
    if (!p) {
        kvlm_fail(KVLM_ERR_ARG, "%s: no provider", fn);
        return NULL;
    }
    if (task != KVLM_TASK_TRANSLATE && task != KVLM_TASK_COPYEDIT && task != KVLM_TASK_COMPLETE) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_provider_run: unknown task %d", (int)task);
        return NULL;
    }
    if (!text) {
        kvlm_fail(KVLM_ERR_ARG, "%s: no text (NULL)", fn);
        return NULL;
    }
    if (max_tokens < 0) {
        kvlm_fail(KVLM_ERR_ARG, "%s: max_tokens %d is negative", fn, max_tokens);
        return NULL;
    }
    const char *body;
    size_t body_len;
    trim(text, &body, &body_len);
    if (task != KVLM_TASK_COMPLETE && body_len == 0) {
        kvlm_fail(KVLM_ERR_ARG, "%s: the text is empty%s", fn, *text ? " (only white space)" : "");
        return NULL;
    }

    char *result = NULL, *sys = NULL, *key = NULL;
    int32_t *out = NULL;
    chat_prompt cp;
    memset(&cp, 0, sizeof cp);
    if (task == KVLM_TASK_COMPLETE) {
        int flags = KVLM_TOKENIZE_ADD_BOS;
        if (tokenize_append(fn, p->tok, &cp.ids, text, strlen(text), flags)) goto done;
        cp.n_text = cp.ids.n - (cp.ids.n && cp.ids.v[0] == kvlm_tokenizer_bos(p->tok));
        if (cp.ids.n == 0) {
            kvlm_fail(KVLM_ERR_ARG, "%s: the text is empty and the tokenizer has no BOS token to start from", fn);
            goto done;
        }
    } else {
        if (!(sys = system_prompt(fn, task, source_language, target_language))) goto done;
        if (build_chat_prompt(p, fn, sys, body, body_len, &cp)) goto done;
    }
    int n_prompt = cp.ids.n;
    tm.n_input = cp.n_text;
    tm.n_prompt = n_prompt;
    if (n_prompt > p->n_ctx) {
        kvlm_fail(KVLM_ERR_CONTEXT,
                  "%s: the text is too long: its prompt is %d tokens (%d of them the text), but the context holds %d",
                  fn, n_prompt, cp.n_text, p->n_ctx);
        goto done;
    }
    int max = max_tokens ? max_tokens : p->o.max_tokens ? p->o.max_tokens : 2 * cp.n_text + 16;
    tm.max_tokens = max;
    int max_out = max < p->n_ctx + 1 ? max : p->n_ctx + 1;
    if (!(out = malloc(sizeof(int32_t) * (size_t)(max_out + 1)))) {
        kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }

    kvlm_state_reset(p->state);
    int start = 0;
    if (task != KVLM_TASK_COMPLETE && !p->o.no_prefix_reuse && cp.prefix.n > 0) {
        const char *src = source_language ? source_language : "";
        const char *tgt = target_language ? target_language : "";
        if (asprintf(&key, "%d\n%s\n%s", (int)task, task == KVLM_TASK_TRANSLATE ? src : "",
                     task == KVLM_TASK_TRANSLATE ? tgt : "") < 0) {
            key = NULL;
            kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
        prefix_slot *s = get_prefix(p, fn, key, cp.prefix.v, cp.prefix.n, &tm.prefix_ms);
        if (!s) goto done;
        int c = 0;
        while (c < s->n && c < n_prompt - 1 && s->ids[c] == cp.ids.v[c]) c++;
        if (c > 0) {
            double t0 = kvlm_now_ms();
            if (kvlm_state_copy_prefix(p->state, s->state, c)) {
                kvlm_error_prefix("%s", fn);
                goto done;
            }
            tm.copy_ms = kvlm_now_ms() - t0;
            tm.n_reused = c;
            tm.reused_ms = s->ms * c / s->n;
            start = c;
        }
    }
    kvlm_generate_params gp;
    memset(&gp, 0, sizeof gp);
    gp.max_tokens = max;
    kvlm_generate_result r;
    if (kvlm_generate(p->state, cp.ids.v + start, n_prompt - start, &gp, out, max_out, &r)) {
        kvlm_error_prefix("%s", fn);
        goto done;
    }
    tm.prefill_ms = r.prefill_ms;
    tm.decode_ms = r.decode_ms;
    tm.n_decode = r.n_decode;
    tm.n_output = r.n_generated;
    tm.stop_reason = r.stop_reason;
    tm.stop_id = r.stop_id;
    int n_out = r.n_generated < max_out ? r.n_generated : max_out;
    result = task == KVLM_TASK_COMPLETE ? decode_after(p->tok, fn, cp.ids.v, n_prompt, out, n_out)
                                        : decode_trimmed(p->tok, fn, out, n_out);
done:
    kvlm_state_reset(p->state);
    tm.total_ms = kvlm_now_ms() - t_start;
    if (timing) *timing = tm;
    free(out);
    free(key);
    free(sys);
    free(cp.ids.v);
    free(cp.prefix.v);
    return result;
}

char *kvlm_provider_translate(kvlm_provider *p, const char *text, const char *source_language,
                              const char *target_language, kvlm_request_timing *timing) {
    return kvlm_provider_run(p, KVLM_TASK_TRANSLATE, text, source_language, target_language, 0, timing);
}

char *kvlm_provider_copyedit(kvlm_provider *p, const char *text, kvlm_request_timing *timing) {
    return kvlm_provider_run(p, KVLM_TASK_COPYEDIT, text, NULL, NULL, 0, timing);
}

char *kvlm_provider_complete(kvlm_provider *p, const char *text, int max_tokens, kvlm_request_timing *timing) {
    return kvlm_provider_run(p, KVLM_TASK_COMPLETE, text, NULL, NULL, max_tokens, timing);
}
