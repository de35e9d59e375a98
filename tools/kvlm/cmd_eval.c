/* kvlm eval: runs evaluation packs and prints the Core ML port's table:
 * input, output, prompt tokens, prefill ms, decode ms/token, output tokens
 * (and the prompt tokens reused from the prefix cache, the prefill time that
 * saved, why each request stopped), then the smoke case: the completion of
 * "The capital of France is", 8 greedy tokens (the Core ML port: " Paris.").
 *
 * A pack is JSON Lines, one case per line (blank lines are skipped):
 *   {"id": "fr-01", "task": "translate", "input": "The cat is on the table.",
 *    "source": "English", "target": "French", "coreml_output": "Le chat est sur la table."}
 *   {"id": "ce-02", "task": "copyedit", "input": "...", "expected": "..."}
 *   {"id": "st-01", "task": "complete", "input": "Once upon a time", "max_tokens": 32}
 * Keys: task ("translate" | "copyedit" | "complete") and input are required;
 * target is required for translate, source optional (translate only); id,
 * max_tokens (>= 1), expected (the wanted output), coreml_output (what the
 * Core ML port printed), coreml_output_tokens (its output length when the text
 * is not given) and note are optional. Any other key is an error, so a typo
 * does not pass silently. Every pack is checked before anything runs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gen_common.h"
#include "kvlm.h"

#define SMOKE_PROMPT "The capital of France is"
#define SMOKE_TOKENS 8
#define SMOKE_COREML " Paris."

static void usage(FILE *out) {
    fprintf(out,
            "usage: kvlm eval -m MODEL [options] PACK.jsonl...\n\n"
            "Runs every case of the packs (greedy, each from a clean state) and prints the table:\n"
            "input, output, prompt tokens, reused prefix tokens, prefill ms, prefill ms saved by the\n"
            "prefix cache, decode ms/token, output tokens, stop; then the smoke case (\"" SMOKE_PROMPT "\",\n"
            "%d greedy tokens) and the comparisons with the packs' expected and Core ML outputs.\n\n"
            "  -m, --model PATH        HF folder, GGUF file or llama2.c checkpoint\n"
            "      --tokenizer FILE    the tokenizer of a llama2.c checkpoint\n"
            "      --chat-format NAME  llama3.2 | llama3 | chatml (default: the model's template)\n"
            "      --date DATE         Today Date of the Llama 3.2 system block (default \"26 Jul 2024\")\n"
            "      --ctx N             context positions per request (default 2048, at most the model's)\n"
            "      --no-prefix-reuse   prefill the whole prompt of every request\n"
            "      --no-smoke          leave out the smoke case\n"
            "      --full              print every case's texts in full after the table\n"
            "      --json FILE         write one JSON object per case (texts in full, timings) to FILE\n"
            "      --check             exit 1 when an output differs from its case's \"expected\"\n"
            "      --width N           columns for input and output in the table (default 30)\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "      --kernels K         auto | scalar | avx2 | avx512\n",
            SMOKE_TOKENS);
}

typedef struct {
    const char *json_path;
    int no_reuse, no_smoke, full, check, width;
} eval_opts;

enum { O_JSON = GEN_OPT_OWN, O_NO_REUSE, O_NO_SMOKE, O_FULL, O_CHECK, O_WIDTH };

static int own(void *ctx, int opt, const char *arg) {
    eval_opts *e = ctx;
    switch (opt) {
    case O_JSON: e->json_path = arg; return 0;
    case O_NO_REUSE: e->no_reuse = 1; return 0;
    case O_NO_SMOKE: e->no_smoke = 1; return 0;
    case O_FULL: e->full = 1; return 0;
    case O_CHECK: e->check = 1; return 0;
    case O_WIDTH: return gen_parse_int("eval", "--width", arg, 8, 1000, &e->width);
    default: return -1;
    }
}

typedef struct {
    char where[64]; /* "pack.jsonl:3" */
    const char *id;
    kvlm_task task;
    const char *input, *source, *target, *expected, *coreml, *note;
    int max_tokens, coreml_tokens;
    /* results */
    char *output;
    char *error;
    kvlm_request_timing tm;
} eval_case;

