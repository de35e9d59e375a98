/* kvlm chat: a multi-turn conversation in ONE state. Each turn renders the
 * whole conversation with the chat template and feeds only what the state
 * does not hold yet: the common token prefix of what was fed (plus the stop
 * id sampled at the end of the last answer, which kvlm_generate does not
 * feed) and the new rendering stays; the state is truncated where they part
 * (an answer that tokenizes differently when re-read, or one cut short).
 *
 * Turns come from the terminal, or one per line from stdin when it is not a
 * terminal (for scripts). /reset empties the conversation (the system prompt
 * stays), /quit ends. A conversation that outgrows the context is reported,
 * not fatal. Answers go to stdout, one per turn followed by a newline; the
 * timing table of each turn goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "gen_common.h"
#include "kvlm.h"

#define CHAT_DEFAULT_CTX 4096

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: kvlm chat -m MODEL [--system TEXT] [options]\n\n"
        "Chats in one stateful KV cache. Turns are read from the terminal, or one per\n"
        "line from stdin when it is not a terminal. /reset starts over, /quit ends.\n\n"
        "  -m, --model PATH        HF folder, GGUF file or llama2.c checkpoint\n"
        "      --tokenizer FILE    the tokenizer of a llama2.c checkpoint\n"
        "  -s, --system TEXT       the system prompt\n"
        "      --chat-format NAME  llama3.2 | llama3 | chatml (default: the model's template)\n"
        "      --date DATE         Today Date of the Llama 3.2 system block (default \"26 Jul 2024\")\n"
        "  -n, --max-tokens N      at most N tokens per answer (default 0: until a stop id or the context is full)\n"
        "      --ctx N             context positions for the whole conversation (default %d, at most the model's)\n"
        "  -t, --threads N         threads (default: physical cores)\n"
        "      --kernels K         auto | scalar | avx2 | avx512\n"
        "  -q, --quiet             no timing table\n"
        "sampling (greedy unless one of these is given):\n"
        "      --sample, --temp [T], --top-p [P], --top-k K, --min-p P, --seed S,\n"
        "      --repeat-penalty R, --repeat-last-n N\n",
        CHAT_DEFAULT_CTX);
}

typedef struct {
    const char *system;
} chat_opts;

static int own(void *ctx, int opt, const char *arg) {
    chat_opts *c = ctx;
    if (opt != 's') return -1;
    c->system = arg;
    return 0;
}

typedef struct {
    kvlm_chat_message *m;
    int n, cap;
} convo;

static int convo_add(convo *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        kvlm_chat_message *m = realloc(c->m, sizeof *m * (size_t)cap);
        if (!m) return -1;
        c->m = m;
        c->cap = cap;
    }
    char *s = strdup(content);
    if (!s) return -1;
    c->m[c->n].role = role;
    c->m[c->n].content = s;
    c->n++;
    return 0;
}

static void convo_pop(convo *c) {
    if (c->n > 0) free((char *)c->m[--c->n].content);
}

static void convo_clear(convo *c, int keep) {
    while (c->n > keep) convo_pop(c);
}

typedef struct {
    int32_t *v;
    int n, cap;
} ids_t;

static int ids_reserve(ids_t *b, int n) {
    if (n <= b->cap) return 0;
    int32_t *v = realloc(b->v, sizeof(int32_t) * (size_t)n);
    if (!v) return -1;
    b->v = v;
    b->cap = n;
    return 0;
}

/* The conversation rendered and tokenized (special tokens parsed, as the
 * template's text asks). 0, or -1 with a message printed. */
static int render_ids(kvlm_chat_format fmt, const convo *c, const char *date, const kvlm_tokenizer *tok, ids_t *out) {
    char *text = kvlm_chat_render(fmt, c->m, c->n, 1, date);
    if (!text) {
        fprintf(stderr, "kvlm chat: %s\n", kvlm_last_error());
        return -1;
    }
    size_t len = strlen(text);
    int n = kvlm_tokenize(tok, text, len, KVLM_TOKENIZE_SPECIAL, NULL, 0);
    if (n < 0 || ids_reserve(out, n + 1) || kvlm_tokenize(tok, text, len, KVLM_TOKENIZE_SPECIAL, out->v, n) != n) {
        fprintf(stderr, "kvlm chat: %s\n", n < 0 ? kvlm_last_error() : "out of memory");
        free(text);
        return -1;
    }
    out->n = n;
    free(text);
    return 0;
}

