/* safetensors reader: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data. Offsets are relative to the end of the header. Everything is
 * validated against the file size; tensor data stays in the mapping. */
#ifndef KVLM_SAFETENSORS_H
#define KVLM_SAFETENSORS_H

#include <stdint.h>

#include "../core/mapped_file.h"
#include "kvlm.h"

typedef struct {
    char *name;
    uint32_t type;      /* ggml type id (F32, F16, BF16); other dtypes: see dtype_name */
    char dtype_name[8]; /* as written: "BF16", "F32", "I64", ... */
    int n_dims;
    uint64_t shape[4];  /* shape[0] is the outermost dimension, as in PyTorch */
    uint64_t nbytes;
    const uint8_t *data;
} st_tensor;

typedef struct {
    mapped_file file;
    st_tensor *tensors;
    int n_tensors;
} st_file;

kvlm_status st_open(st_file *f, const char *path);
/* Parses a buffer the caller keeps alive (fuzzer, tests). */
kvlm_status st_parse(st_file *f, const uint8_t *data, size_t size, const char *name);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);

#endif
