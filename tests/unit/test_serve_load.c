/* fixtures: synth_small */
/* A bounded load test of `kvlm serve` over loopback: it starts the server,
 * runs C concurrent clients × R requests each (odd requests streamed, even
 * ones not; chats that share a system prompt, so the prefix cache works),
 * checks that every one succeeds, prints p50/p95 latency and the aggregate
 * tokens/s, and checks that the server's RSS after the load is within 5% of
 * before it (after a warm-up that touches every slot).
 *
 * CTest runs a short configuration on the synthetic model. By hand:
 *   test_serve_load [--model DIR] [--clients 16] [--requests 20] [--max-tokens N]
 *                   [--parallel 4] [--queue 16] [--threads T] [--timeout S]
 *   test_serve_load --throughput --model /tmp/serve-1b [--max-tokens 64] [--runs 3]
 * --throughput measures the aggregate decode speed of 4 concurrent streams
 * against 1 stream (medians of --runs runs) instead.
 *
 * The client is a few lines of POSIX sockets: HTTP/1.0 requests, so the
 * response simply ends when the server closes the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static struct {
    const char *bin, *model;
    int clients, requests, max_tokens, parallel, queue, threads, timeout_s, runs, throughput;
} cfg = {NULL, NULL, 16, 20, 8, 4, 16, 0, 300, 3, 0};

static int g_port;
static pid_t g_server = -1;
static char g_log[4096];

/* --------------------------------------------------------------- client */

typedef struct {
    int status;
    char *body;
    size_t len;
    double ms;       /* the whole request */
    double first_ms; /* the first body byte */
} http_result;

static int http_post(const char *path, const char *json, http_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = kvlm_now_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {cfg.timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    size_t n = strlen(json);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      path, n);
    if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn || send(fd, json, n, MSG_NOSIGNAL) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 14, len = 0, header_end = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k < 0) { /* a timeout */
                free(buf);
                buf = NULL;
            }
            break;
        }
        len += (size_t)k;
        buf[len] = '\0';
        if (!header_end) {
            char *e = strstr(buf, "\r\n\r\n");
            if (e) header_end = (size_t)(e - buf) + 4;
        }
        if (header_end && len > header_end && !res->first_ms) res->first_ms = kvlm_now_ms() - t0;
    }
    close(fd);
    res->ms = kvlm_now_ms() - t0;
    if (!buf || !header_end || sscanf(buf, "HTTP/%*d.%*d %d", &res->status) != 1) {
        free(buf);
        return -1;
    }
    res->len = len - header_end;
    res->body = malloc(res->len + 1);
    if (res->body) {
        memcpy(res->body, buf + header_end, res->len);
        res->body[res->len] = '\0';
    }
    free(buf);
    return res->body ? 0 : -1;
}

/* Checks a response. Returns the completion tokens, or -1 with why. The
 * server's decode time comes back in *decode_ms. */
