#include "test_util.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

int test_n_pass, test_n_fail;

int test_finish(void) {
    printf("%d passed, %d failed\n", test_n_pass, test_n_fail);
    return test_n_fail ? 1 : 0;
}

void test_skip(const char *why, ...) {
    va_list ap;
    va_start(ap, why);
    printf("SKIP: ");
    vprintf(why, ap);
    printf("\n");
    va_end(ap);
    exit(TEST_SKIP_CODE);
}

static char *join_env(const char *var, const char *fallback, const char *rel) {
    const char *base = getenv(var);
    if (!base) base = fallback;
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *test_shared_path(const char *rel) {
    char *p = join_env("KVLM_SHARED_DIR", "../shared", rel);
    struct stat st;
    if (stat(p, &st) != 0) test_skip("%s is absent (the shared reference data is not beside the checkout)", p);
    return p;
}

char *test_data_path(const char *rel) { return join_env("KVLM_TEST_DATA", "tests/data", rel); }
char *test_work_path(const char *rel) { return join_env("KVLM_BUILD_DIR", ".", rel); }

char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}