typedef struct {
    eval_case *c;
    int n, cap;
    json_t **roots; /* keep the strings alive */
    int n_roots, cap_roots;
} case_list;

static const char *task_name(kvlm_task t) {
    return t == KVLM_TASK_TRANSLATE ? "translate" : t == KVLM_TASK_COPYEDIT ? "copyedit" : "complete";
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Reads and checks one pack. 0, or -1 after printing "PACK:LINE: why". */
static int load_pack(const char *path, case_list *cl) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kvlm eval: %s: cannot open the pack\n", path);
        return -1;
    }
    static const char *known[] = {
        "id",  "task", "input", "source", "target", "max_tokens", "expected", "coreml_output", "coreml_output_tokens",
        "note"};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0, n_cases = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n')) k++;
        if (k == (size_t)len) continue;
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)len, 0, &err);
        if (!j) {
            fprintf(stderr, "kvlm eval: %s:%d:%d: %s\n", path, lineno, err.column, err.text);
            rc = -1;
            break;
        }
#define BAD(...)                                                                                                       \
    do {                                                                                                               \
        fprintf(stderr, "kvlm eval: %s:%d: ", path, lineno);                                                           \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fputc('\n', stderr);                                                                                           \
        json_decref(j);                                                                                                \
        rc = -1;                                                                                                       \
        goto out;                                                                                                      \
    } while (0)
        if (!json_is_object(j)) BAD("a case must be a JSON object");
        const char *key;
        json_t *val;
        json_object_foreach(j, key, val) {
            size_t i = 0;
            while (i < sizeof known / sizeof known[0] && strcmp(known[i], key)) i++;
            if (i == sizeof known / sizeof known[0])
                BAD("unknown key \"%s\" (known: id, task, input, source, target, max_tokens, expected, coreml_output, "
                    "coreml_output_tokens, note)",
                    key);
            int is_int = !strcmp(key, "max_tokens") || !strcmp(key, "coreml_output_tokens");
            if (is_int && (!json_is_integer(val) || json_integer_value(val) < 1 || json_integer_value(val) > 1000000))
                BAD("\"%s\" must be an integer from 1 to 1000000", key);
            if (!is_int && !json_is_string(val)) BAD("\"%s\" must be a string", key);
        }
        eval_case c;
        memset(&c, 0, sizeof c);
        snprintf(c.where, sizeof c.where, "%.48s:%d", base_name(path), lineno);
        const char *task = json_string_value(json_object_get(j, "task"));
        if (!task) BAD("no \"task\" (translate, copyedit or complete)");
        if (!strcmp(task, "translate"))
            c.task = KVLM_TASK_TRANSLATE;
        else if (!strcmp(task, "copyedit"))
            c.task = KVLM_TASK_COPYEDIT;
        else if (!strcmp(task, "complete"))
            c.task = KVLM_TASK_COMPLETE;
        else
            BAD("unknown task \"%s\" (translate, copyedit or complete)", task);
        c.input = json_string_value(json_object_get(j, "input"));
        if (!c.input) BAD("no \"input\"");
        c.id = json_string_value(json_object_get(j, "id"));
        c.source = json_string_value(json_object_get(j, "source"));
        c.target = json_string_value(json_object_get(j, "target"));
        c.expected = json_string_value(json_object_get(j, "expected"));
        c.coreml = json_string_value(json_object_get(j, "coreml_output"));
        c.note = json_string_value(json_object_get(j, "note"));
        c.max_tokens = (int)json_integer_value(json_object_get(j, "max_tokens"));
        c.coreml_tokens = (int)json_integer_value(json_object_get(j, "coreml_output_tokens"));
        if (c.task == KVLM_TASK_TRANSLATE) {
            if (!c.target) BAD("a translate case needs \"target\" (the language to translate into)");
            char *sys = kvlm_task_system_prompt(c.task, c.source, c.target);
            if (!sys) BAD("%s", kvlm_last_error());
            free(sys);
        } else if (c.source || c.target) {
            BAD("\"source\" and \"target\" belong to translate cases only");
        }
        if (c.task != KVLM_TASK_COMPLETE && !*c.input) BAD("\"input\" is empty");
        if (cl->n == cl->cap) {
            int nc = cl->cap ? cl->cap * 2 : 32;
            eval_case *v = realloc(cl->c, sizeof *v * (size_t)nc);
            if (!v) BAD("out of memory");
            cl->c = v;
            cl->cap = nc;
        }
        if (cl->n_roots == cl->cap_roots) {
            int nc = cl->cap_roots ? cl->cap_roots * 2 : 32;
            json_t **v = realloc(cl->roots, sizeof *v * (size_t)nc);
            if (!v) BAD("out of memory");
            cl->roots = v;
            cl->cap_roots = nc;
        }
