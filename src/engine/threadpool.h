/* A persistent pool of worker threads: pool_run hands out tasks 0..n-1 to
 * the workers and the calling thread, and returns when all are done. No
 * thread is created after pool_new. */
#ifndef KVLM_THREADPOOL_H
#define KVLM_THREADPOOL_H

typedef struct kvlm_pool kvlm_pool;

/* fn(ctx, task, thread): thread is in [0, n_threads), stable for the call. */
typedef void (*pool_fn)(void *ctx, int task, int thread);

kvlm_pool *pool_new(int n_threads);
void pool_free(kvlm_pool *p);
int pool_size(const kvlm_pool *p);
/* Runs fn for every task in [0, n_tasks). Calls from several threads are
 * serialized. */
void pool_run(kvlm_pool *p, int n_tasks, pool_fn fn, void *ctx);

#endif
