/* Writing GGUF v3 files: metadata and tensor infos are collected first, then
 * the header is written and each tensor's bytes are streamed by a callback,
 * aligned to `general.alignment` (32). */
#ifndef KVLM_GGUF_WRITE_H
#define KVLM_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kvlm.h"

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);

/* Metadata (failures are remembered and reported by gguf_writer_write). */
void gguf_w_str(gguf_writer *w, const char *key, const char *val);
void gguf_w_u32(gguf_writer *w, const char *key, uint32_t val);
void gguf_w_i32(gguf_writer *w, const char *key, int32_t val);
void gguf_w_f32(gguf_writer *w, const char *key, float val);
void gguf_w_bool(gguf_writer *w, const char *key, int val);
/* An array of n strings; lens may be NULL (NUL-terminated strings). */
void gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *strs, const size_t *lens, size_t n);
void gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *vals, size_t n);
void gguf_w_arr_f32(gguf_writer *w, const char *key, const float *vals, size_t n);

/* Declares a tensor: ne[0] is the innermost dimension. Returns its index. */
int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const uint64_t *ne);

/* Writes tensor i's bytes (exactly its size) to f; returns 0 on success. */
typedef int (*gguf_data_fn)(void *ctx, int tensor, FILE *f);
/* progress(ctx, tensors done, total) after each tensor; may be NULL. */
typedef void (*gguf_progress_fn)(void *ctx, int done, int total);

kvlm_status gguf_writer_write(gguf_writer *w, const char *path, gguf_data_fn data, gguf_progress_fn progress,
                              void *ctx);

#endif
