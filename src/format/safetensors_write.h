/* Writing safetensors files: the header, then the caller streams each
 * tensor's bytes in the order given. */
#ifndef KVLM_SAFETENSORS_WRITE_H
#define KVLM_SAFETENSORS_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "kvlm.h"

typedef struct {
    const char *name;
    const char *dtype; /* "BF16", "F16", "F32" */
    int n_dims;
    uint64_t shape[4];
} st_write_tensor;

/* Bytes of one tensor's data. */
uint64_t st_tensor_bytes(const st_write_tensor *t);
/* Writes the length and the JSON header (padded to 8 bytes) for tensors laid
 * out back to back in the given order. */
kvlm_status st_write_header(FILE *f, const char *path, const st_write_tensor *t, int n);

#endif
