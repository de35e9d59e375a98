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
        static const char text[] = "Hello world! <|eot_id|> 12345  \xC3\xA9t\xC3\xA9\xF0\x9F\x98\x80 a\n\n\tb \xFF";
        int32_t ids[256];
        int n = kvlm_tokenize(tok, text, sizeof text - 1, KVLM_TOKENIZE_ADD_BOS | KVLM_TOKENIZE_SPECIAL, ids, 256);
        if (n > 256) n = 256;
        if (n > 0) {
            char out[1024];
            (void)kvlm_detokenize(tok, ids, n, out, sizeof out);
            kvlm_detok_stream *s = kvlm_detok_stream_new(tok);
            for (int i = 0; s && i < n; i++) (void)kvlm_detok_stream_push(s, ids[i], NULL);
            if (s) (void)kvlm_detok_stream_flush(s, NULL);
            kvlm_detok_stream_free(s);
        }
        kvlm_tokenizer_free(tok);
    }
    close(fd);
    return 0;
}