#undef BAD
        cl->roots[cl->n_roots++] = j;
        cl->c[cl->n++] = c;
        n_cases++;
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "kvlm eval: %s: read error\n", path);
        rc = -1;
    }
    if (!rc && n_cases == 0) {
        fprintf(stderr, "kvlm eval: %s: the pack has no cases\n", path);
        rc = -1;
    }
out:
    free(line);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------- the table */

/* Writes s for a table cell: newlines as " / ", other control characters as
 * spaces, cut to width code points (an ellipsis marks a cut), padded to width. */
static void cell(FILE *f, const char *s, int width, int quote) {
    size_t n = strlen(s ? s : "");
    char *t = malloc(3 * n + 3);
    if (!t) return;
    size_t k = 0;
    if (quote) t[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '\n')
            memcpy(t + k, " / ", 3), k += 3;
        else if (*p < 0x20 || *p == 0x7f)
            t[k++] = ' ';
        else
            t[k++] = (char)*p;
    }
    if (quote) t[k++] = '"';
    t[k] = 0;
    int cols = 0;
    for (size_t i = 0; i < k; i++) cols += ((unsigned char)t[i] & 0xC0) != 0x80;
    if (cols > width) {
        /* keep width - 1 code points, then the ellipsis */
        int c = 0;
        size_t i = 0;
        while (i < k && (c < width - 1 || ((unsigned char)t[i] & 0xC0) == 0x80))
            c += ((unsigned char)t[i++] & 0xC0) != 0x80;
        fwrite(t, 1, i, f);
        fputs("\xE2\x80\xA6", f);
        cols = width;
    } else {
        fwrite(t, 1, k, f);
    }
    for (; cols < width; cols++) fputc(' ', f);
    free(t);
}

/* s as a JSON string literal (escapes made visible). malloc'd. */
static char *quoted(const char *s) {
    json_t *j = json_string(s ? s : "");
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return q;
}

static double ms_per_token(const kvlm_request_timing *t) { return t->n_decode ? t->decode_ms / t->n_decode : 0; }
static double saved_ms(const kvlm_request_timing *t) { return t->reused_ms - t->copy_ms - t->prefix_ms; }

static void print_row(FILE *f, int idx, const eval_case *c, int width, const kvlm_tokenizer *tok) {
    char num[16];
    if (idx > 0)
        snprintf(num, sizeof num, "%3d", idx);
    else
        snprintf(num, sizeof num, "  -");
    fprintf(f, "%s  ", num);
    cell(f, c->id ? c->id : "", 10, 0);
    fprintf(f, " %-9s ", task_name(c->task));
    cell(f, c->input, width, c->task == KVLM_TASK_COMPLETE);
    fputc(' ', f);
    if (c->error) {
        cell(f, "error (see below)", width, 0);
        fputc('\n', f);
        return;
    }
    cell(f, c->output, width, c->task == KVLM_TASK_COMPLETE);
    char stop[96];
    gen_describe_stop(tok, c->tm.stop_reason, c->tm.stop_id, c->tm.max_tokens, 0, stop, sizeof stop);
    if (c->tm.stop_reason == KVLM_STOP_EOS)
        snprintf(stop, sizeof stop, "eos %d", (int)c->tm.stop_id);
    else if (c->tm.stop_reason == KVLM_STOP_MAX_TOKENS)
        snprintf(stop, sizeof stop, "max %d", c->tm.max_tokens);
    else if (c->tm.stop_reason == KVLM_STOP_CONTEXT_FULL)
        snprintf(stop, sizeof stop, "context");
    fprintf(f, " %6d %6d %10.2f %8.2f %8.2f %6d  %s\n", c->tm.n_prompt, c->tm.n_reused, c->tm.prefill_ms,
            c->tm.n_reused ? saved_ms(&c->tm) : 0.0, ms_per_token(&c->tm), c->tm.n_output, stop);
}

