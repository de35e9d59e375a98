/* GGUF (v2/v3) reader: parses and validates the header of a memory-mapped
 * file; tensor data stays in the mapping. Every count, length and offset is
 * checked against the file size before it is used. */
#ifndef KVLM_GGUF_H
#define KVLM_GGUF_H

#include <stdint.h>

#include "../core/mapped_file.h"
#include "kvlm.h"

enum {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

/* A string inside the file: not NUL-terminated. */
typedef struct {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type;       /* GGUF_TYPE_* */
    /* scalars (type != ARRAY) */
    union {
        uint64_t u;      /* unsigned integers and bool */
        int64_t i;       /* signed integers */
        double f;        /* floats */
        gguf_str s;      /* string */
    } v;
    /* arrays (type == ARRAY) */
    uint32_t arr_type;   /* element type; nested arrays are rejected */
    uint64_t arr_n;
    const uint8_t *arr_data; /* first element, in the file (little-endian) */
    gguf_str *arr_strs;      /* arr_n strings when arr_type == STRING (owned) */
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];      /* ne[0] is the innermost (contiguous) dimension */
    uint32_t type;       /* ggml type id */
    uint64_t offset;     /* relative to the data section */
    uint64_t nbytes;
    const uint8_t *data;
} gguf_tensor;

typedef struct {
    mapped_file file;
    uint32_t version;
    uint64_t n_kv;
    uint64_t n_tensors;
    gguf_kv *kvs;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset; /* start of the data section in the file */
} gguf_file;

/* Maps and parses path. On failure the error names the file and the problem
 * (with the byte offset) and *g is left empty. */
kvlm_status gguf_open(gguf_file *g, const char *path);
/* Parses a buffer the caller keeps alive (used by the fuzzer and tests). */
kvlm_status gguf_parse(gguf_file *g, const uint8_t *data, size_t size, const char *name);
void gguf_close(gguf_file *g);

const gguf_kv *gguf_find(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);
int gguf_str_eq(gguf_str s, const char *c);

/* Typed getters: return KVLM_OK, or an error naming the key when it is absent
 * (only if required) or of the wrong type. Integer getters accept any integer
 * type whose value fits; float getters accept float32/float64. When the key is
 * absent and required == 0, *out is untouched and KVLM_OK is returned. */
kvlm_status gguf_get_u32(const gguf_file *g, const char *key, int required, uint32_t *out);
kvlm_status gguf_get_f32(const gguf_file *g, const char *key, int required, float *out);
kvlm_status gguf_get_bool(const gguf_file *g, const char *key, int required, int *out);
/* malloc'd NUL-terminated copy */
kvlm_status gguf_get_str(const gguf_file *g, const char *key, int required, char **out);
/* An array key of the given element type (STRING arrays: use kv->arr_strs). */
kvlm_status gguf_get_arr(const gguf_file *g, const char *key, uint32_t elem_type, int required,
                         const gguf_kv **out);

/* Reads element i of a numeric array as a double / int64 (no bounds check beyond i < arr_n). */
double gguf_arr_f64(const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i);

#endif
