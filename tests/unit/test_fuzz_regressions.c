/* Inputs that fuzz/ found to misbehave, rebuilt here so the fixes stay fixed
 * (each runs under ASan + UBSan in the sanitizer build):
 *  1. fuzz_tokenizer_json: a decoder Sequence of two Replace steps whose
 *     replacements both lengthen the text overflowed the per-token decode
 *     buffer (its bound took the largest replacement, not their product).
 *  2. fuzz_gguf: gguf_arr_i64 on a float array converted values outside
 *     int64's range (undefined behaviour); gguf_get_f32 likewise converted a
 *     float64 beyond float's range. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "format/gguf.h"
#include "test_util.h"

static void chained_replace_decoder(void) {
    char *path = test_work_path("fuzz-regression-tokenizer.json");
    /* "▁" -> " " followed by 60 ':'; then ':' -> 10 'r': one "▁" decodes to 601 bytes */
    char colons[61], rs[11];
    memset(colons, ':', 60);
    colons[60] = 0;
    memset(rs, 'r', 10);
    rs[10] = 0;
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f,
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, "
            "\"\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\": 1}, "
            "\"merges\": []},\n"
            " \"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
            "{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xE2\x96\x81\"}, \"content\": \" %s\"}, "
            "{\"type\": \"Replace\", \"pattern\": {\"String\": \":\"}, \"content\": \"%s\"}]}}\n",
            colons, rs);
    fclose(f);
    kvlm_tokenizer *tok = kvlm_tokenizer_load(path);
    CHECK_MSG(tok != NULL, "%s", kvlm_last_error());
    if (tok) {
        char want[8 * 601 + 1], got[8 * 601 + 16];
        for (int k = 0; k < 8; k++) {
            want[601 * k] = ' ';
            memset(want + 601 * k + 1, 'r', 600);
        }
        want[8 * 601] = 0;
        int32_t id = 1;
        long n = kvlm_detokenize(tok, &id, 1, got, sizeof got);
        CHECK_MSG(n == 8 * 601 && !strcmp(got, want), "decoded %ld bytes", n);
        /* the streaming decoder's first token takes the same path */
        kvlm_detok_stream *s = kvlm_detok_stream_new(tok);
        size_t len = 0, total = 0;
        const char *piece = s ? kvlm_detok_stream_push(s, id, &len) : NULL;
        total += piece ? len : 0;
        piece = s ? kvlm_detok_stream_flush(s, &len) : NULL;
        total += piece ? len : 0;
        CHECK(s && total == 8 * 601);
        kvlm_detok_stream_free(s);
        kvlm_tokenizer_free(tok);
    }
    free(path);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void gguf_float_conversions(void) {
    /* a GGUF with no tensors and two keys: "a" = [1e30f, -1e30f, NaN, 42.75f], "b" = 1e300 (float64) */
    uint8_t buf[128];
    memset(buf, 0, sizeof buf);
    size_t o = 0;
    memcpy(buf, "GGUF", 4);
    put_u32(buf + 4, 3);
    put_u64(buf + 8, 0); /* tensors */
    put_u64(buf + 16, 2); /* metadata */
    o = 24;
    put_u64(buf + o, 1), buf[o + 8] = 'a', o += 9;
    put_u32(buf + o, GGUF_TYPE_ARRAY), o += 4;
    put_u32(buf + o, GGUF_TYPE_FLOAT32), o += 4;
    put_u64(buf + o, 4), o += 8;
    float v[4] = {1e30f, -1e30f, NAN, 42.75f};
    memcpy(buf + o, v, 16), o += 16;
    put_u64(buf + o, 1), buf[o + 8] = 'b', o += 9;
    put_u32(buf + o, GGUF_TYPE_FLOAT64), o += 4;
    double big = 1e300;
    memcpy(buf + o, &big, 8), o += 8;
    gguf_file g;
    memset(&g, 0, sizeof g);
    CHECK_MSG(gguf_parse(&g, buf, o, "regression.gguf") == KVLM_OK, "%s", kvlm_last_error());
    const gguf_kv *a = gguf_find(&g, "a");
    CHECK(a != NULL);
    if (a) {
        CHECK(gguf_arr_i64(a, 0) == INT64_MAX);
        CHECK(gguf_arr_i64(a, 1) == INT64_MIN);
        CHECK(gguf_arr_i64(a, 2) == 0);
        CHECK(gguf_arr_i64(a, 3) == 42);
        CHECK(gguf_arr_f64(a, 3) == 42.75);
    }
    float f = 0;
    CHECK(gguf_get_f32(&g, "b", 1, &f) == KVLM_ERR_FORMAT && strstr(kvlm_last_error(), "out of range"));
    gguf_close(&g);
}

int main(void) {
    chained_replace_decoder();
    gguf_float_conversions();
    return test_finish();
}
