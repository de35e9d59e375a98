/* tokenizer_bench: encode speed of kvlm's tokenizer on a large mixed
 * English/multilingual text made deterministically from the sentences below
 * and, when ../shared is there, the strings of ../shared/tokenizer-tests.
 *
 *   tokenizer_bench [--tokenizer PATH] [--mb N] [--iters N] [--dump FILE] [--paragraphs]
 *
 * Encodes the whole text in one call, or (--paragraphs) paragraph by
 * paragraph: the text is cut after every "\n\n" and each piece encoded on its
 * own, as a server sees requests. Prints one line: size, tokens, best time,
 * MB/s (10^6 bytes) and a checksum of the ids, which bench/tokenizer_peer.mjs
 * prints too for the same text and mode. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvlm.h"

static const char *const seeds[] = {
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
    "In 1492, Columbus sailed the ocean blue; by 1520 the news had reached every port in Europe.",
    "Please summarize the following article in three sentences, and don't forget the main argument.",
    "The committee's report, published on 12 March 2024, recommended a 3.5% increase in funding for public libraries.",
    "She'll be there at 10:30 a.m., but we've already told them we'd rather wait until the afternoon.",
    "Machine learning models are trained on large datasets; their accuracy depends heavily on data quality.",
    "Our quarterly revenue grew from $4,210,000 to $5,875,500 (an increase of 39.6%) while costs stayed flat.",
    "\"Where are you going?\" asked the old man. \"To the mountains,\" she replied, without looking back.",
    "Photosynthesis converts light energy into chemical energy, releasing oxygen as a by-product.",
    "The recipe calls for 250 g of flour, 2 eggs, 1/2 cup of milk and a pinch of salt.",
    "Le renard brun rapide saute par-dessus le chien paresseux. C'était une belle journée d'été à Paris.",
    "L'économie française a connu une croissance modérée cette année, selon l'Institut national de la statistique.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Die Straßenbahn fährt um 7:45 Uhr ab.",
    "Übermäßige Bürokratie verzögert häufig die Genehmigung größerer Bauvorhaben in deutschen Städten.",
    "El rápido zorro marrón salta sobre el perro perezoso. ¿Dónde está la biblioteca? ¡Qué sorpresa!",
    "La investigación científica requiere paciencia, rigor y una buena dosis de curiosidad.",
    "A rápida raposa marrom pula sobre o cão preguiçoso. A reunião começará às três horas da tarde.",
    "La volpe marrone veloce salta sopra il cane pigro. Perché non andiamo al mare domani mattina?",
    "Szybki brązowy lis przeskakuje nad leniwym psem. Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy. Hodně štěstí při zkouškách!",
    "Быстрая коричневая лиса перепрыгивает через ленивую собаку. Съешь же ещё этих мягких французских булок.",
    "Москва — столица России, крупнейший по численности населения город страны.",
    "Швидка бура лисиця перестрибує через ледачого пса. Дякую за допомогу!",
    "Γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Καλημέρα σας!",
    "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar. Çok teşekkür ederim.",
    "Nhanh chóng con cáo nâu nhảy qua con chó lười biếng. Xin chào các bạn!",
    "敏捷的棕色狐狸跳过了懒狗。今天天气很好，我们一起去公园散步吧。",
    "人工智能正在改变我们的生活方式，从医疗到交通，各个领域都在发生深刻的变化。",
    "北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。",
    "素早い茶色の狐がのろまな犬を飛び越える。東京は日本の首都であり、世界有数の大都市です。",
    "私は毎朝コーヒーを飲みながらニュースを読みます。カタカナとひらがなを練習しましょう。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘는다. 오늘 날씨가 정말 좋네요. 감사합니다!",
    "서울은 대한민국의 수도이며 가장 큰 도시입니다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول. مرحبا بكم في موقعنا.",
    "השועל החום המהיר קופץ מעל הכלב העצלן. שלום עולם!",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है। भारत एक विशाल देश है।",
    "দ্রুত বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়।",
    "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ สวัสดีครับ",
    "Emoji time: 😀😃😄 👍🏽 🇫🇷 🏳️‍🌈 👨‍👩‍👧‍👦 ❤️ 🚀✨",
    "Math: ∀x ∈ ℝ, x² ≥ 0; ∑_{i=1}^{n} i = n(n+1)/2; π ≈ 3.14159265358979.",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "{\"name\": \"kvlm\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"cpu\", \"c11\"], \"stars\": 1234}",
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY name LIMIT 100;",
    "https://example.com/path/to/page?query=tokenizer&lang=en#section-3",
    "Phone: +1 (555) 123-4567; order #A-20931; total 1,234,567.89 EUR on 2024-07-26T10:15:00Z.",
    "    Indented line with   multiple   spaces\tand\ttabs.\r\n",
    "ALL CAPS HEADLINE: MARKETS RALLY AS INFLATION COOLS!!!",
    "Café, naïve, coöperate, résumé, façade, jalapeño, smörgåsbord, Ångström.",
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

typedef struct {
    char **s;
    size_t *len;
    size_t n, cap;
} pool;

static void pool_add(pool *p, const char *s, size_t n) {
    if (n == 0) return;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->s = realloc(p->s, p->cap * sizeof *p->s);
        p->len = realloc(p->len, p->cap * sizeof *p->len);
        if (!p->s || !p->len) exit(1);
    }
    p->s[p->n] = malloc(n);
    if (!p->s[p->n]) exit(1);
    memcpy(p->s[p->n], s, n);
    p->len[p->n++] = n;
}

static void add_shared_strings(pool *p, const char *shared) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer-tests/llama3-cases.jsonl", shared);
    FILE *f = fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
            json_t *t = json_object_get(o, "text");
            /* texts with special-token spellings would be encoded differently by the peer */
            if (json_is_string(t) && !json_is_true(json_object_get(o, "special")) && !strstr(json_string_value(t), "<|"))
                pool_add(p, json_string_value(t), json_string_length(t));
            json_decref(o);
        }
        free(line);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-llama-bpe.gguf.inp", shared);
    f = fopen(path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            const char *sep = "\n__ggml_vocab_test__\n";
            for (char *q = buf, *e; (e = strstr(q, sep)); q = e + strlen(sep)) pool_add(p, q, (size_t)(e - q));
        }
        free(buf);
        fclose(f);
    }
}

