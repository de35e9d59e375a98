/* llama2.c's tokenizer.bin (../shared/models/stories260K/tok512.bin): ids as
 * llama2.c's run.c encode() gives them (computed with the independent
 * re-implementation in tests/reference/llama2c_tokenizer.py), run.c's
 * decoding rules, streaming of characters split into byte tokens, and
 * malformed files. */
#include <string.h>

#include "test_util.h"
#include "text/tokenizer.h"

typedef struct {
    const char *text;
    int n;
    int32_t ids[256]; /* with BOS first */
} l2c_case;

static const l2c_case cases[] = {
    {"Once upon a time", 5, {1, 403, 407, 261, 378}},
    {"", 1, {1}},
    {"Hello, world!", 9, {1, 346, 306, 414, 432, 263, 304, 341, 443}},
    {"Lily and Tom played in the park. They were happy.", 18, {1, 317, 269, 274, 287, 337, 266, 322, 265, 282, 295, 433, 426, 342, 382, 276, 393, 426}},
    {"h\xc3""\xa9""llo \xe4""\xb8""\xad""\xe6""\x96""\x87"" \xf0""\x9f""\x98""\x80""", 17, {1, 270, 485, 306, 414, 410, 231, 187, 176, 233, 153, 138, 410, 243, 162, 155, 131}},
    {"  two  spaces", 12, {1, 410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419}},
    {"a", 2, {1, 261}},
    {"The end.\nNew line", 12, {1, 291, 344, 264, 426, 13, 458, 411, 424, 278, 271, 411}},
    {"Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.", 45, {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426}},
    {"1234567890 #@! <s> </s>", 25, {1, 410, 475, 479, 472, 484, 480, 490, 491, 487, 483, 477, 410, 38, 67, 443, 410, 504, 419, 505, 410, 504, 492, 419, 505}},
    {"tab\there", 7, {1, 259, 412, 430, 12, 260, 276}},
    {"a\xef""\xbf""\xbd""b", 6, {1, 261, 242, 194, 192, 430}},
    {"One day, a little boy named Tim went to the park with his mom. He saw a big tree and wanted to climb it. His mom said, \"Be careful, Tim!\" Tim climbed the tree and saw a bird's nest. The bird was sad because its eggs were gone. Tim wanted to help the bird. He looked around and found the eggs under a bush. He put them back in the nest. The bird was happy and sang a song. Tim and his mom went home, and they were very happy too. The end.", 191, {1, 385, 328, 432, 261, 376, 268, 414, 422, 395, 326, 263, 377, 267, 265, 282, 295, 433, 335, 345, 357, 426, 346, 394, 261, 370, 259, 276, 411, 269, 391, 266, 267, 280, 421, 288, 430, 312, 426, 320, 293, 357, 336, 432, 313, 445, 411, 280, 412, 276, 431, 425, 421, 432, 326, 443, 436, 326, 280, 421, 288, 430, 266, 265, 259, 276, 411, 269, 394, 261, 268, 315, 418, 439, 419, 404, 356, 426, 291, 268, 315, 418, 286, 296, 418, 329, 429, 412, 425, 372, 312, 419, 344, 428, 428, 419, 382, 276, 298, 289, 411, 426, 326, 391, 266, 267, 281, 421, 427, 265, 268, 315, 418, 426, 346, 278, 347, 355, 261, 420, 277, 264, 269, 272, 277, 264, 265, 344, 428, 428, 419, 318, 264, 285, 261, 268, 425, 419, 415, 426, 346, 282, 323, 265, 423, 268, 412, 340, 322, 265, 404, 356, 426, 291, 268, 315, 418, 286, 393, 269, 296, 416, 428, 261, 262, 289, 428, 426, 326, 269, 345, 357, 263, 377, 270, 287, 411, 432, 269, 366, 382, 276, 399, 393, 267, 414, 426, 291, 344, 264, 426}},
};

static kvlm_tokenizer *tok;

static void test_encode(void) {
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const l2c_case *k = &cases[c];
        size_t len = strlen(k->text);
        int32_t ids[400];
        int n = kvlm_tokenize(tok, k->text, len, KVLM_TOKENIZE_ADD_BOS, ids, 400);
        CHECK_MSG(n == k->n && memcmp(ids, k->ids, (size_t)n * sizeof *ids) == 0, "case %zu (\"%.40s\"): %d ids", c,
                  k->text, n);
        /* without BOS: the same ids after it */
        n = kvlm_tokenize(tok, k->text, len, 0, ids, 400);
        CHECK_MSG(n == k->n - 1 && memcmp(ids, k->ids + 1, (size_t)n * sizeof *ids) == 0, "case %zu without BOS", c);
        /* decoding from BOS gives the text back: BOS prints nothing and the
         * dummy prefix's space after it is dropped */
        char out[1024];
        long m = kvlm_detokenize(tok, k->ids, k->n, out, sizeof out);
        CHECK_MSG(m == (long)len && memcmp(out, k->text, len) == 0, "case %zu decodes to \"%s\"", c, out);
        /* without BOS the dummy prefix stays */
        if (len > 0) {
            m = kvlm_detokenize(tok, k->ids + 1, k->n - 1, out, sizeof out);
            CHECK(m == (long)len + 1 && out[0] == ' ' && memcmp(out + 1, k->text, len) == 0);
        }
    }
}

