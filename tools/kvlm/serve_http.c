/* The HTTP side, on libmicrohttpd with one thread per connection: routes, the
 * API key, request bodies (bounded), error replies, and the waits of a
 * connection on its request (which watch for the client hanging up). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "serve.h"

enum { R_HEALTH, R_MODELS, R_CHAT, R_COMPLETIONS, R_TRANSLATE, R_NONE };

static const struct {
    const char *path;
    const char *method;
} routes[] = {
    [R_HEALTH] = {"/health", "GET"},
    [R_MODELS] = {"/v1/models", "GET"},
    [R_CHAT] = {"/v1/chat/completions", "POST"},
    [R_COMPLETIONS] = {"/v1/completions", "POST"},
    [R_TRANSLATE] = {"/v1/translate", "POST"},
};

/* Per request. */
typedef struct {
    int route;
    char *body;
    size_t len, cap;
    size_t dropped;  /* bytes past the limit, read and thrown away */
    int inflight;    /* counted in srv->n_inflight */
} conn_ctx;

static enum MHD_Result queue_json(struct MHD_Connection *c, unsigned status, json_t *j, const char *hdr,
                                  const char *val) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) text = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    if (!text) return MHD_NO;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: the body ends with a newline, as curl users expect */
    struct MHD_Response *resp = MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (hdr) MHD_add_response_header(resp, hdr, val);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *type, const char *param,
                                   const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *hdr = NULL, *val = NULL;
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) hdr = MHD_HTTP_HEADER_RETRY_AFTER, val = "1";
    if (status == MHD_HTTP_UNAUTHORIZED) hdr = MHD_HTTP_HEADER_WWW_AUTHENTICATE, val = "Bearer";
    return queue_json(c, status, serve_api_error(msg, type, param, code), hdr, val);
}

/* Bearer KEY, compared in constant time. */
static int authorized(const serve_server *srv, struct MHD_Connection *c) {
    if (!srv->opt.api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    const char *key = srv->opt.api_key;
    size_t n = strlen(h), k = strlen(key);
    unsigned diff = n != k;
    for (size_t i = 0; i < k; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < n ? h[i] : 0);
    return diff == 0;
}

int serve_http_wait(serve_server *srv, struct MHD_Connection *c, serve_req *r, size_t seen) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    /* the connection is busy, not idle: no timeout while the model works */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    int gone = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        /* checked at every wake-up (each token) and every 50 ms: a client that
         * hung up frees its slot at the next token */
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        if (fd >= 0 && r->finish == SERVE_FINISH_NONE && poll(&p, 1, 0) > 0 &&
            (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            gone = 1;
            break;
        }
        if (r->finish != SERVE_FINISH_NONE || (seen != (size_t)-1 && r->text_len != seen)) break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&r->cv, &r->mu, &until);
    }
    pthread_mutex_unlock(&r->mu);
    /* back to the idle timeout, counted from now */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)srv->opt.timeout_s);
    if (gone) serve_sched_cancel(srv->sched, r);
    return gone ? -1 : 0;
}

static enum MHD_Result health(serve_server *srv, struct MHD_Connection *c) {
    int active, queued, draining;
    serve_sched_counts(srv->sched, &active, &queued);
    pthread_mutex_lock(&srv->mu);
    draining = srv->draining;
    pthread_mutex_unlock(&srv->mu);
    json_t *j = json_pack("{s:s, s:i, s:i, s:i}", "status", draining ? "draining" : "ok", "slots_idle",
                          srv->opt.parallel - active, "slots_processing", active, "queued", queued);
    return queue_json(c, draining ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, j, NULL, NULL);
}

static enum MHD_Result generate(serve_server *srv, struct MHD_Connection *c, conn_ctx *cc) {
    static const serve_kind kinds[] = {[R_CHAT] = SERVE_CHAT, [R_COMPLETIONS] = SERVE_COMPLETION,
                                       [R_TRANSLATE] = SERVE_TRANSLATE};
    pthread_mutex_lock(&srv->mu);
    int draining = srv->draining;
    pthread_mutex_unlock(&srv->mu);
    if (draining)
        return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", NULL, "server_shutting_down",
                           "The server is shutting down");
    serve_job job;
    json_t *err;
    int status = serve_api_parse(srv, kinds[cc->route], cc->body ? cc->body : "", cc->len, &job, &err);
    if (status) return queue_json(c, (unsigned)status, err, NULL, NULL);
    int sub = serve_sched_submit(srv->sched, job.req);
    if (sub != SERVE_SUBMIT_OK) {
        serve_job_clear(&job);
        if (sub == SERVE_SUBMIT_FULL)
            return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", NULL, "server_busy",
                               "All %d slots are busy and %d requests are waiting; retry later", srv->opt.parallel,
                               srv->opt.queue);
        return queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", NULL, "server_shutting_down",
                           "The server is shutting down");
    }
    pthread_mutex_lock(&srv->mu);
    srv->n_inflight++;
    pthread_mutex_unlock(&srv->mu);
    cc->inflight = 1;
    if (job.stream) {
        struct MHD_Response *resp = serve_sse_response(srv, c, &job);
        if (!resp) return MHD_NO; /* the job was released (and the request cancelled) */
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    serve_req *r = job.req;
    if (serve_http_wait(srv, c, r, (size_t)-1) < 0) {
        serve_job_clear(&job);
        return MHD_NO; /* the client is gone: close */
    }
    pthread_mutex_lock(&r->mu);
    enum MHD_Result ret;
    if (r->finish == SERVE_FINISH_STOP || r->finish == SERVE_FINISH_LENGTH)
        ret = queue_json(c, MHD_HTTP_OK, serve_api_result(srv, &job), NULL, NULL);
    else if (r->finish == SERVE_FINISH_CANCELLED)
        ret = queue_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", NULL, "server_shutting_down",
                          "The request was cancelled: %s", r->error[0] ? r->error : "the server is stopping");
    else
        ret = queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", NULL, NULL, "The model failed: %s", r->error);
    pthread_mutex_unlock(&r->mu);
    serve_job_clear(&job);
    return ret;
}

