/* Llama 3 decoding as a stream (emoji and CJK characters split across
 * tokens come out whole, ill-formed bytes as U+FFFD), long inputs (the heap
 * path of BPE, long whitespace runs for the regex), and one tokenizer shared
 * by several threads. */
#include <pthread.h>
#include <string.h>

#include "test_util.h"
#include "text/utf8.h"

static kvlm_tokenizer *tok;

static const char *const texts[] = {
    "Emoji: \xF0\x9F\x98\x80\xF0\x9F\x98\x83 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 "
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 \xF0\x9F\xA6\x80\xF0\x9F\xA7\xAC",
    "\xE6\x95\x8F\xE6\x8D\xB7\xE7\x9A\x84\xE6\xA3\x95\xE8\x89\xB2\xE7\x8B\x90\xE7\x8B\xB8\xE8\xB7\xB3\xE8\xBF\x87"
    "\xE4\xBA\x86\xE6\x87\x92\xE7\x8B\x97\xE3\x80\x82\xE9\xBE\x98\xE9\xBD\x89\xE7\x88\xA8",
    "\xE3\x81\x99\xE3\x81\xB0\xE3\x82\x84\xE3\x81\x84\xE8\x8C\xB6\xE8\x89\xB2\xE3\x81\xAE\xE7\x8B\x90 "
    "\xEB\xB9\xA0\xEB\xA5\xB8 \xEA\xB0\x88\xEC\x83\x89 \xEC\x97\xAC\xEC\x9A\xB0",
    "\xF0\x90\x8D\x88 \xF0\x9D\x84\x9E \xE1\x9A\xA0\xE1\x9B\x87\xE1\x9A\xBB \xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8"
    "\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87",
};

static int is_valid(const char *s, size_t n) { return utf8_valid_prefix((const uint8_t *)s, n) == n; }

static void test_stream_texts(void) {
    int held = 0;
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const char *text = texts[t];
        size_t len = strlen(text);
        int32_t ids[256];
        int n = kvlm_tokenize(tok, text, len, 0, ids, 256);
        CHECK(n > 0 && n <= 256);
        kvlm_detok_stream *s = kvlm_detok_stream_new(tok);
        char out[1024];
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            size_t k;
            const char *p = kvlm_detok_stream_push(s, ids[i], &k);
            CHECK(p != NULL);
            if (!p) break;
            CHECK_MSG(is_valid(p, k), "text %zu token %d: a partial character came out", t, i);
            held += k == 0;
            memcpy(out + o, p, k);
            o += k;
        }
        size_t k;
        const char *p = kvlm_detok_stream_flush(s, &k);
        CHECK(p && k == 0);
        CHECK_MSG(o == len && memcmp(out, text, len) == 0, "text %zu: the stream gives \"%.*s\"", t, (int)o, out);
        kvlm_detok_stream_free(s);
    }
    CHECK_MSG(held > 0, "no token was held back: the texts do not split characters");
}

static void test_bad_bytes(void) {
    /* byte-level tokens for lone bytes: "\xFF" (U+00FF 'ÿ') and "\xE4" (U+00E4 'ä') */
    int32_t ff = kvlm_token_id(tok, "\xFF"), e4 = kvlm_token_id(tok, "\xE4"), a = kvlm_token_id(tok, "a");
    CHECK(ff >= 0 && e4 >= 0 && a >= 0);
    char out[64];
    CHECK(kvlm_detokenize(tok, (int32_t[]){ff}, 1, out, sizeof out) == 3 && !memcmp(out, "\xEF\xBF\xBD", 4));
    CHECK(kvlm_detokenize(tok, (int32_t[]){e4, a}, 2, out, sizeof out) == 4 && !memcmp(out, "\xEF\xBF\xBD" "a", 5));
    CHECK(kvlm_detokenize(tok, (int32_t[]){e4}, 1, out, sizeof out) == 3);
    CHECK(kvlm_detokenize(tok, (int32_t[]){e4, e4}, 2, out, sizeof out) == 6);
    /* invalid input text: each maximal ill-formed part is one U+FFFD */
    int32_t x[32], y[32];
    int nx = kvlm_tokenize(tok, "a\xC3(b\xF0\x9F\x98", 7, 0, x, 32);
    int ny = kvlm_tokenize(tok, "a\xEF\xBF\xBD(b\xEF\xBF\xBD", 9, 0, y, 32);
    CHECK(nx > 0 && nx == ny && memcmp(x, y, (size_t)nx * 4) == 0);
    long m = kvlm_detokenize(tok, x, nx, out, sizeof out);
    CHECK(m == 9 && memcmp(out, "a\xEF\xBF\xBD(b\xEF\xBF\xBD", 9) == 0);
    /* surrogates and overlong forms are ill-formed too */
    nx = kvlm_tokenize(tok, "\xED\xA0\x80\xC0\xAF", 5, 0, x, 32);
    m = kvlm_detokenize(tok, x, nx, out, sizeof out);
    CHECK(m == 15);
    /* a NUL byte is text like any other */
    nx = kvlm_tokenize(tok, "a\0b", 3, 0, x, 32);
    m = kvlm_detokenize(tok, x, nx, out, sizeof out);
    CHECK(m == 3 && memcmp(out, "a\0b", 3) == 0);
}