int cmd_chat(int argc, char **argv) {
    static const struct option own_opts[] = {{"system", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    gen_opts o;
    chat_opts co = {0};
    int first =
        gen_parse(argc, argv, &o, "chat", GEN_CTX | GEN_MAX | GEN_SAMPLING | GEN_CHAT, own_opts, "s:", own, &co, usage);
    if (first <= 0) return first == 0 ? 0 : 2;
    if (first < argc) {
        fprintf(stderr, "kvlm chat: unexpected argument '%s' (turns are read from the terminal or stdin)\n\n",
                argv[first]);
        usage(stderr);
        return 2;
    }
    if (!o.model_path) {
        fprintf(stderr, "kvlm chat: no model: give one with -m MODEL\n\n");
        usage(stderr);
        return 2;
    }
    int rc = 1;
    double open_ms = 0;
    convo conv = {0};
    ids_t held = {0}, ids = {0}, out = {0};
    kvlm_state *s = NULL;
    char *line = NULL;
    kvlm_model *m = gen_open_model(&o, &open_ms);
    if (!m) goto done;
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);

    kvlm_chat_format fmt = KVLM_CHAT_AUTO;
    if (o.chat_format && strcmp(o.chat_format, "auto")) {
        fmt = kvlm_chat_format_from_name(o.chat_format);
    } else {
        const char *src = kvlm_model_chat_template(m);
        if (!src) {
            fprintf(stderr,
                    "kvlm chat: %s has no chat template: choose one with --chat-format (llama3.2, llama3, chatml)\n",
                    o.model_path);
            goto done;
        }
        if ((fmt = kvlm_chat_format_detect(src)) == KVLM_CHAT_AUTO) {
            fprintf(stderr, "kvlm chat: %s: %s\n", o.model_path, kvlm_last_error());
            goto done;
        }
    }
    int n_ctx = o.ctx_given ? o.n_ctx : (info.max_pos < CHAT_DEFAULT_CTX ? info.max_pos : CHAT_DEFAULT_CTX);
    kvlm_state_options so = {.n_ctx = n_ctx};
    if (!(s = kvlm_state_new(m, &so))) {
        fprintf(stderr, "kvlm chat: %s\n", kvlm_last_error());
        goto done;
    }
    if (ids_reserve(&out, n_ctx + 2)) {
        fprintf(stderr, "kvlm chat: out of memory\n");
        goto done;
    }
    int keep = 0;
    if (co.system) {
        if (convo_add(&conv, "system", co.system)) goto nomem;
        keep = 1;
    }
    kvlm_sampler_params sampling = gen_sampling(&o, &info);
    char samp[160];
    gen_describe_sampling(&sampling, samp, sizeof samp);
    int interactive = isatty(STDIN_FILENO);
    if (interactive)
        fprintf(stderr, "kvlm chat: %s (%s, context %d). /reset starts over, /quit ends.\n", o.model_path,
                kvlm_chat_format_name(fmt), n_ctx);
    int turn = 0, failed = 0;
    for (;;) {
        if (interactive) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        free(line);
        if (!(line = gen_read_line(stdin))) break;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        if (!strcmp(p, "/quit") || !strcmp(p, "/exit")) break;
        if (!strcmp(p, "/reset")) {
            convo_clear(&conv, keep);
            kvlm_state_reset(s);
            held.n = 0;
            fprintf(stderr, "kvlm chat: the conversation is reset\n");
            continue;
        }
        if (convo_add(&conv, "user", line)) goto nomem;
        if (render_ids(fmt, &conv, o.date, tok, &ids)) goto done;
        if (ids.n > n_ctx) {
            fprintf(stderr,
                    "kvlm chat: the context is full: the conversation would be %d tokens, the context holds %d. "
                    "/reset starts over (or give a larger --ctx)\n",
                    ids.n, n_ctx);
            convo_pop(&conv);
            failed = 1;
            continue;
        }
        /* keep what the state holds of the new rendering, feed the rest */
        int pos = kvlm_state_pos(s), c = 0;
        int lim = pos < ids.n - 1 ? pos : ids.n - 1;
        while (c < lim && c < held.n && held.v[c] == ids.v[c]) c++;
        if (c < pos && kvlm_state_truncate(s, c)) {
            fprintf(stderr, "kvlm chat: %s\n", kvlm_last_error());
            goto done;
        }
        gen_stream gs;
        if (gen_stream_init(&gs, tok, stdout, NULL, 0, 1)) {
            fprintf(stderr, "kvlm chat: %s\n", kvlm_last_error());
            gen_stream_free(&gs);
            goto done;
        }
        kvlm_generate_params gp;
        memset(&gp, 0, sizeof gp);
        gp.max_tokens = o.max_tokens > 0 ? o.max_tokens : 0;
        gp.sampling = sampling;
        if (sampling.temperature > 0) gp.sampling.seed = sampling.seed + (uint64_t)turn;
        gp.on_token = gen_stream_on_token;
        gp.ctx = &gs;
        kvlm_generate_result r;
        kvlm_status st = kvlm_generate(s, ids.v + c, ids.n - c, &gp, out.v, out.cap, &r);
        if (st != KVLM_OK) {
            fprintf(stderr, "kvlm chat: %s\n", kvlm_last_error());
            gen_stream_free(&gs);
            goto done;
        }
        gen_stream_finish(&gs);
        if (fputc('\n', stdout) == EOF || fflush(stdout) != 0) gs.failed = 1;
        if (gs.failed) {
            fprintf(stderr, "kvlm chat: cannot write the answer\n");
            gen_stream_free(&gs);
            goto done;
        }
        /* what the state now stands for: the prompt, the answer, the stop id (not fed yet) */
        int n_out = r.n_generated < out.cap ? r.n_generated : out.cap;
        if (ids_reserve(&held, ids.n + n_out + 1)) {
            gen_stream_free(&gs);
            goto nomem;
        }
        memcpy(held.v, ids.v, sizeof(int32_t) * (size_t)ids.n);
        memcpy(held.v + ids.n, out.v, sizeof(int32_t) * (size_t)n_out);
        held.n = ids.n + n_out;
        if (r.stop_reason == KVLM_STOP_EOS) held.v[held.n++] = r.stop_id;
        int add = convo_add(&conv, "assistant", gs.text ? gs.text : "");
        gen_stream_free(&gs);
        if (add) goto nomem;
        if (!o.quiet) {
            gen_timing t = {.open_ms = turn == 0 ? open_ms : -1,
                            .n_prompt = r.n_prompt,
                            .n_reused = c,
                            .reused_in_state = 1,
                            .prefill_ms = r.prefill_ms,
                            .n_generated = r.n_generated,
                            .n_decode = r.n_decode,
                            .decode_ms = r.decode_ms,
                            .n_ctx_used = kvlm_state_pos(s),
                            .n_ctx = n_ctx,
                            .sampling = samp,
                            .stop = r.stop_reason,
                            .stop_id = r.stop_id,
                            .max_tokens = gp.max_tokens,
                            .tok = tok};
            gen_print_timing(stderr, &t);
        }
        if (r.stop_reason == KVLM_STOP_CONTEXT_FULL)
            fprintf(stderr,
                    "kvlm chat: the context is full (%d positions): the answer was cut short. /reset starts over "
                    "(or give a larger --ctx)\n",
                    n_ctx);
        turn++;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "kvlm chat: cannot read stdin\n");
        goto done;
    }
    rc = failed ? 1 : 0;
    goto done;
nomem:
    fprintf(stderr, "kvlm chat: out of memory\n");
done:
    free(line);
    convo_clear(&conv, 0);
    free(conv.m);
    free(held.v);
    free(ids.v);
    free(out.v);
    kvlm_state_free(s);
    kvlm_model_free(m);
    return rc;
}