/* The first call of a request: route, method, key and declared size, before any body is read. */
static enum MHD_Result begin(serve_server *srv, struct MHD_Connection *c, conn_ctx *cc, const char *url, const char *method) {
    int route = R_NONE;
    for (int i = 0; i < R_NONE; i++)
        if (!strcmp(url, routes[i].path)) route = i;
    cc->route = route;
    if (route == R_NONE)
        return queue_error(c, MHD_HTTP_NOT_FOUND, "invalid_request_error", NULL, "not_found", "Invalid URL (%s %.200s)",
                           method, url);
    int is_get = !strcmp(routes[route].method, "GET");
    if (strcmp(method, routes[route].method) && !(is_get && !strcmp(method, "HEAD"))) {
        char msg[256];
        snprintf(msg, sizeof msg, "Method %.16s is not allowed on %s; use %s", method, url, routes[route].method);
        return queue_json(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          serve_api_error(msg, "invalid_request_error", NULL, "method_not_allowed"), MHD_HTTP_HEADER_ALLOW,
                          routes[route].method);
    }
    if (route != R_HEALTH && !authorized(srv, c))
        return queue_error(c, MHD_HTTP_UNAUTHORIZED, "invalid_request_error", NULL, "invalid_api_key",
                           "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || n > srv->opt.max_body)
            return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", NULL, "request_too_large",
                               "The request body is larger than the limit of %zu bytes", srv->opt.max_body);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    serve_server *srv = cls;
    conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        return begin(srv, c, cc, url, method);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cc->dropped || cc->len + n > srv->opt.max_body) {
            /* chunked bodies have no declared size: read on, keep nothing, answer 413 at the end */
            cc->dropped += n;
            return cc->dropped > 4 * srv->opt.max_body + (1u << 20) ? MHD_NO : MHD_YES;
        }
        if (cc->len + n + 1 > cc->cap) {
            size_t cap = cc->cap ? cc->cap : 4096;
            while (cap < cc->len + n + 1) cap *= 2;
            char *nb = realloc(cc->body, cap);
            if (!nb) return MHD_NO;
            cc->body = nb;
            cc->cap = cap;
        }
        memcpy(cc->body + cc->len, upload_data, n);
        cc->len += n;
        return MHD_YES;
    }
    if (cc->dropped)
        return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", NULL, "request_too_large",
                           "The request body is larger than the limit of %zu bytes", srv->opt.max_body);
    switch (cc->route) {
    case R_HEALTH: return health(srv, c);
    case R_MODELS: return queue_json(c, MHD_HTTP_OK, serve_api_models(srv), NULL, NULL);
    case R_CHAT:
    case R_COMPLETIONS:
    case R_TRANSLATE: return generate(srv, c, cc);
    default: return MHD_NO;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    serve_server *srv = cls;
    conn_ctx *cc = *con_cls;
    if (!cc) return;
    if (cc->inflight) {
        pthread_mutex_lock(&srv->mu);
        srv->n_inflight--;
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
    }
    free(cc->body);
    free(cc);
    *con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    serve_server *srv = cls;
    if (srv->opt.quiet) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    fprintf(stderr, "kvlm serve: http: %s\n", msg);
}

int serve_http_start(serve_server *srv) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->opt.port);
    int gai = getaddrinfo(srv->opt.host, port, &hints, &ai);
    if (gai || !ai) {
        fprintf(stderr, "kvlm serve: cannot resolve --host '%s': %s\n", srv->opt.host, gai ? gai_strerror(gai) : "no address");
        if (ai) freeaddrinfo(ai);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned limit = (unsigned)(srv->opt.parallel + srv->opt.queue + 64);
    errno = 0;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->opt.port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, on_log, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                   MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
                                   (unsigned)srv->opt.timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_END);
    int e = errno;
    freeaddrinfo(ai);
    if (!srv->daemon) {
        fprintf(stderr, "kvlm serve: cannot listen on %s:%d%s%s\n", srv->opt.host, srv->opt.port, e ? ": " : "",
                e ? strerror(e) : "");
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di && di->port ? di->port : srv->opt.port;
    return 0;
}

void serve_http_stop(serve_server *srv) {
    if (srv->daemon) MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}
