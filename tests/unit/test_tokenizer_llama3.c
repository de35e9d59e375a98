/* The Llama 3 tokenizer (tokenizer.json) against the reference vectors in
 * ../shared/tokenizer-tests: llama.cpp's 44 strings, the Hugging Face cases
 * (special tokens as text and as ids) and the rendered chat prompts. Every
 * case also decodes back to exactly its text. */
#include <jansson.h>
#include <string.h>

#include "test_util.h"

static kvlm_tokenizer *tok;

static void show_ids(const char *what, const int32_t *ids, int n) {
    fprintf(stderr, "  %s (%d):", what, n);
    for (int i = 0; i < n && i < 64; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Encodes text and compares with want; decodes want and compares with text. */
static void check_case(const char *label, const char *text, size_t len, int flags, const int32_t *want, int n_want) {
    int32_t ids[4096];
    int n = kvlm_tokenize(tok, text, len, flags, ids, 4096);
    int same = n == n_want && n <= 4096 && memcmp(ids, want, (size_t)n * sizeof *ids) == 0;
    CHECK_MSG(same, "%s: encoding of \"%.60s\" differs", label, text);
    if (!same) {
        show_ids("want", want, n_want);
        show_ids("got ", ids, n);
    }
    char *out = malloc(len + 64);
    long m = kvlm_detokenize(tok, want, n_want, out, len + 64);
    CHECK_MSG(m == (long)len && memcmp(out, text, len) == 0, "%s: decoding gives \"%.60s\" (%ld bytes), want %zu", label,
              m >= 0 ? out : "", m, len);
    free(out);
}

static void test_llama_cpp_vectors(void) {
    char *inp_path = test_shared_path("tokenizer-tests/ggml-vocab-llama-bpe.gguf.inp");
    char *out_path = test_shared_path("tokenizer-tests/ggml-vocab-llama-bpe.gguf.out");
    size_t inp_len, out_len;
    char *inp = test_read_file(inp_path, &inp_len), *outs = test_read_file(out_path, &out_len);
    CHECK(inp && outs);
    if (!inp || !outs) return;
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = outs;
    int n_cases = 0;
    for (;;) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        int32_t want[4096];
        int n_want = 0;
        for (char *q = line; *q;) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q) break;
            want[n_want++] = (int32_t)v;
            q = end;
        }
        char label[64];
        snprintf(label, sizeof label, "llama.cpp vector %d", n_cases);
        check_case(label, p, (size_t)(e - p), 0, want, n_want);
        n_cases++;
        p = e + strlen(sep);
        line = nl + 1;
    }
    CHECK_MSG(n_cases == 44, "%d llama.cpp vectors read", n_cases);
    free(inp);
    free(outs);
    free(inp_path);
    free(out_path);
}

static int json_ids(json_t *arr, int32_t *ids, int cap) {
    int n = 0;
    for (size_t i = 0; i < json_array_size(arr) && n < cap; i++) ids[n++] = (int32_t)json_integer_value(json_array_get(arr, i));
    return n;
}

static void test_hf_cases(void) {
    char *path = test_shared_path("tokenizer-tests/llama3-cases.jsonl");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int n_cases = 0, n_special = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK_MSG(o != NULL, "llama3-cases.jsonl line %d: %s", n_cases + 1, err.text);
        if (!o) continue;
        json_t *text = json_object_get(o, "text");
        int special = json_is_true(json_object_get(o, "special"));
        int32_t want[4096];
        int n_want = json_ids(json_object_get(o, "ids"), want, 4096);
        char label[64];
        snprintf(label, sizeof label, "llama3-cases line %d%s", n_cases + 1, special ? " (special)" : "");
        check_case(label, json_string_value(text), json_string_length(text), special ? KVLM_TOKENIZE_SPECIAL : 0, want,
                   n_want);
        n_special += special;
        n_cases++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    free(path);
    CHECK_MSG(n_cases >= 500 && n_special > 0, "%d cases read", n_cases);
}

