/* kvlm quality -m QUANTIZED --ref REFERENCE: how far a quantized model's
 * next-token distributions are from the reference's over the same positions
 * of a text: top-1 agreement, mean KL(ref || quantized) (softmax in double),
 * max |Δlogit|, and both models' perplexity on the text's next tokens. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kvlm.h"

/* The default text: a few paragraphs of ordinary prose (written for kvlm). */
static const char builtin_text[] =
    "The lighthouse on the northern point had been dark for eleven years when Marta Ilves arrived with two "
    "suitcases, a crate of books and a letter from the harbour office that nobody in the village seemed to "
    "have read. The keeper's cottage smelled of salt and old paint. Its windows faced the sea on three sides, "
    "and on the fourth a narrow path wound down through heather to the road, where the bus from town stopped "
    "twice a day if the weather allowed it.\n\n"
    "She spent the first week cleaning. She scrubbed the stairs that spiralled up inside the tower, oiled the "
    "brass fittings until they shone, and replaced the cracked panes in the lantern room with glass she had "
    "ordered by post. In the evenings she sat at the kitchen table and read the keeper's logbooks, which went "
    "back more than a century. The entries were short and mostly about the weather: wind from the south-west, "
    "visibility poor, lamp lit at half past four. Now and then a sentence stood out. A ship's boat came ashore "
    "with nine men, all alive. The keeper's daughter was married in the chapel. A whale was seen off the rocks "
    "for three days and then was gone.\n\n"
    "The people of the village were polite but careful. The woman who ran the shop asked whether the light "
    "would really be lit again, and when Marta said yes, she nodded slowly, as if the answer had cost her "
    "something. The fishermen were more direct. They told her that the new satellite systems had made the old "
    "lights unnecessary, that the council had only reopened the station to attract visitors, and that a single "
    "keeper could not possibly manage the work through a whole winter. Marta listened, thanked them, and went "
    "back up the hill.\n\n"
    "In October the storms began. The first one came in the night, with a noise like a train passing under the "
    "floor. Marta climbed the tower at two in the morning and found the lamp burning steadily, its beam sweeping "
    "over water that looked white in the darkness. Far out, she saw the lights of a trawler turning toward the "
    "harbour. In the morning the skipper walked up the path with a bag of fish and a bottle of something brown, "
    "and he stayed for coffee, and he did not say anything about satellites.\n\n"
    "By the spring the children of the village were coming up on Saturdays to help polish the lens. Marta taught "
    "them how to read the barometer, how to trim a wick, and how to write a proper entry in the log: the date, "
    "the wind, the sea, and anything else worth remembering. One of them, a quiet boy who rarely spoke in school, "
    "wrote a whole page about the colour of the sky before a squall. She kept that page in the front of the book, "
    "where anyone who opened it would see it first.\n";

