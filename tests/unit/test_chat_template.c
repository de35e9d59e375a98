/* Chat templates: kvlm_chat_render against prompts rendered by the real Jinja
 * templates (../shared's Llama 3.2 chat cases; the JSONL files in tests/data/chat,
 * made by tests/reference/), format detection and names, and bad input. */
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "test_util.h"

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* $KVLM_SHARED_DIR/rel when it exists, else NULL (the cases that need it are skipped, the rest run). */
static char *shared_path_or_null(const char *rel) {
    const char *base = getenv("KVLM_SHARED_DIR");
    if (!base) base = "../shared";
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    if (!file_exists(p)) {
        printf("note: %s is absent; the checks that need it are skipped\n", p);
        free(p);
        return NULL;
    }
    return p;
}

/* Prints where two strings first differ. */
static void show_diff(const char *what, const char *got, const char *want) {
    size_t i = 0;
    if (!got) {
        fprintf(stderr, "  %s: render failed: %s\n", what, kvlm_last_error());
        return;
    }
    while (got[i] && got[i] == want[i]) i++;
    fprintf(stderr, "  %s: first difference at byte %zu\n    got:  \"%.60s\"\n    want: \"%.60s\"\n", what, i, got + i,
            want + i);
}

/* Messages from a JSON array of {role, content}; pointers into the JSON. */
static kvlm_chat_message *messages_of(json_t *arr, int *n) {
    *n = (int)json_array_size(arr);
    kvlm_chat_message *m = calloc((size_t)*n + 1, sizeof *m);
    for (int i = 0; i < *n; i++) {
        json_t *o = json_array_get(arr, (size_t)i);
        m[i].role = json_string_value(json_object_get(o, "role"));
        m[i].content = json_string_value(json_object_get(o, "content"));
    }
    return m;
}

/* Each line {"name","format","date","add_generation_prompt","messages","prompt"}. Returns the case count. */
static int check_cases_file(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    int n_cases = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n') continue;
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        CHECK_MSG(c != NULL, "%s: bad JSON line %d: %s", path, n_cases + 1, jerr.text);
        if (!c) continue;
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *fmt_name = json_string_value(json_object_get(c, "format"));
        const char *date = json_string_value(json_object_get(c, "date")); /* NULL for null */
        int gen = json_is_true(json_object_get(c, "add_generation_prompt"));
        const char *want = json_string_value(json_object_get(c, "prompt"));
        int n;
        kvlm_chat_message *m = messages_of(json_object_get(c, "messages"), &n);
        kvlm_chat_format fmt = kvlm_chat_format_from_name(fmt_name);
        CHECK_MSG(fmt != KVLM_CHAT_AUTO, "%s: format %s", name, fmt_name);
        char *got = kvlm_chat_render(fmt, m, n, gen, date);
        int ok = got && want && !strcmp(got, want);
        CHECK_MSG(ok, "%s: case %s (%s, date %s) differs", path, name, fmt_name, date ? date : "NULL");
        if (!ok && want) show_diff(name, got, want);
        /* The other formats ignore the date; Llama 3.2 with an explicit default date is the default. */
        if (fmt != KVLM_CHAT_LLAMA32 || !date) {
            char *again = kvlm_chat_render(fmt, m, n, gen, fmt == KVLM_CHAT_LLAMA32 ? "26 Jul 2024" : "01 Feb 1999");
            CHECK_MSG(again && want && !strcmp(again, want), "%s: case %s (%s) with another date", path, name,
                      fmt_name);
            free(again);
        }
        free(got);
        free(m);
        json_decref(c);
        n_cases++;
    }
    free(line);
    fclose(f);
    return n_cases;
}

static void test_reference_cases(void) {
    char *p = test_data_path("chat/render-cases.jsonl");
    int n = check_cases_file(p);
    CHECK_MSG(n >= 45, "only %d cases in %s", n, p);
    free(p);
    p = test_data_path("chat/python-trim-cases.jsonl");
    n = check_cases_file(p);
    CHECK_MSG(n >= 9, "only %d cases in %s", n, p);
    free(p);
}

/* ../shared/tokenizer-tests/llama3.2-chat-cases.jsonl: {messages, prompt, ids}, date 26 Jul 2024. */
static void test_shared_chat_cases(void) {
    char *p = shared_path_or_null("tokenizer-tests/llama3.2-chat-cases.jsonl");
    if (!p) return;
    FILE *f = fopen(p, "rb");
    CHECK(f != NULL);
    char *line = NULL;
    size_t cap = 0;
    int n_cases = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        CHECK_MSG(c != NULL, "bad JSON: %s", jerr.text);
        if (!c) continue;
        int n;
        kvlm_chat_message *m = messages_of(json_object_get(c, "messages"), &n);
        const char *want = json_string_value(json_object_get(c, "prompt"));
        char *got = kvlm_chat_render(KVLM_CHAT_LLAMA32, m, n, 1, NULL);
        int ok = got && want && !strcmp(got, want);
        CHECK_MSG(ok, "shared chat case %d differs", n_cases + 1);
        if (!ok && want) show_diff("shared case", got, want);
        free(got);
        got = kvlm_chat_render(KVLM_CHAT_LLAMA32, m, n, 1, "26 Jul 2024");
        CHECK(got && want && !strcmp(got, want));
        free(got);
        free(m);
        json_decref(c);
        n_cases++;
    }
    CHECK_MSG(n_cases >= 6, "%d shared chat cases", n_cases);
    free(line);
    if (f) fclose(f);
    free(p);
}

