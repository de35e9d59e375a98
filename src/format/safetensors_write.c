#include "safetensors_write.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

uint64_t st_tensor_bytes(const st_write_tensor *t) {
    uint64_t n = !strcmp(t->dtype, "F32") ? 4 : 2;
    for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

kvlm_status st_write_header(FILE *f, const char *path, const st_write_tensor *t, int n) {
    json_t *root = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(root, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        for (int d = 0; d < t[i].n_dims; d++) json_array_append_new(shape, json_integer((json_int_t)t[i].shape[d]));
        uint64_t b = st_tensor_bytes(&t[i]);
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + b)));
        off += b;
        json_object_set_new(e, "dtype", json_string(t[i].dtype));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        json_object_set_new(root, t[i].name, e);
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) return kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", path);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(hdr, 1, 8, f) == 8 && fwrite(text, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    free(text);
    return ok ? KVLM_OK : kvlm_fail(KVLM_ERR_IO, "%s: write error", path);
}