static void usage(FILE *f) {
    fprintf(f,
            "usage: kvlm quality -m QUANTIZED --ref REFERENCE [--text FILE | --ids FILE] [-n 512]\n"
            "                    [--tokenizer tok.bin] [-t THREADS] [--kv f16|f32] [--json]\n"
            "                    [--min-agreement PCT] [--max-kl NATS]\n"
            "  Runs both models over the same n positions of a text (default: a built-in text of a few\n"
            "  paragraphs, repeated if needed; token ids from --ids FILE, or pseudo-random ids when the\n"
            "  reference has no tokenizer) and prints the top-1 agreement of the next-token choices, the\n"
            "  mean KL(reference || quantized) of the next-token distributions (softmax in double), the\n"
            "  max |logit difference| and both perplexities. Windows of the context length are used\n"
            "  when n exceeds it. --min-agreement / --max-kl: exit 1 when the result is worse.\n");
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* n ids from text (repeated after the first pass, without another BOS), from
 * an ids file, or pseudo-random; *source describes which. */
static int32_t *make_ids(const kvlm_tokenizer *tok, const char *text_path, const char *ids_path, int n, int vocab,
                         const char **source, int *repeated) {
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    if (!ids) return NULL;
    *repeated = 0;
    if (ids_path) {
        size_t len;
        char *s = read_all(ids_path, &len);
        if (!s) {
            fprintf(stderr, "kvlm quality: cannot read %s: %s\n", ids_path, strerror(errno));
            free(ids);
            return NULL;
        }
        int k = 0;
        char *p = s, *end;
        while (*p) {
            while (*p && !(*p == '-' || (*p >= '0' && *p <= '9'))) p++;
            if (!*p) break;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            p = end;
            if (v < 0 || v >= vocab) {
                fprintf(stderr, "kvlm quality: %s: id %ld is outside the vocabulary (%d)\n", ids_path, v, vocab);
                free(s);
                free(ids);
                return NULL;
            }
            ids[k % n] = (int32_t)v;
            if (++k >= n) break;
        }
        free(s);
        if (k < n) {
            fprintf(stderr, "kvlm quality: %s holds %d ids, %d are needed (-n)\n", ids_path, k, n);
            free(ids);
            return NULL;
        }
        *source = ids_path;
        return ids;
    }
    if (!tok) {
        uint64_t x = 0x2545F4914F6CDD1Dull;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            ids[i] = (int32_t)((x >> 33) % (uint64_t)vocab);
        }
        *source = "pseudo-random ids (the reference has no tokenizer)";
        return ids;
    }
    const char *text = builtin_text;
    size_t len = sizeof builtin_text - 1;
    char *owned = NULL;
    if (text_path) {
        owned = read_all(text_path, &len);
        if (!owned) {
            fprintf(stderr, "kvlm quality: cannot read %s: %s\n", text_path, strerror(errno));
            free(ids);
            return NULL;
        }
        text = owned;
    }
    *source = text_path ? text_path : "the built-in text";
    int k = 0;
    for (int pass = 0; k < n; pass++) {
        int flags = pass == 0 ? KVLM_TOKENIZE_ADD_BOS : 0;
        int need = kvlm_tokenize(tok, text, len, flags, NULL, 0);
        if (need <= 0) {
            fprintf(stderr, "kvlm quality: cannot tokenize the text: %s\n", need < 0 ? kvlm_last_error() : "it is empty");
            free(owned);
            free(ids);
            return NULL;
        }
        int32_t *t = malloc(sizeof(int32_t) * (size_t)need);
        if (!t) break;
        kvlm_tokenize(tok, text, len, flags, t, need);
        for (int i = 0; i < need && k < n; i++) ids[k++] = t[i];
        free(t);
        if (k < n) *repeated = 1;
    }
    free(owned);
    if (k < n) {
        free(ids);
        return NULL;
    }
    return ids;
}

typedef struct {
    long n;
    long agree;
    double kl_sum, kl_max;
    long kl_max_pos;
    double dlogit_max;
    double nll_ref, nll_q;
    long n_nll;
} stats;

/* log-sum-exp of x in double */
static double lse(const float *x, int V, int *argmax) {
    int a = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[a]) a = i;
    double m = x[a], s = 0;
    for (int i = 0; i < V; i++) s += exp((double)x[i] - m);
    *argmax = a;
    return m + log(s);
}

static void accumulate(stats *s, const float *r, const float *q, int V, long pos, int next) {
    int ar, aq;
    double lr = lse(r, V, &ar), lq = lse(q, V, &aq);
    double kl = 0, dmax = 0;
    for (int i = 0; i < V; i++) {
        double a = (double)r[i] - lr, b = (double)q[i] - lq;
        kl += exp(a) * (a - b);
        double d = fabs((double)r[i] - (double)q[i]);
        if (d > dmax) dmax = d;
    }
    if (kl < 0) kl = 0; /* rounding when the distributions are identical */
    s->n++;
    s->agree += ar == aq;
    s->kl_sum += kl;
    if (kl > s->kl_max) {
        s->kl_max = kl;
        s->kl_max_pos = pos;
    }
    if (dmax > s->dlogit_max) s->dlogit_max = dmax;
    if (next >= 0) {
        s->nll_ref -= (double)r[next] - lr;
        s->nll_q -= (double)q[next] - lq;
        s->n_nll++;
    }
}