static int error_lists_choices(void) {
    const char *e = kvlm_last_error();
    return strstr(e, "--chat-format") && strstr(e, "llama3.2") && strstr(e, "llama3,") && strstr(e, "chatml");
}

static void check_detect_file(const char *path, kvlm_chat_format want) {
    char *src = test_read_file(path, NULL);
    CHECK_MSG(src != NULL, "cannot read %s", path);
    if (!src) return;
    kvlm_chat_format got = kvlm_chat_format_detect(src);
    CHECK_MSG(got == want, "%s detected as %s, want %s", path, kvlm_chat_format_name(got), kvlm_chat_format_name(want));
    free(src);
}

static void test_detect(void) {
    char *p = shared_path_or_null("llama-3.2-1b-instruct/tokenizer_config.json");
    if (p) {
        json_error_t jerr;
        json_t *cfg = json_load_file(p, 0, &jerr);
        CHECK(cfg != NULL);
        const char *tmpl = json_string_value(json_object_get(cfg, "chat_template"));
        CHECK(tmpl != NULL);
        if (tmpl) CHECK(kvlm_chat_format_detect(tmpl) == KVLM_CHAT_LLAMA32);
        json_decref(cfg);
        free(p);
    }
    p = shared_path_or_null("llama-3.2-1b-instruct/chat_template.jinja");
    if (p) {
        check_detect_file(p, KVLM_CHAT_LLAMA32);
        free(p);
    }
    const char *files[] = {"chat/llama3.jinja", "chat/chatml.jinja", "chat/qwen2.jinja"};
    const kvlm_chat_format want[] = {KVLM_CHAT_LLAMA3, KVLM_CHAT_CHATML, KVLM_CHAT_CHATML};
    for (int i = 0; i < 3; i++) {
        p = test_data_path(files[i]);
        check_detect_file(p, want[i]);
        free(p);
    }
    /* The distinctive part of Llama 3.1's system block. */
    CHECK(kvlm_chat_format_detect("{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
                                  "{%- if builtin_tools is defined or tools is not none %}\n"
                                  "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
                                  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}") ==
          KVLM_CHAT_LLAMA32);

    /* Unrecognized: AUTO, and the error lists the choices. */
    kvlm_error_clear();
    CHECK(kvlm_chat_format_detect("{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}") ==
          KVLM_CHAT_AUTO);
    CHECK_MSG(error_lists_choices(), "error: %s", kvlm_last_error());
    kvlm_error_clear();
    CHECK(kvlm_chat_format_detect("") == KVLM_CHAT_AUTO);
    CHECK(error_lists_choices());
    kvlm_error_clear();
    CHECK(kvlm_chat_format_detect(NULL) == KVLM_CHAT_AUTO);
    CHECK(error_lists_choices());
}

static void test_names(void) {
    const kvlm_chat_format all[] = {KVLM_CHAT_LLAMA32, KVLM_CHAT_LLAMA3, KVLM_CHAT_CHATML};
    for (int i = 0; i < 3; i++) CHECK(kvlm_chat_format_from_name(kvlm_chat_format_name(all[i])) == all[i]);
    CHECK(!strcmp(kvlm_chat_format_name(KVLM_CHAT_LLAMA32), "llama3.2"));
    CHECK(!strcmp(kvlm_chat_format_name(KVLM_CHAT_LLAMA3), "llama3"));
    CHECK(!strcmp(kvlm_chat_format_name(KVLM_CHAT_CHATML), "chatml"));
    CHECK(!strcmp(kvlm_chat_format_name(KVLM_CHAT_AUTO), "auto"));
    CHECK(!strcmp(kvlm_chat_format_name((kvlm_chat_format)42), "unknown"));
    CHECK(kvlm_chat_format_from_name("llama3.1") == KVLM_CHAT_LLAMA32);
    kvlm_error_clear();
    CHECK(kvlm_chat_format_from_name("vicuna") == KVLM_CHAT_AUTO);
    CHECK_MSG(strstr(kvlm_last_error(), "vicuna") && strstr(kvlm_last_error(), "llama3.2") &&
                  strstr(kvlm_last_error(), "chatml"),
              "error: %s", kvlm_last_error());
    CHECK(kvlm_chat_format_from_name(NULL) == KVLM_CHAT_AUTO);
    CHECK(kvlm_chat_format_from_name("LLAMA3") == KVLM_CHAT_AUTO);
}

