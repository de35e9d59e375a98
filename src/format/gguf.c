#include "gguf.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "ggml_types.h"

/* A bounds-checked little-endian reader over the header. */
typedef struct {
    const uint8_t *p;
    size_t size;
    size_t off;
    const char *name;
    int failed;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if (c->failed) return 0;
    if (n > c->size - c->off) {
        kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: %s at byte offset %zu needs %llu bytes, file has %zu", c->name,
                  what, c->off, (unsigned long long)n, c->size);
        c->failed = 1;
        return 0;
    }
    return 1;
}

static uint64_t rd(cursor *c, int n, const char *what) {
    if (!need(c, (uint64_t)n, what)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)c->p[c->off + i] << (8 * i);
    c->off += (size_t)n;
    return v;
}

static gguf_str rd_str(cursor *c, const char *what) {
    gguf_str s = {0, 0};
    uint64_t len = rd(c, 8, what);
    if (!need(c, len, what)) return s;
    s.ptr = (const char *)c->p + c->off;
    s.len = len;
    c->off += (size_t)len;
    return s;
}

static const uint32_t scalar_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1,   [GGUF_TYPE_UINT16] = 2, [GGUF_TYPE_INT16] = 2,
    [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4, [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_UINT64] = 8, [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

static double f32_from_u32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_from_u64(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Reads one scalar of type t into kv->v. */
static void rd_scalar(cursor *c, uint32_t t, gguf_kv *kv, const char *what) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64: case GGUF_TYPE_BOOL:
        kv->v.u = rd(c, (int)scalar_size[t], what);
        break;
    case GGUF_TYPE_INT8: kv->v.i = (int8_t)rd(c, 1, what); break;
    case GGUF_TYPE_INT16: kv->v.i = (int16_t)rd(c, 2, what); break;
    case GGUF_TYPE_INT32: kv->v.i = (int32_t)rd(c, 4, what); break;
    case GGUF_TYPE_INT64: kv->v.i = (int64_t)rd(c, 8, what); break;
    case GGUF_TYPE_FLOAT32: kv->v.f = f32_from_u32((uint32_t)rd(c, 4, what)); break;
    case GGUF_TYPE_FLOAT64: kv->v.f = f64_from_u64(rd(c, 8, what)); break;
    case GGUF_TYPE_STRING: kv->v.s = rd_str(c, what); break;
    }
}

static int valid_key_text(gguf_str s) {
    if (s.len == 0 || s.len > 65535) return 0;
    for (uint64_t i = 0; i < s.len; i++)
        if (s.ptr[i] == 0) return 0;
    return 1;
}

static kvlm_status parse_kv(cursor *c, gguf_kv *kv, uint64_t index) {
    size_t at = c->off;
    kv->key = rd_str(c, "metadata key");
    if (c->failed) return KVLM_ERR_FORMAT;
    if (!valid_key_text(kv->key))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata entry %llu at byte offset %zu: invalid key", c->name,
                         (unsigned long long)index, at);
    kv->type = (uint32_t)rd(c, 4, "metadata type");
    if (c->failed) return KVLM_ERR_FORMAT;
    if (kv->type >= GGUF_TYPE_COUNT)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%.*s': unknown value type %u at byte offset %zu", c->name,
                         (int)kv->key.len, kv->key.ptr, kv->type, c->off - 4);
    if (kv->type != GGUF_TYPE_ARRAY) {
        rd_scalar(c, kv->type, kv, "metadata value");
        return c->failed ? KVLM_ERR_FORMAT : KVLM_OK;
    }
    kv->arr_type = (uint32_t)rd(c, 4, "array type");
    kv->arr_n = rd(c, 8, "array length");
    if (c->failed) return KVLM_ERR_FORMAT;
    if (kv->arr_type >= GGUF_TYPE_COUNT || kv->arr_type == GGUF_TYPE_ARRAY)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%.*s': unsupported array element type %u", c->name,
                         (int)kv->key.len, kv->key.ptr, kv->arr_type);
    kv->arr_data = c->p + c->off;
    if (kv->arr_type != GGUF_TYPE_STRING) {
        uint64_t esz = scalar_size[kv->arr_type];
        if (kv->arr_n > (c->size - c->off) / esz) {
            return kvlm_fail(KVLM_ERR_FORMAT,
                             "%s: metadata '%.*s': array of %llu elements at byte offset %zu runs past the end of the file",
                             c->name, (int)kv->key.len, kv->key.ptr, (unsigned long long)kv->arr_n, c->off);
        }
        c->off += (size_t)(kv->arr_n * esz);
        return KVLM_OK;
    }
    /* each string needs at least its 8-byte length */
    if (kv->arr_n > (c->size - c->off) / 8)
        return kvlm_fail(KVLM_ERR_FORMAT,
                         "%s: metadata '%.*s': array of %llu strings at byte offset %zu runs past the end of the file",
                         c->name, (int)kv->key.len, kv->key.ptr, (unsigned long long)kv->arr_n, c->off);
    kv->arr_strs = malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof(gguf_str));
    if (!kv->arr_strs) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        kv->arr_strs[i] = rd_str(c, "array string");
        if (c->failed) {
            kvlm_error_prefix("%s: metadata '%.*s' element %llu", c->name, (int)kv->key.len, kv->key.ptr,
                              (unsigned long long)i);
            return KVLM_ERR_FORMAT;
        }
    }
    return KVLM_OK;
}

