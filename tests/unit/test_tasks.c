/* fixtures: synth_small */
/* The translator / copy-editor provider (kvlm_provider_*): the system prompts,
 * deterministic outputs, identical with and without prefix reuse and across
 * reset_session, the prompt built as the chat template + tokenizer + generate
 * would build it by hand, the model's stop ids honored, plausible timings,
 * completion on stories260K, and bad input. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#define COREML_PROMPT "You are a French translator. Translate the user message to French. Output only the translation."

static int contains(const char *hay, const char *needle) { return hay && needle && strstr(hay, needle) != NULL; }

static int same_str(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void test_system_prompts(void) {
    char *s = kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, NULL, "French");
    CHECK_MSG(same_str(s, COREML_PROMPT), "got '%s'", s ? s : "(null)");
    free(s);
    s = kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, " English ", " German\n");
    CHECK_MSG(same_str(s, "You are a German translator. Translate the user message from English to German. Output only "
                          "the translation."),
              "got '%s'", s ? s : "(null)");
    free(s);
    s = kvlm_task_system_prompt(KVLM_TASK_COPYEDIT, NULL, NULL);
    CHECK(contains(s, "sight") && contains(s, "site") && contains(s, "filler") && contains(s, "do not rephrase"));
    free(s);
    CHECK(kvlm_task_system_prompt(KVLM_TASK_COMPLETE, NULL, NULL) == NULL);
    CHECK(kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, NULL, "") == NULL &&
          contains(kvlm_last_error(), "target language name is empty"));
    CHECK(kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, NULL, "  \t") == NULL && contains(kvlm_last_error(), "empty"));
    CHECK(kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, NULL, NULL) == NULL &&
          contains(kvlm_last_error(), "no target language"));
    CHECK(kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, "", "French") == NULL &&
          contains(kvlm_last_error(), "source language name is empty"));
    CHECK(kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, NULL, "Fr\nench") == NULL &&
          contains(kvlm_last_error(), "control character"));
}

/* The chat prompt and greedy output built by hand from the public API: what
 * the provider must do. Returns the output text (trimmed, malloc'd); ids of
 * the output in *out_ids (malloc'd), their count in *n_out. */
static char *by_hand(kvlm_model *m, kvlm_task task, const char *text, const char *src, const char *tgt, int n_ctx,
                     int max_tokens, int32_t **out_ids, int *n_out, int *n_prompt) {
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);
    char *sys = kvlm_task_system_prompt(task, src, tgt);
    kvlm_chat_message msgs[2] = {{"system", sys}, {"user", text}};
    char *prompt = kvlm_chat_render(KVLM_CHAT_LLAMA32, msgs, 2, 1, NULL);
    int n = kvlm_tokenize(tok, prompt, strlen(prompt), KVLM_TOKENIZE_SPECIAL, NULL, 0);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    kvlm_tokenize(tok, prompt, strlen(prompt), KVLM_TOKENIZE_SPECIAL, ids, n);
    int n_text = kvlm_tokenize(tok, text, strlen(text), 0, NULL, 0);
    kvlm_state_options so = {.n_ctx = n_ctx};
    kvlm_state *s = kvlm_state_new(m, &so);
    kvlm_generate_params gp;
    memset(&gp, 0, sizeof gp);
    gp.max_tokens = max_tokens ? max_tokens : 2 * n_text + 16;
    int32_t *out = malloc(sizeof(int32_t) * (size_t)(gp.max_tokens + 1));
    kvlm_generate_result r;
    CHECK(kvlm_generate(s, ids, n, &gp, out, gp.max_tokens, &r) == KVLM_OK);
    long len = kvlm_detokenize(tok, out, r.n_generated, NULL, 0);
    char *o = malloc((size_t)len + 1);
    kvlm_detokenize(tok, out, r.n_generated, o, (size_t)len + 1);
    /* trim */
    char *a = o, *b = o + len;
    while (a < b && strchr(" \t\r\n\v\f", *a)) a++;
    while (b > a && strchr(" \t\r\n\v\f", b[-1])) b--;
    memmove(o, a, (size_t)(b - a));
    o[b - a] = 0;
    *out_ids = out;
    *n_out = r.n_generated;
    *n_prompt = n;
    kvlm_state_free(s);
    free(ids);
    free(prompt);
    free(sys);
    return o;
}