static void roundtrip(const char *label, const char *text, size_t len) {
    int n = kvlm_tokenize(tok, text, len, 0, NULL, 0);
    CHECK_MSG(n > 0, "%s: %s", label, kvlm_last_error());
    if (n <= 0) return;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    CHECK(kvlm_tokenize(tok, text, len, 0, ids, n) == n);
    char *out = malloc(len + 1);
    long m = kvlm_detokenize(tok, ids, n, out, len + 1);
    CHECK_MSG(m == (long)len && memcmp(out, text, len) == 0, "%s: no round trip", label);
    free(out);
    free(ids);
}

static void test_long_inputs(void) {
    size_t n = 200000;
    char *s = malloc(n * 3 + 16);
    /* a long run of spaces then a word, and one of newlines and spaces */
    memset(s, ' ', n);
    memcpy(s + n, "word", 4);
    roundtrip("spaces", s, n + 4);
    for (size_t i = 0; i < n; i++) s[i] = (i % 3) ? ' ' : '\n';
    roundtrip("newlines", s, n);
    /* one long pre-token of CJK letters (a single \p{L}+ match): the heap path */
    for (size_t i = 0; i < n; i++) memcpy(s + 3 * i, (i % 7) ? "\xE4\xB8\xAD" : "\xE6\x96\x87", 3);
    roundtrip("cjk", s, 3 * n);
    /* a long word of ASCII letters not in the vocabulary */
    for (size_t i = 0; i < n; i++) s[i] = (char)('a' + (i * 7 + i / 13) % 26);
    roundtrip("letters", s, n);
    /* long digit and punctuation runs */
    for (size_t i = 0; i < n; i++) s[i] = (char)('0' + i % 10);
    roundtrip("digits", s, n);
    for (size_t i = 0; i < n; i++) s[i] = "!?.,;:-"[i % 7];
    roundtrip("punctuation", s, n);
    free(s);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    return (uint32_t)(test_xorshift(&rng) >> 16);
}

/* Random bytes (biased to UTF-8 lead/continuation bytes, spaces and special
 * token spellings): decode(encode(x)) is x with its ill-formed parts replaced,
 * and any sequence of ids decodes to valid UTF-8. */
static void test_random(void) {
    static const char *const frags[] = {"<|eot_id|>", "<|begin_of_text|>", " ", "\n", "\r\n", "'s", "12345", "\xC2\x85"};
    char text[400];
    int32_t ids[800];
    char out[1600];
    for (int r = 0; r < 400; r++) {
        size_t len = rnd() % 300;
        for (size_t i = 0; i < len;) {
            uint32_t c = rnd() % 10;
            if (c < 2) {
                const char *f = frags[rnd() % (sizeof frags / sizeof frags[0])];
                size_t fl = strlen(f);
                if (i + fl > len) break;
                memcpy(text + i, f, fl);
                i += fl;
            } else if (c < 5) {
                text[i++] = (char)(0x20 + rnd() % 0x60);
            } else if (c < 7) {
                text[i++] = (char)(0xC0 + rnd() % 0x38);
            } else {
                text[i++] = (char)(0x80 + rnd() % 0x40);
            }
        }
        size_t clean_len;
        char *clean = utf8_sanitize(text, len, &clean_len);
        int flags = (r & 1) ? KVLM_TOKENIZE_SPECIAL : 0;
        int n = kvlm_tokenize(tok, text, len, flags, ids, 800);
        CHECK(n >= 0 && n <= 800);
        long m = n >= 0 ? kvlm_detokenize(tok, ids, n, out, sizeof out) : -1;
        CHECK_MSG(m == (long)clean_len && memcmp(out, clean, clean_len) == 0, "random text %d: no round trip", r);
        free(clean);
        /* random ids */
        int k = (int)(rnd() % 40);
        for (int i = 0; i < k; i++) ids[i] = (int32_t)(rnd() % 128256);
        m = kvlm_detokenize(tok, ids, k, out, sizeof out);
        CHECK(m >= 0 && (m >= (long)sizeof out || is_valid(out, (size_t)m)));
    }
}

