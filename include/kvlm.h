/*
 * kvlm — run Llama-family language models on the CPU with a stateful KV cache.
 *
 * The contract mirrors Core ML's stateful models: open a model once, make a
 * state (the KV cache, allocated once and updated in place), feed tokens
 * (a batch = causal prefill, then one at a time = decode), reset between
 * unrelated requests.
 *
 * Errors: functions that can fail return a kvlm_status (KVLM_OK == 0) or NULL;
 * kvlm_last_error() then gives a message naming what is wrong and where. The
 * message is per thread. A failed call leaves every object as it was.
 */
#ifndef KVLM_H
#define KVLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KVLM_VERSION "0.1.0"

typedef enum {
    KVLM_OK = 0,
    KVLM_ERR_ARG = 1,          /* a bad argument from the caller */
    KVLM_ERR_IO = 2,           /* a file could not be opened, read or written */
    KVLM_ERR_FORMAT = 3,       /* a file is malformed */
    KVLM_ERR_UNSUPPORTED = 4,  /* well-formed, but not something kvlm runs */
    KVLM_ERR_NOMEM = 5,
    KVLM_ERR_CONTEXT = 6,      /* the call would overflow the state's context */
} kvlm_status;

/* The message of the last failure on this thread ("" if none). */
const char *kvlm_last_error(void);

/* ------------------------------------------------------------------ model */

typedef struct kvlm_model kvlm_model;

/* Which kernels run the math. AUTO picks the best the CPU has; SCALAR is the
 * portable reference path every optimized kernel is tested against. */
typedef enum {
    KVLM_KERNELS_AUTO = 0,
    KVLM_KERNELS_SCALAR = 1,
    KVLM_KERNELS_AVX2 = 2,
    KVLM_KERNELS_AVX512 = 3,
} kvlm_kernels;

/* What the matmuls multiply the weights with. F32 (the default): FP32
 * activations, weights widened exactly, results equal the reference up to
 * float rounding. Q8: for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K weights each
 * token's input is quantized once per block of 32 to int8 with an FP32 scale
 * (as llama.cpp does for these types), integer dot products (VNNI). BF16: for
 * BF16 weights the input is rounded to BF16 (as a BF16 PyTorch model holds
 * it), BF16 dot products (AVX-512 BF16). Both: faster prefill, logits within
 * the rounding of the activations; `kvlm verify` reports how far. Other
 * weight types use FP32 in every mode. */
typedef enum {
    KVLM_ACT_AUTO = 0, /* F32, or the environment variable KVLM_ACT=f32|q8|bf16 */
    KVLM_ACT_F32 = 1,
    KVLM_ACT_Q8 = 2,
    KVLM_ACT_BF16 = 3,
} kvlm_activations;

typedef struct {
    int n_threads;              /* 0: the number of physical cores */
    kvlm_kernels kernels;       /* 0: AUTO (env KVLM_KERNELS=scalar|avx2|avx512 overrides AUTO) */
    const char *tokenizer_path; /* tokenizer for a llama2.c checkpoint; NULL: none or the model's own */
    kvlm_activations activations; /* 0: AUTO (F32 unless KVLM_ACT=q8 or bf16) */
} kvlm_model_options;

/* Opens a Hugging Face folder (config.json + model.safetensors or shards),
 * a GGUF file, or a llama2.c checkpoint. Weights are memory-mapped, not
 * copied. opts may be NULL. */
kvlm_model *kvlm_model_open(const char *path, const kvlm_model_options *opts);
void kvlm_model_free(kvlm_model *model);

