/* The scheduler: one thread owns the model and the slots (one kvlm_state
 * each). Each step it admits queued requests into free slots (choosing the
 * slot whose cached tokens share the longest prefix with the prompt, or
 * copying that prefix from another slot), runs one prefill chunk, and runs
 * every decoding slot's next token as ONE kvlm_predict_batch call
 * (continuous batching: requests join and leave between steps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* Copying another slot's prefix pays when it saves at least this many tokens. */
#define SERVE_MIN_COPY 4

typedef struct {
    kvlm_state *state;
    int32_t *tokens; /* the ids the state holds, in order: n_tokens == its position */
    int n_tokens;
    serve_req *req; /* NULL: free */
    int prefill_at; /* the next prompt index to feed while prefilling */
    int decoding;   /* next_id is sampled and waits to be fed */
    int32_t next_id;
    kvlm_sampler *sampler;
    kvlm_detok_stream *ds;
    serve_stop stop;
    size_t published; /* bytes of stop.buf handed to the request */
    uint64_t last_used, admitted;
} serve_slot;

struct serve_sched {
    kvlm_model *model;
    const kvlm_tokenizer *tok;
    serve_sched_options o;
    int vocab;
    int eos[8], n_eos;
    serve_slot *slots;
    float *logits; /* n_slots rows of vocab */
    kvlm_state **b_states;
    int32_t *b_ids;
    int *b_slot;

    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* guards the queue, n_active and the flags below */
    pthread_cond_t cv;
    serve_req **queue; /* ring of n_slots + queue_cap: a burst may wait before free slots take it */
    int ring, q_head, q_len;
    int n_active;
    int closed, stopping, cancel_all;
    uint64_t tick;
};

static void log_req(serve_sched *s, int slot, serve_req *r) {
    if (s->o.quiet) return;
    const char *why = serve_finish_name(r->finish);
    if (!why) why = r->finish == SERVE_FINISH_CANCELLED ? "cancelled" : "error";
    double prefill = r->t_first > 0 ? r->t_first - r->t_admit : 0, decode = r->t_first > 0 ? r->t_end - r->t_first : 0;
    fprintf(stderr,
            "kvlm serve: req %llu slot %d: prompt %d tokens (%d cached), %d generated, %s; queued %.0f ms, "
            "prefill %.0f ms, decode %.0f ms (%.1f t/s)%s%s\n",
            (unsigned long long)r->id, slot, r->n_prompt, r->n_cached, r->n_generated, why,
            r->t_admit > 0 ? r->t_admit - r->t_submit : 0, prefill, decode,
            decode > 0 && r->n_generated > 1 ? (r->n_generated - 1) * 1000.0 / decode : 0.0, r->error[0] ? ": " : "",
            r->error);
}

/* Frees a slot's request: publishes the rest of the text, ends the request. */
static void finish(serve_sched *s, int i, serve_finish why, const char *error) {
    serve_slot *sl = &s->slots[i];
    serve_req *r = sl->req;
    if (why == SERVE_FINISH_STOP || why == SERVE_FINISH_LENGTH) {
        size_t len = 0;
        const char *rest = sl->ds ? kvlm_detok_stream_flush(sl->ds, &len) : NULL;
        if (rest && len && serve_stop_append(&sl->stop, rest, len) == 1) why = SERVE_FINISH_STOP;
        if (sl->stop.len > sl->published) serve_req_publish(r, sl->stop.buf + sl->published, sl->stop.len - sl->published);
    }
    serve_req_end(r, why, error);
    log_req(s, i, r);
    kvlm_sampler_free(sl->sampler);
    kvlm_detok_stream_free(sl->ds);
    serve_stop_free(&sl->stop);
    sl->sampler = NULL;
    sl->ds = NULL;
    sl->req = NULL;
    sl->decoding = 0;
    sl->last_used = ++s->tick;
    pthread_mutex_lock(&s->mu);
    s->n_active--;
    pthread_mutex_unlock(&s->mu);
    serve_req_unref(r);
}

static int is_eos(const serve_sched *s, int32_t id) {
    for (int i = 0; i < s->n_eos; i++)
        if (s->eos[i] == id) return 1;
    return 0;
}

