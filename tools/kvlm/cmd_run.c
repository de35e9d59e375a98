/* kvlm run: plain completion. BOS + the prompt as the tokenizer encodes it
 * (llama2.c's encoding for a llama2.c tokenizer); the continuation streams to
 * stdout, then one newline, as llama2.c's run prints it. An empty prompt
 * starts from BOS alone. Greedy unless a sampling flag is given. The timing
 * table goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gen_common.h"
#include "kvlm.h"

#define RUN_DEFAULT_MAX 256

static void usage(FILE *out) {
    fprintf(out,
            "usage: kvlm run -m MODEL -p PROMPT [-n N] [options]\n\n"
            "Completes PROMPT (\"\" starts from BOS alone; \"-\" reads stdin) and streams the\n"
            "continuation to stdout; the timing table goes to stderr.\n\n"
            "  -m, --model PATH        HF folder, GGUF file or llama2.c checkpoint\n"
            "      --tokenizer FILE    the tokenizer of a llama2.c checkpoint (tok512.bin)\n"
            "  -p, --prompt TEXT       the text to complete\n"
            "  -n, --max-tokens N      tokens to generate (default %d; 0: until a stop id or the\n"
            "                          context is full). As llama2.c's -n: after BOS, -n 256 feeds 256\n"
            "                          positions (BOS + 255 tokens) and prints 256 tokens, the last sampled\n"
            "                          from position 255 and not fed\n"
            "      --ctx N             context positions (default: prompt + max tokens, at most the model's)\n"
            "      --echo              print the prompt before the continuation\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "      --kernels K         auto | scalar | avx2 | avx512\n"
            "  -q, --quiet             no timing table\n"
            "sampling (greedy unless one of these is given):\n"
            "      --sample            sample with the model's generation_config temperature and top-p\n"
            "      --temp [T]          temperature (alone: the model's default)\n"
            "      --top-p [P]         nucleus sampling (alone: the model's default)\n"
            "      --top-k K, --min-p P, --seed S\n"
            "      --repeat-penalty R, --repeat-last-n N   (also with greedy decoding)\n",
            RUN_DEFAULT_MAX);
}

typedef struct {
    const char *prompt;
    int echo;
} run_opts;

enum { O_ECHO = GEN_OPT_OWN };

static int own(void *ctx, int opt, const char *arg) {
    run_opts *r = ctx;
    switch (opt) {
    case 'p': r->prompt = arg; return 0;
    case O_ECHO: r->echo = 1; return 0;
    default: return -1;
    }
}

static char *read_all(FILE *f) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *t = realloc(buf, cap * 2);
        if (!t) {
            free(buf);
            return NULL;
        }
        buf = t;
        cap *= 2;
    }
    if (buf) buf[n] = 0;
    return buf;
}

int cmd_run(int argc, char **argv) {
    static const struct option own_opts[] = {
        {"prompt", required_argument, NULL, 'p'}, {"echo", no_argument, NULL, O_ECHO}, {NULL, 0, NULL, 0}};
    gen_opts o;
    run_opts r = {0};
    int first = gen_parse(argc, argv, &o, "run", GEN_CTX | GEN_MAX | GEN_SAMPLING, own_opts, "p:", own, &r, usage);
    if (first <= 0) return first == 0 ? 0 : 2;
    if (first < argc) {
        if (r.prompt || first < argc - 1) {
            fprintf(stderr, "kvlm run: unexpected argument '%s' (the prompt goes after -p)\n\n", argv[first]);
            usage(stderr);
            return 2;
        }
        r.prompt = argv[first];
    }
    if (!o.model_path || !r.prompt) {
        fprintf(stderr, "kvlm run: %s\n\n",
                !o.model_path ? "no model: give one with -m MODEL"
                              : "no prompt: give one with -p TEXT (-p \"\" starts from BOS alone)");
        usage(stderr);
        return 2;
    }
    char *owned = NULL;
    if (!strcmp(r.prompt, "-")) {
        if (!(owned = read_all(stdin))) {
            fprintf(stderr, "kvlm run: cannot read the prompt from stdin\n");
            return 1;
        }
        r.prompt = owned;
    }

    int rc = 1;
    double open_ms = 0;
    kvlm_model *m = gen_open_model(&o, &open_ms);
    kvlm_state *s = NULL;
    int32_t *ids = NULL;
    gen_stream gs;
    memset(&gs, 0, sizeof gs);
    if (!m) goto done;
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);

    size_t plen = strlen(r.prompt);
    int n = kvlm_tokenize(tok, r.prompt, plen, KVLM_TOKENIZE_ADD_BOS, NULL, 0);
    if (n < 0 || !(ids = malloc(sizeof(int32_t) * ((size_t)n + 1))) ||
        kvlm_tokenize(tok, r.prompt, plen, KVLM_TOKENIZE_ADD_BOS, ids, n) != n) {
        fprintf(stderr, "kvlm run: %s\n", n < 0 ? kvlm_last_error() : "out of memory");
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "kvlm run: the prompt is empty and the tokenizer has no BOS token to start from\n");
        goto done;
    }
    int max_tokens = o.max_tokens >= 0 ? o.max_tokens : RUN_DEFAULT_MAX;
    int n_ctx = o.n_ctx;
    if (!o.ctx_given) {
        long want = max_tokens ? (long)n + max_tokens : 4096;
        if (want < n) want = n;
        n_ctx = want < info.max_pos ? (int)want : info.max_pos;
    }
    if (n > n_ctx) {
        if (o.ctx_given)
            fprintf(stderr,
                    "kvlm run: the prompt is %d tokens, but the context holds %d (--ctx %d): give a larger --ctx "
                    "or a shorter prompt\n",
                    n, n_ctx, n_ctx);
        else
            fprintf(stderr, "kvlm run: the prompt is %d tokens, more than the model's %d positions\n", n, info.max_pos);
        goto done;
    }
    kvlm_state_options so = {.n_ctx = n_ctx};
    if (!(s = kvlm_state_new(m, &so))) {
        fprintf(stderr, "kvlm run: %s\n", kvlm_last_error());
        goto done;
    }
    if (gen_stream_init(&gs, tok, stdout, ids, n, 0)) {
        fprintf(stderr, "kvlm run: %s\n", kvlm_last_error());
        goto done;
    }
    if (r.echo && (fwrite(r.prompt, 1, plen, stdout) != plen || fflush(stdout))) gs.failed = 1;
    kvlm_generate_params gp;
    memset(&gp, 0, sizeof gp);
    gp.max_tokens = max_tokens;
    gp.sampling = gen_sampling(&o, &info);
    gp.on_token = gen_stream_on_token;
    gp.ctx = &gs;
    kvlm_generate_result res;
    kvlm_status st = kvlm_generate(s, ids, n, &gp, NULL, 0, &res);
    if (st != KVLM_OK) {
        fprintf(stderr, "kvlm run: %s\n", kvlm_last_error());
        goto done;
    }
    gen_stream_finish(&gs);
    if (fputc('\n', stdout) == EOF || fflush(stdout) != 0) gs.failed = 1;
    if (gs.failed) {
        fprintf(stderr, "kvlm run: cannot write the output\n");
        goto done;
    }
    if (!o.quiet) {
        char samp[160];
        gen_describe_sampling(&gp.sampling, samp, sizeof samp);
        gen_timing t = {.open_ms = open_ms,
                        .n_prompt = res.n_prompt,
                        .prefill_ms = res.prefill_ms,
                        .n_generated = res.n_generated,
                        .n_decode = res.n_decode,
                        .decode_ms = res.decode_ms,
                        .n_ctx_used = kvlm_state_pos(s),
                        .n_ctx = n_ctx,
                        .sampling = samp,
                        .stop = res.stop_reason,
                        .stop_id = res.stop_id,
                        .max_tokens = max_tokens,
                        .tok = tok};
        gen_print_timing(stderr, &t);
    }
    rc = 0;
done:
    gen_stream_free(&gs);
    free(ids);
    kvlm_state_free(s);
    kvlm_model_free(m);
    free(owned);
    return rc;
}
