/* libFuzzer target: a whole model file (GGUF or llama2.c checkpoint, told
 * apart by the magic) through kvlm_model_open — hyper-parameters, tensor
 * binding, shapes, types, rope_freqs, stop ids, the embedded tokenizer — and,
 * when it opens and is small, one forward pass of two tokens. */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kvlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    kvlm_model_options mo = {.n_threads = 1, .kernels = KVLM_KERNELS_SCALAR};
    kvlm_model *m = kvlm_model_open(path, &mo);
    if (m) {
        kvlm_model_info info;
        kvlm_model_get_info(m, &info);
        /* a forward pass only for small models: the fuzzer's time goes to parsing */
        if ((double)info.dim * info.n_layers * (info.hidden_dim + info.dim) < 4e6 && info.vocab_size <= 70000 &&
            info.max_pos >= 2) {
            kvlm_state_options so = {.n_ctx = 2};
            kvlm_state *s = kvlm_state_new(m, &so);
            if (s) {
                int32_t ids[2] = {0, info.vocab_size > 1 ? 1 : 0};
                (void)kvlm_predict(s, ids, 2, NULL, KVLM_LOGITS_LAST);
                kvlm_state_free(s);
            }
        }
        kvlm_model_free(m);
    }
    close(fd);
    return 0;
}
