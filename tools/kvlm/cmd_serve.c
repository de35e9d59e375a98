/* kvlm serve: an OpenAI-compatible HTTP server (see serve.h for the parts).
 * SIGTERM or SIGINT drains: new requests get 503, the ones in flight finish,
 * then the server exits 0. A second signal cancels what is left. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "serve.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: kvlm serve -m MODEL [options]\n\n"
            "An OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions, /v1/translate;\n"
            "GET /v1/models, /health. Several sessions decode together in one batched pass per step.\n\n"
            "  -m, --model PATH       HF folder, GGUF file or llama2.c checkpoint\n"
            "      --tokenizer PATH   tokenizer of a llama2.c checkpoint\n"
            "      --alias NAME       the model's id in the API (default: the model path's last component)\n"
            "      --host ADDR        address to bind (default 127.0.0.1)\n"
            "      --port N           port (default 8080; 0 picks a free one, printed at start)\n"
            "      --api-key KEY      require 'Authorization: Bearer KEY' (all routes but /health);\n"
            "                         default: $KVLM_API_KEY when set\n"
            "      --parallel N       sessions decoding at once, each with its own KV cache (default 4)\n"
            "      --queue N          requests that may wait for a session; more get 503 (default 16)\n"
            "      --ctx N            context positions per session (default min(4096, the model's))\n"
            "  -t, --threads N        compute threads (default: the physical cores)\n"
            "      --max-body BYTES   largest request body; larger gets 413 (default 1048576)\n"
            "      --chat-format NAME llama3.2 | llama3 | chatml (default: the model's template)\n"
            "      --timeout SECONDS  idle connection timeout (default 60)\n"
            "  -q, --quiet            no log line per request\n");
}

static int parse_int(const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "kvlm serve: %s must be an integer in %ld..%ld (got '%s')\n", name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static char *model_id_of(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') start--;
    return strndup(path + start, n - start);
}

/* Waits for a signal up to ms; returns it or 0. */
static int wait_signal(const sigset_t *set, long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static int inflight(serve_server *srv) {
    pthread_mutex_lock(&srv->mu);
    int n = srv->n_inflight;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

static int run(serve_server *srv) {
    serve_options *o = &srv->opt;
    kvlm_model_options mo = {.n_threads = o->n_threads, .tokenizer_path = o->tokenizer_path};
    srv->model = kvlm_model_open(o->model_path, &mo);
    if (!srv->model) {
        fprintf(stderr, "kvlm serve: %s\n", kvlm_last_error());
        return 1;
    }
    kvlm_model_get_info(srv->model, &srv->info);
    srv->tok = kvlm_model_tokenizer(srv->model);
    if (!srv->tok) {
        fprintf(stderr, "kvlm serve: %s has no tokenizer (give a llama2.c checkpoint's with --tokenizer)\n", o->model_path);
        return 1;
    }
    if (o->chat_format) {
        srv->chat_fmt = kvlm_chat_format_from_name(o->chat_format);
        if (srv->chat_fmt == KVLM_CHAT_AUTO) {
            fprintf(stderr, "kvlm serve: unknown --chat-format '%s' (llama3.2, llama3 or chatml)\n", o->chat_format);
            return 2;
        }
    } else if (kvlm_model_chat_template(srv->model)) {
        srv->chat_fmt = kvlm_chat_format_detect(kvlm_model_chat_template(srv->model));
        if (srv->chat_fmt == KVLM_CHAT_AUTO)
            fprintf(stderr, "kvlm serve: warning: %s; chat and translate answer 400 (use --chat-format)\n",
                    kvlm_last_error());
    }
    if (!o->n_ctx) o->n_ctx = srv->info.max_pos < 4096 ? srv->info.max_pos : 4096;
    if (o->n_ctx < 2 || o->n_ctx > srv->info.max_pos) {
        fprintf(stderr, "kvlm serve: --ctx %d is outside 2..%d (the model's max_position_embeddings)\n", o->n_ctx,
                srv->info.max_pos);
        return 2;
    }
    srv->model_id = o->alias ? strdup(o->alias) : model_id_of(o->model_path);
    if (!srv->model_id) return 1;
    srv->created = (long long)time(NULL);
    serve_sched_options so = {.n_slots = o->parallel, .queue_cap = o->queue, .n_ctx = o->n_ctx, .quiet = o->quiet};
    srv->sched = serve_sched_new(srv->model, &so);
    if (!srv->sched) return 1;
    if (serve_http_start(srv)) return 1;
    if (!o->api_key && strcmp(o->host, "127.0.0.1") && strcmp(o->host, "::1") && strcmp(o->host, "localhost"))
        fprintf(stderr, "kvlm serve: warning: listening on %s without --api-key: anyone who can reach it can use it\n",
                o->host);
    fprintf(stderr,
            "kvlm serve: listening on http://%s%s%s:%d (model '%s', %d slots x %d positions, queue %d, %s kernels, "
            "%d threads%s)\n",
            strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "", srv->port, srv->model_id,
            o->parallel, o->n_ctx, o->queue, srv->info.kernels, srv->info.n_threads, o->api_key ? ", API key required" : "");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    while (!(sig = wait_signal(&set, 1000))) {
    }
    /* drain */
    pthread_mutex_lock(&srv->mu);
    srv->draining = 1;
    pthread_mutex_unlock(&srv->mu);
    serve_sched_close(srv->sched);
    fprintf(stderr, "kvlm serve: %s: draining %d request(s) in flight (send it again to cancel them)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", inflight(srv));
    while (inflight(srv)) {
        if (wait_signal(&set, 50)) {
            fprintf(stderr, "kvlm serve: cancelling the requests in flight\n");
            serve_sched_cancel_all(srv->sched);
            double until = kvlm_now_ms() + 10000;
            while (inflight(srv) && kvlm_now_ms() < until) wait_signal(&set, 50);
            break;
        }
    }
    serve_http_stop(srv);
    fprintf(stderr, "kvlm serve: stopped\n");
    return 0;
}

int cmd_serve(int argc, char **argv) {
    enum { O_TOK = 256, O_ALIAS, O_HOST, O_PORT, O_KEY, O_PAR, O_QUEUE, O_CTX, O_BODY, O_FMT, O_TIMEOUT };
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},   {"tokenizer", required_argument, NULL, O_TOK},
        {"alias", required_argument, NULL, O_ALIAS}, {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT}, {"api-key", required_argument, NULL, O_KEY},
        {"parallel", required_argument, NULL, O_PAR}, {"queue", required_argument, NULL, O_QUEUE},
        {"ctx", required_argument, NULL, O_CTX},   {"threads", required_argument, NULL, 't'},
        {"max-body", required_argument, NULL, O_BODY}, {"chat-format", required_argument, NULL, O_FMT},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    serve_server srv;
    memset(&srv, 0, sizeof srv);
    serve_options *o = &srv.opt;
    o->host = "127.0.0.1";
    o->port = 8080;
    o->parallel = 4;
    o->queue = 16;
    o->timeout_s = 60;
    o->max_body = 1 << 20;
    o->api_key = getenv("KVLM_API_KEY");
    if (o->api_key && !*o->api_key) o->api_key = NULL;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model_path = optarg; break;
        case O_TOK: o->tokenizer_path = optarg; break;
        case O_ALIAS:
            if (!*optarg) {
                fprintf(stderr, "kvlm serve: --alias must not be empty\n");
                return 2;
            }
            o->alias = optarg;
            break;
        case O_HOST: o->host = optarg; break;
        case O_PORT:
            if (parse_int("--port", optarg, 0, 65535, &v)) return 2;
            o->port = (int)v;
            break;
        case O_KEY:
            if (!*optarg) {
                fprintf(stderr, "kvlm serve: --api-key must not be empty\n");
                return 2;
            }
            o->api_key = optarg;
            break;
        case O_PAR:
            if (parse_int("--parallel", optarg, 1, 64, &v)) return 2;
            o->parallel = (int)v;
            break;
        case O_QUEUE:
            if (parse_int("--queue", optarg, 0, 100000, &v)) return 2;
            o->queue = (int)v;
            break;
        case O_CTX:
            if (parse_int("--ctx", optarg, 2, 1 << 24, &v)) return 2;
            o->n_ctx = (int)v;
            break;
        case 't':
            if (parse_int("--threads", optarg, 0, 1024, &v)) return 2;
            o->n_threads = (int)v;
            break;
        case O_BODY:
            if (parse_int("--max-body", optarg, 64, 1L << 30, &v)) return 2;
            o->max_body = (size_t)v;
            break;
        case O_FMT: o->chat_format = optarg; break;
        case O_TIMEOUT:
            if (parse_int("--timeout", optarg, 1, 86400, &v)) return 2;
            o->timeout_s = (int)v;
            break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvlm serve: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!o->model_path) {
        fprintf(stderr, "kvlm serve: -m MODEL is required\n");
        usage(stderr);
        return 2;
    }
    /* every thread started from here on inherits the mask: only sigtimedwait above sees these */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.cv, NULL);
    int rc = run(&srv);
    serve_http_stop(&srv);
    serve_sched_free(srv.sched);
    kvlm_model_free(srv.model);
    free(srv.model_id);
    pthread_cond_destroy(&srv.cv);
    pthread_mutex_destroy(&srv.mu);
    return rc;
}
