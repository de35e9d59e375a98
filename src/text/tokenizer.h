/* Tokenizer constructors for the model loader (the public calls are in kvlm.h). */
#ifndef KVLM_TOKENIZER_H
#define KVLM_TOKENIZER_H

#include "kvlm.h"
#include "../format/gguf.h"

/* A Hugging Face tokenizer.json (BPE models: byte-level like Llama 3 / GPT-2 /
 * Qwen, or SentencePiece-style with byte fallback like Llama 2 / Mistral). */
kvlm_status tokenizer_load_hf_json(const char *path, kvlm_tokenizer **out);
/* llama2.c's tokenizer.bin. vocab_size <= 0: read tokens up to the end of the file. */
kvlm_status tokenizer_load_llama2c(const char *path, int vocab_size, kvlm_tokenizer **out);
/* The tokenizer.ggml.* keys of a GGUF file (model "gpt2" or "llama"). The
 * tokenizer copies what it needs: g may be closed afterwards. */
kvlm_status tokenizer_from_gguf(const gguf_file *g, kvlm_tokenizer **out);

#endif