static void test_chat_cases(void) {
    char *path = test_shared_path("tokenizer-tests/llama3.2-chat-cases.jsonl");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int n_cases = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK(o != NULL);
        if (!o) continue;
        json_t *prompt = json_object_get(o, "prompt");
        int32_t want[4096];
        int n_want = json_ids(json_object_get(o, "ids"), want, 4096);
        char label[64];
        snprintf(label, sizeof label, "chat case %d", n_cases + 1);
        check_case(label, json_string_value(prompt), json_string_length(prompt), KVLM_TOKENIZE_SPECIAL, want, n_want);
        n_cases++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    free(path);
    CHECK(n_cases == 6);
}

static void test_api(void) {
    CHECK(kvlm_tokenizer_vocab_size(tok) == 128256);
    CHECK(kvlm_tokenizer_bos(tok) == 128000);
    CHECK(kvlm_token_id(tok, "<|eot_id|>") == 128009);
    CHECK(kvlm_token_id(tok, "<|begin_of_text|>") == 128000);
    CHECK(kvlm_token_id(tok, " world") == 1917);
    CHECK(kvlm_token_id(tok, "no such token, surely") == -1);
    CHECK(kvlm_token_is_special(tok, 128009) == 1);
    CHECK(kvlm_token_is_special(tok, 1917) == 0);
    CHECK(kvlm_token_is_special(tok, 128256) == -1);
    CHECK(kvlm_token_is_special(tok, -1) == -1);

    /* BOS from the post-processor; the count is returned even when the buffer is short */
    int32_t ids[8];
    int n = kvlm_tokenize(tok, "Hello world", 11, KVLM_TOKENIZE_ADD_BOS, ids, 8);
    CHECK(n == 3 && ids[0] == 128000 && ids[1] == 9906 && ids[2] == 1917);
    int32_t one[1] = {-7};
    CHECK(kvlm_tokenize(tok, "Hello world", 11, KVLM_TOKENIZE_ADD_BOS, one, 1) == 3 && one[0] == 128000);
    CHECK(kvlm_tokenize(tok, "Hello world", 11, 0, NULL, 0) == 2);
    /* empty text: nothing, or only BOS */
    CHECK(kvlm_tokenize(tok, "", 0, 0, ids, 8) == 0);
    CHECK(kvlm_tokenize(tok, NULL, 0, KVLM_TOKENIZE_ADD_BOS, ids, 8) == 1 && ids[0] == 128000);
    /* special tokens are text unless asked for */
    n = kvlm_tokenize(tok, "<|eot_id|>", 10, 0, ids, 8);
    CHECK(n > 1);
    n = kvlm_tokenize(tok, "<|eot_id|>", 10, KVLM_TOKENIZE_SPECIAL, ids, 8);
    CHECK(n == 1 && ids[0] == 128009);
    /* bad arguments */
    CHECK(kvlm_tokenize(tok, "x", 1, 0x100, ids, 8) == -1 && strlen(kvlm_last_error()) > 0);
    CHECK(kvlm_tokenize(tok, NULL, 3, 0, ids, 8) == -1);
    CHECK(kvlm_tokenize(tok, "x", 1, 0, NULL, 8) == -1);
    CHECK(kvlm_tokenize(NULL, "x", 1, 0, ids, 8) == -1);
    CHECK(kvlm_detokenize(tok, (int32_t[]){128256}, 1, NULL, 0) == -1);
    CHECK(kvlm_detokenize(tok, (int32_t[]){-1}, 1, NULL, 0) == -1);
    /* decoding into a short buffer: the full length, a truncated copy */
    char small[4];
    CHECK(kvlm_detokenize(tok, (int32_t[]){9906, 1917}, 2, small, sizeof small) == 11 && memcmp(small, "Hell", 4) == 0);
}

int main(void) {
    char *path = test_shared_path("llama-3.2-1b-instruct/tokenizer.json");
    tok = kvlm_tokenizer_load(path);
    CHECK_MSG(tok != NULL, "load: %s", kvlm_last_error());
    if (!tok) return test_finish();
    test_api();
    test_llama_cpp_vectors();
    test_hf_cases();
    test_chat_cases();
    /* the folder form loads the same file */
    char *dir = test_shared_path("llama-3.2-1b-instruct");
    kvlm_tokenizer *t2 = kvlm_tokenizer_load(dir);
    CHECK(t2 && kvlm_tokenizer_vocab_size(t2) == 128256);
    kvlm_tokenizer_free(t2);
    free(dir);
    kvlm_tokenizer_free(tok);
    free(path);
    return test_finish();
}