typedef struct {
    int dim;            /* hidden_size */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int hidden_dim;     /* intermediate_size */
    int vocab_size;
    int max_pos;        /* max_position_embeddings */
    float rope_theta;
    float norm_eps;
    int tied_embeddings;
    int bos_id;         /* -1 if unknown */
    int n_eos;          /* stop ids, from generation_config.json / the GGUF */
    int eos_ids[8];
    const char *source_format;  /* "hf", "gguf" or "llama2c" */
    const char *weight_type;    /* the type of most weights: "bf16", "q8_0", … */
    uint64_t weight_bytes;      /* bytes of weights one token's forward pass reads */
    const char *kernels;        /* the kernel set in use: "scalar", "avx2", "avx512" */
    const char *activations;    /* what the matmuls multiply the weights with: "f32"; "q8" (int8 activations
                                   for the Q8_0/Q4_0/K-quant matrices); "bf16" (BF16 activations for the
                                   BF16 matrices); FP32 for the others in every mode */
    int n_threads;
    float gen_temperature;      /* generation_config.json defaults for sampling (0 if absent) */
    float gen_top_p;
} kvlm_model_info;

void kvlm_model_get_info(const kvlm_model *model, kvlm_model_info *info);

/* ------------------------------------------------------------------ state */

typedef struct kvlm_state kvlm_state;

typedef enum {
    KVLM_KV_F16 = 0,   /* default: half the memory, attention math still in FP32 */
    KVLM_KV_F32 = 1,
} kvlm_kv_type;

typedef struct {
    int n_ctx;             /* 0: 512. At most the model's max_pos. */
    kvlm_kv_type kv_type;  /* 0: F16 */
} kvlm_state_options;

/* Allocates the KV cache once: [layer][kv_head][position][head_dim]. Many
 * states may share one model. opts may be NULL. */
kvlm_state *kvlm_state_new(kvlm_model *model, const kvlm_state_options *opts);
void kvlm_state_free(kvlm_state *state);

/* Forgets every token: position back to 0. */
void kvlm_state_reset(kvlm_state *state);
int kvlm_state_pos(const kvlm_state *state);
int kvlm_state_n_ctx(const kvlm_state *state);
kvlm_model *kvlm_state_model(const kvlm_state *state);

/* Copies src's first n_tokens positions into dst (same model, dst's n_ctx
 * large enough): dst then stands at position n_tokens. Prefix reuse. */
kvlm_status kvlm_state_copy_prefix(kvlm_state *dst, const kvlm_state *src, int n_tokens);

/* Drops positions from pos on (pos <= current position). */
kvlm_status kvlm_state_truncate(kvlm_state *state, int pos);

enum {
    KVLM_LOGITS_LAST = 0, /* logits: vocab_size floats, the last token's */
    KVLM_LOGITS_ALL = 1,  /* logits: n * vocab_size floats, one row per token */
};

/* Appends n >= 1 tokens at the state's position (n > 1: causal prefill; the
 * mask is built internally). logits may be NULL when no logits are wanted.
 * A call that would pass n_ctx returns KVLM_ERR_CONTEXT and changes nothing. */
kvlm_status kvlm_predict(kvlm_state *state, const int32_t *ids, int n, float *logits, int flags);

/* One decode step for several states at once (continuous batching): token
 * ids[i] is appended to states[i]; logits gets n rows of vocab_size. The
 * states must be distinct and share one model. */
kvlm_status kvlm_predict_batch(kvlm_state *const *states, const int32_t *ids, int n, float *logits);

/* -------------------------------------------------------------- tokenizer */

typedef struct kvlm_tokenizer kvlm_tokenizer;

/* Loads a tokenizer on its own: a Hugging Face tokenizer.json, a llama2.c
 * tokenizer.bin, or the tokenizer embedded in a GGUF file. */
kvlm_tokenizer *kvlm_tokenizer_load(const char *path);
void kvlm_tokenizer_free(kvlm_tokenizer *tok);

/* The model's tokenizer (owned by the model), or NULL if it has none. */
const kvlm_tokenizer *kvlm_model_tokenizer(const kvlm_model *model);

enum {
    KVLM_TOKENIZE_ADD_BOS = 1, /* prepend the beginning-of-text id */
    KVLM_TOKENIZE_SPECIAL = 2, /* "<|eot_id|>" and the like in the text become their ids */
};

/* Encodes len bytes of text. Writes at most max_ids ids and returns how many
 * the text needs (call again with a larger buffer if that is > max_ids), or
 * -1 on error. Invalid UTF-8 is replaced by U+FFFD. */
int kvlm_tokenize(const kvlm_tokenizer *tok, const char *text, size_t len, int flags,
                  int32_t *ids, int max_ids);

