/* The in-memory model every loader fills: hyper-parameters, weights that
 * point into the mapped files (kept in their stored type), and what the front
 * ends need (tokenizer, chat template, stop ids). */
#ifndef KVLM_MODEL_H
#define KVLM_MODEL_H

#include <stdint.h>

#include "../core/mapped_file.h"
#include "../format/gguf.h"
#include "../format/safetensors.h"
#include "kvlm.h"

struct kvlm_kernel_set;
struct kvlm_pool;

/* A matrix [rows][cols] (PyTorch nn.Linear layout: rows = outputs), row-major,
 * in a ggml type (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K). */
typedef struct {
    uint32_t type;
    int64_t rows, cols;
    size_t row_bytes;
    const void *data;
} kvlm_weight;

typedef struct {
    kvlm_weight wq, wk, wv, wo;
    kvlm_weight w_gate, w_up, w_down;
    const float *attn_norm, *ffn_norm; /* dim floats */
} kvlm_layer;

typedef enum { ROPE_SCALING_NONE = 0, ROPE_SCALING_LLAMA3 = 1 } rope_scaling_type;

typedef struct {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, hidden_dim, vocab_size, max_pos;
    float rope_theta, norm_eps;
    int tied;
    rope_scaling_type rope_scaling;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_max_pos;
    int bos_id;
    int n_eos;
    int eos_ids[8];
    float gen_temperature, gen_top_p;
} kvlm_config;

struct kvlm_model {
    kvlm_config cfg;
    kvlm_layer *layers;
    kvlm_weight embed;   /* [vocab][dim] */
    kvlm_weight output;  /* [vocab][dim]; the embedding when tied */
    const float *final_norm;
    float *inv_freq;     /* head_dim/2 RoPE inverse frequencies, scaling applied */
    /* GGUF and llama2.c store q/k rows so that RoPE pairs (2i, 2i+1); Hugging
     * Face pairs (i, i + head_dim/2). Attention scores are the same either way. */
    int rope_interleaved;
    const char *source_format;

    /* storage */
    st_file *st_files;
    int n_st_files;
    gguf_file *gguf;
    mapped_file raw;     /* llama2.c checkpoint */
    float *f32_arena;    /* norm vectors converted to FP32, and owned copies */
    size_t f32_arena_used, f32_arena_cap;

    kvlm_tokenizer *tokenizer;
    char *chat_template;

    const struct kvlm_kernel_set *kernels;
    kvlm_activations act; /* F32, Q8 or BF16 (kvlm.h): what the matmuls' inputs become */
    struct kvlm_pool *pool;
    int n_threads;
};

/* Derived checks and values once cfg is filled: sizes consistent, inv_freq. */
kvlm_status model_config_finish(kvlm_model *m, const char *where);

/* Validates that w has the shape [rows][cols] and a type kvlm runs. */
kvlm_status model_bind_weight(kvlm_weight *w, const char *where, const char *name, uint32_t type,
                              const void *data, uint64_t nbytes, int64_t rows, int64_t cols, int64_t want_rows,
                              int64_t want_cols);

/* Converts a vector of n elements of a float type to FP32 in the model's arena. */
kvlm_status model_f32_vector(kvlm_model *m, const char *where, const char *name, uint32_t type, const void *data,
                             uint64_t nbytes, uint64_t n_elems, int64_t want, const float **out);

/* The loaders; each fills m (allocated, zeroed) or fails with the error set. */
kvlm_status load_hf_folder(kvlm_model *m, const char *dir);
kvlm_status load_gguf(kvlm_model *m, const char *path);
kvlm_status load_llama2c(kvlm_model *m, const char *path);

/* Releases what a loader attached (used on failure and by kvlm_model_free). */
void model_release(kvlm_model *m);

#endif
