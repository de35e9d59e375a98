/* A whole file mapped read-only into memory. */
#ifndef KVLM_MAPPED_FILE_H
#define KVLM_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kvlm.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    char *path; /* owned copy, for error messages */
} mapped_file;

/* On failure sets the error message (naming path) and leaves *f zeroed. */
kvlm_status mapped_file_open(mapped_file *f, const char *path);
void mapped_file_close(mapped_file *f);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. */
kvlm_status read_whole_file(const char *path, char **out, size_t *len);

int path_is_dir(const char *path);
int path_exists(const char *path);
/* malloc'd "dir/name" */
char *path_join(const char *dir, const char *name);

#endif
