/* NFC (the normalizer of Qwen-style tokenizer.json files): the Unicode
 * algorithm against Python's unicodedata.normalize("NFC", ...) on composed,
 * decomposed, reordered, Hangul and singleton cases, and wired into a
 * byte-level tokenizer.json that the test writes. (The whole tokenizer was
 * also checked against Hugging Face tokenizers on Qwen3's tokenizer.json.) */
#include <string.h>

#include "test_util.h"
#include "text/unicode_nfc.h"

static const struct {
    const char *in, *nfc;
} cases[] = {
    {"e\xcc""\x81""", "\xc3""\xa9"""},
    {"\xe2""\x84""\xab""", "\xc3""\x85"""},
    {"\xe2""\x84""\xa6""", "\xce""\xa9"""},
    {"A\xcc""\x8a""", "\xc3""\x85"""},
    {"\xe1""\x84""\x80""\xe1""\x85""\xa1""\xe1""\x86""\xa8""", "\xea""\xb0""\x81"""},
    {"\xe1""\x84""\x80""\xe1""\x85""\xa1""", "\xea""\xb0""\x80"""},
    {"\xea""\xb0""\x80""\xe1""\x86""\xa8""", "\xea""\xb0""\x81"""},
    {"a\xcc""\x81""\xcc""\x96""", "\xc3""\xa1""\xcc""\x96"""},
    {"a\xcc""\x96""\xcc""\x81""", "\xc3""\xa1""\xcc""\x96"""},
    {"\xcd""\x84""", "\xcc""\x88""\xcc""\x81"""},
    {"\xe1""\xba""\x9b""\xcc""\xa3""", "\xe1""\xba""\x9b""\xcc""\xa3"""},
    {"\xe0""\xbd""\xb3""", "\xe0""\xbd""\xb1""\xe0""\xbd""\xb2"""},
    {"\xe0""\xa5""\x98""", "\xe0""\xa4""\x95""\xe0""\xa4""\xbc"""},
    {"\xef""\xa4""\x80""", "\xe8""\xb1""\x88"""},
    {"\xf0""\x9d""\x85""\x9e""", "\xf0""\x9d""\x85""\x97""\xf0""\x9d""\x85""\xa5"""},
    {"o\xcc""\x88""\xcc""\x84""", "\xc8""\xab"""},
    {"\xc3""\x85""\xcc""\x81""", "\xc7""\xba"""},
    {"\xe0""\xad""\x87""\xe0""\xac""\xbe""", "\xe0""\xad""\x8b"""},
    {"\xe0""\xa7""\x87""\xe0""\xa6""\xbe""", "\xe0""\xa7""\x8b"""},
    {"\xe1""\x80""\xa5""\xe1""\x80""\xae""", "\xe1""\x80""\xa6"""},
    {"\xe3""\x81""\x8b""\xe3""\x82""\x99""", "\xe3""\x81""\x8c"""},
    {"e\xcc""\x81""\xcc""\x81""x", "\xc3""\xa9""\xcc""\x81""x"},
    {"\xcc""\x81""a", "\xcc""\x81""a"},
    {"cafe\xcc""\x81"" na\xc4""\xb1""\xcc""\x88""ve", "caf\xc3""\xa9"" na\xc4""\xb1""\xcc""\x88""ve"},
    {"A\xcc""\x80""\xcc""\x81""\xcc""\x82""", "\xc3""\x80""\xcc""\x81""\xcc""\x82"""},
    {"\xce""\xb1""\xcc""\x93""\xcc""\x80""\xcd""\x85""", "\xe1""\xbe""\x82"""},
    {"\xe1""\xbe""\xb3""\xcc""\x81""", "\xe1""\xbe""\xb4"""},
    {"\xe0""\xb3""\x86""\xe0""\xb3""\x82""\xe0""\xb3""\x95""", "\xe0""\xb3""\x8b"""},
    {"\xe0""\xb7""\x99""\xe0""\xb7""\x8f""\xe0""\xb7""\x8a""", "\xe0""\xb7""\x9d"""},
    {"\xcc""\x94""\xcc""\x93""\xe1""\x86""\xb8""\xcc""\x94""\xe1""\x84""\x85""", "\xcc""\x94""\xcc""\x93""\xe1""\x86""\xb8""\xcc""\x94""\xe1""\x84""\x85"""},
    {"c\xe1""\xbc""\x8b""\xcc""\xb9""\xe1""\x85""\xa5""\xcd""\x84""\xcc""\x94""\xe1""\xbc""\x82""n", "c\xe1""\xbc""\x8b""\xcc""\xb9""\xe1""\x85""\xa5""\xcc""\x88""\xcc""\x81""\xcc""\x94""\xe1""\xbc""\x82""n"},
    {"\xe1""\xbc""\x8a""a\xcc""\x94""\xcc""\x87""\xcc""\x98""", "\xe1""\xbc""\x8a""a\xcc""\x98""\xcc""\x94""\xcc""\x87"""},
    {"a\xcc""\x93""\xe1""\x85""\xaf""", "a\xcc""\x93""\xe1""\x85""\xaf"""},
    {"\xcd""\x85""A\xe1""\xbc""\x92""\xe1""\x86""\xa8""\xe1""\xbc""\x85""\xe1""\x86""\xbc""", "\xcd""\x85""A\xe1""\xbc""\x92""\xe1""\x86""\xa8""\xe1""\xbc""\x85""\xe1""\x86""\xbc"""},
    {"\xe1""\x86""\xb9""\xcd""\x85""\xe1""\xbc""\x90""\xe1""\x85""\xa8""", "\xe1""\x86""\xb9""\xcd""\x85""\xe1""\xbc""\x90""\xe1""\x85""\xa8"""},
    {"\xe1""\x85""\xa1""\xcd""\x88""\xcd""\x85""\xe1""\x86""\xab""\xcc""\x93""\xe1""\x86""\xaa""", "\xe1""\x85""\xa1""\xcd""\x88""\xcd""\x85""\xe1""\x86""\xab""\xcc""\x93""\xe1""\x86""\xaa"""},
    {"\xcc""\x94""\xcc""\x9b""", "\xcc""\x9b""\xcc""\x94"""},
    {"\xcc""\xbc""\xe1""\x86""\xbe""\xe1""\x86""\xb5""", "\xcc""\xbc""\xe1""\x86""\xbe""\xe1""\x86""\xb5"""},
    {"A\xcc""\x94""", "A\xcc""\x94"""},
    {"\xe1""\x85""\xa3""\xe1""\x85""\xab""\xcc""\xb4""\xcd""\x85""", "\xe1""\x85""\xa3""\xe1""\x85""\xab""\xcc""\xb4""\xcd""\x85"""},
    {"\xe1""\x84""\x83""\xcc""\x87""\xe1""\x87""\x81""", "\xe1""\x84""\x83""\xcc""\x87""\xe1""\x87""\x81"""},
    {"\xe1""\x84""\x91""\xe1""\x84""\x8e""A\xe1""\xbc""\x88""\xe1""\x86""\xbc""", "\xe1""\x84""\x91""\xe1""\x84""\x8e""A\xe1""\xbc""\x88""\xe1""\x86""\xbc"""},
    {"\xcc""\xb2""\xe1""\x86""\xae""\xcc""\xa2""\xcc""\x94""\xe1""\x85""\xa1""", "\xcc""\xb2""\xe1""\x86""\xae""\xcc""\xa2""\xcc""\x94""\xe1""\x85""\xa1"""},
    {"\xe1""\x84""\x8c""\xcc""\x94""\xe1""\xbc""\x86""", "\xe1""\x84""\x8c""\xcc""\x94""\xe1""\xbc""\x86"""},
    {"\xe1""\x84""\x86""\xe1""\x86""\xb0""", "\xe1""\x84""\x86""\xe1""\x86""\xb0"""},
    {"\xcc""\x94""\xe1""\x85""\xaa""", "\xcc""\x94""\xe1""\x85""\xaa"""},
    {"\xcc""\x89""\xcc""\x9a""A\xcd""\x8c""\xe1""\x85""\xac""", "\xcc""\x89""\xcc""\x9a""A\xcd""\x8c""\xe1""\x85""\xac"""},
    {"\xe1""\x86""\xac""c\xcc""\x94""\xe1""\x84""\x8c""\xe1""\x84""\x84""\xe1""\x85""\xa8""", "\xe1""\x86""\xac""c\xcc""\x94""\xe1""\x84""\x8c""\xeb""\x97""\xb4"""},
    {"A\xe1""\xbc""\x8c""\xe1""\x84""\x91""\xe1""\x84""\x8c""\xe1""\x86""\xbb""\xcc""\xb5""\xcc""\x8d""\xcc""\x84""", "A\xe1""\xbc""\x8c""\xe1""\x84""\x91""\xe1""\x84""\x8c""\xe1""\x86""\xbb""\xcc""\xb5""\xcc""\x8d""\xcc""\x84"""},
};