static kvlm_status parse_tensor_info(cursor *c, gguf_tensor *t, uint64_t index) {
    size_t at = c->off;
    t->name = rd_str(c, "tensor name");
    t->n_dims = (uint32_t)rd(c, 4, "tensor dimension count");
    if (c->failed) return KVLM_ERR_FORMAT;
    if (!valid_key_text(t->name))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor %llu at byte offset %zu: invalid name", c->name,
                         (unsigned long long)index, at);
    if (t->n_dims == 0 || t->n_dims > 4)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%.*s': %u dimensions (1 to 4 allowed)", c->name,
                         (int)t->name.len, t->name.ptr, t->n_dims);
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) t->ne[d] = rd(c, 8, "tensor dimension");
    t->type = (uint32_t)rd(c, 4, "tensor type");
    t->offset = rd(c, 8, "tensor offset");
    if (c->failed) return KVLM_ERR_FORMAT;
    ggml_type_info ti = ggml_type_get(t->type);
    if (ti.block_bytes == 0)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%.*s': unknown tensor type %u", c->name, (int)t->name.len,
                         t->name.ptr, t->type);
    /* element count, with overflow checks: no tensor may exceed 2^48 elements */
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->ne[d] == 0 || t->ne[d] > (1ull << 48) || n > (1ull << 48) / t->ne[d])
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%.*s': dimension %u = %llu is zero or too large", c->name,
                             (int)t->name.len, t->name.ptr, d, (unsigned long long)t->ne[d]);
        n *= t->ne[d];
    }
    if (t->ne[0] % ti.block_elems != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%.*s': row length %llu is not a multiple of the %s block size %u",
                         c->name, (int)t->name.len, t->name.ptr, (unsigned long long)t->ne[0], ti.name, ti.block_elems);
    t->nbytes = n / ti.block_elems * ti.block_bytes;
    return KVLM_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Data bounds, alignment and overlap of every tensor. */
static kvlm_status check_tensor_data(gguf_file *g, const char *name) {
    uint64_t data_size = g->file.size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%.*s': data offset %llu is not aligned to %llu", name,
                             (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                             (unsigned long long)g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return kvlm_fail(KVLM_ERR_FORMAT,
                             "%s: tensor '%.*s': data [%llu, +%llu) runs past the end of the file (data section is %llu bytes)",
                             name, (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                             (unsigned long long)t->nbytes, (unsigned long long)data_size);
        t->data = g->file.data + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return KVLM_OK;
    gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    kvlm_status st = KVLM_OK;
    for (uint64_t i = 1; i < g->n_tensors && st == KVLM_OK; i++) {
        const gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->nbytes > b->offset)
            st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tensors '%.*s' and '%.*s' overlap at data offset %llu", name,
                           (int)a->name.len, a->name.ptr, (int)b->name.len, b->name.ptr,
                           (unsigned long long)b->offset);
    }
    free(order);
    return st;
}

static int cmp_str(const void *a, const void *b) {
    const gguf_str *x = *(const gguf_str *const *)a, *y = *(const gguf_str *const *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, (size_t)x->len);
}

/* The first name that appears twice among n strings (sorted copy: n log n,
 * a hostile file cannot make this quadratic), or NULL. */