static const char *TEXTS[] = {
    "The cat is on the table.",
    "Bill France Sr. was the founder of NASCAR. And, and, you know, I traveled in that garage for 20 plus weekends.",
    "I wandered lonely as a cloud\nThat floats on high o'er vales and hills,",
    "we need to make sure the sight is stable before launch",
};
#define N_TEXTS (int)(sizeof TEXTS / sizeof TEXTS[0])

typedef struct {
    kvlm_task task;
    const char *src, *tgt;
} job;

static const job JOBS[] = {
    {KVLM_TASK_TRANSLATE, NULL, "French"},
    {KVLM_TASK_TRANSLATE, "English", "German"},
    {KVLM_TASK_COPYEDIT, NULL, NULL},
};
#define N_JOBS (int)(sizeof JOBS / sizeof JOBS[0])

static void test_reuse_and_determinism(kvlm_model *m) {
    /* a short max_tokens keeps the test quick (the default is checked below and in test_stop_ids) */
    kvlm_provider_options with = {.n_ctx = 512, .max_tokens = 12},
                          without = {.n_ctx = 512, .max_tokens = 12, .no_prefix_reuse = 1};
    kvlm_provider *p = kvlm_provider_new(m, &with), *q = kvlm_provider_new(m, &without);
    CHECK(p && q && kvlm_provider_model(p) == m);
    if (!p || !q) goto done;
    char *first[N_JOBS][N_TEXTS];
    int prefix_len[N_JOBS] = {0};
    for (int j = 0; j < N_JOBS; j++)
        for (int t = 0; t < N_TEXTS; t++) {
            kvlm_request_timing a, b;
            first[j][t] = kvlm_provider_run(p, JOBS[j].task, TEXTS[t], JOBS[j].src, JOBS[j].tgt, 0, &a);
            char *nr = kvlm_provider_run(q, JOBS[j].task, TEXTS[t], JOBS[j].src, JOBS[j].tgt, 0, &b);
            CHECK_MSG(first[j][t] && nr, "%s", kvlm_last_error());
            CHECK_MSG(same_str(first[j][t], nr), "job %d text %d: with reuse '%s', without '%s'", j, t,
                      first[j][t] ? first[j][t] : "", nr ? nr : "");
            /* the first request of a job prefills the prefix; the others copy it */
            CHECK(a.n_reused > 0 && a.n_reused < a.n_prompt && a.n_prompt == b.n_prompt);
            CHECK(t == 0 ? a.prefix_ms > 0 : a.prefix_ms == 0);
            CHECK(a.reused_ms > 0 && a.copy_ms >= 0);
            CHECK(b.n_reused == 0 && b.prefix_ms == 0 && b.reused_ms == 0);
            CHECK(a.n_output == b.n_output && a.stop_reason == b.stop_reason);
            CHECK(a.n_prompt - a.n_reused >= a.n_input && a.n_input > 0);
            CHECK(a.max_tokens == 12);
            if (t == 0) prefix_len[j] = a.n_reused;
            CHECK(a.n_reused == prefix_len[j]); /* the same prefix for every text of a job */
            free(nr);
        }
    /* the translate prefixes differ by language; copyedit's is longer */
    CHECK(prefix_len[0] != prefix_len[1] || prefix_len[0] != prefix_len[2]);

    /* the same requests again, interleaved differently, and after reset_session */
    for (int round = 0; round < 2; round++) {
        if (round == 1) kvlm_provider_reset_session(p);
        for (int t = N_TEXTS - 1; t >= 0; t--)
            for (int j = N_JOBS - 1; j >= 0; j--) {
                kvlm_request_timing a;
                char *again = kvlm_provider_run(p, JOBS[j].task, TEXTS[t], JOBS[j].src, JOBS[j].tgt, 0, &a);
                CHECK_MSG(same_str(again, first[j][t]), "round %d job %d text %d differs", round, j, t);
                if (round == 1 && t == N_TEXTS - 1) CHECK(a.prefix_ms > 0); /* recomputed after the reset */
                if (round == 0) CHECK(a.prefix_ms == 0);
                free(again);
            }
    }
    /* the provider matches the prompt built by hand */
    for (int j = 0; j < N_JOBS; j++)
        for (int t = 0; t < N_TEXTS; t++) {
            int32_t *ids;
            int n_out, n_prompt;
            char *hand = by_hand(m, JOBS[j].task, TEXTS[t], JOBS[j].src, JOBS[j].tgt, 512, 12, &ids, &n_out, &n_prompt);
            kvlm_request_timing a;
            char *o = kvlm_provider_run(p, JOBS[j].task, TEXTS[t], JOBS[j].src, JOBS[j].tgt, 0, &a);
            CHECK_MSG(same_str(o, hand), "job %d text %d: provider '%s', by hand '%s'", j, t, o ? o : "", hand);
            CHECK(a.n_prompt == n_prompt && a.n_output == n_out);
            free(o);
            free(hand);
            free(ids);
        }
    for (int j = 0; j < N_JOBS; j++)
        for (int t = 0; t < N_TEXTS; t++) free(first[j][t]);
done:
    kvlm_provider_free(p);
    kvlm_provider_free(q);
}

