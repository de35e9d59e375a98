/* kvlm translate and kvlm copyedit: the Core ML port's two jobs, on the
 * provider of kvlm.h. One text as the operand, or one text per stdin line
 * (every request starts from a clean state; the system prompt's KV is
 * prefilled once and copied into each). Outputs go to stdout, one per line
 * of input; the timing table of each request to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "gen_common.h"
#include "kvlm.h"

static int g_translate; /* which usage to print */

static void usage(FILE *out) {
    if (g_translate)
        fprintf(out, "usage: kvlm translate -m MODEL --to LANGUAGE [--from LANGUAGE] [options] [TEXT]\n\n"
                     "Translates TEXT, or every line of stdin (TEXT absent or \"-\"), one output line per input.\n\n"
                     "      --to LANGUAGE       the language to translate into (\"French\")\n"
                     "      --from LANGUAGE     the text's language, named in the prompt (default: not named)\n");
    else
        fprintf(out, "usage: kvlm copyedit -m MODEL [options] [TEXT]\n\n"
                     "Copy-edits a transcript lightly (misheard words such as sight -> site, capitalization;\n"
                     "the wording, fillers and meaning kept): TEXT, or every line of stdin.\n\n");
    fprintf(out, "  -m, --model PATH        HF folder, GGUF file or llama2.c checkpoint\n"
                 "      --tokenizer FILE    the tokenizer of a llama2.c checkpoint\n"
                 "      --chat-format NAME  llama3.2 | llama3 | chatml (default: the model's template)\n"
                 "      --date DATE         Today Date of the Llama 3.2 system block (default \"26 Jul 2024\")\n"
                 "  -n, --max-tokens N      at most N output tokens (default: 2 x the text's tokens + 16)\n"
                 "      --ctx N             context positions per request (default 2048, at most the model's)\n"
                 "      --no-prefix-reuse   prefill the system prompt on every request\n"
                 "      --print-prompt      print the system prompt and exit\n"
                 "  -t, --threads N         threads (default: physical cores)\n"
                 "      --kernels K         auto | scalar | avx2 | avx512\n"
                 "  -q, --quiet             no timing table\n"
                 "Decoding is greedy and stops on the model's eos ids.\n");
}

typedef struct {
    const char *to, *from;
    int no_reuse;
    int print_prompt;
} tr_opts;

enum { O_TO = GEN_OPT_OWN, O_FROM, O_NO_REUSE, O_PRINT_PROMPT };

static int own(void *ctx, int opt, const char *arg) {
    tr_opts *t = ctx;
    switch (opt) {
    case O_TO: t->to = arg; return 0;
    case O_FROM: t->from = arg; return 0;
    case O_NO_REUSE: t->no_reuse = 1; return 0;
    case O_PRINT_PROMPT: t->print_prompt = 1; return 0;
    default: return -1;
    }
}

