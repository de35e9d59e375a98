/* SentencePiece-style BPE in tokenizer.json (Llama 2 / Mistral / TinyLlama
 * layout: byte fallback, "▁" for spaces), on a vocabulary the test builds
 * from llama2.c's tok512.bin, in two spellings: the legacy one (normalizer
 * Prepend + Replace, merges as "a b") and the Metaspace one (pre-tokenizer and
 * decoder Metaspace, merges as pairs). With merges ordered as Hugging Face's
 * converter orders them (the merged piece's score), both encode as llama2.c
 * does; the expected ids were also checked with Hugging Face tokenizers
 * (tests/reference/hf_encode.mjs). Also: a tokenizer.json that is malformed
 * in many ways, each with a message naming the field. */
#include <jansson.h>
#include <string.h>

#include "format/gguf_write.h"
#include "model/convert.h"
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

#define SP "\xE2\x96\x81" /* ▁ */

typedef struct {
    char piece[64];
    int len;
    float score;
} piece;

static piece pieces[512];
static int n_pieces;

static int read_tok512(const char *path) {
    size_t n;
    unsigned char *d = (unsigned char *)test_read_file(path, &n);
    if (!d) return 0;
    size_t off = 4;
    while (off + 8 <= n && n_pieces < 512) {
        float score;
        int32_t len;
        memcpy(&score, d + off, 4);
        memcpy(&len, d + off + 4, 4);
        off += 8;
        piece *p = &pieces[n_pieces++];
        /* ' ' back to '▁' */
        p->len = 0;
        for (int i = 0; i < len; i++) {
            if (d[off + i] == ' ') {
                memcpy(p->piece + p->len, SP, 3);
                p->len += 3;
            } else {
                p->piece[p->len++] = (char)d[off + i];
            }
        }
        p->score = score;
        off += (size_t)len;
    }
    free(d);
    strcpy(pieces[1].piece, "<s>");
    pieces[1].len = 3;
    strcpy(pieces[2].piece, "</s>");
    pieces[2].len = 4;
    return n_pieces == 512;
}

static int find_piece(const char *s, int len) {
    for (int i = 0; i < n_pieces; i++)
        if (pieces[i].len == len && memcmp(pieces[i].piece, s, (size_t)len) == 0) return i;
    return -1;
}

static json_t *jstrn(const char *s, int n) { return json_stringn(s, (size_t)n); }

static json_t *added(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content, "single_word", 0, "lstrip", 0,
                     "rstrip", 0, "normalized", 0, "special", 1);
}

/* metaspace: the Mistral-style spelling; else the legacy Llama 2 one */
static void write_json(const char *path, int metaspace) {
    json_t *vocab = json_object(), *merges = json_array();
    for (int i = 0; i < n_pieces; i++) {
        char key[80];
        memcpy(key, pieces[i].piece, (size_t)pieces[i].len);
        key[pieces[i].len] = 0;
        json_object_set_new(vocab, key, json_integer(i));
    }
    /* Hugging Face's SentencePiece converter: for every piece (best score
     * first), its splits into two pieces at character boundaries */
    for (int t = 259; t < n_pieces; t++) {
        const piece *p = &pieces[t];
        for (int k = 1; k < p->len; k++) {
            if (((unsigned char)p->piece[k] & 0xC0) == 0x80) continue;
            int a = find_piece(p->piece, k), b = find_piece(p->piece + k, p->len - k);
            if (a < 3 || b < 3) continue;
            if (metaspace) {
                json_array_append_new(merges, json_pack("[o, o]", jstrn(p->piece, k), jstrn(p->piece + k, p->len - k)));
            } else {
                char m[140];
                memcpy(m, p->piece, (size_t)k);
                m[k] = ' ';
                memcpy(m + k + 1, p->piece + k, (size_t)(p->len - k));
                json_array_append_new(merges, jstrn(m, p->len + 1));
            }
        }
    }
    json_t *model = json_pack("{s:s, s:n, s:s, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout", "unk_token",
                              "<unk>", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1,
                              "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_t *post = json_pack("{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, "
                             "{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:{s:{s:s, s:[i], s:[s]}}}",
                             "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence",
                             "id", "A", "type_id", 0, "pair", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence", "id",
                             "A", "type_id", 0, "SpecialToken", "id", "<s>", "type_id", 1, "Sequence", "id", "B", "type_id",
                             1, "special_tokens", "<s>", "id", "<s>", "ids", 1, "tokens", "<s>");
    json_t *normalizer, *pre, *decoder;
    if (metaspace) {
        normalizer = json_null();
        pre = json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", SP, "prepend_scheme", "first", "split",
                        0);
        decoder = json_pack("{s:s, s:[{s:s, s:s, s:s, s:b}, {s:s}, {s:s}]}", "type", "Sequence", "decoders", "type",
                            "Metaspace", "replacement", SP, "prepend_scheme", "first", "split", 0, "type", "ByteFallback",
                            "type", "Fuse");
    } else {
        normalizer = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:s}, s:s}]}", "type", "Sequence", "normalizers", "type",
                               "Prepend", "prepend", SP, "type", "Replace", "pattern", "String", " ", "content", SP);
        pre = json_null();
        decoder = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}", "type", "Sequence",
                            "decoders", "type", "Replace", "pattern", "String", SP, "content", " ", "type", "ByteFallback",
                            "type", "Fuse", "type", "Strip", "content", " ", "start", 1, "stop", 0);
    }
    json_t *root = json_pack("{s:s, s:n, s:n, s:[o, o, o], s:o, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation",
                             "padding", "added_tokens", added(0, "<unk>"), added(1, "<s>"), added(2, "</s>"), "normalizer",
                             normalizer, "pre_tokenizer", pre, "post_processor", post, "decoder", decoder, "model", model);
    CHECK(root != NULL);
    CHECK(json_dump_file(root, path, JSON_INDENT(1)) == 0);
    json_decref(root);
}

