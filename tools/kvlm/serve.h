/* kvlm serve: an OpenAI-compatible HTTP server on the public API.
 *
 *   cmd_serve.c    options, start-up, signals, drain and shutdown
 *   serve_http.c   libmicrohttpd: routes, API key, request bodies, error replies, waiting on a request
 *   serve_api.c    JSON in (validation into a serve_req) and out (responses, stream chunks, errors)
 *   serve_sse.c    the Server-Sent Events reader of a streamed response
 *   serve_sched.c  the scheduler thread: slots, queue, prefill, batched decode, prefix cache
 *   serve_req.c    a request shared by the HTTP side and the scheduler (refcount, output, wake-ups)
 *   serve_stop.c   stop strings: matching across tokens and holding back a possible partial match
 *
 * Threads: libmicrohttpd runs one thread per connection; the scheduler thread
 * alone touches the model and the states. They meet in serve_req (its mutex
 * and condition variable) and in the scheduler's queue (its own mutex). */
#ifndef KVLM_SERVE_H
#define KVLM_SERVE_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kvlm.h"

/* ------------------------------------------------------------ stop strings */

typedef struct {
    char *buf; /* the generated text so far (cut at the match once matched) */
    size_t len, cap;
    char **stops;
    int n_stops;
    int matched;
} serve_stop;

/* stops: n_stops non-empty strings, borrowed for the matcher's life. */
void serve_stop_init(serve_stop *s, char **stops, int n_stops);
void serve_stop_free(serve_stop *s);
/* Appends text. Returns 1 when a stop string now matches (the text is cut
 * where it starts), 0 if not, -1 when out of memory. */
int serve_stop_append(serve_stop *s, const char *text, size_t len);
/* How many bytes of the text may be shown now: all of it once matched,
 * else all but the longest tail that could still begin a stop string. */
size_t serve_stop_safe(const serve_stop *s);

/* ---------------------------------------------------------------- requests */

typedef enum {
    SERVE_FINISH_NONE = 0, /* still running */
    SERVE_FINISH_STOP,     /* an end-of-sequence id or a stop string */
    SERVE_FINISH_LENGTH,   /* max_tokens or the context */
    SERVE_FINISH_CANCELLED,/* the client went away, or the server was stopped */
    SERVE_FINISH_ERROR,    /* the engine failed (req->error says why) */
} serve_finish;

typedef struct serve_req {
    /* input: set before submission, read-only afterwards */
    uint64_t id;
    int32_t *prompt;
    int n_prompt;
    int max_tokens; /* >= 1 */
    int ignore_eos;
    kvlm_sampler_params sampling;
    char **stops;
    int n_stops;

    /* output: under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *text; /* text safe to show so far (NUL-terminated) */
    size_t text_len, text_cap;
    int n_generated; /* completion tokens (a stop id excluded) */
    int n_cached;    /* prompt tokens whose KV was reused */
    serve_finish finish;
    char error[256];
    int cancelled; /* set by the HTTP side: the scheduler drops it at the next step */
    double t_submit, t_admit, t_first, t_end; /* kvlm_now_ms() */
    int refs;
} serve_req;

serve_req *serve_req_new(void);
void serve_req_ref(serve_req *r);
void serve_req_unref(serve_req *r);
/* Sets the stop strings (copied). 0, or -1 when out of memory. */
int serve_req_set_stops(serve_req *r, const char *const *stops, int n);
/* Appends text to the output and wakes the waiters (takes mu). 0 or -1. */
int serve_req_publish(serve_req *r, const char *text, size_t len);
/* Ends the request (takes mu): sets finish, the counts and t_end, wakes the waiters. */
void serve_req_end(serve_req *r, serve_finish finish, const char *error);
const char *serve_finish_name(serve_finish f); /* "stop", "length", NULL otherwise */

/* --------------------------------------------------------------- scheduler */

typedef struct serve_sched serve_sched;

typedef struct {
    int n_slots;       /* parallel sessions */
    int queue_cap;     /* requests that may wait for a slot */
    int n_ctx;         /* positions per slot */
    int prefill_chunk; /* prompt tokens per scheduler step (0: 64) */
    int quiet;         /* no per-request log lines */
} serve_sched_options;

