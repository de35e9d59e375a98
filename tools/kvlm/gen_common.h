/* What the generating commands (run, chat, translate, copyedit, eval) share:
 * option parsing, opening the model, sampling settings, streaming text to
 * stdout and the Core ML port's timing table on stderr. Public API only. */
#ifndef KVLM_GEN_COMMON_H
#define KVLM_GEN_COMMON_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "kvlm.h"

typedef struct {
    const char *cmd;            /* "run", "chat", ...: the prefix of messages */
    const char *model_path;     /* -m */
    const char *tokenizer_path; /* --tokenizer */
    int n_ctx;                  /* --ctx; 0: the command's default */
    int ctx_given;
    int max_tokens;          /* --max-tokens / -n; -1: not given */
    int n_threads;           /* --threads / -t; 0: physical cores */
    kvlm_kernels kernels;    /* --kernels */
    const char *chat_format; /* --chat-format */
    const char *date;        /* --date */
    int quiet;               /* -q: no timing table */
    /* sampling: greedy unless one of the sampling flags is given */
    int sample;
    int has_temp, has_top_p, has_seed;
    float temp, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    uint64_t seed;
} gen_opts;

/* Which flags a command takes besides -m, --tokenizer, -t, --kernels, -q. */
enum {
    GEN_CTX = 1,      /* --ctx */
    GEN_MAX = 2,      /* --max-tokens / -n */
    GEN_SAMPLING = 4, /* --sample --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed */
    GEN_CHAT = 8,     /* --chat-format --date */
};

/* A command's own options: getopt_long entries whose val is >= GEN_OPT_OWN or
 * a short option letter listed in own_short. The callback returns 0, or
 * nonzero after printing why the value is bad. */
#define GEN_OPT_OWN 1000
typedef int (*gen_own_fn)(void *ctx, int opt, const char *arg);

/* Parses argv. Returns the index of the first operand (>= 1), 0 when --help
 * was printed (exit 0), or -1 after a message and the usage (exit 2). */
int gen_parse(int argc, char **argv, gen_opts *o, const char *cmd, unsigned groups, const struct option *own,
              const char *own_short, gen_own_fn fn, void *ctx, void (*usage)(FILE *));

/* Strict number parsing for options: prints "kvlm CMD: --NAME: ..." on error. */
int gen_parse_int(const char *cmd, const char *name, const char *s, int lo, int hi, int *out);
int gen_parse_float(const char *cmd, const char *name, const char *s, float lo, float hi, float *out);

/* Opens -m with the compute options; prints the error and returns NULL on failure. */
kvlm_model *gen_open_model(const gen_opts *o, double *open_ms);

/* The sampling parameters the flags ask for: greedy unless sampling was asked;
 * then the model's generation_config temperature / top_p fill what was not
 * given (1.0 when it has none), and the seed is the clock's unless given. */
kvlm_sampler_params gen_sampling(const gen_opts *o, const kvlm_model_info *info);

/* "greedy" or "temperature 0.6, top-p 0.9, seed 42": for the table. */
void gen_describe_sampling(const kvlm_sampler_params *p, char *buf, size_t cap);

/* Why generation stopped, in words ("eos id 128009 <|eot_id|>", "max tokens (64)", ...). */
void gen_describe_stop(const kvlm_tokenizer *tok, kvlm_stop_reason why, int32_t stop_id, int max_tokens, int n_ctx,
                       char *buf, size_t cap);

/* The timing table, printed to stderr. Negative open_ms: not shown. */
typedef struct {
    double open_ms;
    int n_prompt;        /* prompt tokens prefilled */
    int n_reused;        /* prompt tokens whose KV was reused (prefix cache or the conversation) */
    double reused_ms;    /* what the reused tokens cost to prefill when they were computed (0: unknown) */
    double copy_ms;      /* copying them */
    int reused_in_state; /* the reused tokens were already in the state (a conversation), not copied */
    double prefix_ms;    /* this request prefilled the prefix it reused (and cached it) in this time */
    double prefill_ms;
    int n_generated;
    int n_decode;
    double decode_ms;
    int n_ctx_used, n_ctx; /* positions in use after the request (0: not shown) */
    const char *sampling;  /* NULL: not shown */
    kvlm_stop_reason stop;
    int32_t stop_id;
    int max_tokens;
    const kvlm_tokenizer *tok;
} gen_timing;

void gen_print_timing(FILE *f, const gen_timing *t);

/* The table's fields from a provider request's timing. */
void gen_timing_from_request(gen_timing *t, const kvlm_request_timing *r, const kvlm_tokenizer *tok);

/* Streams generated text to a FILE through a decoder of its own, primed
 * with the prompt so the first piece is decoded as a continuation (llama2.c
 * drops the leading space of a piece that follows BOS). */
typedef struct {
    kvlm_detok_stream *ds;
    FILE *out;
    int failed; /* a write or decode failed */
    char *text; /* everything written, NUL-terminated (when collect is set) */
    size_t len, cap;
    int collect;
} gen_stream;

int gen_stream_init(gen_stream *s, const kvlm_tokenizer *tok, FILE *out, const int32_t *prime, int n_prime,
                    int collect);
/* kvlm_generate's on_token (ctx: a gen_stream). */
int gen_stream_on_token(void *ctx, int32_t id, const char *text, size_t len);
/* Writes what the decoder still holds. */
void gen_stream_finish(gen_stream *s);
void gen_stream_free(gen_stream *s);

/* Reads one line (without its end of line) from f: malloc'd, NULL at the end. */
char *gen_read_line(FILE *f);

#endif
