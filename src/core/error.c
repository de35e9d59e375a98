#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_error[1024];

const char *kvlm_last_error(void) { return g_error; }

void kvlm_error_clear(void) { g_error[0] = 0; }

kvlm_status kvlm_fail(kvlm_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return code;
}

void kvlm_error_prefix(const char *fmt, ...) {
    char prefix[512], old[sizeof g_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_error, sizeof old);
    size_t a = strlen(prefix), b = strlen(old);
    if (a > sizeof g_error - 3) a = sizeof g_error - 3;
    if (b > sizeof g_error - 3 - a) b = sizeof g_error - 3 - a;
    memcpy(g_error, prefix, a);
    memcpy(g_error + a, ": ", 2);
    memcpy(g_error + a + 2, old, b);
    g_error[a + 2 + b] = 0;
}