enum { SERVE_SUBMIT_OK = 0, SERVE_SUBMIT_FULL = 1, SERVE_SUBMIT_CLOSED = 2 };

/* Makes the slots (one state each) and starts the scheduler thread, or NULL
 * with a message printed. */
serve_sched *serve_sched_new(kvlm_model *model, const serve_sched_options *opts);
/* Stops the thread (requests still there end as cancelled) and frees everything. */
void serve_sched_free(serve_sched *s);
/* Queues a request (takes a reference). */
int serve_sched_submit(serve_sched *s, serve_req *r);
/* The client is gone: a queued request ends now, a running one at the next step. */
void serve_sched_cancel(serve_sched *s, serve_req *r);
/* Refuses new requests from now on (drain). */
void serve_sched_close(serve_sched *s);
/* Ends every queued and running request as cancelled (a forced stop). */
void serve_sched_cancel_all(serve_sched *s);
void serve_sched_counts(serve_sched *s, int *active, int *queued);
int serve_sched_n_ctx(const serve_sched *s);

/* ------------------------------------------------------------------ server */

typedef struct {
    const char *model_path;
    const char *tokenizer_path;
    const char *alias; /* the model id in the API (default: the model path's last component) */
    const char *host;
    const char *api_key;
    const char *chat_format; /* overrides the model's template */
    int port;
    int parallel, queue, n_ctx, n_threads, quiet;
    int timeout_s; /* idle connection timeout */
    size_t max_body;
} serve_options;

typedef struct {
    serve_options opt;
    kvlm_model *model;
    const kvlm_tokenizer *tok;
    kvlm_model_info info;
    kvlm_chat_format chat_fmt; /* KVLM_CHAT_AUTO: the model has none */
    char *model_id;
    long long created;
    serve_sched *sched;
    struct MHD_Daemon *daemon;
    int port; /* the bound port */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_inflight; /* generation requests accepted and not yet answered */
    int draining;
    uint64_t next_id;
} serve_server;

int serve_http_start(serve_server *srv);
void serve_http_stop(serve_server *srv);
/* Waits until r has text past `seen` or has ended. Returns 0, or -1 when the
 * client hung up (the request is then cancelled). Lifts the connection's idle
 * timeout while it waits. */
int serve_http_wait(serve_server *srv, struct MHD_Connection *c, serve_req *r, size_t seen);

/* --------------------------------------------------------------------- API */

typedef enum { SERVE_CHAT, SERVE_COMPLETION, SERVE_TRANSLATE } serve_kind;

/* A parsed generation request. */
typedef struct {
    serve_kind kind;
    int stream;
    int include_usage;
    serve_req *req;
    char id[48];
    long long created;
    char *source, *target; /* /v1/translate */
} serve_job;

/* {"error": {"message", "type", "param", "code"}} */
json_t *serve_api_error(const char *message, const char *type, const char *param, const char *code);
/* Parses and validates a body into job (job->req made, not submitted).
 * Returns 0, or the HTTP status with *err set to the error object. */
int serve_api_parse(serve_server *srv, serve_kind kind, const char *body, size_t len, serve_job *job, json_t **err);
void serve_job_clear(serve_job *job);
/* The response of a finished request. */
json_t *serve_api_result(const serve_server *srv, const serve_job *job);
/* A stream chunk: delta text (may be NULL), finish (NULL while running); role
 * set on the first chat chunk. */
json_t *serve_api_chunk(const serve_server *srv, const serve_job *job, const char *delta, size_t len,
                        const char *finish, int first);
/* The last chunk asked for by stream_options.include_usage. */
json_t *serve_api_usage_chunk(const serve_server *srv, const serve_job *job);
json_t *serve_api_models(const serve_server *srv);

/* ---------------------------------------------------------------- streams */

/* A streamed response over r (takes a job's ownership; freed with the response). */
struct MHD_Response *serve_sse_response(serve_server *srv, struct MHD_Connection *c, serve_job *job);

#endif
