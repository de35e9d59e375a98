/* kvlm bench: prefill tokens/s per prompt length, decode tokens/s, open →
 * first logits, peak RSS, and the decode bandwidth limit (weight bytes read
 * per token ÷ the memory read bandwidth measured in the same run). Every
 * figure is the median of -r repetitions after one warm-up. */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "commands.h"
#include "kvlm.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------ memory read bandwidth */

typedef struct {
    const void *p;
    size_t n; /* 64-byte lines */
    uint64_t sum;
} bw_part;

/* Sums n cache lines front to back: one sequential stream per thread. */
static void *read_part(void *arg) {
    bw_part *b = arg;
#if defined(__SSE2__)
    const __m128i *p = b->p;
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < 4 * b->n; i += 4) {
        a0 = _mm_add_epi64(a0, _mm_load_si128(p + i));
        a1 = _mm_add_epi64(a1, _mm_load_si128(p + i + 1));
        a2 = _mm_add_epi64(a2, _mm_load_si128(p + i + 2));
        a3 = _mm_add_epi64(a3, _mm_load_si128(p + i + 3));
    }
    uint64_t out[2];
    _mm_storeu_si128((__m128i *)out, _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3)));
    b->sum = out[0] + out[1];
#else
    const uint64_t *q = b->p;
    uint64_t s[8] = {0};
    for (size_t i = 0; i < 8 * b->n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += q[i + j];
    b->sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
#endif
    return NULL;
}

/* GB/s reading a 1 GiB buffer with n threads (best of reps: the machine's
 * capability, not its noise). */
static double read_bandwidth(int n_threads, int reps) {
    size_t bytes = (size_t)1 << 30;
    uint8_t *buf = aligned_alloc(64, bytes);
    if (!buf) return 0;
    memset(buf, 1, bytes);
    double best = 0;
    for (int r = 0; r < reps; r++) {
        pthread_t th[64];
        bw_part parts[64];
        size_t per = bytes / 64 / (size_t)n_threads;
        double t0 = kvlm_now_ms();
        for (int i = 0; i < n_threads; i++) {
            parts[i] = (bw_part){buf + (size_t)i * per * 64, per, 0};
            pthread_create(&th[i], NULL, read_part, &parts[i]);
        }
        uint64_t sink = 0;
        for (int i = 0; i < n_threads; i++) {
            pthread_join(th[i], NULL);
            sink += parts[i].sum;
        }
        double gbs = (double)bytes / ((kvlm_now_ms() - t0) * 1e6);
        if (gbs > best && sink) best = gbs;
    }
    free(buf);
    return best;
}

/* ------------------------------------------------------------ the runs */

typedef struct {
    const char *model;
    int *prompts;
    int n_prompts;
    int n_decode;
    int depth; /* tokens already in the state when each timed run starts */
    int threads;
    int reps;
    int json;
    int ctx;
    kvlm_kernels kernels;
    kvlm_activations act;
} bench_opts;

static void ids_for(int32_t *ids, int n, int vocab) {
    for (int i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)i * 7919 + 13) % (vocab > 128000 ? 128000 : vocab));
}

/* A fresh state that has seen the first depth ids (untimed), as llama-bench's -d */
static kvlm_status start_at_depth(kvlm_state *s, const int32_t *ids, int depth) {
    kvlm_state_reset(s);
    return depth > 0 ? kvlm_predict(s, ids, depth, NULL, KVLM_LOGITS_LAST) : KVLM_OK;
}

/* open → state → logits of a 1-token prompt → free: the cold-start path of an app */
static double open_to_first_logits(const bench_opts *o, int vocab) {
    float *logits = malloc(sizeof(float) * (size_t)vocab);
    double t0 = kvlm_now_ms();
    kvlm_model_options mo = {.n_threads = o->threads, .kernels = o->kernels, .activations = o->act};
    kvlm_model *m = kvlm_model_open(o->model, &mo);
    kvlm_state *s = m ? kvlm_state_new(m, NULL) : NULL;
    int32_t id = 1;
    kvlm_status st = s ? kvlm_predict(s, &id, 1, logits, KVLM_LOGITS_LAST) : KVLM_ERR_ARG;
    double ms = kvlm_now_ms() - t0;
    kvlm_state_free(s);
    kvlm_model_free(m);
    free(logits);
    return st == KVLM_OK ? ms : -1;
}