/* Paragraphs of 2..7 random strings, joined by spaces, separated by blank lines or newlines. */
static char *make_text(const pool *p, size_t target, size_t *out_len) {
    char *t = malloc(target + 4096);
    size_t n = 0;
    if (!t) exit(1);
    while (n < target) {
        int k = 2 + (int)(rnd() % 6);
        for (int i = 0; i < k && n < target; i++) {
            size_t j = (size_t)(rnd() % p->n);
            size_t len = p->len[j];
            if (len > 2048) len = 2048;
            if (n + len + 2 > target + 4096) break;
            memcpy(t + n, p->s[j], len);
            n += len;
            if (i + 1 < k) t[n++] = ' ';
        }
        const char *sep = (rnd() % 3) ? "\n\n" : "\n";
        size_t sl = strlen(sep);
        if (n + sl <= target + 4096) {
            memcpy(t + n, sep, sl);
            n += sl;
        }
    }
    *out_len = n;
    return t;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *tok_path = "../shared/llama-3.2-1b-instruct/tokenizer.json", *dump = NULL, *shared = "../shared";
    double mb = 8;
    int iters = 3, paragraphs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) tok_path = argv[++i];
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (!strcmp(argv[i], "--shared") && i + 1 < argc) shared = argv[++i];
        else if (!strcmp(argv[i], "--paragraphs")) paragraphs = 1;
        else {
            fprintf(stderr, "usage: tokenizer_bench [--tokenizer PATH] [--mb N] [--iters N] [--dump FILE] [--shared DIR] [--paragraphs]\n");
            return 2;
        }
    }
    if (mb <= 0 || iters <= 0) return 2;
    pool p = {0};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) pool_add(&p, seeds[i], strlen(seeds[i]));
    add_shared_strings(&p, shared);
    size_t len;
    char *text = make_text(&p, (size_t)(mb * 1e6), &len);
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "tokenizer_bench: cannot write %s\n", dump);
            return 1;
        }
    }
    double t0 = now_s();
    kvlm_tokenizer *tok = kvlm_tokenizer_load(tok_path);
    if (!tok) {
        fprintf(stderr, "tokenizer_bench: %s\n", kvlm_last_error());
        return 1;
    }
    double load_s = now_s() - t0;
    /* the pieces: cut after every "\n\n" (or the whole text) */
    size_t n_cuts = 0, *cuts = malloc((len + 2) * sizeof *cuts);
    if (!cuts) return 1;
    cuts[n_cuts++] = 0;
    if (paragraphs)
        for (size_t i = 2; i < len; i++)
            if (text[i - 2] == '\n' && text[i - 1] == '\n') cuts[n_cuts++] = i;
    cuts[n_cuts++] = len;
    long n = 0;
    for (size_t c = 0; c + 1 < n_cuts; c++) n += kvlm_tokenize(tok, text + cuts[c], cuts[c + 1] - cuts[c], 0, NULL, 0);
    int32_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (!ids) return 1;
    double best = 1e30;
    for (int it = 0; it < iters; it++) {
        t0 = now_s();
        long m = 0;
        for (size_t c = 0; c + 1 < n_cuts; c++) {
            int k = kvlm_tokenize(tok, text + cuts[c], cuts[c + 1] - cuts[c], 0, ids + m, (int)(n - m));
            if (k < 0) {
                fprintf(stderr, "tokenizer_bench: %s\n", kvlm_last_error());
                return 1;
            }
            m += k;
        }
        double dt = now_s() - t0;
        if (m != n) {
            fprintf(stderr, "tokenizer_bench: the token count changed between runs\n");
            return 1;
        }
        if (dt < best) best = dt;
    }
    uint32_t h = 0;
    for (long i = 0; i < n; i++) h = h * 31u + (uint32_t)ids[i];
    printf("kvlm: %.2f MB in %zu piece(s), %ld tokens, load %.3f s, best of %d: %.3f s, %.2f MB/s, checksum %08x\n",
           len / 1e6, n_cuts - 1, n, load_s, iters, best, len / 1e6 / best, h);
    for (size_t i = 0; i < p.n; i++) free(p.s[i]);
    free(p.s);
    free(p.len);
    free(ids);
    free(cuts);
    free(text);
    kvlm_tokenizer_free(tok);
    return 0;
}
