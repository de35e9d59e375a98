#include "safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "ggml_types.h"

/* dtype name → (ggml type or UINT32_MAX when kvlm has no kernel, element size) */
static int dtype_lookup(const char *s, uint32_t *type, uint32_t *esize) {
    static const struct {
        const char *name;
        uint32_t type, esize;
    } t[] = {
        {"F32", GGML_TYPE_F32, 4}, {"F16", GGML_TYPE_F16, 2}, {"BF16", GGML_TYPE_BF16, 2},
        {"F64", UINT32_MAX, 8},    {"I64", UINT32_MAX, 8},    {"I32", UINT32_MAX, 4},
        {"I16", UINT32_MAX, 2},    {"I8", UINT32_MAX, 1},     {"U8", UINT32_MAX, 1},
        {"BOOL", UINT32_MAX, 1},   {"U16", UINT32_MAX, 2},    {"U32", UINT32_MAX, 4},
        {"U64", UINT32_MAX, 8},    {"F8_E4M3", UINT32_MAX, 1}, {"F8_E5M2", UINT32_MAX, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].name)) {
            *type = t[i].type;
            *esize = t[i].esize;
            return 1;
        }
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static kvlm_status parse_entry(const char *fname, const char *key, json_t *v, const uint8_t *data_start,
                               uint64_t data_size, st_tensor *t) {
    if (!json_is_object(v)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", fname, key);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'", fname, key);
    if (!json_is_array(shape)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': missing or non-array 'shape'", fname, key);
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end]", fname, key);
    uint32_t esize;
    const char *dts = json_string_value(dt);
    if (!dtype_lookup(dts, &t->type, &esize))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", fname, key, dts);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dts);
    size_t nd = json_array_size(shape);
    if (nd > 4) return kvlm_fail(KVLM_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most 4)", fname, key, nd);
    t->n_dims = (int)nd;
    uint64_t n = 1;
    for (size_t d = 0; d < nd; d++) {
        json_t *e = json_array_get(shape, d);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > (1ll << 40))
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a valid size", fname, key, d);
        t->shape[d] = (uint64_t)json_integer_value(e);
        if (t->shape[d] && n > (1ull << 44) / t->shape[d])
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': shape is too large", fname, key);
        n *= t->shape[d];
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': data_offsets are not 0 <= begin <= end", fname, key);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end > data_size)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': data [%llu, %llu) runs past the end of the file (%llu data bytes)",
                         fname, key, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)data_size);
    t->nbytes = end - begin;
    if (t->nbytes != n * esize)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: tensor '%s': %llu data bytes, but shape and dtype %s need %llu", fname, key,
                         (unsigned long long)t->nbytes, dts, (unsigned long long)(n * esize));
    t->data = data_start + begin;
    t->name = strdup(key);
    if (!t->name) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", fname);
    return KVLM_OK;
}

kvlm_status st_parse(st_file *f, const uint8_t *data, size_t size, const char *name) {
    f->tensors = NULL;
    f->n_tensors = 0;
    if (size < 8) return kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length", name, size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    if (hlen > size - 8)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", name,
                         (unsigned long long)hlen, size);
    if (hlen < 2 || data[8] != '{')
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: bad magic: the header does not start with a JSON object", name);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return kvlm_fail(KVLM_ERR_FORMAT, "%s: header JSON: %s (byte offset %d)", name, jerr.text, 8 + jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: header is not a JSON object", name);
    }
    const uint8_t *data_start = data + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    size_t cap = json_object_size(root);
    f->tensors = calloc(cap + 1, sizeof *f->tensors);
    if (!f->tensors) {
        json_decref(root);
        return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
    }
    kvlm_status st = KVLM_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) continue;
        st = parse_entry(name, key, v, data_start, data_size, &f->tensors[f->n_tensors]);
        if (st != KVLM_OK) break;
        f->n_tensors++;
    }
    json_decref(root);
    if (st == KVLM_OK && f->n_tensors > 1) {
        st_tensor **order = malloc((size_t)f->n_tensors * sizeof *order);
        if (!order) st = kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", name);
        for (int i = 0; order && i < f->n_tensors; i++) order[i] = &f->tensors[i];
        if (order) qsort(order, (size_t)f->n_tensors, sizeof *order, by_begin);
        for (int i = 1; order && i < f->n_tensors && st == KVLM_OK; i++)
            if (order[i - 1]->data + order[i - 1]->nbytes > order[i]->data)
                st = kvlm_fail(KVLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap (data offset %llu)", name,
                               order[i - 1]->name, order[i]->name,
                               (unsigned long long)(order[i]->data - data_start));
        free(order);
    }
    if (st != KVLM_OK) {
        for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
        free(f->tensors);
        f->tensors = NULL;
        f->n_tensors = 0;
    }
    return st;
}

kvlm_status st_open(st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    kvlm_status st = mapped_file_open(&f->file, path);
    if (st != KVLM_OK) return st;
    st = st_parse(f, f->file.data, f->file.size, path);
    if (st != KVLM_OK) mapped_file_close(&f->file);
    return st;
}

void st_close(st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    if (f->file.path) mapped_file_close(&f->file);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}