static void test_bad_input(void) {
    kvlm_chat_message ok[] = {{"user", "hi"}};
    kvlm_chat_message no_role[] = {{"user", "hi"}, {NULL, "x"}};
    kvlm_chat_message no_content[] = {{"system", "s"}, {"user", NULL}};
    char *r;

    kvlm_error_clear();
    CHECK(kvlm_chat_render(KVLM_CHAT_LLAMA32, ok, -1, 1, NULL) == NULL);
    CHECK(strstr(kvlm_last_error(), "n_msgs") != NULL);
    for (int f = 1; f <= 3; f++) {
        kvlm_error_clear();
        CHECK(kvlm_chat_render((kvlm_chat_format)f, no_role, 2, 1, NULL) == NULL);
        CHECK_MSG(strstr(kvlm_last_error(), "message 1") && strstr(kvlm_last_error(), "role"), "%s",
                  kvlm_last_error());
        kvlm_error_clear();
        CHECK(kvlm_chat_render((kvlm_chat_format)f, no_content, 2, 1, NULL) == NULL);
        CHECK_MSG(strstr(kvlm_last_error(), "message 1") && strstr(kvlm_last_error(), "content"), "%s",
                  kvlm_last_error());
        kvlm_error_clear();
        CHECK(kvlm_chat_render((kvlm_chat_format)f, NULL, 1, 1, NULL) == NULL);
        CHECK(kvlm_last_error()[0] != 0);
    }
    kvlm_error_clear();
    CHECK(kvlm_chat_render(KVLM_CHAT_AUTO, ok, 1, 1, NULL) == NULL);
    CHECK(strstr(kvlm_last_error(), "AUTO") != NULL);
    kvlm_error_clear();
    CHECK(kvlm_chat_render((kvlm_chat_format)7, ok, 1, 1, NULL) == NULL);
    CHECK(kvlm_last_error()[0] != 0);

    /* No messages is fine (NULL msgs too). */
    r = kvlm_chat_render(KVLM_CHAT_CHATML, NULL, 0, 1, NULL);
    CHECK(r && !strcmp(r, "<|im_start|>assistant\n"));
    free(r);
    r = kvlm_chat_render(KVLM_CHAT_CHATML, NULL, 0, 0, NULL);
    CHECK(r && !strcmp(r, ""));
    free(r);
}

/* Trimming of bytes that are not well-formed UTF-8: never whitespace, kept as they are. */
static void test_trim_bytes(void) {
    struct {
        const char *content, *want;
    } cases[] = {
        {" \xff x \xfe ", "\xff x \xfe"},
        {"\xe3\x80 x", "\xe3\x80 x"},             /* a truncated U+3000 is not whitespace */
        {"x \xe3\x80", "x \xe3\x80"},
        {"x\xe3\x80\x80\xe3\x80\x80", "x"},       /* U+3000 U+3000 */
        {"\xe3\x80\x80\x80x", "\x80x"},           /* U+3000 then a stray continuation byte */
        {"x\x80\xe3\x80\x80", "x\x80"},
        {"\xc0\xa0x\xc0\xa0", "\xc0\xa0x\xc0\xa0"}, /* overlong space */
        {"\xed\xa0\x80 x", "\xed\xa0\x80 x"},     /* a surrogate */
        {" \xf0\x9f\x8c\x8d ", "\xf0\x9f\x8c\x8d"}, /* an emoji between spaces */
        {"\xc2\x85\xc2\xa0 ", ""},                /* U+0085 U+00A0 space */
        {"\xef\xbb\xbf", "\xef\xbb\xbf"},         /* U+FEFF is not whitespace in Python */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvlm_chat_message m = {"user", cases[i].content};
        char *r = kvlm_chat_render(KVLM_CHAT_LLAMA3, &m, 1, 0, NULL);
        const char *pre = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n";
        size_t lp = strlen(pre), lw = strlen(cases[i].want);
        int ok = r && !strncmp(r, pre, lp) && !strncmp(r + lp, cases[i].want, lw) && !strcmp(r + lp + lw, "<|eot_id|>");
        CHECK_MSG(ok, "trim case %zu", i);
        free(r);
    }
}

/* A long conversation: the output grows past any initial buffer. */
static void test_long(void) {
    enum { N = 200 };
    kvlm_chat_message m[N];
    char *big = malloc(10001);
    memset(big, 'a', 10000);
    big[10000] = 0;
    for (int i = 0; i < N; i++) {
        m[i].role = i % 2 ? "assistant" : "user";
        m[i].content = big;
    }
    char *r = kvlm_chat_render(KVLM_CHAT_LLAMA32, m, N, 1, "01 Jan 2025");
    CHECK(r != NULL);
    if (r) {
        size_t want = strlen("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                             "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>") +
                      N / 2 * (strlen("<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>") + 10000) +
                      N / 2 * (strlen("<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>") + 10000) +
                      strlen("<|start_header_id|>assistant<|end_header_id|>\n\n");
        CHECK_MSG(strlen(r) == want, "length %zu, want %zu", strlen(r), want);
    }
    free(r);
    free(big);
}

int main(void) {
    test_reference_cases();
    test_shared_chat_cases();
    test_detect();
    test_names();
    test_bad_input();
    test_trim_bytes();
    test_long();
    return test_finish();
}