static void test_invalid_utf8(void) {
    /* an invalid byte is encoded as U+FFFD */
    int32_t a[32], b[32];
    int na = kvlm_tokenize(tok, "a\xff" "b", 3, KVLM_TOKENIZE_ADD_BOS, a, 32);
    int nb = kvlm_tokenize(tok, "a\xEF\xBF\xBD" "b", 5, KVLM_TOKENIZE_ADD_BOS, b, 32);
    CHECK(na > 0 && na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    /* a truncated sequence at the end, and a lone continuation byte */
    na = kvlm_tokenize(tok, "x\xE4\xB8", 3, 0, a, 32);
    nb = kvlm_tokenize(tok, "x\xEF\xBF\xBD", 4, 0, b, 32);
    CHECK(na > 0 && na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    na = kvlm_tokenize(tok, "\x80\x80", 2, 0, a, 32);
    nb = kvlm_tokenize(tok, "\xEF\xBF\xBD\xEF\xBF\xBD", 6, 0, b, 32);
    CHECK(na > 0 && na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static void test_stream(void) {
    /* "中" is three byte tokens <0xE4><0xB8><0xAD> (ids 231 187 176) */
    kvlm_detok_stream *s = kvlm_detok_stream_new(tok);
    CHECK(s != NULL);
    size_t len;
    const char *p = kvlm_detok_stream_push(s, 1, &len); /* BOS */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 403, &len); /* " Once" after BOS: "Once" */
    CHECK(p && len == 4 && memcmp(p, "Once", 4) == 0);
    p = kvlm_detok_stream_push(s, 410, &len); /* " " */
    CHECK(p && len == 1 && p[0] == ' ');
    p = kvlm_detok_stream_push(s, 231, &len);
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 187, &len);
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 176, &len);
    CHECK(p && len == 3 && memcmp(p, "\xE4\xB8\xAD", 3) == 0);
    /* an incomplete character followed by ASCII: U+FFFD, then the ASCII */
    p = kvlm_detok_stream_push(s, 243, &len); /* 0xF0 */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 261, &len); /* " a" */
    CHECK(p && len == 5 && memcmp(p, "\xEF\xBF\xBD a", 5) == 0);
    /* held bytes at the end come out as U+FFFD on flush */
    p = kvlm_detok_stream_push(s, 233, &len); /* 0xE6 */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_flush(s, &len);
    CHECK(p && len == 3 && memcmp(p, "\xEF\xBF\xBD", 3) == 0);
    p = kvlm_detok_stream_flush(s, &len);
    CHECK(p && len == 0);
    CHECK(kvlm_detok_stream_push(s, 512, &len) == NULL && strlen(kvlm_last_error()) > 0);
    CHECK(kvlm_detok_stream_push(s, -3, &len) == NULL);
    kvlm_detok_stream_free(s);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
}

static void expect_load_error(const char *path, int vocab_size, const char *needle) {
    kvlm_tokenizer *t = (kvlm_tokenizer *)1;
    kvlm_status st = tokenizer_load_llama2c(path, vocab_size, &t);
    CHECK_MSG(st == KVLM_ERR_FORMAT && t == NULL, "%s: status %d", path, st);
    CHECK_MSG(strstr(kvlm_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", kvlm_last_error(), needle);
}

static void test_bad_files(const char *good) {
    size_t n;
    char *data = test_read_file(good, &n);
    CHECK(data != NULL && n > 100);
    if (!data) return;
    char *p1 = test_work_path("tok-truncated-header.bin"), *p2 = test_work_path("tok-truncated-string.bin"),
         *p3 = test_work_path("tok-bad-length.bin"), *p4 = test_work_path("tok-bad-max.bin");
    write_file(p1, data, 2);
    expect_load_error(p1, 0, "truncated");
    write_file(p2, data, n - 3); /* the last piece's bytes are cut */
    expect_load_error(p2, 0, "runs past the end");
    expect_load_error(good, 600, "512 tokens of the 600");
    char *bad = malloc(n);
    memcpy(bad, data, n);
    memcpy(bad + 4 + 4, "\xff\xff\xff\xff", 4); /* token 0's length: -1 */
    write_file(p3, bad, n);
    expect_load_error(p3, 0, "token 0");
    memcpy(bad, data, n);
    memset(bad, 0, 4); /* max_token_length 0 */
    write_file(p4, bad, n);
    expect_load_error(p4, 0, "max_token_length");
    CHECK(kvlm_tokenizer_load(p2) == NULL);
    /* a vocabulary size smaller than the file: the first tokens only */
    kvlm_tokenizer *t = NULL;
    CHECK(tokenizer_load_llama2c(good, 300, &t) == KVLM_OK && kvlm_tokenizer_vocab_size(t) == 300);
    kvlm_tokenizer_free(t);
    CHECK(kvlm_tokenizer_load("/nonexistent/tok.bin") == NULL && strstr(kvlm_last_error(), "/nonexistent/tok.bin"));
    free(bad);
    free(data);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
}

int main(void) {
    char *path = test_shared_path("models/stories260K/tok512.bin");
    tok = kvlm_tokenizer_load(path);
    CHECK_MSG(tok != NULL, "load: %s", kvlm_last_error());
    if (!tok) return test_finish();
    CHECK(kvlm_tokenizer_vocab_size(tok) == 512);
    CHECK(kvlm_tokenizer_bos(tok) == 1);
    CHECK(kvlm_token_id(tok, "<s>") == 1 && kvlm_token_id(tok, "</s>") == 2);
    CHECK(kvlm_token_id(tok, " the") == 265);
    CHECK(kvlm_token_is_special(tok, 1) == 1 && kvlm_token_is_special(tok, 265) == 0);
    test_encode();
    test_invalid_utf8();
    test_stream();
    test_bad_files(path);
    kvlm_tokenizer_free(tok);
    free(path);
    return test_finish();
}
