/* Compiling a model into one GGUF package: llama.* hyper-parameters,
 * rope_freqs for Llama 3 scaling, the tokenizer, the chat template and stop
 * ids, and the weights in the asked type with q/k rows in llama.cpp's order. */
#ifndef KVLM_CONVERT_H
#define KVLM_CONVERT_H

#include "../format/gguf_write.h"
#include "model.h"

typedef struct {
    uint32_t type;        /* ggml type of the matrices: F32, F16, BF16, Q8_0, Q4_0 */
    int64_t embed_type;   /* type of token_embd (-1: chosen from type) */
    const char *name;     /* general.name (NULL: none) */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} convert_options;

kvlm_status model_convert_gguf(const kvlm_model *m, const char *out_path, const convert_options *o);

/* Writes the tokenizer.ggml.* keys for tok (implemented with the tokenizer). */
kvlm_status tokenizer_export_gguf(const kvlm_tokenizer *tok, gguf_writer *w);

#endif
