/* libFuzzer target: the safetensors header parser (length, JSON header,
 * dtypes, shapes, data offsets) on an arbitrary buffer. */
#include <stdint.h>
#include <string.h>

#include "format/safetensors.h"
#include "kvlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    memset(&f, 0, sizeof f);
    if (st_parse(&f, data, size, "fuzz.safetensors") != KVLM_OK) return 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        volatile uint8_t sink = 0;
        if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
        (void)sink;
        (void)st_find(&f, t->name);
    }
    st_close(&f);
    return 0;
}