static void print_header(FILE *f, int width) {
    fprintf(f, "  #  ");
    cell(f, "id", 10, 0);
    fprintf(f, " %-9s ", "task");
    cell(f, "input", width, 0);
    fputc(' ', f);
    cell(f, "output", width, 0);
    fprintf(f, " %6s %6s %10s %8s %8s %6s  %s\n", "prompt", "reused", "prefill ms", "saved ms", "ms/token", "out",
            "stop");
}

static json_t *case_json(const eval_case *c) {
    json_t *j = json_object();
    json_object_set_new(j, "id", c->id ? json_string(c->id) : json_null());
    json_object_set_new(j, "where", json_string(c->where));
    json_object_set_new(j, "task", json_string(task_name(c->task)));
    json_object_set_new(j, "input", json_string(c->input));
    if (c->source) json_object_set_new(j, "source", json_string(c->source));
    if (c->target) json_object_set_new(j, "target", json_string(c->target));
    json_object_set_new(j, "output", c->output ? json_string(c->output) : json_null());
    if (c->error) json_object_set_new(j, "error", json_string(c->error));
    if (c->expected) json_object_set_new(j, "expected", json_string(c->expected));
    if (c->coreml) json_object_set_new(j, "coreml_output", json_string(c->coreml));
    json_object_set_new(j, "input_tokens", json_integer(c->tm.n_input));
    json_object_set_new(j, "prompt_tokens", json_integer(c->tm.n_prompt));
    json_object_set_new(j, "reused_tokens", json_integer(c->tm.n_reused));
    json_object_set_new(j, "prefill_ms", json_real(c->tm.prefill_ms));
    json_object_set_new(j, "prefix_ms", json_real(c->tm.prefix_ms));
    json_object_set_new(j, "copy_ms", json_real(c->tm.copy_ms));
    json_object_set_new(j, "saved_ms", json_real(c->tm.n_reused ? saved_ms(&c->tm) : 0.0));
    json_object_set_new(j, "decode_ms", json_real(c->tm.decode_ms));
    json_object_set_new(j, "decode_ms_per_token", json_real(ms_per_token(&c->tm)));
    json_object_set_new(j, "output_tokens", json_integer(c->tm.n_output));
    json_object_set_new(j, "max_tokens", json_integer(c->tm.max_tokens));
    const char *stop = c->tm.stop_reason == KVLM_STOP_EOS            ? "eos"
                       : c->tm.stop_reason == KVLM_STOP_MAX_TOKENS   ? "max_tokens"
                       : c->tm.stop_reason == KVLM_STOP_CONTEXT_FULL ? "context_full"
                                                                     : "none";
    json_object_set_new(j, "stop", json_string(stop));
    if (c->tm.stop_reason == KVLM_STOP_EOS) json_object_set_new(j, "stop_id", json_integer(c->tm.stop_id));
    json_object_set_new(j, "total_ms", json_real(c->tm.total_ms));
    return j;
}

