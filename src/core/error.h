/* Per-thread error message behind kvlm_last_error(). */
#ifndef KVLM_ERROR_H
#define KVLM_ERROR_H

#include "kvlm.h"

#if defined(__GNUC__)
#define KVLM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KVLM_PRINTF(a, b)
#endif

/* Sets the thread's error message and returns code, so a failure path reads
 * `return kvlm_fail(KVLM_ERR_FORMAT, "%s: ...", path);`. */
kvlm_status kvlm_fail(kvlm_status code, const char *fmt, ...) KVLM_PRINTF(2, 3);

/* Prepends "prefix: " to the current message (adds context on the way up). */
void kvlm_error_prefix(const char *fmt, ...) KVLM_PRINTF(1, 2);

void kvlm_error_clear(void);

#endif
