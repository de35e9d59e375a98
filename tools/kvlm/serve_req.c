/* A request, shared by the connection that made it and the scheduler: each
 * holds a reference; the output and the end are published under its mutex. */
#include <stdlib.h>
#include <string.h>

#include "byte_buf.h"
#include "serve.h"

serve_req *serve_req_new(void) {
    serve_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (pthread_mutex_init(&r->mu, NULL)) {
        free(r);
        return NULL;
    }
    if (pthread_cond_init(&r->cv, NULL)) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    r->refs = 1;
    return r;
}

void serve_req_ref(serve_req *r) {
    pthread_mutex_lock(&r->mu);
    r->refs++;
    pthread_mutex_unlock(&r->mu);
}

void serve_req_unref(serve_req *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left) return;
    free(r->prompt);
    for (int i = 0; i < r->n_stops; i++) free(r->stops[i]);
    free(r->stops);
    free(r->text);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int serve_req_set_stops(serve_req *r, const char *const *stops, int n) {
    if (n <= 0) return 0;
    r->stops = calloc((size_t)n, sizeof *r->stops);
    if (!r->stops) return -1;
    for (int i = 0; i < n; i++) {
        r->stops[i] = strdup(stops[i]);
        if (!r->stops[i]) return -1; /* freed with the request: n_stops counts what is there */
        r->n_stops = i + 1;
    }
    return 0;
}

int serve_req_publish(serve_req *r, const char *text, size_t len) {
    if (!len) return 0;
    pthread_mutex_lock(&r->mu);
    int rc = byte_buf_append(&r->text, &r->text_len, &r->text_cap, text, len);
    if (!rc) pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void serve_req_end(serve_req *r, serve_finish finish, const char *error) {
    pthread_mutex_lock(&r->mu);
    if (r->finish == SERVE_FINISH_NONE) {
        r->finish = finish;
        r->t_end = kvlm_now_ms();
        if (error) {
            strncpy(r->error, error, sizeof r->error - 1);
            r->error[sizeof r->error - 1] = '\0';
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

const char *serve_finish_name(serve_finish f) {
    switch (f) {
    case SERVE_FINISH_STOP: return "stop";
    case SERVE_FINISH_LENGTH: return "length";
    default: return NULL;
    }
}