int cmd_eval(int argc, char **argv) {
    static const struct option own_opts[] = {{"json", required_argument, NULL, O_JSON},
                                             {"no-prefix-reuse", no_argument, NULL, O_NO_REUSE},
                                             {"no-smoke", no_argument, NULL, O_NO_SMOKE},
                                             {"full", no_argument, NULL, O_FULL},
                                             {"check", no_argument, NULL, O_CHECK},
                                             {"width", required_argument, NULL, O_WIDTH},
                                             {NULL, 0, NULL, 0}};
    gen_opts o;
    eval_opts e = {.width = 30};
    int first = gen_parse(argc, argv, &o, "eval", GEN_CTX | GEN_CHAT, own_opts, "", own, &e, usage);
    if (first <= 0) return first == 0 ? 0 : 2;
    if (!o.model_path || first >= argc) {
        fprintf(stderr, "kvlm eval: %s\n\n",
                !o.model_path ? "no model: give one with -m MODEL" : "no pack: give one or more PACK.jsonl");
        usage(stderr);
        return 2;
    }
    case_list cl = {0};
    int rc = 2;
    FILE *jf = NULL;
    kvlm_provider *p = NULL;
    for (int i = first; i < argc; i++)
        if (load_pack(argv[i], &cl)) goto done;
    if (!e.no_smoke) {
        eval_case c;
        memset(&c, 0, sizeof c);
        snprintf(c.where, sizeof c.where, "smoke");
        c.id = "smoke";
        c.task = KVLM_TASK_COMPLETE;
        c.input = SMOKE_PROMPT;
        c.max_tokens = SMOKE_TOKENS;
        c.coreml = SMOKE_COREML;
        eval_case *v = cl.n == cl.cap ? realloc(cl.c, sizeof *v * (size_t)(cl.cap + 1)) : cl.c;
        if (!v) {
            fprintf(stderr, "kvlm eval: out of memory\n");
            goto done;
        }
        if (cl.n == cl.cap) cl.cap++;
        cl.c = v;
        cl.c[cl.n++] = c;
    }
    if (e.json_path && !(jf = fopen(e.json_path, "w"))) {
        fprintf(stderr, "kvlm eval: %s: cannot open for writing\n", e.json_path);
        goto done;
    }
    rc = 1;
    kvlm_provider_options po = {.n_threads = o.n_threads,
                                .kernels = o.kernels,
                                .tokenizer_path = o.tokenizer_path,
                                .n_ctx = o.n_ctx,
                                .date = o.date,
                                .no_prefix_reuse = e.no_reuse};
    if (o.chat_format && strcmp(o.chat_format, "auto")) po.chat_format = kvlm_chat_format_from_name(o.chat_format);
    double t0 = kvlm_now_ms();
    p = kvlm_provider_open(o.model_path, &po);
    double open_ms = kvlm_now_ms() - t0;
    if (!p) {
        fprintf(stderr, "kvlm eval: %s\n", kvlm_last_error());
        goto done;
    }
    kvlm_model *m = kvlm_provider_model(p);
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    printf("kvlm eval: %s (%s, %s weights, %s kernels, %d thread%s), open %.2f ms, prefix reuse %s\n", o.model_path,
           info.source_format, info.weight_type, info.kernels, info.n_threads, info.n_threads == 1 ? "" : "s", open_ms,
           e.no_reuse ? "off" : "on");
    for (int i = first; i < argc; i++) printf("pack: %s\n", argv[i]);
    printf("\n");
    print_header(stdout, e.width);
    int n_err = 0, n_fail_check = 0;
    double t_all = kvlm_now_ms();
    for (int i = 0; i < cl.n; i++) {
        eval_case *c = &cl.c[i];
        c->output = kvlm_provider_run(p, c->task, c->input, c->source, c->target, c->max_tokens, &c->tm);
        if (!c->output) {
            c->error = strdup(kvlm_last_error());
            n_err++;
        } else if (e.check && c->expected && strcmp(c->output, c->expected)) {
            n_fail_check++;
        }
        print_row(stdout, strcmp(c->where, "smoke") ? i + 1 : 0, c, e.width, tok);
        fflush(stdout);
        if (jf) {
            json_t *j = case_json(c);
            char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
            json_decref(j);
            if (!s || fprintf(jf, "%s\n", s) < 0) {
                fprintf(stderr, "kvlm eval: %s: cannot write\n", e.json_path);
                free(s);
                goto done;
            }
            free(s);
        }
    }
    double all_ms = kvlm_now_ms() - t_all;

    /* totals */
    int n_cases = 0, n_reuse = 0, n_prefixes = 0, tok_prompt = 0, tok_out = 0, n_dec = 0;
    double prefill = 0, saved = 0, prefix = 0, decode = 0;
    for (int i = 0; i < cl.n; i++) {
        const kvlm_request_timing *t = &cl.c[i].tm;
        if (cl.c[i].error) continue;
        n_cases++;
        tok_prompt += t->n_prompt;
        tok_out += t->n_output;
        prefill += t->prefill_ms;
        decode += t->decode_ms;
        n_dec += t->n_decode;
        if (t->prefix_ms > 0) n_prefixes++, prefix += t->prefix_ms;
        if (t->n_reused) n_reuse++, saved += saved_ms(t);
    }
    printf("\n%d cases in %.1f ms: %d prompt tokens prefilled in %.1f ms, %d output tokens, decode %.2f ms/token\n",
           n_cases, all_ms, tok_prompt, prefill + prefix, tok_out, n_dec ? decode / n_dec : 0.0);
    int n_chat = 0;
    for (int i = 0; i < cl.n; i++) n_chat += cl.c[i].task != KVLM_TASK_COMPLETE;
    if (!e.no_reuse && n_chat)
        printf("prefix reuse: %d prefix%s prefilled once (%.1f ms); %d requests copied one, saving %.1f ms of prefill "
               "(after the prefixes' own cost)\n",
               n_prefixes, n_prefixes == 1 ? "" : "es", prefix, n_reuse, saved);

    /* comparisons */
    int n_exp = 0, n_exp_same = 0, n_cm = 0, n_cm_same = 0;
    for (int i = 0; i < cl.n; i++) {
        const eval_case *c = &cl.c[i];
        if (c->error) continue;
        if (c->expected) n_exp++, n_exp_same += !strcmp(c->output, c->expected);
        if (c->coreml) n_cm++, n_cm_same += !strcmp(c->output, c->coreml);
    }
    if (n_exp) printf("expected outputs: %d of %d identical\n", n_exp_same, n_exp);
    if (n_cm) printf("Core ML port's outputs: %d of %d identical\n", n_cm_same, n_cm);
    for (int i = 0; i < cl.n; i++) {
        const eval_case *c = &cl.c[i];
        if (!strcmp(c->where, "smoke") && !c->error) {
            char *in = quoted(c->input), *outq = quoted(c->output), *cm = quoted(c->coreml);
            printf("smoke: %s -> %s (Core ML port: %s)\n", in ? in : "", outq ? outq : "", cm ? cm : "");
            free(in);
            free(outq);
            free(cm);
        }
    }
    for (int i = 0; i < cl.n; i++)
        if (cl.c[i].error) printf("error: %s (%s): %s\n", cl.c[i].where, cl.c[i].id ? cl.c[i].id : "", cl.c[i].error);
    if (e.full) {
        printf("\n");
        for (int i = 0; i < cl.n; i++) {
            const eval_case *c = &cl.c[i];
            printf("[%s] %s (%s)\n  input:    %s\n", c->id ? c->id : c->where, task_name(c->task), c->where, c->input);
            if (c->output) printf("  output:   %s\n", c->output);
            if (c->expected)
                printf("  expected: %s%s\n", c->expected,
                       c->output && !strcmp(c->output, c->expected) ? "  (same)" : "");
            if (c->coreml)
                printf("  Core ML:  %s%s\n", c->coreml, c->output && !strcmp(c->output, c->coreml) ? "  (same)" : "");
            else if (c->coreml_tokens)
                printf("  Core ML:  %d output tokens (text not published)\n", c->coreml_tokens);
            if (c->note) printf("  note:     %s\n", c->note);
        }
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kvlm eval: cannot write the table\n");
        goto done;
    }
    rc = n_err ? 1 : (e.check && n_fail_check) ? 1 : 0;
    if (e.check && n_fail_check)
        fprintf(stderr, "kvlm eval: %d outputs differ from their expected text\n", n_fail_check);
done:
    if (jf && fclose(jf) != 0 && rc == 0) {
        fprintf(stderr, "kvlm eval: %s: cannot write\n", e.json_path);
        rc = 1;
    }
    kvlm_provider_free(p);
    for (int i = 0; i < cl.n; i++) {
        free(cl.c[i].output);
        free(cl.c[i].error);
    }
    free(cl.c);
    for (int i = 0; i < cl.n_roots; i++) json_decref(cl.roots[i]);
    free(cl.roots);
    return rc;
}
