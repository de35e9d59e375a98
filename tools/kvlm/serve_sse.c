/* A streamed response: Server-Sent Events in OpenAI's chunk format. The
 * connection's thread blocks in the reader until the scheduler publishes
 * text (or the request ends), then sends `data: {chunk}\n\n`; at the end a
 * chunk with finish_reason, the usage chunk when asked for, and
 * `data: [DONE]`. A client that hangs up cancels the request. */
#include <stdlib.h>
#include <string.h>

#include "byte_buf.h"
#include "serve.h"

typedef struct {
    serve_server *srv;
    struct MHD_Connection *conn;
    serve_job job;
    char *out; /* bytes ready to send */
    size_t len, off, cap;
    size_t seen; /* bytes of the request's text already sent */
    int started, done;
} sse_stream;

static int put(sse_stream *s, const char *a, size_t n) { return byte_buf_append(&s->out, &s->len, &s->cap, a, n); }

/* data: JSON\n\n (takes j) */
static int put_event(sse_stream *s, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) return -1;
    int rc = put(s, "data: ", 6) || put(s, text, strlen(text)) || put(s, "\n\n", 2) ? -1 : 0;
    free(text);
    return rc;
}

/* Fills s->out with what is ready; 0, or -1 when the client is gone or memory ran out. */
static int produce(sse_stream *s) {
    const serve_job *job = &s->job;
    if (!s->started) {
        s->started = 1;
        if (job->kind != SERVE_COMPLETION) return put_event(s, serve_api_chunk(s->srv, job, NULL, 0, NULL, 1));
    }
    serve_req *r = job->req;
    if (serve_http_wait(s->srv, s->conn, r, s->seen) < 0) return -1;
    pthread_mutex_lock(&r->mu);
    serve_finish fin = r->finish;
    size_t n = r->text_len - s->seen;
    char *delta = n ? malloc(n) : NULL;
    if (delta) memcpy(delta, r->text + s->seen, n);
    char error[sizeof r->error];
    memcpy(error, r->error, sizeof error);
    pthread_mutex_unlock(&r->mu);
    if (n && !delta) return -1;
    s->seen += n;
    int rc = 0;
    if (n) rc = put_event(s, serve_api_chunk(s->srv, job, delta, n, NULL, 0));
    free(delta);
    if (rc || fin == SERVE_FINISH_NONE) return rc;
    if (fin == SERVE_FINISH_STOP || fin == SERVE_FINISH_LENGTH) {
        rc = put_event(s, serve_api_chunk(s->srv, job, NULL, 0, serve_finish_name(fin), 0));
        if (!rc && job->include_usage) {
            pthread_mutex_lock(&r->mu);
            json_t *u = serve_api_usage_chunk(s->srv, job);
            pthread_mutex_unlock(&r->mu);
            rc = put_event(s, u);
        }
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s", fin == SERVE_FINISH_CANCELLED ? "The request was cancelled: " : "The model failed: ",
                 error[0] ? error : "the server is stopping");
        rc = put_event(s, serve_api_error(msg, "server_error", NULL,
                                          fin == SERVE_FINISH_CANCELLED ? "server_shutting_down" : NULL));
    }
    if (!rc) rc = put(s, "data: [DONE]\n\n", 14);
    s->done = 1;
    return rc;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse_stream *s = cls;
    while (s->off >= s->len) {
        if (s->done) return MHD_CONTENT_READER_END_OF_STREAM;
        s->off = s->len = 0;
        if (produce(s)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_stream *s = cls;
    if (!s->done) serve_sched_cancel(s->srv->sched, s->job.req);
    serve_job_clear(&s->job);
    free(s->out);
    free(s);
}

struct MHD_Response *serve_sse_response(serve_server *srv, struct MHD_Connection *c, serve_job *job) {
    sse_stream *s = calloc(1, sizeof *s);
    struct MHD_Response *resp = s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free) : NULL;
    if (!resp) {
        serve_sched_cancel(srv->sched, job->req);
        serve_job_clear(job);
        free(s);
        return NULL;
    }
    s->srv = srv;
    s->conn = c;
    s->job = *job;
    memset(job, 0, sizeof *job);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}