static void check_ids(const char *label, kvlm_tokenizer *t, const char *text, int flags, const int32_t *want, int n_want) {
    int32_t ids[512];
    int n = kvlm_tokenize(t, text, strlen(text), flags, ids, 512);
    int same = n == n_want && memcmp(ids, want, (size_t)n * sizeof *ids) == 0;
    CHECK_MSG(same, "%s: \"%.40s\": %d ids, want %d", label, text, n, n_want);
    if (!same) {
        for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
}

static void check_decode(const char *label, kvlm_tokenizer *t, const int32_t *ids, int n, const char *want) {
    char out[1024];
    long m = kvlm_detokenize(t, ids, n, out, sizeof out);
    CHECK_MSG(m == (long)strlen(want) && strcmp(out, want) == 0, "%s: decoded \"%s\", want \"%s\"", label, m >= 0 ? out : "",
              want);
}

static void test_spm(const char *label, kvlm_tokenizer *t, int metaspace) {
    CHECK(kvlm_tokenizer_vocab_size(t) == 512);
    CHECK(kvlm_tokenizer_bos(t) == 1);
    CHECK(kvlm_token_id(t, "</s>") == 2 && kvlm_token_id(t, SP "the") == 265);
    CHECK(kvlm_token_is_special(t, 2) == 1 && kvlm_token_is_special(t, 265) == 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const l2c_case *k = &cases[c];
        if (metaspace && k->text[0] == ' ') continue; /* below */
        check_ids(label, t, k->text, KVLM_TOKENIZE_ADD_BOS, k->ids, k->n);
        check_ids(label, t, k->text, 0, k->ids + 1, k->n - 1);
        /* no BOS: the leading space of the prefix is stripped, the text comes back */
        check_decode(label, t, k->ids + 1, k->n - 1, k->text);
    }
    /* with BOS, Hugging Face decodes "<s>" and keeps the space after it */
    check_decode(label, t, cases[0].ids, cases[0].n, "<s> Once upon a time");
    if (metaspace) {
        /* Metaspace "first" adds no "▁" to a text that starts with a space, and
         * its decoder drops every "▁" of the first token (Hugging Face's results) */
        static const int32_t want[] = {1, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419};
        check_ids(label, t, "  two  spaces", KVLM_TOKENIZE_ADD_BOS, want, 11);
        check_decode(label, t, want + 1, 10, " two  spaces");
        check_decode(label, t, want, 11, "<s>  two  spaces");
    } else {
        check_decode(label, t, cases[5].ids, cases[5].n, "<s>   two  spaces");
    }
    /* a streamed character made of byte tokens */
    kvlm_detok_stream *s = kvlm_detok_stream_new(t);
    size_t len;
    const char *p = kvlm_detok_stream_push(s, 403, &len); /* ▁Once, first: "Once" */
    CHECK(p && len == 4 && memcmp(p, "Once", 4) == 0);
    p = kvlm_detok_stream_push(s, 243, &len); /* <0xF0> */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 162, &len); /* <0x9F> */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 155, &len); /* <0x98> */
    CHECK(p && len == 0);
    p = kvlm_detok_stream_push(s, 131, &len); /* <0x80> */
    CHECK(p && len == 4 && memcmp(p, "\xF0\x9F\x98\x80", 4) == 0);
    kvlm_detok_stream_free(s);
}

