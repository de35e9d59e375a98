/* libFuzzer target: the Hugging Face tokenizer.json loader (model, merges,
 * added tokens, normalizer, pre-tokenizer, decoder), then an encode/decode
 * of a short text with whatever it accepted. */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kvlm.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    kvlm_tokenizer *tok = NULL;
    if (tokenizer_load_hf_json(path, &tok) == KVLM_OK && tok) {
        fuzz_exercise_tokenizer(tok);
        kvlm_tokenizer_free(tok);
    }
    close(fd);
    return 0;
}
