/* Shared by run, chat, translate, copyedit and eval: see gen_common.h. */
#include "gen_common.h"

#include "byte_buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_TOKENIZER = 300,
    O_CTX,
    O_SEED,
    O_TEMP,
    O_TOP_K,
    O_TOP_P,
    O_MIN_P,
    O_PENALTY,
    O_PENALTY_N,
    O_SAMPLE,
    O_KERNELS,
    O_FORMAT,
    O_DATE,
};

int gen_parse_int(const char *cmd, const char *name, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno) {
        fprintf(stderr, "kvlm %s: %s: '%s' is not an integer\n", cmd, name, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "kvlm %s: %s: %ld is out of range (%d..%d)\n", cmd, name, v, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int gen_parse_float(const char *cmd, const char *name, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (!*s || *end || errno || !isfinite(v)) {
        fprintf(stderr, "kvlm %s: %s: '%s' is not a number\n", cmd, name, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "kvlm %s: %s: %g is out of range (%g..%g)\n", cmd, name, (double)v, (double)lo, (double)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int is_number(const char *s) {
    char *end;
    if (!s || !*s) return 0;
    strtod(s, &end);
    return *end == 0;
}

int gen_parse(int argc, char **argv, gen_opts *o, const char *cmd, unsigned groups, const struct option *own,
              const char *own_short, gen_own_fn fn, void *ctx, void (*usage)(FILE *)) {
    static const struct option base[] = {
        {"model", required_argument, NULL, 'm'},   {"tokenizer", required_argument, NULL, O_TOKENIZER},
        {"threads", required_argument, NULL, 't'}, {"kernels", required_argument, NULL, O_KERNELS},
        {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
    };
    static const struct option ctx_opts[] = {{"ctx", required_argument, NULL, O_CTX}};
    static const struct option max_opts[] = {{"max-tokens", required_argument, NULL, 'n'}};
    static const struct option samp_opts[] = {
        {"sample", no_argument, NULL, O_SAMPLE},
        {"temp", optional_argument, NULL, O_TEMP},
        {"temperature", optional_argument, NULL, O_TEMP},
        {"top-k", required_argument, NULL, O_TOP_K},
        {"top-p", optional_argument, NULL, O_TOP_P},
        {"min-p", required_argument, NULL, O_MIN_P},
        {"repeat-penalty", required_argument, NULL, O_PENALTY},
        {"repeat-last-n", required_argument, NULL, O_PENALTY_N},
        {"seed", required_argument, NULL, O_SEED},
    };
    static const struct option chat_opts[] = {{"chat-format", required_argument, NULL, O_FORMAT},
                                              {"date", required_argument, NULL, O_DATE}};
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->max_tokens = -1;
    o->repeat_last_n = 0;

    struct option all[64];
    size_t n = 0;
#define ADD(arr)                                                                                                       \
    for (size_t i_ = 0; i_ < sizeof arr / sizeof arr[0]; i_++) all[n++] = arr[i_];
    ADD(base);
    if (groups & GEN_CTX) ADD(ctx_opts);
    if (groups & GEN_MAX) ADD(max_opts);
    if (groups & GEN_SAMPLING) ADD(samp_opts);
    if (groups & GEN_CHAT) ADD(chat_opts);
#undef ADD
    for (size_t i = 0; own && own[i].name && n < 63; i++) all[n++] = own[i];
    memset(&all[n], 0, sizeof all[n]);
    char shorts[64];
    snprintf(shorts, sizeof shorts, "m:t:qh%s%s", groups & GEN_MAX ? "n:" : "", own_short ? own_short : "");

    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        const char *arg = optarg;
        float f;
        int v;
        switch (c) {
        case 'm': o->model_path = arg; break;
        case O_TOKENIZER: o->tokenizer_path = arg; break;
        case 't':
            if (gen_parse_int(cmd, "--threads", arg, 0, 512, &o->n_threads)) goto bad;
            break;
        case O_KERNELS:
            if (!strcmp(arg, "auto"))
                o->kernels = KVLM_KERNELS_AUTO;
            else if (!strcmp(arg, "scalar"))
                o->kernels = KVLM_KERNELS_SCALAR;
            else if (!strcmp(arg, "avx2"))
                o->kernels = KVLM_KERNELS_AVX2;
            else if (!strcmp(arg, "avx512"))
                o->kernels = KVLM_KERNELS_AVX512;
            else {
                fprintf(stderr, "kvlm %s: --kernels: unknown kernel set '%s' (choose auto, scalar, avx2 or avx512)\n",
                        cmd, arg);
                goto bad;
            }
            break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_CTX:
            if (gen_parse_int(cmd, "--ctx", arg, 1, 1 << 30, &o->n_ctx)) goto bad;
            o->ctx_given = 1;
            break;
        case 'n':
            if (gen_parse_int(cmd, "--max-tokens", arg, 0, 1 << 30, &o->max_tokens)) goto bad;
            break;
        case O_SAMPLE: o->sample = 1; break;
        case O_TEMP:
        case O_TOP_P:
            /* "--temp" alone: the model's default; "--temp 0.7" or "--temp=0.7": that value */
            if (!arg && optind < argc && is_number(argv[optind])) arg = argv[optind++];
            o->sample = 1;
            if (!arg) break;
            if (c == O_TEMP) {
                if (gen_parse_float(cmd, "--temp", arg, 0, 100, &o->temp)) goto bad;
                o->has_temp = 1;
            } else {
                if (gen_parse_float(cmd, "--top-p", arg, 0, 1, &o->top_p)) goto bad;
                o->has_top_p = 1;
            }
            break;
        case O_TOP_K:
            if (gen_parse_int(cmd, "--top-k", arg, 0, 1 << 30, &o->top_k)) goto bad;
            o->sample = 1;
            break;
        case O_MIN_P:
            if (gen_parse_float(cmd, "--min-p", arg, 0, 1, &o->min_p)) goto bad;
            o->sample = 1;
            break;
        case O_PENALTY:
            if (gen_parse_float(cmd, "--repeat-penalty", arg, 0, 100, &f)) goto bad;
            o->repeat_penalty = f;
            break;
        case O_PENALTY_N:
            if (gen_parse_int(cmd, "--repeat-last-n", arg, 0, 1 << 30, &v)) goto bad;
            o->repeat_last_n = v;
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(arg, &end, 10);
            if (!*arg || *end || errno || *arg == '-') {
                fprintf(stderr, "kvlm %s: --seed: '%s' is not a non-negative integer\n", cmd, arg);
                goto bad;
            }
            o->seed = s;
            o->has_seed = 1;
            break;
        }
        case O_FORMAT:
            if (strcmp(arg, "auto") && kvlm_chat_format_from_name(arg) == KVLM_CHAT_AUTO) {
                fprintf(stderr, "kvlm %s: --chat-format: %s\n", cmd, kvlm_last_error());
                goto bad;
            }
            o->chat_format = arg;
            break;
        case O_DATE: o->date = arg; break;
        case '?':
            if (optopt == 0)
                fprintf(stderr, "kvlm %s: unknown option %s\n", cmd, argv[optind - 1]);
            else if (optopt >= 256 || strchr(shorts, optopt))
                fprintf(stderr, "kvlm %s: option %s needs a value\n", cmd, argv[optind - 1]);
            else
                fprintf(stderr, "kvlm %s: unknown option -%c\n", cmd, optopt);
            goto bad;
        default:
            if (fn && !fn(ctx, c, arg)) break;
            goto bad;
        }
    }
    return optind;
bad:
    fputc('\n', stderr);
    usage(stderr);
    return -1;
}

kvlm_model *gen_open_model(const gen_opts *o, double *open_ms) {
    if (!o->model_path) {
        fprintf(stderr, "kvlm %s: no model: give one with -m MODEL\n", o->cmd);
        return NULL;
    }
    kvlm_model_options mo = {.n_threads = o->n_threads, .kernels = o->kernels, .tokenizer_path = o->tokenizer_path};
    double t0 = kvlm_now_ms();
    kvlm_model *m = kvlm_model_open(o->model_path, &mo);
    if (open_ms) *open_ms = kvlm_now_ms() - t0;
    if (!m) {
        fprintf(stderr, "kvlm %s: %s\n", o->cmd, kvlm_last_error());
        return NULL;
    }
    if (!kvlm_model_tokenizer(m)) {
        fprintf(stderr, "kvlm %s: %s has no tokenizer: give one with --tokenizer FILE\n", o->cmd, o->model_path);
        kvlm_model_free(m);
        return NULL;
    }
    return m;
}

kvlm_sampler_params gen_sampling(const gen_opts *o, const kvlm_model_info *info) {
    kvlm_sampler_params p;
    memset(&p, 0, sizeof p);
    p.repeat_penalty = o->repeat_penalty;
    p.repeat_last_n = o->repeat_last_n;
    if (!o->sample) return p;
    p.temperature = o->has_temp ? o->temp : info->gen_temperature > 0 ? info->gen_temperature : 1.0f;
    p.top_p = o->has_top_p ? o->top_p : info->gen_top_p > 0 ? info->gen_top_p : 1.0f;
    p.top_k = o->top_k;
    p.min_p = o->min_p;
    p.seed = o->has_seed ? o->seed : (uint64_t)(kvlm_now_ms() * 1000.0);
    return p;
}

void gen_describe_sampling(const kvlm_sampler_params *p, char *buf, size_t cap) {
    size_t n = 0;
    if (p->temperature <= 0) {
        n = (size_t)snprintf(buf, cap, "greedy");
    } else {
        n = (size_t)snprintf(buf, cap, "temperature %g, top-p %g", (double)p->temperature,
                             (double)(p->top_p > 0 ? p->top_p : 1.0f));
        if (p->top_k && n < cap) n += (size_t)snprintf(buf + n, cap - n, ", top-k %d", p->top_k);
        if (p->min_p > 0 && n < cap) n += (size_t)snprintf(buf + n, cap - n, ", min-p %g", (double)p->min_p);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ", seed %llu", (unsigned long long)p->seed);
    }
    if (p->repeat_penalty > 0 && p->repeat_penalty != 1.0f && n < cap)
        snprintf(buf + n, cap - n, ", repeat penalty %g (last %d)", (double)p->repeat_penalty,
                 p->repeat_last_n ? p->repeat_last_n : 64);
}

void gen_describe_stop(const kvlm_tokenizer *tok, kvlm_stop_reason why, int32_t stop_id, int max_tokens, int n_ctx,
                       char *buf, size_t cap) {
    switch (why) {
    case KVLM_STOP_EOS: {
        char piece[64] = "";
        long k = tok ? kvlm_detokenize(tok, &stop_id, 1, piece, sizeof piece) : -1;
        if (k > 0 && k < (long)sizeof piece)
            snprintf(buf, cap, "eos id %d %s", (int)stop_id, piece);
        else
            snprintf(buf, cap, "eos id %d", (int)stop_id);
        break;
    }
    case KVLM_STOP_MAX_TOKENS: snprintf(buf, cap, "max tokens (%d)", max_tokens); break;
    case KVLM_STOP_CONTEXT_FULL: snprintf(buf, cap, "context full (%d positions)", n_ctx); break;
    case KVLM_STOP_CALLBACK: snprintf(buf, cap, "stopped by the caller"); break;
    default: snprintf(buf, cap, "-"); break;
    }
}

void gen_print_timing(FILE *f, const gen_timing *t) {
    char stop[128];
    gen_describe_stop(t->tok, t->stop, t->stop_id, t->max_tokens, t->n_ctx, stop, sizeof stop);
    fprintf(f, "kvlm timing\n");
    if (t->open_ms >= 0) fprintf(f, "  open            %10.2f ms\n", t->open_ms);
    fprintf(f, "  prompt tokens   %7d\n", t->n_prompt + t->n_reused);
    if (t->n_reused > 0 && t->reused_in_state) {
        fprintf(f, "  reused          %7d tokens (already in the state)\n", t->n_reused);
    } else if (t->n_reused > 0 && t->prefix_ms > 0) {
        fprintf(f,
                "  reused          %7d tokens (the prefix, prefilled in %.2f ms for this request and cached; "
                "later requests copy it)\n",
                t->n_reused, t->prefix_ms);
    } else if (t->n_reused > 0) {
        fprintf(f, "  reused          %7d tokens (KV copied in %.2f ms", t->n_reused, t->copy_ms);
        if (t->reused_ms > 0)
            fprintf(f, "; prefilling them took %.2f ms, saved %.2f ms", t->reused_ms, t->reused_ms - t->copy_ms);
        fprintf(f, ")\n");
    }
    fprintf(f, "  prefill         %10.2f ms", t->prefill_ms);
    if (t->n_reused > 0) fprintf(f, " for %d tokens", t->n_prompt);
    if (t->prefill_ms > 0) fprintf(f, " (%.1f tokens/s)", t->n_prompt * 1000.0 / t->prefill_ms);
    fprintf(f, "\n");
    fprintf(f, "  decode tokens   %7d\n", t->n_generated);
    if (t->n_decode > 0)
        fprintf(f, "  decode          %10.2f ms/token (%.1f tokens/s)\n", t->decode_ms / t->n_decode,
                t->decode_ms > 0 ? t->n_decode * 1000.0 / t->decode_ms : 0.0);
    else
        fprintf(f, "  decode                   - ms/token (no decode step)\n");
    if (t->n_ctx > 0) fprintf(f, "  context         %7d of %d positions\n", t->n_ctx_used, t->n_ctx);
    if (t->sampling) fprintf(f, "  sampling        %s\n", t->sampling);
    fprintf(f, "  stop            %s\n", stop);
    fflush(f);
}

/* ---------------------------------------------------------------- stream */

static int append(gen_stream *s, const char *p, size_t n) { return byte_buf_append(&s->text, &s->len, &s->cap, p, n); }

int gen_stream_init(gen_stream *s, const kvlm_tokenizer *tok, FILE *out, const int32_t *prime, int n_prime,
                    int collect) {
    memset(s, 0, sizeof *s);
    s->out = out;
    s->collect = collect;
    if (!(s->ds = kvlm_detok_stream_new(tok))) return -1;
    for (int i = 0; i < n_prime; i++)
        if (!kvlm_detok_stream_push(s->ds, prime[i], NULL)) return -1;
    if (!kvlm_detok_stream_flush(s->ds, NULL)) return -1; /* what the prompt left unfinished is not output */
    if (collect && append(s, "", 0)) return -1;
    return 0;
}

static void emit(gen_stream *s, const char *p, size_t n) {
    if (!n) return;
    if (s->out && (fwrite(p, 1, n, s->out) != n || fflush(s->out) != 0)) s->failed = 1;
    if (s->collect && append(s, p, n)) s->failed = 1;
}

int gen_stream_on_token(void *ctx, int32_t id, const char *text, size_t len) {
    gen_stream *s = ctx;
    (void)text;
    (void)len;
    if (id < 0) return 0; /* kvlm_generate's own decoder: ours is flushed by gen_stream_finish */
    size_t n = 0;
    const char *p = kvlm_detok_stream_push(s->ds, id, &n);
    if (!p) {
        s->failed = 1;
        return 1;
    }
    emit(s, p, n);
    return s->failed;
}

void gen_stream_finish(gen_stream *s) {
    size_t n = 0;
    const char *p = kvlm_detok_stream_flush(s->ds, &n);
    if (p) emit(s, p, n);
}

void gen_stream_free(gen_stream *s) {
    kvlm_detok_stream_free(s->ds);
    free(s->text);
    memset(s, 0, sizeof *s);
}

char *gen_read_line(FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    return line;
}

void gen_timing_from_request(gen_timing *t, const kvlm_request_timing *r, const kvlm_tokenizer *tok) {
    memset(t, 0, sizeof *t);
    t->open_ms = -1;
    t->n_prompt = r->n_prompt - r->n_reused;
    t->n_reused = r->n_reused;
    t->reused_ms = r->reused_ms;
    t->copy_ms = r->copy_ms;
    t->prefix_ms = r->prefix_ms;
    t->prefill_ms = r->prefill_ms;
    t->n_generated = r->n_output;
    t->n_decode = r->n_decode;
    t->decode_ms = r->decode_ms;
    t->stop = r->stop_reason;
    t->stop_id = r->stop_id;
    t->max_tokens = r->max_tokens;
    t->tok = tok;
}