static const gguf_str *find_duplicate(const gguf_str *const *items, uint64_t n, int *oom) {
    *oom = 0;
    if (n < 2) return NULL;
    const gguf_str **v = malloc((size_t)n * sizeof *v);
    if (!v) {
        *oom = 1;
        return NULL;
    }
    memcpy(v, items, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    const gguf_str *dup = NULL;
    for (uint64_t i = 1; i < n && !dup; i++)
        if (cmp_str(&v[i - 1], &v[i]) == 0) dup = v[i];
    free(v);
    return dup;
}

static kvlm_status check_unique(gguf_file *g, const char *name) {
    uint64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    const gguf_str **items = malloc((size_t)(n ? n : 1) * sizeof *items);
    if (!items) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    int oom;
    for (uint64_t i = 0; i < g->n_kv; i++) items[i] = &g->kvs[i].key;
    const gguf_str *d = find_duplicate(items, g->n_kv, &oom);
    kvlm_status st = KVLM_OK;
    if (d) st = kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata key '%.*s' appears twice", name, (int)d->len, d->ptr);
    if (!st && !oom) {
        for (uint64_t i = 0; i < g->n_tensors; i++) items[i] = &g->tensors[i].name;
        d = find_duplicate(items, g->n_tensors, &oom);
        if (d) st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor name '%.*s' appears twice", name, (int)d->len, d->ptr);
    }
    if (!st && oom) st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    free(items);
    return st;
}

kvlm_status gguf_parse(gguf_file *g, const uint8_t *data, size_t size, const char *name) {
    mapped_file keep = g->file;
    memset(g, 0, sizeof *g);
    g->file = keep;
    cursor c = {data, size, 0, name, 0};
    if (size < 4 || memcmp(data, "GGUF", 4) != 0)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: not a GGUF file (bad magic)", name);
    c.off = 4;
    g->version = (uint32_t)rd(&c, 4, "version");
    g->n_tensors = rd(&c, 8, "tensor count");
    g->n_kv = rd(&c, 8, "metadata count");
    if (c.failed) return KVLM_ERR_FORMAT;
    if (g->version != 2 && g->version != 3)
        return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: GGUF version %u (kvlm reads 2 and 3)", name, g->version);
    /* a metadata entry takes at least 12 bytes, a tensor info at least 32 */
    if (g->n_kv > (size - c.off) / 12 || g->n_tensors > (size - c.off) / 32)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: header counts (%llu metadata, %llu tensors) exceed the file size", name,
                         (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors);
    g->kvs = calloc((size_t)g->n_kv + 1, sizeof *g->kvs);
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors) {
        gguf_close(g);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    }
    kvlm_status st = KVLM_OK;
    for (uint64_t i = 0; i < g->n_kv && st == KVLM_OK; i++) st = parse_kv(&c, &g->kvs[i], i);
    for (uint64_t i = 0; i < g->n_tensors && st == KVLM_OK; i++) st = parse_tensor_info(&c, &g->tensors[i], i);
    if (st == KVLM_OK) {
        g->alignment = 32;
        const gguf_kv *al = gguf_find(g, "general.alignment");
        if (al) {
            if (al->type != GGUF_TYPE_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) != 0)
                st = kvlm_fail(KVLM_ERR_FORMAT, "%s: general.alignment must be a power-of-two uint32", name);
            else
                g->alignment = al->v.u;
        }
    }
    if (st == KVLM_OK) {
        uint64_t off = c.off;
        off = (off + g->alignment - 1) / g->alignment * g->alignment;
        if (g->n_tensors > 0 && off > size)
            st = kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: data section would start at byte %llu, file has %zu", name,
                           (unsigned long long)off, size);
        g->data_offset = off > size ? size : off;
    }
    if (st == KVLM_OK) st = check_unique(g, name);
    if (st == KVLM_OK) {
        g->file.data = data; /* check_tensor_data resolves pointers from here */
        g->file.size = size;
        st = check_tensor_data(g, name);
    }
    if (st != KVLM_OK) {
        mapped_file f = g->file;
        g->file = (mapped_file){0};
        gguf_close(g);
        g->file = f;
    }
    return st;
}