static void test_cases(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i].in;
        size_t n = strlen(in);
        char out[256];
        size_t m = nfc_normalize(in, n, out);
        CHECK_MSG(m == strlen(cases[i].nfc) && memcmp(out, cases[i].nfc, m) == 0, "case %zu", i);
        /* the quick check may only say "already NFC" when that is true */
        if (nfc_quick_check(in, n)) CHECK_MSG(!strcmp(in, cases[i].nfc), "case %zu: quick check", i);
        /* NFC is idempotent */
        char again[256];
        size_t k = nfc_normalize(out, m, again);
        CHECK(k == m && memcmp(again, out, m) == 0);
    }
    CHECK(nfc_quick_check("plain ASCII, Latin-1 \xC3\xA9 and CJK \xE4\xB8\xAD", 35));
    CHECK(!nfc_quick_check("e\xCC\x81", 3));
}

/* A byte-level tokenizer.json with no merges: the ids are the bytes of the
 * normalized text. */
static void test_tokenizer(void) {
    char *path = test_work_path("nfc-tokenizer.json");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
          " \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"merges\": [], \"vocab\": {",
          f);
    /* GPT-2's byte alphabet: printable bytes stand for themselves, the others
     * are U+0100 + their rank */
    int shifted = 0;
    for (int b = 0; b < 256; b++) {
        int self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        unsigned cp = self ? (unsigned)b : 256u + (unsigned)shifted++;
        if (cp == '"' || cp == '\\')
            fprintf(f, "%s\"\\%c\": %d", b ? ", " : "", (char)cp, b);
        else
            fprintf(f, "%s\"\\u%04x\": %d", b ? ", " : "", cp, b);
    }
    fputs("}}}", f);
    fclose(f);
    kvlm_tokenizer *t = kvlm_tokenizer_load(path);
    CHECK_MSG(t != NULL, "load: %s", kvlm_last_error());
    if (t) {
        int32_t ids[16];
        int n = kvlm_tokenize(t, "e\xCC\x81", 3, 0, ids, 16); /* e + COMBINING ACUTE -> U+00E9 */
        CHECK(n == 2 && ids[0] == 0xC3 && ids[1] == 0xA9);
        n = kvlm_tokenize(t, "\xE2\x84\xAB", 3, 0, ids, 16); /* ANGSTROM SIGN -> U+00C5 */
        CHECK(n == 2 && ids[0] == 0xC3 && ids[1] == 0x85);
        n = kvlm_tokenize(t, "ab", 2, 0, ids, 16);
        CHECK(n == 2 && ids[0] == 'a' && ids[1] == 'b');
        char out[16];
        CHECK(kvlm_detokenize(t, (int32_t[]){0xC3, 0xA9}, 2, out, sizeof out) == 2 && !memcmp(out, "\xC3\xA9", 3));
    }
    kvlm_tokenizer_free(t);
    free(path);
}

int main(void) {
    test_cases();
    test_tokenizer();
    return test_finish();
}
