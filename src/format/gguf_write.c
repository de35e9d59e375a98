#include "gguf_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "ggml_types.h"
#include "gguf.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int failed;
} bytes;

typedef struct {
    char *name;
    uint32_t type;
    int n_dims;
    uint64_t ne[4];
    uint64_t nbytes, offset;
} w_tensor;

struct gguf_writer {
    bytes kv;
    uint64_t n_kv;
    char **keys; /* written so far: GGUF keys must be unique */
    char dup[128];
    w_tensor *tensors;
    int n_tensors, cap_tensors;
    int failed;
};

static void put(bytes *b, const void *src, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(bytes *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(bytes *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(bytes *b, const char *s, size_t n) {
    put_u64(b, n);
    put(b, s, n);
}

static void key(gguf_writer *w, const char *k, uint32_t type) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], k)) {
            snprintf(w->dup, sizeof w->dup, "%s", k);
            w->failed = 1;
        }
    char **keys = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    if (!keys || !(keys[w->n_kv] = strdup(k))) {
        if (keys) w->keys = keys;
        w->failed = 1;
        w->kv.failed = 1;
        return;
    }
    w->keys = keys;
    put_str(&w->kv, k, strlen(k));
    put_u32(&w->kv, type);
    w->n_kv++;
}

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    free(w->kv.p);
    for (uint64_t i = 0; w->keys && i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w);
}

void gguf_w_str(gguf_writer *w, const char *k, const char *val) {
    key(w, k, GGUF_TYPE_STRING);
    put_str(&w->kv, val, strlen(val));
}

void gguf_w_u32(gguf_writer *w, const char *k, uint32_t val) {
    key(w, k, GGUF_TYPE_UINT32);
    put_u32(&w->kv, val);
}

void gguf_w_i32(gguf_writer *w, const char *k, int32_t val) {
    key(w, k, GGUF_TYPE_INT32);
    put_u32(&w->kv, (uint32_t)val);
}

void gguf_w_f32(gguf_writer *w, const char *k, float val) {
    uint32_t u;
    memcpy(&u, &val, 4);
    key(w, k, GGUF_TYPE_FLOAT32);
    put_u32(&w->kv, u);
}

void gguf_w_bool(gguf_writer *w, const char *k, int val) {
    uint8_t b = val ? 1 : 0;
    key(w, k, GGUF_TYPE_BOOL);
    put(&w->kv, &b, 1);
}

void gguf_w_arr_str(gguf_writer *w, const char *k, const char *const *strs, const size_t *lens, size_t n) {
    key(w, k, GGUF_TYPE_ARRAY);
    put_u32(&w->kv, GGUF_TYPE_STRING);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) put_str(&w->kv, strs[i], lens ? lens[i] : strlen(strs[i]));
}

void gguf_w_arr_i32(gguf_writer *w, const char *k, const int32_t *vals, size_t n) {
    key(w, k, GGUF_TYPE_ARRAY);
    put_u32(&w->kv, GGUF_TYPE_INT32);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) put_u32(&w->kv, (uint32_t)vals[i]);
}

void gguf_w_arr_f32(gguf_writer *w, const char *k, const float *vals, size_t n) {
    key(w, k, GGUF_TYPE_ARRAY);
    put_u32(&w->kv, GGUF_TYPE_FLOAT32);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &vals[i], 4);
        put_u32(&w->kv, u);
    }
}

int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const uint64_t *ne) {
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        w_tensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            w->failed = 1;
            return -1;
        }
        w->tensors = t;
        w->cap_tensors = cap;
    }
    ggml_type_info ti = ggml_type_get(type);
    w_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->type = type;
    t->n_dims = n_dims;
    uint64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        t->ne[d] = ne[d];
        n *= ne[d];
    }
    if (!t->name || ti.block_bytes == 0 || n_dims < 1 || n_dims > 4 || ne[0] % ti.block_elems) {
        free(t->name);
        w->failed = 1;
        return -1;
    }
    t->nbytes = n / ti.block_elems * ti.block_bytes;
    return w->n_tensors++;
}

static int pad_to(FILE *f, uint64_t at, uint64_t align) {
    static const uint8_t zeros[64];
    uint64_t pad = (align - at % align) % align;
    return fwrite(zeros, 1, (size_t)pad, f) == pad;
}

kvlm_status gguf_writer_write(gguf_writer *w, const char *path, gguf_data_fn data, gguf_progress_fn progress,
                              void *ctx) {
    const uint64_t align = 32;
    if (w->dup[0]) return kvlm_fail(KVLM_ERR_ARG, "%s: metadata key '%s' written twice", path, w->dup);
    if (w->failed || w->kv.failed) return kvlm_fail(KVLM_ERR_ARG, "%s: invalid tensor or out of memory while preparing", path);
    bytes hdr = {0};
    put(&hdr, "GGUF", 4);
    put_u32(&hdr, 3);
    put_u64(&hdr, (uint64_t)w->n_tensors);
    put_u64(&hdr, w->n_kv);
    put(&hdr, w->kv.p, w->kv.len);
    uint64_t off = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        w_tensor *t = &w->tensors[i];
        t->offset = off;
        off += (t->nbytes + align - 1) / align * align;
        put_str(&hdr, t->name, strlen(t->name));
        put_u32(&hdr, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&hdr, t->ne[d]);
        put_u32(&hdr, t->type);
        put_u64(&hdr, t->offset);
    }
    if (hdr.failed) {
        free(hdr.p);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr.p);
        return kvlm_fail(KVLM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    int ok = fwrite(hdr.p, 1, hdr.len, f) == hdr.len && pad_to(f, hdr.len, align);
    free(hdr.p);
    for (int i = 0; ok && i < w->n_tensors; i++) {
        ok = data(ctx, i, f) == 0 && pad_to(f, w->tensors[i].nbytes, align);
        if (progress) progress(ctx, i + 1, w->n_tensors);
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        remove(path);
        return kvlm_fail(KVLM_ERR_IO, "%s: write error (file removed)", path);
    }
    return KVLM_OK;
}