static void test_special_segments(kvlm_tokenizer *legacy, kvlm_tokenizer *meta) {
    /* Hugging Face: the legacy normalizer prefixes every piece between added
     * tokens with "▁"; Metaspace "first" only the start of the text */
    const char *text = "Hi<s> there</s>";
    static const int32_t want_legacy[] = {320, 417, 1, 410, 383, 2};
    static const int32_t want_meta[] = {320, 417, 1, 383, 2};
    check_ids("legacy special", legacy, text, KVLM_TOKENIZE_SPECIAL, want_legacy, 6);
    check_ids("metaspace special", meta, text, KVLM_TOKENIZE_SPECIAL, want_meta, 5);
    check_decode("legacy special", legacy, want_legacy, 6, "Hi<s>  there</s>");
    check_decode("metaspace special", meta, want_meta, 5, "Hi<s> there</s>");
    /* without KVLM_TOKENIZE_SPECIAL the markers are text */
    int32_t ids[64];
    int n = kvlm_tokenize(legacy, text, strlen(text), 0, ids, 64);
    CHECK(n > 6);
    for (int i = 0; i < n; i++) CHECK(ids[i] > 2);
}

/* Written as GGUF (model "llama", scores from the merge ranks) and read
 * back, the tokenizer encodes the same. */
static void test_export(kvlm_tokenizer *t, const char *name) {
    char *path = test_work_path(name);
    gguf_writer *w = gguf_writer_new();
    kvlm_status st = tokenizer_export_gguf(t, w);
    CHECK_MSG(st == KVLM_OK, "export: %s", kvlm_last_error());
    if (!st) st = gguf_writer_write(w, path, NULL, NULL, NULL);
    gguf_writer_free(w);
    kvlm_tokenizer *r = st ? NULL : kvlm_tokenizer_load(path);
    CHECK_MSG(r != NULL, "reload: %s", kvlm_last_error());
    for (size_t c = 0; r && c < sizeof cases / sizeof cases[0]; c++) {
        if (cases[c].text[0] == ' ') continue; /* Metaspace "first" adds no prefix there; GGUF always does */
        check_ids(name, r, cases[c].text, KVLM_TOKENIZE_ADD_BOS, cases[c].ids, cases[c].n);
        check_decode(name, r, cases[c].ids + 1, cases[c].n - 1, cases[c].text);
    }
    kvlm_tokenizer_free(r);
    free(path);
}

typedef struct {
    const char *json, *needle;
    kvlm_status code;
} bad_case;

