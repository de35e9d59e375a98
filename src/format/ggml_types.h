/* ggml tensor types as stored in GGUF, with their block layouts. */
#ifndef KVLM_GGML_TYPES_H
#define KVLM_GGML_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_MAX_ID = 40
};

typedef struct {
    const char *name;
    uint32_t block_elems; /* elements per block (1 for plain floats) */
    uint32_t block_bytes; /* bytes per block; 0: a type kvlm does not know */
} ggml_type_info;

/* Info for a type id; block_bytes == 0 when unknown. */
ggml_type_info ggml_type_get(uint32_t type);

#endif