int kvlm_tokenizer_vocab_size(const kvlm_tokenizer *tok);
int kvlm_tokenizer_bos(const kvlm_tokenizer *tok); /* -1 if none */
/* 1 if id is a special/control token (e.g. <|eot_id|>), 0 if not, -1 out of range */
int kvlm_token_is_special(const kvlm_tokenizer *tok, int32_t id);
/* The id of a token written exactly as text ("<|eot_id|>"), or -1. */
int32_t kvlm_token_id(const kvlm_tokenizer *tok, const char *text);

/* Decodes ids to bytes. Returns the number of bytes the text needs (writes
 * at most cap, NUL-terminated when room), or -1 on a bad id. */
long kvlm_detokenize(const kvlm_tokenizer *tok, const int32_t *ids, int n, char *out, size_t cap);

/* Streaming decoder: feed one id at a time, get only complete UTF-8 back
 * (a character split across tokens is held until its last byte arrives). */
typedef struct kvlm_detok_stream kvlm_detok_stream;
kvlm_detok_stream *kvlm_detok_stream_new(const kvlm_tokenizer *tok);
void kvlm_detok_stream_free(kvlm_detok_stream *s);
/* Returns the text ready after id (valid until the next call), or NULL on a bad id.
 * *len receives its length. */
const char *kvlm_detok_stream_push(kvlm_detok_stream *s, int32_t id, size_t *len);
/* Whatever is still held (an incomplete sequence comes out as U+FFFD). */
const char *kvlm_detok_stream_flush(kvlm_detok_stream *s, size_t *len);


/* ---------------------------------------------------------- chat template */

typedef enum {
    KVLM_CHAT_AUTO = 0,     /* recognize the model's own template */
    KVLM_CHAT_LLAMA32 = 1,  /* Llama 3.1/3.2: system block with knowledge cutoff and date */
    KVLM_CHAT_LLAMA3 = 2,   /* Llama 3: headers, no dates */
    KVLM_CHAT_CHATML = 3,   /* <|im_start|>role\n...<|im_end|> */
} kvlm_chat_format;

typedef struct {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
} kvlm_chat_message;

/* The model's chat template source (tokenizer_config.json or the GGUF), or NULL. */
const char *kvlm_model_chat_template(const kvlm_model *model);

/* Recognizes a Jinja chat template's source as one of the formats kvlm
 * renders natively. Returns KVLM_CHAT_AUTO (and sets the error, listing the
 * --chat-format choices) when it is not recognized. */
kvlm_chat_format kvlm_chat_format_detect(const char *template_source);

/* Parses "llama3.2", "llama3", "chatml"; KVLM_CHAT_AUTO for anything else. */
kvlm_chat_format kvlm_chat_format_from_name(const char *name);
const char *kvlm_chat_format_name(kvlm_chat_format fmt);

/* Renders messages as the format's template does with add_generation_prompt
 * (when add_generation_prompt != 0). date: "26 Jul 2024" when NULL (Llama 3.2
 * only). The text starts with the BOS text where the template has one.
 * Returns a malloc'd string, or NULL with the error set. */
char *kvlm_chat_render(kvlm_chat_format fmt, const kvlm_chat_message *msgs, int n_msgs,
                       int add_generation_prompt, const char *date);

/* --------------------------------------------------------------- sampling */

typedef struct {
    float temperature;     /* <= 0: greedy (argmax; the default) */
    int top_k;             /* 0: off */
    float top_p;           /* 1.0 (or 0): off */
    float min_p;           /* 0: off */
    float repeat_penalty;  /* 1.0 (or 0): off; applied to ids in the history window */
    int repeat_last_n;     /* the history window for the penalty (0: 64) */
    uint64_t seed;         /* same seed, same choices */
} kvlm_sampler_params;

typedef struct kvlm_sampler kvlm_sampler;

kvlm_sampler *kvlm_sampler_new(const kvlm_sampler_params *params, int vocab_size);
void kvlm_sampler_free(kvlm_sampler *s);
/* Picks the next id from logits (vocab_size floats; the sampler may modify
 * them). history: the ids so far (for the repetition penalty). */