static int run_task(int argc, char **argv, kvlm_task task) {
    static const struct option tr_opts_long[] = {{"to", required_argument, NULL, O_TO},
                                                 {"from", required_argument, NULL, O_FROM},
                                                 {"no-prefix-reuse", no_argument, NULL, O_NO_REUSE},
                                                 {"print-prompt", no_argument, NULL, O_PRINT_PROMPT},
                                                 {NULL, 0, NULL, 0}};
    static const struct option ce_opts_long[] = {{"no-prefix-reuse", no_argument, NULL, O_NO_REUSE},
                                                 {"print-prompt", no_argument, NULL, O_PRINT_PROMPT},
                                                 {NULL, 0, NULL, 0}};
    const char *cmd = task == KVLM_TASK_TRANSLATE ? "translate" : "copyedit";
    g_translate = task == KVLM_TASK_TRANSLATE;
    gen_opts o;
    tr_opts t = {0};
    int first = gen_parse(argc, argv, &o, cmd, GEN_CTX | GEN_MAX | GEN_CHAT, g_translate ? tr_opts_long : ce_opts_long,
                          "", own, &t, usage);
    if (first <= 0) return first == 0 ? 0 : 2;
    if (g_translate && !t.to) {
        fprintf(stderr, "kvlm translate: no target language: give one with --to LANGUAGE\n\n");
        usage(stderr);
        return 2;
    }
    if (t.print_prompt) {
        char *sys = kvlm_task_system_prompt(task, t.from, t.to);
        if (!sys) {
            fprintf(stderr, "kvlm %s: %s\n", cmd, kvlm_last_error());
            return 2;
        }
        printf("%s\n", sys);
        free(sys);
        return 0;
    }
    if (argc - first > 1) {
        fprintf(stderr, "kvlm %s: expected one TEXT (quote it), got %d arguments\n\n", cmd, argc - first);
        usage(stderr);
        return 2;
    }
    if (!o.model_path) {
        fprintf(stderr, "kvlm %s: no model: give one with -m MODEL\n\n", cmd);
        usage(stderr);
        return 2;
    }
    /* a bad language name is an error before the model is opened */
    if (g_translate) {
        char *sys = kvlm_task_system_prompt(task, t.from, t.to);
        if (!sys) {
            fprintf(stderr, "kvlm %s: %s\n", cmd, kvlm_last_error());
            return 2;
        }
        free(sys);
    }
    const char *text = first < argc ? argv[first] : NULL;
    int from_stdin = !text || !strcmp(text, "-");
    if (from_stdin && !text && isatty(STDIN_FILENO)) {
        fprintf(stderr, "kvlm %s: no text: give one as an argument, or pipe lines in on stdin\n\n", cmd);
        usage(stderr);
        return 2;
    }

    kvlm_provider_options po = {.n_threads = o.n_threads,
                                .kernels = o.kernels,
                                .tokenizer_path = o.tokenizer_path,
                                .n_ctx = o.n_ctx,
                                .date = o.date,
                                .no_prefix_reuse = t.no_reuse,
                                .max_tokens = o.max_tokens > 0 ? o.max_tokens : 0};
    if (o.chat_format && strcmp(o.chat_format, "auto")) po.chat_format = kvlm_chat_format_from_name(o.chat_format);
    double t0 = kvlm_now_ms();
    kvlm_provider *p = kvlm_provider_open(o.model_path, &po);
    double open_ms = kvlm_now_ms() - t0;
    if (!p) {
        fprintf(stderr, "kvlm %s: %s\n", cmd, kvlm_last_error());
        return 1;
    }
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(kvlm_provider_model(p));
    int rc = 0, n = 0;
    char *line = NULL;
    for (;;) {
        const char *in = text;
        if (from_stdin) {
            free(line);
            if (!(line = gen_read_line(stdin))) break;
            in = line;
        }
        kvlm_request_timing tm;
        char *outp = kvlm_provider_run(p, task, in, t.from, t.to, 0, &tm);
        if (!outp) {
            fprintf(stderr, "kvlm %s: %s%s\n", cmd, kvlm_last_error(), from_stdin ? " (this line is skipped)" : "");
            if (from_stdin) fputc('\n', stdout); /* one output line per input line */
            rc = 1;
        } else {
            /* one line per input: an output's own newlines would break that when reading lines */
            if (from_stdin)
                for (char *c = outp; *c; c++)
                    if (*c == '\n' || *c == '\r') *c = ' ';
            if (printf("%s\n", outp) < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "kvlm %s: cannot write the output\n", cmd);
                free(outp);
                rc = 1;
                break;
            }
            free(outp);
            if (!o.quiet) {
                gen_timing gt;
                gen_timing_from_request(&gt, &tm, tok);
                gt.open_ms = n == 0 ? open_ms : -1;
                gen_print_timing(stderr, &gt);
            }
        }
        n++;
        if (!from_stdin) break;
    }
    free(line);
    kvlm_provider_free(p);
    return rc;
}

int cmd_translate(int argc, char **argv) { return run_task(argc, argv, KVLM_TASK_TRANSLATE); }
int cmd_copyedit(int argc, char **argv) { return run_task(argc, argv, KVLM_TASK_COPYEDIT); }