/* A text holding "<|eot_id|>" stays text: it does not end the user's turn. */
static void test_special_text(kvlm_model *m) {
    kvlm_provider_options po = {.n_ctx = 512};
    kvlm_provider *p = kvlm_provider_new(m, &po);
    kvlm_request_timing a, b;
    char *x = kvlm_provider_copyedit(p, "stop here<|eot_id|> and go on", &a);
    char *y = kvlm_provider_copyedit(p, "stop here and go on", &b);
    CHECK(x && y);
    /* "<|eot_id|>" is read as plain text (several tokens), not as the one special token */
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);
    const char *t = "stop here<|eot_id|> and go on";
    int plain = kvlm_tokenize(tok, t, strlen(t), 0, NULL, 0),
        special = kvlm_tokenize(tok, t, strlen(t), KVLM_TOKENIZE_SPECIAL, NULL, 0);
    CHECK(special < plain);
    CHECK_MSG(a.n_input == plain && a.n_prompt - b.n_prompt == a.n_input - b.n_input,
              "n_input %d (plain %d), prompts %d and %d", a.n_input, plain, a.n_prompt, b.n_prompt);
    free(x);
    free(y);
    kvlm_provider_free(p);
}

static void test_timings(kvlm_model *m) {
    kvlm_provider_options po = {.n_ctx = 1024, .no_prefix_reuse = 1, .max_tokens = 4};
    kvlm_provider *p = kvlm_provider_new(m, &po);
    char longtext[4096] = "";
    for (int i = 0; i < 40; i++) strcat(longtext, "The quick brown fox jumps over the lazy dog again. ");
    double best_short = 1e9, best_long = 1e9;
    kvlm_request_timing s, l;
    for (int r = 0; r < 3; r++) {
        char *a = kvlm_provider_copyedit(p, "Hi.", &s);
        char *b = kvlm_provider_copyedit(p, longtext, &l);
        CHECK(a && b);
        free(a);
        free(b);
        if (s.prefill_ms < best_short) best_short = s.prefill_ms;
        if (l.prefill_ms < best_long) best_long = l.prefill_ms;
    }
    CHECK_MSG(l.n_prompt > s.n_prompt + 300, "prompts %d and %d tokens", s.n_prompt, l.n_prompt);
    CHECK_MSG(best_long > best_short, "prefill %.3f ms for %d tokens, %.3f ms for %d", best_short, s.n_prompt,
              best_long, l.n_prompt);
    const kvlm_request_timing *ts[2] = {&s, &l};
    for (int i = 0; i < 2; i++) {
        const kvlm_request_timing *t = ts[i];
        CHECK(t->prefill_ms > 0 && t->decode_ms >= 0 && t->total_ms >= t->prefill_ms + t->decode_ms);
        CHECK(t->max_tokens == 4 && t->n_output >= 1 && t->n_output <= 4);
        CHECK(t->stop_reason == KVLM_STOP_MAX_TOKENS ? t->n_output == 4 && t->n_decode == 3
                                                     : t->stop_reason == KVLM_STOP_EOS && t->n_decode == t->n_output);
    }
    kvlm_provider_free(p);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A copy of synth-small whose generation_config.json adds a stop id the
 * model picks: the provider must stop there. */
static void test_stop_ids(kvlm_model *m, const char *model_dir) {
    int32_t *ids;
    int n_out, n_prompt;
    const char *text = TEXTS[1];
    char *hand = by_hand(m, KVLM_TASK_TRANSLATE, text, NULL, "French", 512, 0, &ids, &n_out, &n_prompt);
    free(hand);
    int k = -1;
    for (int i = 2; i < n_out && k < 0; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= ids[j] == ids[i];
        if (!seen) k = i;
    }
    CHECK_MSG(k > 0, "no fresh token in the output (%d tokens)", n_out);
    if (k < 0) {
        free(ids);
        return;
    }
    char *dir = test_work_path("tasks-stop-model");
    mkdir(dir, 0755);
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};
    char src[4096], dst[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(src, sizeof src, "%s/%s", model_dir, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        unlink(dst);
        char *abs = realpath(src, NULL);
        CHECK(abs && symlink(abs, dst) == 0);
        free(abs);
    }
    char gen[256];
    snprintf(gen, sizeof gen, "{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009, %d]}",
             (int)ids[k]);
    snprintf(dst, sizeof dst, "%s/generation_config.json", dir);
    write_file(dst, gen);
    kvlm_provider_options po = {.n_threads = 2, .n_ctx = 512};
    kvlm_provider *p = kvlm_provider_open(dir, &po);
    CHECK_MSG(p != NULL, "%s", kvlm_last_error());
    if (p) {
        kvlm_request_timing t;
        char *o = kvlm_provider_translate(p, text, NULL, "French", &t);
        CHECK(o != NULL);
        CHECK_MSG(t.stop_reason == KVLM_STOP_EOS && t.stop_id == ids[k] && t.n_output == k,
                  "stop %d id %d after %d tokens; want id %d after %d", (int)t.stop_reason, (int)t.stop_id, t.n_output,
                  (int)ids[k], k);
        /* the text is the first k tokens */
        const kvlm_tokenizer *tok = kvlm_model_tokenizer(kvlm_provider_model(p));
        char want[8192];
        kvlm_detokenize(tok, ids, k, want, sizeof want);
        char *a = want;
        while (*a && strchr(" \t\r\n", *a)) a++;
        size_t n = strlen(a);
        while (n && strchr(" \t\r\n", a[n - 1])) a[--n] = 0;
        CHECK_MSG(same_str(o, a), "got '%s', want '%s'", o ? o : "", a);
        /* the default limit: 2 x the text's tokens + 16 */
        CHECK(t.max_tokens == 2 * t.n_input + 16 && t.n_input == kvlm_tokenize(tok, text, strlen(text), 0, NULL, 0));
        free(o);
        kvlm_provider_free(p);
    }
    free(ids);
    free(dir);
}

static void test_bad_input(kvlm_model *m) {
    kvlm_provider_options po = {.n_ctx = 64};
    kvlm_provider *p = kvlm_provider_new(m, &po);
    kvlm_request_timing t;
    CHECK(kvlm_provider_translate(p, "", NULL, "French", &t) == NULL &&
          contains(kvlm_last_error(), "the text is empty"));
    CHECK(kvlm_provider_copyedit(p, " \n\t ", &t) == NULL && contains(kvlm_last_error(), "empty"));
    CHECK(kvlm_provider_copyedit(p, NULL, &t) == NULL && contains(kvlm_last_error(), "no text"));
    CHECK(kvlm_provider_translate(p, "Hello", NULL, "", &t) == NULL &&
          contains(kvlm_last_error(), "target language name is empty"));
    CHECK(kvlm_provider_translate(p, "Hello", "", "French", &t) == NULL &&
          contains(kvlm_last_error(), "source language name is empty"));
    CHECK(kvlm_provider_translate(p, "Hello", NULL, NULL, &t) == NULL &&
          contains(kvlm_last_error(), "no target language"));
    CHECK(kvlm_provider_run(p, (kvlm_task)9, "Hello", NULL, NULL, 0, &t) == NULL &&
          contains(kvlm_last_error(), "unknown task"));
    CHECK(kvlm_provider_complete(p, "Hello", -1, &t) == NULL && contains(kvlm_last_error(), "negative"));
    CHECK(kvlm_provider_translate(NULL, "Hello", NULL, "French", &t) == NULL &&
          contains(kvlm_last_error(), "no provider"));
    /* longer than the context: the message names both lengths; nothing was computed */
    char text[2048] = "";
    for (int i = 0; i < 30; i++) strcat(text, "This sentence is rather long. ");
    CHECK(kvlm_provider_translate(p, text, NULL, "French", &t) == NULL);
    char want[128];
    snprintf(want, sizeof want, "its prompt is %d tokens", t.n_prompt);
    CHECK_MSG(contains(kvlm_last_error(), want) && contains(kvlm_last_error(), "the context holds 64") &&
                  t.n_prompt > 64,
              "%s", kvlm_last_error());
    CHECK(t.prefill_ms == 0 && t.n_output == 0);
    /* the provider still works after the errors */
    char *o = kvlm_provider_translate(p, "Hi", NULL, "French", &t);
    CHECK_MSG(o != NULL, "%s", kvlm_last_error());
    free(o);
    /* an empty completion starts from BOS */
    o = kvlm_provider_complete(p, "", 3, &t);
    CHECK(o && t.n_prompt == 1 && t.n_input == 0 && t.n_output >= 1);
    free(o);
    kvlm_provider_free(p);
    kvlm_provider_free(NULL);
    kvlm_provider_reset_session(NULL);
    /* bad options */
    kvlm_provider_options bad = {.max_tokens = -1};
    CHECK(kvlm_provider_new(m, &bad) == NULL && contains(kvlm_last_error(), "max_tokens"));
    bad = (kvlm_provider_options){.n_ctx = 1 << 30};
    CHECK(kvlm_provider_new(m, &bad) == NULL && contains(kvlm_last_error(), "n_ctx"));
    CHECK(kvlm_provider_new(NULL, NULL) == NULL && contains(kvlm_last_error(), "no model"));
    CHECK(kvlm_provider_open("/nonexistent/model", NULL) == NULL && contains(kvlm_last_error(), "/nonexistent/model"));
}

static void test_stories(void) {
    const char *shared = getenv("KVLM_SHARED_DIR") ? getenv("KVLM_SHARED_DIR") : "../shared";
    char probe[4096];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/models/stories260K/stories260K.bin", shared);
    if (stat(probe, &st) != 0) {
        printf("note: %s is absent: the stories260K checks are skipped\n", probe);
        return;
    }
    char *ckpt = test_shared_path("models/stories260K/stories260K.bin");
    char *tok = test_shared_path("models/stories260K/tok512.bin");
    char *expected_path = test_shared_path("models/stories260K/expected-greedy.txt");
    size_t len = 0;
    char *expected = test_read_file(expected_path, &len);
    kvlm_provider_options po = {.n_threads = 1, .tokenizer_path = tok};
    kvlm_provider *p = kvlm_provider_open(ckpt, &po);
    CHECK_MSG(p != NULL, "%s", kvlm_last_error());
    if (p && expected) {
        kvlm_request_timing t;
        char *o = kvlm_provider_complete(p, "", 256, &t);
        /* llama2.c's run prints the text and one newline */
        CHECK(o && strlen(o) + 1 == len && !strncmp(o, expected, len - 1) && expected[len - 1] == '\n');
        CHECK(t.n_prompt == 1 && t.n_output == 256 && t.stop_reason == KVLM_STOP_MAX_TOKENS);
        free(o);
        /* a story that ends: the model's stop id (BOS, 1) */
        o = kvlm_provider_complete(p, "They were happy.", 400, &t);
        CHECK_MSG(o && t.stop_reason == KVLM_STOP_EOS && t.stop_id == 1 && t.n_output < 400, "stop %d",
                  (int)t.stop_reason);
        free(o);
        /* no chat template: translate says so */
        CHECK(kvlm_provider_translate(p, "Hello", NULL, "French", &t) == NULL &&
              contains(kvlm_last_error(), "chat template"));
    }
    kvlm_provider_free(p);
    free(expected);
    free(expected_path);
    free(tok);
    free(ckpt);
}

int main(void) {
    test_system_prompts();
    char *dir = test_work_path("synth-small");
    char *cfg = malloc(strlen(dir) + 32);
    sprintf(cfg, "%s/config.json", dir);
    struct stat st;
    if (stat(cfg, &st) != 0) test_skip("%s is absent (the synth_small fixture did not run)", cfg);
    free(cfg);
    kvlm_model_options mo = {.n_threads = 2};
    kvlm_model *m = kvlm_model_open(dir, &mo);
    CHECK_MSG(m != NULL, "%s", kvlm_last_error());
    if (m) {
        test_reuse_and_determinism(m);
        test_special_text(m);
        test_timings(m);
        test_stop_ids(m, dir);
        test_bad_input(m);
        kvlm_model_free(m);
    }
    free(dir);
    test_stories();
    return test_finish();
}