static int check_response(const http_result *r, int stream, char *why, size_t why_len, double *decode_ms) {
    if (r->status != 200) {
        snprintf(why, why_len, "HTTP %d: %.300s", r->status, r->body ? r->body : "");
        return -1;
    }
    json_t *usage_holder = NULL;
    if (!stream) {
        usage_holder = json_loads(r->body, 0, NULL);
        json_t *fin = json_object_get(json_array_get(json_object_get(usage_holder, "choices"), 0), "finish_reason");
        if (!json_is_string(fin)) {
            snprintf(why, why_len, "no finish_reason: %.300s", r->body);
            json_decref(usage_holder);
            return -1;
        }
    } else {
        /* data: {...}\n\n events; a finish_reason; the usage chunk; [DONE] last */
        const char *done = strstr(r->body, "data: [DONE]\n\n");
        if (!done || done[14] != '\0' || !strstr(r->body, "\"finish_reason\":\"")) {
            snprintf(why, why_len, "a stream without its end: ...%.300s", r->len > 300 ? r->body + r->len - 300 : r->body);
            return -1;
        }
        const char *u = strstr(r->body, "data: {\"id\"");
        const char *last = NULL;
        while (u) {
            const char *next = strstr(u + 1, "data: {\"id\"");
            if (strstr(u, "\"usage\":{") && (!next || strstr(u, "\"usage\":{") < next)) last = u;
            u = next;
        }
        if (last) {
            const char *end = strstr(last, "\n\n");
            usage_holder = json_loadb(last + 6, end ? (size_t)(end - last - 6) : strlen(last + 6), 0, NULL);
        }
    }
    json_t *usage = json_object_get(usage_holder, "usage");
    json_t *ct = json_object_get(usage, "completion_tokens");
    json_t *pt = json_object_get(usage, "prompt_tokens");
    json_t *tt = json_object_get(usage, "total_tokens");
    if (!json_is_integer(ct) || !json_is_integer(pt) || !json_is_integer(tt) ||
        json_integer_value(pt) + json_integer_value(ct) != json_integer_value(tt)) {
        snprintf(why, why_len, "no usage, or it does not add up: %.300s", r->body);
        json_decref(usage_holder);
        return -1;
    }
    int n = (int)json_integer_value(ct);
    json_t *pm = json_object_get(json_object_get(usage_holder, "timings"), "predicted_ms");
    *decode_ms = json_is_number(pm) ? json_number_value(pm) : 0;
    json_decref(usage_holder);
    return n;
}

/* --------------------------------------------------------------- server */

static long vm_rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static void print_log_tail(void) {
    size_t len;
    char *text = test_read_file(g_log, &len);
    if (text) fprintf(stderr, "--- server log (last 3000 bytes) ---\n%s\n", len > 3000 ? text + len - 3000 : text);
    free(text);
}