kvlm_status gguf_open(gguf_file *g, const char *path) {
    memset(g, 0, sizeof *g);
    kvlm_status st = mapped_file_open(&g->file, path);
    if (st != KVLM_OK) return st;
    st = gguf_parse(g, g->file.data, g->file.size, path);
    if (st != KVLM_OK) {
        mapped_file_close(&g->file);
        memset(g, 0, sizeof *g);
    }
    return st;
}

void gguf_close(gguf_file *g) {
    if (g->kvs)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kvs[i].arr_strs);
    free(g->kvs);
    free(g->tensors);
    if (g->file.path) mapped_file_close(&g->file);
    memset(g, 0, sizeof *g);
}

int gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kvs[i].key, key)) return &g->kvs[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static const char *gname(const gguf_file *g) { return g->file.path ? g->file.path : "gguf"; }

static kvlm_status missing(const gguf_file *g, const char *key) {
    return kvlm_fail(KVLM_ERR_FORMAT, "%s: missing metadata key '%s'", gname(g), key);
}

static int is_int_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_INT16 ||
           t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

static int is_signed_type(uint32_t t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

kvlm_status gguf_get_u32(const gguf_file *g, const char *key, int required, uint32_t *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return required ? missing(g, key) : KVLM_OK;
    if (!is_int_type(kv->type))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is not an integer", gname(g), key);
    if (is_signed_type(kv->type) ? (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX) : kv->v.u > UINT32_MAX)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is out of range", gname(g), key);
    *out = is_signed_type(kv->type) ? (uint32_t)kv->v.i : (uint32_t)kv->v.u;
    return KVLM_OK;
}

kvlm_status gguf_get_f32(const gguf_file *g, const char *key, int required, float *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return required ? missing(g, key) : KVLM_OK;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is not a float", gname(g), key);
    if (kv->v.f > FLT_MAX || kv->v.f < -FLT_MAX) /* a float64 beyond float's range (converting it is undefined) */
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' = %g is out of range", gname(g), key, kv->v.f);
    *out = (float)kv->v.f;
    return KVLM_OK;
}

kvlm_status gguf_get_bool(const gguf_file *g, const char *key, int required, int *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return required ? missing(g, key) : KVLM_OK;
    if (kv->type != GGUF_TYPE_BOOL)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is not a bool", gname(g), key);
    *out = kv->v.u != 0;
    return KVLM_OK;
}

kvlm_status gguf_get_str(const gguf_file *g, const char *key, int required, char **out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return required ? missing(g, key) : KVLM_OK;
    if (kv->type != GGUF_TYPE_STRING)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is not a string", gname(g), key);
    char *s = malloc((size_t)kv->v.s.len + 1);
    if (!s) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", gname(g));
    memcpy(s, kv->v.s.ptr, (size_t)kv->v.s.len);
    s[kv->v.s.len] = 0;
    *out = s;
    return KVLM_OK;
}

kvlm_status gguf_get_arr(const gguf_file *g, const char *key, uint32_t elem_type, int required,
                         const gguf_kv **out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return required ? missing(g, key) : KVLM_OK;
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != elem_type)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: metadata '%s' is not an array of type %u", gname(g), key, elem_type);
    *out = kv;
    return KVLM_OK;
}

double gguf_arr_f64(const gguf_kv *kv, uint64_t i) {
    gguf_kv tmp;
    cursor c = {kv->arr_data, (size_t)(scalar_size[kv->arr_type] * (i + 1)), (size_t)(scalar_size[kv->arr_type] * i),
                "", 0};
    rd_scalar(&c, kv->arr_type, &tmp, "");
    if (kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64) return tmp.v.f;
    return is_signed_type(kv->arr_type) ? (double)tmp.v.i : (double)tmp.v.u;
}

int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i) {
    gguf_kv tmp;
    cursor c = {kv->arr_data, (size_t)(scalar_size[kv->arr_type] * (i + 1)), (size_t)(scalar_size[kv->arr_type] * i),
                "", 0};
    rd_scalar(&c, kv->arr_type, &tmp, "");
    if (kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64) {
        /* saturating: converting a float out of int64's range (or NaN) is undefined */
        double f = tmp.v.f;
        if (f != f) return 0;
        if (f >= 9223372036854775807.0) return INT64_MAX;
        if (f <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)f;
    }
    return is_signed_type(kv->arr_type) ? tmp.v.i : (int64_t)tmp.v.u;
}
