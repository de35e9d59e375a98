/* libFuzzer target: the GGUF header parser on an arbitrary buffer, then
 * everything that reads a parsed file's metadata: the typed getters on every
 * key, every element of every numeric array, and the tokenizer built from
 * tokenizer.ggml.* (which then encodes and decodes a short text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "fuzz_common.h"
#include "kvlm.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_kv(const gguf_file *g, const gguf_kv *kv) {
    char key[256];
    size_t n = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
    memcpy(key, kv->key.ptr, n);
    key[n] = 0;
    uint32_t u;
    float f;
    int b;
    char *s = NULL;
    const gguf_kv *arr = NULL;
    (void)gguf_get_u32(g, key, 0, &u);
    (void)gguf_get_f32(g, key, 0, &f);
    (void)gguf_get_bool(g, key, 0, &b);
    if (gguf_get_str(g, key, 0, &s) == KVLM_OK) free(s);
    for (uint32_t t = 0; t < GGUF_TYPE_COUNT; t++)
        if (gguf_get_arr(g, key, t, 0, &arr) == KVLM_OK && arr && t != GGUF_TYPE_STRING && t != GGUF_TYPE_ARRAY) {
            double acc = 0;
            for (uint64_t i = 0; i < arr->arr_n && i < 4096; i++) acc += gguf_arr_f64(arr, i) + (double)gguf_arr_i64(arr, i);
            (void)acc;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file g;
    memset(&g, 0, sizeof g);
    if (gguf_parse(&g, data, size, "fuzz.gguf") != KVLM_OK) return 0;
    for (uint64_t i = 0; i < g.n_kv; i++) exercise_kv(&g, &g.kvs[i]);
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        /* the data the parser vouched for must be readable */
        volatile uint8_t sink = 0;
        if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
        (void)sink;
    }
    kvlm_tokenizer *tok = NULL;
    if (gguf_find(&g, "tokenizer.ggml.model") && tokenizer_from_gguf(&g, &tok) == KVLM_OK && tok) {
        fuzz_exercise_tokenizer(tok);
        kvlm_tokenizer_free(tok);
    }
    gguf_close(&g);
    return 0;
}