int32_t kvlm_sampler_sample(kvlm_sampler *s, float *logits, const int32_t *history, int n_history);

/* ----------------------------------------------------------- compilation */

typedef struct {
    const char *type;           /* "bf16", "f16", "f32", "q8_0", "q4_0" (NULL: bf16) */
    const char *embed_type;     /* token_embd's type (NULL: q8_0 for q4_0 files, else as type) */
    const char *tokenizer_path; /* for a llama2.c checkpoint: its tokenizer.bin */
    const char *name;           /* general.name (NULL: the source's file name) */
    void (*progress)(void *ctx, int done, int total); /* after each tensor; may be NULL */
    void *progress_ctx;
} kvlm_convert_options;

/* Compiles a model (HF folder, GGUF or llama2.c checkpoint) into one GGUF
 * file that opens by mmap: hyper-parameters, rope_freqs, tokenizer, chat
 * template, stop ids and the weights in the asked type. */
kvlm_status kvlm_convert(const char *src, const char *dst, const kvlm_convert_options *opts);

/* ------------------------------------------------------------- generation */

typedef enum {
    KVLM_STOP_NONE = 0,
    KVLM_STOP_EOS = 1,          /* a stop id was sampled (not fed to the state) */
    KVLM_STOP_MAX_TOKENS = 2,
    KVLM_STOP_CONTEXT_FULL = 3,
    KVLM_STOP_CALLBACK = 4,     /* on_token asked to stop */
} kvlm_stop_reason;

typedef struct {
    int max_tokens;                 /* 0: no limit but the context */
    kvlm_sampler_params sampling;   /* all zero: greedy */
    const int32_t *stop_ids;        /* NULL: the model's eos ids */
    int n_stop_ids;
    /* Called for every generated token that is not a stop id, with the text it
     * completes (whole UTF-8 characters; may be empty). Return nonzero to stop.
     * At the end it is called once more with id -1 if bytes were still held. */
    int (*on_token)(void *ctx, int32_t id, const char *text, size_t len);
    void *ctx;
} kvlm_generate_params;

typedef struct {
    int n_prompt;               /* tokens prefilled by this call */
    int n_generated;            /* tokens generated (stop id excluded) */
    double prefill_ms;          /* the prompt's forward pass */
    double decode_ms;           /* all decode forward passes */
    int n_decode;               /* decode forward passes (for ms/token) */
    kvlm_stop_reason stop_reason;
    int32_t stop_id;            /* the stop id sampled, when stop_reason == KVLM_STOP_EOS */
} kvlm_generate_result;

/* Appends prompt (n_prompt >= 1) to the state, then samples and appends
 * tokens until a stop id, max_tokens, a full context, or the callback. The
 * generated ids go to out_ids (up to max_out; may be NULL). A prompt that
 * does not fit the context is rejected before any compute. */
kvlm_status kvlm_generate(kvlm_state *state, const int32_t *prompt, int n_prompt, const kvlm_generate_params *params,
                          int32_t *out_ids, int max_out, kvlm_generate_result *result);

/* Monotonic milliseconds (for timing tables). */
double kvlm_now_ms(void);

/* ------------------------------------------- translator and copy-editor */

/* The Core ML port's provider: open a model once, then translate or copy-edit
 * one text per request. Every request starts from a clean state; greedy
 * decoding; it stops on the model's eos ids or after max_tokens (default
 * 2 x the text's tokens + 16, always bounded by the context).
 *
 * Prefix reuse: the KV of what the chat template renders before the user's
 * text (system prompt included) is computed once per (task, languages),
 * kept, and copied into each request's state; the output is identical to
 * prefilling the whole prompt. One provider serves one thread at a time. */
typedef struct kvlm_provider kvlm_provider;

typedef enum {
    KVLM_TASK_TRANSLATE = 0,
    KVLM_TASK_COPYEDIT = 1,
    KVLM_TASK_COMPLETE = 2,  /* plain completion: BOS + the text, no chat template */
} kvlm_task;