/* A token was sampled for slot i: stop, or keep it to feed next step. */
static void take_token(serve_sched *s, int i, int32_t id) {
    serve_slot *sl = &s->slots[i];
    serve_req *r = sl->req;
    if (r->n_generated == 0) r->t_first = kvlm_now_ms();
    if (!r->ignore_eos && is_eos(s, id)) {
        finish(s, i, SERVE_FINISH_STOP, NULL);
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->n_generated++;
    pthread_mutex_unlock(&r->mu);
    size_t len = 0;
    const char *text = kvlm_detok_stream_push(sl->ds, id, &len);
    int m = text ? serve_stop_append(&sl->stop, text, len) : 0;
    if (m < 0) {
        finish(s, i, SERVE_FINISH_ERROR, "out of memory");
        return;
    }
    if (m == 1) {
        finish(s, i, SERVE_FINISH_STOP, NULL);
        return;
    }
    if (r->n_generated >= r->max_tokens || kvlm_state_pos(sl->state) >= kvlm_state_n_ctx(sl->state)) {
        finish(s, i, SERVE_FINISH_LENGTH, NULL);
        return;
    }
    size_t safe = serve_stop_safe(&sl->stop);
    if (safe > sl->published) {
        if (serve_req_publish(r, sl->stop.buf + sl->published, safe - sl->published)) {
            finish(s, i, SERVE_FINISH_ERROR, "out of memory");
            return;
        }
        sl->published = safe;
    }
    sl->next_id = id;
    sl->decoding = 1;
}

static int lcp(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Puts r into a free slot, reusing the longest cached prefix. Called with mu held. */
static void admit(serve_sched *s, serve_req *r) {
    int best = -1, best_l = -1;
    for (int i = 0; i < s->o.n_slots; i++) {
        serve_slot *sl = &s->slots[i];
        if (sl->req) continue;
        int l = lcp(sl->tokens, sl->n_tokens, r->prompt, r->n_prompt);
        if (l > best_l || (l == best_l && sl->last_used < s->slots[best].last_used)) {
            best = i;
            best_l = l;
        }
    }
    serve_slot *sl = &s->slots[best];
    int src = -1, src_l = best_l;
    for (int i = 0; i < s->o.n_slots; i++) {
        if (i == best) continue;
        int l = lcp(s->slots[i].tokens, s->slots[i].n_tokens, r->prompt, r->n_prompt);
        if (l > src_l) {
            src = i;
            src_l = l;
        }
    }
    /* at least one prompt token is fed, for the logits of the first sample */
    int limit = r->n_prompt - 1;
    int reuse = best_l < limit ? best_l : limit;
    if (src >= 0 && (src_l < limit ? src_l : limit) >= reuse + SERVE_MIN_COPY) {
        int n = src_l < limit ? src_l : limit;
        if (kvlm_state_copy_prefix(sl->state, s->slots[src].state, n) == KVLM_OK) {
            memcpy(sl->tokens, s->slots[src].tokens, sizeof(int32_t) * (size_t)n);
            reuse = n;
        }
    } else {
        kvlm_state_truncate(sl->state, reuse);
    }
    if (kvlm_state_pos(sl->state) != reuse) { /* a failed copy: fall back to the slot's own prefix */
        if (kvlm_state_pos(sl->state) > reuse) kvlm_state_truncate(sl->state, reuse);
        else reuse = kvlm_state_pos(sl->state);
    }
    sl->n_tokens = reuse;
    sl->req = r;
    sl->prefill_at = reuse;
    sl->decoding = 0;
    sl->published = 0;
    sl->admitted = ++s->tick;
    sl->sampler = kvlm_sampler_new(&r->sampling, s->vocab);
    sl->ds = kvlm_detok_stream_new(s->tok);
    serve_stop_init(&sl->stop, r->stops, r->n_stops);
    pthread_mutex_lock(&r->mu);
    r->n_cached = reuse;
    r->t_admit = kvlm_now_ms();
    pthread_mutex_unlock(&r->mu);
    s->n_active++;
}

static int req_cancelled(serve_req *r) {
    pthread_mutex_lock(&r->mu);
    int c = r->cancelled;
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* One prefill chunk for the earliest admitted slot still prefilling. */
static void prefill_step(serve_sched *s) {
    int pick = -1;
    for (int i = 0; i < s->o.n_slots; i++) {
        serve_slot *sl = &s->slots[i];
        if (sl->req && !sl->decoding && (pick < 0 || sl->admitted < s->slots[pick].admitted)) pick = i;
    }
    if (pick < 0) return;
    serve_slot *sl = &s->slots[pick];
    serve_req *r = sl->req;
    if (!sl->sampler || !sl->ds) {
        finish(s, pick, SERVE_FINISH_ERROR, "cannot make the sampler or the text decoder (out of memory)");
        return;
    }
    int left = r->n_prompt - sl->prefill_at;
    int k = left < s->o.prefill_chunk ? left : s->o.prefill_chunk;
    int last = k == left;
    kvlm_status st = kvlm_predict(sl->state, r->prompt + sl->prefill_at, k, last ? s->logits : NULL, KVLM_LOGITS_LAST);
    if (st != KVLM_OK) {
        /* the state is unchanged: keep only what it holds */
        sl->n_tokens = kvlm_state_pos(sl->state);
        finish(s, pick, SERVE_FINISH_ERROR, kvlm_last_error());
        return;
    }
    memcpy(sl->tokens + sl->n_tokens, r->prompt + sl->prefill_at, sizeof(int32_t) * (size_t)k);
    sl->n_tokens += k;
    sl->prefill_at += k;
    if (last) {
        int32_t id = kvlm_sampler_sample(sl->sampler, s->logits, sl->tokens, sl->n_tokens);
        take_token(s, pick, id);
    }
}

/* Every decoding slot's pending token, in one batched call. */
static void decode_step(serve_sched *s) {
    int n = 0;
    for (int i = 0; i < s->o.n_slots; i++) {
        serve_slot *sl = &s->slots[i];
        if (!sl->req || !sl->decoding) continue;
        s->b_states[n] = sl->state;
        s->b_ids[n] = sl->next_id;
        s->b_slot[n] = i;
        n++;
    }
    if (!n) return;
    kvlm_status st = kvlm_predict_batch(s->b_states, s->b_ids, n, s->logits);
    if (st != KVLM_OK) {
        for (int j = 0; j < n; j++) finish(s, s->b_slot[j], SERVE_FINISH_ERROR, kvlm_last_error());
        return;
    }
    for (int j = 0; j < n; j++) {
        serve_slot *sl = &s->slots[s->b_slot[j]];
        sl->tokens[sl->n_tokens++] = sl->next_id;
        sl->decoding = 0;
        int32_t id = kvlm_sampler_sample(sl->sampler, s->logits + (size_t)j * (size_t)s->vocab, sl->tokens, sl->n_tokens);
        take_token(s, s->b_slot[j], id);
    }
}

static serve_req *queue_pop(serve_sched *s) {
    if (!s->q_len) return NULL;
    serve_req *r = s->queue[s->q_head];
    s->q_head = (s->q_head + 1) % s->ring;
    s->q_len--;
    return r;
}

static void *sched_main(void *arg) {
    serve_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stopping && !s->cancel_all && !s->q_len && !s->n_active) pthread_cond_wait(&s->cv, &s->mu);
        int cancel = s->cancel_all || s->stopping;
        s->cancel_all = 0;
        if (cancel) {
            serve_req *r;
            while ((r = queue_pop(s))) {
                serve_req_end(r, SERVE_FINISH_CANCELLED, "the server is shutting down");
                serve_req_unref(r);
            }
        }
        if (s->stopping && !s->n_active) break;
        /* admit into free slots */
        while (s->q_len && s->n_active < s->o.n_slots) {
            serve_req *r = queue_pop(s);
            if (req_cancelled(r)) {
                serve_req_end(r, SERVE_FINISH_CANCELLED, NULL);
                serve_req_unref(r);
                continue;
            }
            admit(s, r);
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < s->o.n_slots; i++)
            if (s->slots[i].req && (cancel || req_cancelled(s->slots[i].req)))
                finish(s, i, SERVE_FINISH_CANCELLED, cancel ? "the server is shutting down" : NULL);
        prefill_step(s);
        decode_step(s);
        pthread_mutex_lock(&s->mu);
        if (s->stopping && !s->n_active && !s->q_len) break;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

serve_sched *serve_sched_new(kvlm_model *model, const serve_sched_options *opts) {
    serve_sched *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "kvlm serve: out of memory\n");
        return NULL;
    }
    s->o = *opts;
    if (s->o.prefill_chunk <= 0) s->o.prefill_chunk = 64;
    s->model = model;
    s->tok = kvlm_model_tokenizer(model);
    kvlm_model_info info;
    kvlm_model_get_info(model, &info);
    s->vocab = info.vocab_size;
    s->n_eos = info.n_eos < 8 ? info.n_eos : 8;
    memcpy(s->eos, info.eos_ids, sizeof(int) * (size_t)s->n_eos);
    int n = s->o.n_slots;
    s->slots = calloc((size_t)n, sizeof *s->slots);
    s->logits = malloc(sizeof(float) * (size_t)n * (size_t)s->vocab);
    s->b_states = calloc((size_t)n, sizeof *s->b_states);
    s->b_ids = calloc((size_t)n, sizeof *s->b_ids);
    s->b_slot = calloc((size_t)n, sizeof *s->b_slot);
    if (s->o.queue_cap < 0) s->o.queue_cap = 0;
    s->ring = n + s->o.queue_cap;
    s->queue = calloc((size_t)s->ring, sizeof *s->queue);
    int ok = s->slots && s->logits && s->b_states && s->b_ids && s->b_slot && s->queue;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    kvlm_state_options so = {.n_ctx = s->o.n_ctx};
    for (int i = 0; ok && i < n; i++) {
        s->slots[i].state = kvlm_state_new(model, &so);
        s->slots[i].tokens = malloc(sizeof(int32_t) * (size_t)s->o.n_ctx);
        if (!s->slots[i].state || !s->slots[i].tokens) {
            fprintf(stderr, "kvlm serve: slot %d: %s\n", i, s->slots[i].state ? "out of memory" : kvlm_last_error());
            ok = 0;
        }
    }
    if (ok && pthread_create(&s->thread, NULL, sched_main, s)) {
        fprintf(stderr, "kvlm serve: cannot start the scheduler thread\n");
        ok = 0;
    }
    if (!ok) {
        if (!s->slots || !s->logits || !s->queue) fprintf(stderr, "kvlm serve: out of memory\n");
        serve_sched_free(s);
        return NULL;
    }
    s->started = 1;
    return s;
}

void serve_sched_free(serve_sched *s) {
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        s->closed = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; s->slots && i < s->o.n_slots; i++) {
        kvlm_state_free(s->slots[i].state);
        free(s->slots[i].tokens);
    }
    free(s->slots);
    free(s->logits);
    free(s->b_states);
    free(s->b_ids);
    free(s->b_slot);
    free(s->queue);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int serve_sched_submit(serve_sched *s, serve_req *r) {
    pthread_mutex_lock(&s->mu);
    int rc = SERVE_SUBMIT_OK;
    if (s->closed) rc = SERVE_SUBMIT_CLOSED;
    else if (s->n_active + s->q_len >= s->o.n_slots + s->o.queue_cap)
        rc = SERVE_SUBMIT_FULL;
    else {
        serve_req_ref(r);
        r->t_submit = kvlm_now_ms();
        s->queue[(s->q_head + s->q_len) % s->ring] = r;
        s->q_len++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void serve_sched_cancel(serve_sched *s, serve_req *r) {
    pthread_mutex_lock(&s->mu);
    pthread_mutex_lock(&r->mu);
    r->cancelled = 1;
    pthread_mutex_unlock(&r->mu);
    /* a queued request leaves the queue now, so it stops counting against it */
    for (int i = 0; i < s->q_len; i++) {
        int at = (s->q_head + i) % s->ring;
        if (s->queue[at] != r) continue;
        for (int j = i; j + 1 < s->q_len; j++)
            s->queue[(s->q_head + j) % s->ring] = s->queue[(s->q_head + j + 1) % s->ring];
        s->q_len--;
        serve_req_end(r, SERVE_FINISH_CANCELLED, NULL);
        serve_req_unref(r);
        break;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void serve_sched_close(serve_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_mutex_unlock(&s->mu);
}

void serve_sched_cancel_all(serve_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    s->cancel_all = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void serve_sched_counts(serve_sched *s, int *active, int *queued) {
    pthread_mutex_lock(&s->mu);
    *active = s->n_active;
    *queued = s->q_len;
    pthread_mutex_unlock(&s->mu);
}

int serve_sched_n_ctx(const serve_sched *s) { return s->o.n_ctx; }