int cmd_quality(int argc, char **argv) {
    const char *qpath = NULL, *rpath = NULL, *text_path = NULL, *ids_path = NULL, *tok_path = NULL, *kv = "f16";
    int n = 512, threads = 0, json = 0;
    double min_agree = -1, max_kl = -1;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},         {"ref", required_argument, 0, 'r'},
        {"text", required_argument, 0, 'x'},          {"ids", required_argument, 0, 'i'},
        {"tokenizer", required_argument, 0, 'k'},     {"threads", required_argument, 0, 't'},
        {"kv", required_argument, 0, 'v'},            {"json", no_argument, 0, 'j'},
        {"min-agreement", required_argument, 0, 'a'}, {"max-kl", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:r:n:t:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': qpath = optarg; break;
        case 'r': rpath = optarg; break;
        case 'x': text_path = optarg; break;
        case 'i': ids_path = optarg; break;
        case 'k': tok_path = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'v': kv = optarg; break;
        case 'j': json = 1; break;
        case 'a': min_agree = atof(optarg); break;
        case 'l': max_kl = atof(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!qpath || !rpath || optind != argc || n < 1 || threads < 0 || (strcmp(kv, "f16") && strcmp(kv, "f32")) ||
        (text_path && ids_path)) {
        usage(stderr);
        return 2;
    }
    kvlm_model_options mo = {.n_threads = threads, .tokenizer_path = tok_path};
    kvlm_model *ref = kvlm_model_open(rpath, &mo);
    if (!ref) {
        fprintf(stderr, "kvlm quality: %s\n", kvlm_last_error());
        return 1;
    }
    kvlm_model *qm = kvlm_model_open(qpath, &mo);
    if (!qm) {
        fprintf(stderr, "kvlm quality: %s\n", kvlm_last_error());
        kvlm_model_free(ref);
        return 1;
    }
    kvlm_model_info ri, qi;
    kvlm_model_get_info(ref, &ri);
    kvlm_model_get_info(qm, &qi);
    int rc = 1, V = ri.vocab_size;
    int32_t *ids = NULL;
    float *lr = NULL, *lq = NULL;
    kvlm_state *sr = NULL, *sq = NULL;
    const char *source = "";
    int repeated = 0;
    if (qi.vocab_size != V) {
        fprintf(stderr, "kvlm quality: the vocabularies differ (%s: %d, %s: %d)\n", rpath, V, qpath, qi.vocab_size);
        goto done;
    }
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(ref);
    if (!tok) tok = kvlm_model_tokenizer(qm);
    ids = make_ids(tok, text_path, ids_path, n, V, &source, &repeated);
    if (!ids) goto done;
    int n_ctx = n;
    if (n_ctx > ri.max_pos) n_ctx = ri.max_pos;
    if (n_ctx > qi.max_pos) n_ctx = qi.max_pos;
    kvlm_state_options so = {.n_ctx = n_ctx, .kv_type = strcmp(kv, "f32") ? KVLM_KV_F16 : KVLM_KV_F32};
    sr = kvlm_state_new(ref, &so);
    sq = sr ? kvlm_state_new(qm, &so) : NULL;
    enum { CHUNK = 32 };
    lr = malloc(sizeof(float) * (size_t)V * CHUNK);
    lq = malloc(sizeof(float) * (size_t)V * CHUNK);
    if (!sr || !sq || !lr || !lq) {
        fprintf(stderr, "kvlm quality: %s\n", sr && sq ? "out of memory" : kvlm_last_error());
        goto done;
    }
    stats s = {0};
    double t0 = kvlm_now_ms();
    for (int w0 = 0; w0 < n; w0 += n_ctx) {
        int wn = n - w0 < n_ctx ? n - w0 : n_ctx;
        kvlm_state_reset(sr);
        kvlm_state_reset(sq);
        for (int c0 = 0; c0 < wn; c0 += CHUNK) {
            int cn = wn - c0 < CHUNK ? wn - c0 : CHUNK;
            const int32_t *chunk = ids + w0 + c0;
            if (kvlm_predict(sr, chunk, cn, lr, KVLM_LOGITS_ALL) || kvlm_predict(sq, chunk, cn, lq, KVLM_LOGITS_ALL)) {
                fprintf(stderr, "kvlm quality: %s\n", kvlm_last_error());
                goto done;
            }
            for (int i = 0; i < cn; i++) {
                long pos = w0 + c0 + i;
                int next = pos + 1 < n && c0 + i + 1 < wn ? ids[pos + 1] : -1;
                accumulate(&s, lr + (size_t)i * V, lq + (size_t)i * V, V, pos, next);
            }
        }
        if (!json && w0 + wn < n) fprintf(stderr, "\rkvlm quality: %d/%d positions", w0 + wn, n);
    }
    double secs = (kvlm_now_ms() - t0) / 1e3;
    double agree = 100.0 * (double)s.agree / (double)s.n, kl = s.kl_sum / (double)s.n;
    double ppl_r = s.n_nll ? exp(s.nll_ref / (double)s.n_nll) : NAN, ppl_q = s.n_nll ? exp(s.nll_q / (double)s.n_nll) : NAN;
    if (json) {
        char pr[32] = "null", pq[32] = "null"; /* no next token (n = 1): no perplexity */
        if (s.n_nll) {
            snprintf(pr, sizeof pr, "%.6g", ppl_r);
            snprintf(pq, sizeof pq, "%.6g", ppl_q);
        }
        printf("{\"positions\": %ld, \"top1_agreement\": %.6f, \"agree\": %ld, \"kl_mean\": %.9g, \"kl_max\": %.9g, "
               "\"kl_max_position\": %ld, \"max_abs_dlogit\": %.6g, \"ppl_ref\": %s, \"ppl_quantized\": %s, "
               "\"ref_type\": \"%s\", \"quantized_type\": \"%s\", \"seconds\": %.2f}\n",
               s.n, agree / 100.0, s.agree, kl, s.kl_max, s.kl_max_pos, s.dlogit_max, pr, pq, ri.weight_type,
               qi.weight_type, secs);
    } else {
        printf("kvlm quality: %ld positions of %s%s, context %d, %s KV cache (%.1f s)\n", s.n, source,
               repeated ? " (repeated)" : "", n_ctx, kv, secs);
        printf("  reference   %s (%s)\n", rpath, ri.weight_type);
        printf("  quantized   %s (%s)\n", qpath, qi.weight_type);
        printf("  top-1 agreement    %.2f%% (%ld/%ld)\n", agree, s.agree, s.n);
        printf("  mean KL(ref||q)    %.6g nats (max %.4g at position %ld)\n", kl, s.kl_max, s.kl_max_pos);
        printf("  max |Δlogit|       %.4g\n", s.dlogit_max);
        if (s.n_nll) printf("  perplexity         reference %.4g, quantized %.4g (%ld next tokens)\n", ppl_r, ppl_q, s.n_nll);
    }
    rc = 0;
    if (min_agree >= 0 && agree < min_agree) {
        fprintf(stderr, "kvlm quality: top-1 agreement %.2f%% is below %.2f%%\n", agree, min_agree);
        rc = 1;
    }
    if (max_kl >= 0 && kl > max_kl) {
        fprintf(stderr, "kvlm quality: mean KL %.6g is above %.6g\n", kl, max_kl);
        rc = 1;
    }
done:
    free(ids);
    free(lr);
    free(lq);
    kvlm_state_free(sr);
    kvlm_state_free(sq);
    kvlm_model_free(qm);
    kvlm_model_free(ref);
    return rc;
}