static uint64_t file_bytes(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return (uint64_t)st.st_size;
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", path);
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int run_bench(const bench_opts *o) {
    kvlm_model_options mo = {.n_threads = o->threads, .kernels = o->kernels, .activations = o->act};
    kvlm_model *m = kvlm_model_open(o->model, &mo);
    if (!m) {
        fprintf(stderr, "kvlm bench: %s\n", kvlm_last_error());
        return 1;
    }
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    int max_p = 1;
    for (int i = 0; i < o->n_prompts; i++) max_p = o->prompts[i] > max_p ? o->prompts[i] : max_p;
    int ctx = o->ctx ? o->ctx : o->depth + (max_p > o->n_decode ? max_p : o->n_decode) + 1;
    kvlm_state_options so = {.n_ctx = ctx};
    kvlm_state *s = kvlm_state_new(m, &so);
    if (!s) {
        fprintf(stderr, "kvlm bench: %s\n", kvlm_last_error());
        kvlm_model_free(m);
        return 1;
    }
    int n_ids = o->depth + max_p + o->n_decode + 1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n_ids);
    ids_for(ids, n_ids, info.vocab_size);
    const int32_t *run_ids = ids + o->depth;
    float *logits = malloc(sizeof(float) * (size_t)info.vocab_size);
    double *runs = malloc(sizeof(double) * (size_t)(o->reps + 1));
    json_t *out = json_object(), *pp = json_array();
    double pp_tps[64];
    for (int i = 0; i < o->n_prompts; i++) {
        int n = o->prompts[i];
        for (int r = 0; r <= o->reps; r++) {
            kvlm_status st = start_at_depth(s, ids, o->depth);
            double t0 = kvlm_now_ms();
            if (st == KVLM_OK) st = kvlm_predict(s, run_ids, n, logits, KVLM_LOGITS_LAST);
            double ms = kvlm_now_ms() - t0;
            if (st != KVLM_OK) goto failed;
            if (r > 0) runs[r - 1] = n / ms * 1e3; /* the first run warms up */
        }
        pp_tps[i] = median(runs, o->reps);
        json_t *e = json_object();
        json_object_set_new(e, "n_prompt", json_integer(n));
        json_object_set_new(e, "tokens_per_s", json_real(pp_tps[i]));
        json_array_append_new(pp, e);
    }
    double tg_tps = 0;
    if (o->n_decode > 0) {
        for (int r = 0; r <= o->reps; r++) {
            kvlm_status st = start_at_depth(s, ids, o->depth);
            double t0 = kvlm_now_ms();
            for (int k = 0; k < o->n_decode && st == KVLM_OK; k++)
                st = kvlm_predict(s, &run_ids[k], 1, logits, KVLM_LOGITS_LAST);
            double ms = kvlm_now_ms() - t0;
            if (st != KVLM_OK) goto failed;
            if (r > 0) runs[r - 1] = o->n_decode / ms * 1e3;
        }
        tg_tps = median(runs, o->reps);
    }
    kvlm_state_free(s);
    kvlm_model_free(m);
    for (int r = 0; r <= o->reps; r++) {
        double ms = open_to_first_logits(o, info.vocab_size);
        if (r > 0) runs[r - 1] = ms;
    }
    double open_ms = median(runs, o->reps);
    /* peak RSS of the model's runs, before the bandwidth test's own buffer */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    double bw = read_bandwidth(o->threads, 5);
    double limit_tps = bw > 0 ? bw * 1e9 / (double)info.weight_bytes : 0;
    uint64_t fbytes = file_bytes(o->model);
    double kv_mb = 2.0 * info.n_layers * info.n_kv_heads * info.head_dim * 2.0 * ctx / 1048576.0;

    if (o->json) {
        json_object_set_new(out, "model", json_string(o->model));
        json_object_set_new(out, "format", json_string(info.source_format));
        json_object_set_new(out, "weight_type", json_string(info.weight_type));
        json_object_set_new(out, "kernels", json_string(info.kernels));
        json_object_set_new(out, "activations", json_string(info.activations));
        json_object_set_new(out, "threads", json_integer(info.n_threads));
        json_object_set_new(out, "repetitions", json_integer(o->reps));
        json_object_set_new(out, "depth", json_integer(o->depth));
        json_object_set_new(out, "weight_bytes_per_token", json_integer((json_int_t)info.weight_bytes));
        json_object_set_new(out, "prefill", pp);
        json_object_set_new(out, "decode_tokens", json_integer(o->n_decode));
        json_object_set_new(out, "decode_tokens_per_s", json_real(tg_tps));
        json_object_set_new(out, "decode_ms_per_token", json_real(tg_tps > 0 ? 1e3 / tg_tps : 0));
        json_object_set_new(out, "open_to_first_logits_ms", json_real(open_ms));
        json_object_set_new(out, "read_bandwidth_gb_s", json_real(bw));
        json_object_set_new(out, "decode_limit_tokens_per_s", json_real(limit_tps));
        json_object_set_new(out, "decode_share_of_limit", json_real(limit_tps > 0 ? tg_tps / limit_tps : 0));
        json_object_set_new(out, "peak_rss_mb", json_real(rss_mb));
        json_object_set_new(out, "file_mb", json_real((double)fbytes / 1048576.0));
        json_object_set_new(out, "kv_cache_mb", json_real(kv_mb));
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else {
        json_decref(pp);
        printf("model    %s (%s, %s), kernels %s, %s activations, %d threads, median of %d runs\n", o->model,
               info.source_format, info.weight_type, info.kernels, info.activations, info.n_threads, o->reps);
        printf("weights  %.1f MB read per token\n", (double)info.weight_bytes / 1e6);
        if (o->depth > 0) printf("depth    each run starts after %d tokens already in the state\n", o->depth);
        printf("| test                  |     result |\n|-----------------------|------------|\n");
        printf("| open → first logits   | %7.1f ms |\n", open_ms);
        for (int i = 0; i < o->n_prompts; i++)
            printf("| pp%-5d prefill        | %6.1f t/s |\n", o->prompts[i], pp_tps[i]);
        if (o->n_decode > 0) {
            printf("| tg%-5d decode         | %6.2f t/s |\n", o->n_decode, tg_tps);
            printf("| decode ms/token       | %7.2f ms |\n", 1e3 / tg_tps);
        }
        printf("memory   read bandwidth %.1f GB/s (%d threads) → decode limit %.2f t/s; decode at %.0f%% of it\n", bw,
               o->threads, limit_tps, limit_tps > 0 ? 100.0 * tg_tps / limit_tps : 0);
        printf("rss      peak %.0f MB (file %.0f MB + KV cache %.0f MB)\n", rss_mb, (double)fbytes / 1048576.0, kv_mb);
    }
    json_decref(out);
    free(runs);
    free(ids);
    free(logits);
    return 0;

failed: /* a run the model refused (context too small for -d + -p/-n, say) */
    fprintf(stderr, "kvlm bench: %s\n", kvlm_last_error());
    kvlm_state_free(s);
    kvlm_model_free(m);
    json_decref(pp);
    json_decref(out);
    free(runs);
    free(ids);
    free(logits);
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: kvlm bench -m MODEL [-p 64,512] [-n 128] [-d 0] [-t THREADS] [-r 5] [--json]\n"
               "                  [--kernels scalar|avx2|avx512] [--act f32|q8|bf16]\n"
               "  -d N   start each run with N tokens already in the state (decode deep in a context)\n"
               "  --act  q8: int8 activations for Q8_0/Q4_0/K-quant weights; bf16: BF16 activations for BF16 weights\n");
}

