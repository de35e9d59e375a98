/* FP32 → stored weight types, as llama.cpp's reference quantizers do, so
 * files kvlm writes hold the same numbers llama.cpp would write. */
#ifndef KVLM_QUANTIZE_H
#define KVLM_QUANTIZE_H

#include <stdint.h>

/* Converts n values (a multiple of the type's block) to type (F32, F16, BF16,
 * Q8_0, Q4_0). Returns 0, or -1 for a type kvlm does not write. */
int quantize_row(uint32_t type, const float *x, void *out, int64_t n);

#endif
