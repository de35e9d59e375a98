/* A tiny test harness: CHECK records a failure and goes on; a test ends with
 * `return test_finish();` which prints "N passed, N failed" and gives the exit code. */
#ifndef KVLM_TEST_UTIL_H
#define KVLM_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvlm.h"

extern int test_n_pass, test_n_fail;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            test_n_pass++;                                                            \
        } else {                                                                      \
            test_n_fail++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) {                                                                   \
            test_n_pass++;                                                            \
        } else {                                                                      \
            test_n_fail++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* Marsaglia's xorshift64: the tests' one reproducible random stream (each
 * test keeps its own state and seed). Returns the new state. */
static inline uint64_t test_xorshift(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Exit code 77 tells CTest the test was skipped. */
#define TEST_SKIP_CODE 77

int test_finish(void);
/* Prints why and exits with the skip code. */
void test_skip(const char *why, ...);

/* $KVLM_SHARED_DIR/rel, or skips the test when that file is absent. malloc'd. */
char *test_shared_path(const char *rel);
/* $KVLM_TEST_DATA/rel (malloc'd). */
char *test_data_path(const char *rel);
/* $KVLM_BUILD_DIR/rel (malloc'd). */
char *test_work_path(const char *rel);
/* A whole file, NUL-terminated; NULL when it cannot be read. */
char *test_read_file(const char *path, size_t *len);

#endif