/* Long texts go through a bounded cache of BPE'd words: many distinct long
 * words (overflowing the cache) and repeated ones must encode exactly as each
 * word does on its own. */
static void test_word_cache(void) {
    enum { N_WORDS = 9000 };
    char *text = malloc((size_t)N_WORDS * 210);
    size_t *start = malloc((N_WORDS + 1) * sizeof *start), len = 0;
    for (int w = 0; w < N_WORDS; w++) {
        start[w] = len;
        /* one word again and again, words seen a few times, and words seen once */
        uint32_t seed = w % 3 == 0 ? 7u : w % 3 == 1 ? (uint32_t)(w % 600) : (uint32_t)w;
        int wl = 40 + (int)(seed % 160);
        text[len++] = ' ';
        for (int i = 0; i < wl; i++) {
            seed = seed * 1103515245u + 12345u;
            text[len++] = (char)('a' + (seed >> 16) % 26);
        }
    }
    start[N_WORDS] = len;
    int n = kvlm_tokenize(tok, text, len, 0, NULL, 0);
    int32_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids), one[256];
    CHECK(n > N_WORDS && kvlm_tokenize(tok, text, len, 0, ids, n) == n);
    int pos = 0, bad = 0;
    for (int w = 0; w < N_WORDS && pos <= n; w++) {
        int k = kvlm_tokenize(tok, text + start[w], start[w + 1] - start[w], 0, one, 256);
        if (k <= 0 || pos + k > n || memcmp(ids + pos, one, (size_t)k * sizeof *one) != 0) bad++;
        pos += k;
    }
    CHECK_MSG(bad == 0 && pos == n, "%d of %d words encode differently inside a long text", bad, N_WORDS);
    free(ids);
    free(start);
    free(text);
}

typedef struct {
    const char *text;
    size_t len;
    int32_t *want;
    int n;
    int ok;
} job;

static void *worker(void *arg) {
    job *j = arg;
    int32_t *ids = malloc((size_t)j->n * sizeof *ids);
    j->ok = 1;
    for (int r = 0; r < 20 && j->ok; r++)
        j->ok = kvlm_tokenize(tok, j->text, j->len, KVLM_TOKENIZE_ADD_BOS, ids, j->n) == j->n &&
                memcmp(ids, j->want, (size_t)j->n * sizeof *ids) == 0;
    free(ids);
    return NULL;
}

static void test_threads(void) {
    const char *text = texts[0];
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].text = texts[i];
        jobs[i].len = strlen(texts[i]);
        jobs[i].n = kvlm_tokenize(tok, jobs[i].text, jobs[i].len, KVLM_TOKENIZE_ADD_BOS, NULL, 0);
        jobs[i].want = malloc((size_t)jobs[i].n * sizeof(int32_t));
        kvlm_tokenize(tok, jobs[i].text, jobs[i].len, KVLM_TOKENIZE_ADD_BOS, jobs[i].want, jobs[i].n);
    }
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, worker, &jobs[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
        free(jobs[i].want);
    }
    (void)text;
}

int main(void) {
    char *path = test_shared_path("llama-3.2-1b-instruct/tokenizer.json");
    tok = kvlm_tokenizer_load(path);
    CHECK_MSG(tok != NULL, "load: %s", kvlm_last_error());
    if (!tok) return test_finish();
    test_stream_texts();
    test_bad_bytes();
    test_long_inputs();
    test_random();
    test_word_cache();
    test_threads();
    CHECK(kvlm_detok_stream_new(NULL) == NULL);
    CHECK(kvlm_detok_stream_flush(NULL, NULL) == NULL);
    kvlm_detok_stream_free(NULL);
    kvlm_tokenizer_free(NULL);
    kvlm_tokenizer_free(tok);
    free(path);
    return test_finish();
}