static const bad_case bad[] = {
    {"", "tokenizer-bad-0.json", KVLM_ERR_FORMAT},
    {"{ \"model\": ", "line 1", KVLM_ERR_FORMAT},
    {"[]", "expected a JSON object", KVLM_ERR_FORMAT},
    {"{}", "model: missing", KVLM_ERR_FORMAT},
    {"{\"model\": 3}", "model: expected an object, not an integer", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "model.vocab: missing", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": []}}", "model.vocab: expected an object, not an array",
     KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}",
     "model.vocab: \"a\": expected a token id, not a string", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "model.merges: missing", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}}",
     "model.merges: expected an array, not an object", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", 12]}}",
     "model.merges[1]: expected a string or a pair of strings, not an integer", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"ab\"]}}",
     "model.merges[0]: expected two tokens separated by one space", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a zz\"]}}",
     "model.merges[0]: \"zz\" is not in the vocabulary", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\", \"b\"]]}}",
     "model.merges[0]: the merge of \"a\" and \"b\" is not in the vocabulary", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"Unigram\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "model.type: \"Unigram\"",
     KVLM_ERR_UNSUPPORTED},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}}",
     "model.unk_token: \"<unk>\" is not in the vocabulary", KVLM_ERR_FORMAT},
    {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"byte_fallback\": \"yes\"}}",
     "model: \"byte_fallback\" should be a boolean, not a string", KVLM_ERR_FORMAT},
    {"{\"added_tokens\": [{\"id\": 1}], \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "added_tokens[0]: missing \"content\"", KVLM_ERR_FORMAT},
    {"{\"added_tokens\": [{\"id\": \"1\", \"content\": \"<s>\"}], \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
     "\"merges\": []}}",
     "added_tokens[0]: \"id\" should be an integer, not a string", KVLM_ERR_FORMAT},
    {"{\"added_tokens\": {}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "added_tokens: expected an array, not an object", KVLM_ERR_FORMAT},
    {"{\"normalizer\": {\"type\": 5}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "normalizer: \"type\" should be a string, not an integer", KVLM_ERR_FORMAT},
    {"{\"normalizer\": {\"type\": \"Lowercase\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "normalizer type \"Lowercase\" is not supported", KVLM_ERR_UNSUPPORTED},
    {"{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
     "\"(\"}}]}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "pre_tokenizer.pretokenizers[0].pattern: the pattern does not compile", KVLM_ERR_UNSUPPORTED},
    {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Other\": \"x\"}}, \"model\": {\"type\": \"BPE\", \"vocab\": "
     "{\"a\": 0}, \"merges\": []}}",
     "pre_tokenizer.pattern: expected \"String\" or \"Regex\"", KVLM_ERR_FORMAT},
    {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"x\"}, \"behavior\": \"Sideways\"}, \"model\": "
     "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "pre_tokenizer: unknown behavior \"Sideways\"", KVLM_ERR_FORMAT},
    {"{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "decoder type \"WordPiece\" is not supported", KVLM_ERR_UNSUPPORTED},
    {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], "
     "\"special_tokens\": {}}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
     "post_processor.single[0]: special token \"<s>\" has no \"ids\"", KVLM_ERR_FORMAT},
};

static void test_bad_json(void) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "tokenizer-bad-%zu.json", i);
        char *path = test_work_path(name);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (!f) continue;
        fputs(bad[i].json, f);
        fclose(f);
        kvlm_tokenizer *t = (kvlm_tokenizer *)1;
        kvlm_status st = tokenizer_load_hf_json(path, &t);
        CHECK_MSG(st == bad[i].code && t == NULL, "bad json %zu: status %d", i, st);
        CHECK_MSG(strstr(kvlm_last_error(), bad[i].needle) && strstr(kvlm_last_error(), name),
                  "bad json %zu: message \"%s\" lacks \"%s\"", i, kvlm_last_error(), bad[i].needle);
        /* also through the public loader (the empty file goes to llama2.c's reader) */
        if (i > 0) CHECK(kvlm_tokenizer_load(path) == NULL);
        free(path);
    }
    kvlm_tokenizer *t = (kvlm_tokenizer *)1;
    CHECK(tokenizer_load_hf_json("/nonexistent/tokenizer.json", &t) == KVLM_ERR_IO && t == NULL);
}

int main(void) {
    char *tokbin = test_shared_path("models/stories260K/tok512.bin");
    CHECK(read_tok512(tokbin));
    char *p_legacy = test_work_path("spm-legacy-tokenizer.json"), *p_meta = test_work_path("spm-metaspace-tokenizer.json");
    write_json(p_legacy, 0);
    write_json(p_meta, 1);
    kvlm_tokenizer *legacy = kvlm_tokenizer_load(p_legacy), *meta = kvlm_tokenizer_load(p_meta);
    CHECK_MSG(legacy && meta, "load: %s", kvlm_last_error());
    if (legacy && meta) {
        test_spm("legacy", legacy, 0);
        test_spm("metaspace", meta, 1);
        test_special_segments(legacy, meta);
        test_export(legacy, "spm-legacy-export.gguf");
        test_export(meta, "spm-metaspace-export.gguf");
    }
    kvlm_tokenizer_free(legacy);
    kvlm_tokenizer_free(meta);
    test_bad_json();
    free(p_legacy);
    free(p_meta);
    free(tokbin);
    return test_finish();
}