static int start_server(void) {
    char *logp = test_work_path("serve_load.log");
    snprintf(g_log, sizeof g_log, "%s", logp);
    free(logp);
    char par[16], queue[16], threads[16];
    snprintf(par, sizeof par, "%d", cfg.parallel);
    snprintf(queue, sizeof queue, "%d", cfg.queue);
    snprintf(threads, sizeof threads, "%d", cfg.threads);
    unlink(g_log); /* an old log's "listening on" line must not be read */
    g_server = fork();
    if (g_server < 0) return -1;
    if (g_server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int fd = open(g_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        char *argv[] = {(char *)cfg.bin, "serve", "-m", (char *)cfg.model, "--port", "0", "--parallel", par,
                        "--queue", queue, "-t", threads, "--ctx", "1024", "-q", NULL};
        execv(cfg.bin, argv);
        _exit(127);
    }
    double until = kvlm_now_ms() + 120000;
    while (kvlm_now_ms() < until) {
        size_t len;
        char *text = test_read_file(g_log, &len);
        const char *at = text ? strstr(text, "listening on http://127.0.0.1:") : NULL;
        if (at) g_port = atoi(at + strlen("listening on http://127.0.0.1:"));
        free(text);
        if (g_port > 0) return 0;
        int status;
        if (waitpid(g_server, &status, WNOHANG) == g_server) {
            g_server = -1;
            break;
        }
        usleep(50000);
    }
    print_log_tail();
    return -1;
}

/* SIGTERM, then it must exit 0 within a minute. Returns its exit code, or -1. */
static int stop_server(void) {
    if (g_server <= 0) return -1;
    kill(g_server, SIGTERM);
    double until = kvlm_now_ms() + 60000;
    int status = 0;
    while (kvlm_now_ms() < until) {
        pid_t w = waitpid(g_server, &status, WNOHANG);
        if (w == g_server) {
            g_server = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(20000);
    }
    kill(g_server, SIGKILL);
    waitpid(g_server, &status, 0);
    g_server = -1;
    return -1;
}

/* --------------------------------------------------------------- load */

typedef struct {
    int client;
    double *lat; /* per request */
    int *stream;
    int ok, failed, tokens;
    char why[512];
} client_ctx;

static const char *topics[] = {"the sea", "a red fox", "winter", "a lighthouse", "bread", "the moon", "rivers", "owls"};

static void make_request(int client, int i, int stream, char *path, char *body, size_t cap) {
    if (stream) {
        strcpy(path, "/v1/completions");
        snprintf(body, cap,
                 "{\"prompt\":\"Client %d, request %d: a short note about %s.\",\"max_tokens\":%d,\"temperature\":0.8,"
                 "\"seed\":%d,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                 client, i, topics[(client + i) % 8], cfg.max_tokens, client * 1000 + i);
    } else {
        strcpy(path, "/v1/chat/completions");
        snprintf(body, cap,
                 "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant who answers in one short "
                 "sentence.\"},{\"role\":\"user\",\"content\":\"Client %d asks (%d): tell me about %s.\"}],"
                 "\"max_tokens\":%d,\"temperature\":0.7,\"seed\":%d}",
                 client, i, topics[(client * 3 + i) % 8], cfg.max_tokens, client * 1000 + i);
    }
}

static void *client_main(void *arg) {
    client_ctx *c = arg;
    char path[64], body[1024];
    for (int i = 0; i < cfg.requests; i++) {
        int stream = (c->client + i) % 2;
        make_request(c->client, i, stream, path, body, sizeof body);
        http_result r;
        double dms;
        int n = http_post(path, body, &r) ? -1 : check_response(&r, stream, c->why, sizeof c->why, &dms);
        if (n < 0 && !c->why[0]) snprintf(c->why, sizeof c->why, "no response (connection or timeout)");
        c->lat[i] = r.ms;
        c->stream[i] = stream;
        if (n >= 0) {
            c->ok++;
            c->tokens += n;
        } else {
            c->failed++;
        }
        free(r.body);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* Runs n clients of cfg.requests requests each. Returns the failures. */
static int run_load(int n_clients, int print) {
    client_ctx *cs = calloc((size_t)n_clients, sizeof *cs);
    pthread_t *th = calloc((size_t)n_clients, sizeof *th);
    int total = n_clients * cfg.requests;
    double *all = calloc((size_t)total, sizeof *all), *st = calloc((size_t)total, sizeof *st),
           *ns = calloc((size_t)total, sizeof *ns);
    if (!cs || !th || !all || !st || !ns) {
        fprintf(stderr, "out of memory\n");
        return total;
    }
    double t0 = kvlm_now_ms();
    for (int i = 0; i < n_clients; i++) {
        cs[i].client = i;
        cs[i].lat = calloc((size_t)cfg.requests, sizeof(double));
        cs[i].stream = calloc((size_t)cfg.requests, sizeof(int));
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    int failed = 0, ok = 0, tokens = 0, na = 0, nst = 0, nns = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(th[i], NULL);
        failed += cs[i].failed;
        ok += cs[i].ok;
        tokens += cs[i].tokens;
        if (cs[i].failed) fprintf(stderr, "client %d: %d failed, e.g. %s\n", i, cs[i].failed, cs[i].why);
        for (int k = 0; k < cfg.requests; k++) {
            all[na++] = cs[i].lat[k];
            if (cs[i].stream[k]) st[nst++] = cs[i].lat[k];
            else ns[nns++] = cs[i].lat[k];
        }
        free(cs[i].lat);
        free(cs[i].stream);
    }
    double wall = kvlm_now_ms() - t0;
    if (print) {
        printf("load: %d clients x %d requests (half streamed), max_tokens %d, %d slots, queue %d\n", n_clients,
               cfg.requests, cfg.max_tokens, cfg.parallel, cfg.queue);
        printf("  %d ok, %d failed in %.2f s\n", ok, failed, wall / 1000);
        printf("  latency all       p50 %8.1f ms   p95 %8.1f ms\n", pct(all, na, 0.5), pct(all, na, 0.95));
        printf("  latency streamed  p50 %8.1f ms   p95 %8.1f ms\n", pct(st, nst, 0.5), pct(st, nst, 0.95));
        printf("  latency unstreamed p50 %7.1f ms   p95 %8.1f ms\n", pct(ns, nns, 0.5), pct(ns, nns, 0.95));
        printf("  %d completion tokens, aggregate %.1f tokens/s\n", tokens, tokens * 1000.0 / wall);
    }
    free(all);
    free(st);
    free(ns);
    free(cs);
    free(th);
    return failed;
}

/* --------------------------------------------------------------- throughput */

typedef struct {
    int i, tokens;
    double decode_ms, ms;
    char why[512];
} stream_ctx;

static void *stream_main(void *arg) {
    stream_ctx *s = arg;
    char body[512];
    snprintf(body, sizeof body,
             "{\"prompt\":\"Stream %d:\",\"max_tokens\":%d,\"ignore_eos\":true,\"temperature\":0,\"stream\":true,"
             "\"stream_options\":{\"include_usage\":true}}",
             s->i, cfg.max_tokens);
    http_result r;
    s->tokens = http_post("/v1/completions", body, &r) ? -1 : check_response(&r, 1, s->why, sizeof s->why, &s->decode_ms);
    s->ms = r.ms;
    free(r.body);
    return NULL;
}

/* n concurrent streams; *e2e: all tokens / wall; returns the summed decode rate
 * (each stream's tokens after its first over its decode time), or -1. */
static double streams(int n, double *e2e) {
    stream_ctx s[8];
    pthread_t th[8];
    double t0 = kvlm_now_ms();
    for (int i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].i = i;
        pthread_create(&th[i], NULL, stream_main, &s[i]);
    }
    double rate = 0;
    int tokens = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (s[i].tokens < 2 || s[i].decode_ms <= 0) {
            fprintf(stderr, "stream %d failed: %s\n", i, s[i].why);
            bad = 1;
            continue;
        }
        tokens += s[i].tokens;
        rate += (s[i].tokens - 1) * 1000.0 / s[i].decode_ms;
    }
    *e2e = tokens * 1000.0 / (kvlm_now_ms() - t0);
    return bad ? -1 : rate;
}

static double median(double *v, int n) { return pct(v, n, 0.5); }

static int run_throughput(void) {
    double d1[16], d4[16], e1[16], e4[16];
    int runs = cfg.runs > 16 ? 16 : cfg.runs;
    double e;
    streams(1, &e); /* warm-up: page the weights in */
    for (int r = 0; r < runs; r++) {
        d1[r] = streams(1, &e1[r]);
        d4[r] = streams(4, &e4[r]);
        printf("run %d: 1 stream %.2f t/s (end to end %.2f), 4 streams %.2f t/s (end to end %.2f), ratio %.2f\n", r + 1,
               d1[r], e1[r], d4[r], e4[r], d1[r] > 0 ? d4[r] / d1[r] : 0);
        fflush(stdout);
        if (d1[r] < 0 || d4[r] < 0) return 1;
    }
    double ratio[16], ratio_e[16];
    for (int r = 0; r < runs; r++) {
        ratio[r] = d4[r] / d1[r];
        ratio_e[r] = e4[r] / e1[r];
    }
    double m1 = median(d1, runs), m4 = median(d4, runs), me1 = median(e1, runs), me4 = median(e4, runs);
    printf("decode throughput, median of %d runs, %d tokens per stream: 1 stream %.2f t/s, 4 streams %.2f t/s "
           "aggregate: %.2fx (end to end %.2f vs %.2f t/s: %.2fx)\n",
           runs, cfg.max_tokens, m1, m4, m4 / m1, me1, me4, me4 / me1);
    printf("median of the per-run ratios: decode %.2fx, end to end %.2fx\n", median(ratio, runs), median(ratio_e, runs));
    return 0;
}

int main(int argc, char **argv) {
    cfg.bin = getenv("KVLM_BIN");
    char *synth = NULL;
    int max_tokens_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define INTOPT(name, field)                 \
    if (!strcmp(a, name) && v) {            \
        cfg.field = atoi(v);                \
        i++;                                \
        continue;                           \
    }
        INTOPT("--clients", clients)
        INTOPT("--requests", requests)
        if (!strcmp(a, "--max-tokens") && v) max_tokens_given = 1;
        INTOPT("--max-tokens", max_tokens)
        INTOPT("--parallel", parallel)
        INTOPT("--queue", queue)
        INTOPT("--threads", threads)
        INTOPT("--timeout", timeout_s)
        INTOPT("--runs", runs)
        if (!strcmp(a, "--model") && v) {
            cfg.model = argv[++i];
            continue;
        }
        if (!strcmp(a, "--kvlm") && v) {
            cfg.bin = argv[++i];
            continue;
        }
        if (!strcmp(a, "--throughput")) {
            cfg.throughput = 1;
            continue;
        }
        fprintf(stderr, "test_serve_load: unknown or incomplete option '%s' (see the comment at the top of the source)\n", a);
        return 2;
    }
    if (cfg.clients < 1 || cfg.clients > 256 || cfg.requests < 1 || cfg.max_tokens < 1 || cfg.parallel < 1 ||
        cfg.queue < 0 || cfg.runs < 1 || cfg.timeout_s < 1) {
        fprintf(stderr, "test_serve_load: an option is out of range\n");
        return 2;
    }
    if (!cfg.bin) test_skip("KVLM_BIN is not set (run through CTest, or pass --kvlm PATH)");
    if (!cfg.model) {
        synth = test_work_path("synth-small/config.json");
        struct stat st;
        if (stat(synth, &st)) test_skip("%s is absent (the synth_small fixture needs the shared tokenizer)", synth);
        free(synth);
        synth = test_work_path("synth-small");
        cfg.model = synth;
    }
    if (cfg.throughput) cfg.queue = cfg.queue < 8 ? 8 : cfg.queue;
    if (UNDER_ASAN && !max_tokens_given) cfg.max_tokens = 4; /* the sanitized -O0 build computes ~10x slower */
    signal(SIGPIPE, SIG_IGN);
    if (start_server()) {
        fprintf(stderr, "the server did not start\n");
        free(synth);
        return 1;
    }
    if (cfg.throughput) {
        int rc = run_throughput();
        CHECK(rc == 0);
        CHECK(stop_server() == 0);
        free(synth);
        return test_finish();
    }
    /* warm-up: every slot used once, so the KV pages and buffers are there */
    int saved = cfg.requests;
    cfg.requests = 2;
    int wf = run_load(cfg.parallel, 0);
    cfg.requests = saved;
    CHECK_MSG(wf == 0, "%d warm-up requests failed", wf);
    long before = vm_rss_kb(g_server);
    int failed = run_load(cfg.clients, 1);
    CHECK_MSG(failed == 0, "%d of %d requests failed", failed, cfg.clients * cfg.requests);
    usleep(200000);
    long after = vm_rss_kb(g_server);
    double growth = before > 0 ? (after - before) * 100.0 / before : 0;
    printf("  server RSS %ld kB before, %ld kB after (%+.1f%%)\n", before, after, growth);
    if (UNDER_ASAN)
        printf("  (RSS bound not enforced under AddressSanitizer: its quarantine holds freed memory; LeakSanitizer checks)\n");
    else
        CHECK_MSG(before > 0 && after > 0 && growth <= 5.0, "server RSS grew by %.1f%% (limit 5%%)", growth);
    int rc = stop_server();
    CHECK_MSG(rc == 0, "the server exited %d after SIGTERM (want 0)", rc);
    if (test_n_fail) print_log_tail();
    free(synth);
    return test_finish();
}