int cmd_bench(int argc, char **argv) {
    int prompts[64] = {64, 512};
    bench_opts o = {.prompts = prompts, .n_prompts = 2, .n_decode = 128, .threads = 0, .reps = 5};
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"prompts", required_argument, 0, 'p'},
                                         {"decode", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'},
                                         {"depth", required_argument, 0, 'd'},
                                         {"reps", required_argument, 0, 'r'},  {"json", no_argument, 0, 'j'},
                                         {"kernels", required_argument, 0, 'k'}, {"ctx", required_argument, 0, 'c'},
                                         {"act", required_argument, 0, 'a'},   {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "m:p:n:d:t:r:jk:c:a:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': o.model = optarg; break;
        case 'p': {
            o.n_prompts = 0;
            for (char *tok = strtok(optarg, ","); tok && o.n_prompts < 64; tok = strtok(NULL, ",")) {
                int v = atoi(tok);
                if (v < 1) {
                    fprintf(stderr, "kvlm bench: -p wants positive prompt lengths\n");
                    return 2;
                }
                prompts[o.n_prompts++] = v;
            }
            break;
        }
        case 'n': o.n_decode = atoi(optarg); break;
        case 'd': o.depth = atoi(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 'r': o.reps = atoi(optarg); break;
        case 'j': o.json = 1; break;
        case 'c': o.ctx = atoi(optarg); break;
        case 'k':
            o.kernels = !strcmp(optarg, "scalar") ? KVLM_KERNELS_SCALAR
                        : !strcmp(optarg, "avx2") ? KVLM_KERNELS_AVX2
                        : !strcmp(optarg, "avx512") ? KVLM_KERNELS_AVX512 : KVLM_KERNELS_AUTO;
            break;
        case 'a':
            if (!strcmp(optarg, "q8")) o.act = KVLM_ACT_Q8;
            else if (!strcmp(optarg, "bf16")) o.act = KVLM_ACT_BF16;
            else if (!strcmp(optarg, "f32")) o.act = KVLM_ACT_F32;
            else {
                fprintf(stderr, "kvlm bench: --act %s: expected f32, q8 or bf16\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.model || o.reps < 1 || o.n_decode < 0 || o.depth < 0 || o.threads < 0) {
        usage(stderr);
        return 2;
    }
    if (o.threads == 0) {
        kvlm_model_info info;
        kvlm_model_options mo = {0};
        kvlm_model *m = kvlm_model_open(o.model, &mo);
        if (!m) {
            fprintf(stderr, "kvlm bench: %s\n", kvlm_last_error());
            return 1;
        }
        kvlm_model_get_info(m, &info);
        o.threads = info.n_threads;
        kvlm_model_free(m);
    }
    return run_bench(&o);
}