typedef struct {
    int n_threads;                /* 0: the number of physical cores */
    kvlm_kernels kernels;         /* 0: AUTO */
    const char *tokenizer_path;   /* a llama2.c checkpoint's tokenizer.bin; NULL: the model's own */
    int n_ctx;                    /* positions per request (0: 2048, at most the model's max_pos) */
    kvlm_chat_format chat_format; /* 0: recognized from the model's chat template */
    const char *date;             /* Llama 3.2 "Today Date" (NULL: "26 Jul 2024") */
    int no_prefix_reuse;          /* nonzero: prefill the whole prompt on every request */
    int max_tokens;               /* 0: 2 x the text's tokens + 16 */
} kvlm_provider_options;

/* Opens the model at path (HF folder, GGUF, llama2.c checkpoint) and owns it. */
kvlm_provider *kvlm_provider_open(const char *model_path, const kvlm_provider_options *opts);
/* A provider on a model opened by the caller (not owned; it must outlive the
 * provider). opts' threads, kernels and tokenizer_path are then ignored. */
kvlm_provider *kvlm_provider_new(kvlm_model *model, const kvlm_provider_options *opts);
void kvlm_provider_free(kvlm_provider *p);
kvlm_model *kvlm_provider_model(const kvlm_provider *p);

/* Timing of one request. */
typedef struct {
    int n_input;            /* tokens of the text alone */
    int n_prompt;           /* tokens of the whole prompt the model reads */
    int n_reused;           /* of those, copied from the cached prefix (0 without reuse) */
    double reused_ms;       /* what prefilling the reused tokens took when they were computed */
    double prefix_ms;       /* prefilling the prefix into the cache, when this request did it (else 0) */
    double copy_ms;         /* copying the cached prefix into the request's state */
    double prefill_ms;      /* the forward pass of the prompt tokens not reused */
    double decode_ms;       /* all decode forward passes */
    int n_decode;           /* decode forward passes (ms/token = decode_ms / n_decode) */
    int n_output;           /* output tokens (the stop id excluded) */
    int max_tokens;         /* the limit the request ran under */
    kvlm_stop_reason stop_reason;
    int32_t stop_id;        /* when stop_reason == KVLM_STOP_EOS */
    double total_ms;        /* the whole request, tokenization and decoding included */
} kvlm_request_timing;

/* Translates text into target_language ("French"); source_language names the
 * text's language, or NULL to leave it out of the prompt. Returns the
 * translation (malloc'd: free() it), or NULL with kvlm_last_error() saying
 * why: an empty text or language name, or a prompt that does not fit the
 * context (the message names both lengths; nothing was computed). timing may
 * be NULL; it is filled as far as the request got. */
char *kvlm_provider_translate(kvlm_provider *p, const char *text, const char *source_language,
                              const char *target_language, kvlm_request_timing *timing);
/* Light-touch copy-edit of a transcript: fixes misheard words, keeps the wording. */
char *kvlm_provider_copyedit(kvlm_provider *p, const char *text, kvlm_request_timing *timing);
/* Plain greedy completion of BOS + text (text may be ""), as `kvlm run` does:
 * the continuation only, decoded after the prompt. max_tokens 0: the provider's. */
char *kvlm_provider_complete(kvlm_provider *p, const char *text, int max_tokens, kvlm_request_timing *timing);
/* Any of the three: source/target are used by KVLM_TASK_TRANSLATE only;
 * max_tokens 0: the provider's limit (options.max_tokens, else 2 x the text's
 * tokens + 16). */
char *kvlm_provider_run(kvlm_provider *p, kvlm_task task, const char *text, const char *source_language,
                        const char *target_language, int max_tokens, kvlm_request_timing *timing);

/* Forgets everything between requests: the state and the cached prefixes. */
void kvlm_provider_reset_session(kvlm_provider *p);

/* The system prompt of a task (malloc'd; NULL with the error set for a bad
 * language name, or for KVLM_TASK_COMPLETE, which has none). */
char *kvlm_task_system_prompt(kvlm_task task, const char *source_language, const char *target_language);

#ifdef __cplusplus
}
#endif
#endif
