#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kvlm.h"

/* Workers (and the caller waiting for them) spin on an atomic before sleeping
 * on a condition variable: decode runs ~80 parallel sections of ~0.3 ms per
 * token, and a futex wake-up on the critical path costs tens of
 * microseconds each. The spin is bounded in time, not iterations, so an idle
 * pool sleeps after SPIN_MS whatever the CPU's speed. */
#define SPIN_MS 1.0

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of a bounded spin: relaxes the CPU, and every 256 steps checks the
 * clock; false once SPIN_MS have passed since the first check. Waits read
 *     spin_state sp = {0};  while (!condition && spin_step(&sp)) {}        */
typedef struct {
    unsigned steps;
    double deadline; /* kvlm_now_ms; 0 until the first check */
} spin_state;

static int spin_step(spin_state *sp) {
    cpu_relax();
    if ((++sp->steps & 255) == 0) {
        double t = kvlm_now_ms();
        if (!sp->deadline) sp->deadline = t + SPIN_MS;
        else if (t > sp->deadline) return 0;
    }
    return 1;
}

struct kvlm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t run_lock; /* serializes pool_run callers */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    atomic_uint generation;   /* bumped for every job */
    atomic_int next_task;
    atomic_int n_active;      /* workers still in the current job */
    int n_tasks;
    pool_fn fn;
    void *ctx;
    int stop;
};

typedef struct {
    kvlm_pool *pool;
    int index;
} worker_arg;

static void drain(kvlm_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker(void *argp) {
    worker_arg *arg = argp;
    kvlm_pool *p = arg->pool;
    int index = arg->index;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        spin_state sp = {0};
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && spin_step(&sp)) {}
        if (g == seen) {
            pthread_mutex_lock(&p->lock);
            while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->lock);
            int stop = p->stop;
            pthread_mutex_unlock(&p->lock);
            if (stop) return NULL;
        }
        seen = g;
        drain(p, index);
        if (atomic_fetch_sub_explicit(&p->n_active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

kvlm_pool *pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    kvlm_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a || (a->pool = p, a->index = i, pthread_create(&p->threads[i], NULL, worker, a) != 0)) {
            free(a);
            p->n_threads = i; /* stop the ones already running */
            pool_free(p);
            return NULL;
        }
    }
    return p;
}

void pool_free(kvlm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->run_lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_size(const kvlm_pool *p) { return p->n_threads; }

void pool_run(kvlm_pool *p, int n_tasks, pool_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_active, p->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    drain(p, 0);
    /* wait for the workers: spin first, then sleep */
    spin_state sp = {0};
    while (atomic_load_explicit(&p->n_active, memory_order_acquire) > 0 && spin_step(&sp)) {}
    if (atomic_load_explicit(&p->n_active, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load_explicit(&p->n_active, memory_order_acquire) > 0) pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->run_lock);
}
