/* kvlm verify -m MODEL: the same prompt through the scalar reference path and
 * through every fast kernel set this CPU runs; per set, the largest logit
 * difference and the top-1 agreement over every position. A backend that
 * produces wrong tokens shows up here (exit status 1).
 *
 * For quantized weights (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) it also runs the
 * int8-activation mode (KVLM_ACT=q8), for BF16 weights the BF16-activation
 * mode (KVLM_ACT=bf16), on every set, scalar included, against the same FP32
 * scalar reference: that is the mode's whole error. Rounding the activations
 * turns the FP32 paths' last-bit differences into whole rounding steps, so
 * these rows are held to the rounding error (max |Δ| ≤ 5% of the largest
 * logit) rather than to top-1 agreement, which near-ties of a random model
 * break. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kvlm.h"

static const char *default_text =
    "The quick brown fox jumps over the lazy dog. Translation is the communication of the meaning of a "
    "source-language text by means of an equivalent target-language text.";

static int32_t argmax(const float *v, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int32_t)b;
}

/* logits for every prompt position, then greedy steps forced to the reference's choices */
static float *run_path(const char *model_path, const char *tok_path, kvlm_kernels k, kvlm_activations act,
                       const int32_t *ids, int n_prompt, const int32_t *forced, int n_steps, int threads,
                       kvlm_model_info *info) {
    kvlm_model_options mo = {.n_threads = threads, .kernels = k, .tokenizer_path = tok_path, .activations = act};
    kvlm_model *m = kvlm_model_open(model_path, &mo);
    if (!m) return NULL;
    kvlm_model_get_info(m, info);
    size_t V = (size_t)info->vocab_size;
    kvlm_state_options so = {.n_ctx = n_prompt + n_steps + 1};
    kvlm_state *s = kvlm_state_new(m, &so);
    float *out = s ? malloc(sizeof(float) * V * (size_t)(n_prompt + n_steps)) : NULL;
    int ok = out && kvlm_predict(s, ids, n_prompt, out, KVLM_LOGITS_ALL) == KVLM_OK;
    for (int i = 0; ok && i < n_steps; i++) {
        float *row = out + V * (size_t)(n_prompt + i);
        if (forced) {
            ok = kvlm_predict(s, &forced[i], 1, row, KVLM_LOGITS_LAST) == KVLM_OK;
        } else {
            /* the reference picks its own greedy tokens */
            int32_t best = argmax(out + V * (size_t)(n_prompt + i - 1), V);
            ok = kvlm_predict(s, &best, 1, row, KVLM_LOGITS_LAST) == KVLM_OK;
        }
    }
    kvlm_state_free(s);
    kvlm_model_free(m);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static void usage(FILE *f) {
    fprintf(f, "usage: kvlm verify -m MODEL [--tokenizer FILE] [-p TEXT] [-n STEPS] [-t THREADS]\n");
}

int cmd_verify(int argc, char **argv) {
    const char *model = NULL, *tok = NULL, *text = default_text;
    int steps = 16, threads = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"tokenizer", required_argument, 0, 'k'},
                                         {"prompt", required_argument, 0, 'p'}, {"steps", required_argument, 0, 'n'},
                                         {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "m:k:p:n:t:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'k': tok = optarg; break;
        case 'p': text = optarg; break;
        case 'n': steps = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model || steps < 1 || steps > 512) {
        usage(stderr);
        return 2;
    }
    /* the prompt: the text as the model's tokenizer encodes it, or fixed ids without one */
    kvlm_model_options mo = {.n_threads = 1, .kernels = KVLM_KERNELS_SCALAR, .tokenizer_path = tok};
    kvlm_model *m = kvlm_model_open(model, &mo);
    if (!m) {
        fprintf(stderr, "kvlm verify: %s\n", kvlm_last_error());
        return 1;
    }
    kvlm_model_info ref_info;
    kvlm_model_get_info(m, &ref_info);
    int32_t ids[512];
    int n = 0;
    const kvlm_tokenizer *tk = kvlm_model_tokenizer(m);
    if (tk) n = kvlm_tokenize(tk, text, strlen(text), KVLM_TOKENIZE_ADD_BOS, ids, 256);
    if (n <= 0 || n > 256) {
        n = 32;
        for (int i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)i * 7919 + 13) % ref_info.vocab_size);
    }
    kvlm_model_free(m);
    size_t V = (size_t)ref_info.vocab_size;
    int n_pos = n + steps;
    kvlm_model_info info;
    float *ref = run_path(model, tok, KVLM_KERNELS_SCALAR, KVLM_ACT_F32, ids, n, NULL, steps, threads, &info);
    if (!ref) {
        fprintf(stderr, "kvlm verify: %s\n", kvlm_last_error());
        return 1;
    }
    int32_t *forced = malloc(sizeof(int32_t) * (size_t)steps);
    for (int i = 0; i < steps; i++) forced[i] = argmax(ref + V * (size_t)(n + i - 1), V);
    printf("model %s (%s, %s weights), %d prompt tokens + %d greedy steps = %d positions, reference: scalar\n", model,
           info.source_format, info.weight_type, n, steps, n_pos);
    printf("| kernels | activations | top-1 agreement | max |Δlogit| | max |Δlogit| / max |logit| |\n");
    printf("|---------|-------------|-----------------|--------------|----------------------------|\n");
    const char *int8_types[] = {"q8_0", "q4_0", "q4_K", "q5_K", "q6_K"};
    int q8_weights = 0, bf16_weights = !strcmp(info.weight_type, "bf16");
    for (size_t i = 0; i < sizeof int8_types / sizeof int8_types[0]; i++) q8_weights |= !strcmp(info.weight_type, int8_types[i]);
    struct {
        kvlm_kernels k;
        kvlm_activations act;
    } paths[] = {{KVLM_KERNELS_AVX2, KVLM_ACT_F32},
                 {KVLM_KERNELS_AVX512, KVLM_ACT_F32},
                 {KVLM_KERNELS_SCALAR, KVLM_ACT_Q8},
                 {KVLM_KERNELS_AVX2, KVLM_ACT_Q8},
                 {KVLM_KERNELS_AVX512, KVLM_ACT_Q8},
                 {KVLM_KERNELS_SCALAR, KVLM_ACT_BF16},
                 {KVLM_KERNELS_AVX2, KVLM_ACT_BF16},
                 {KVLM_KERNELS_AVX512, KVLM_ACT_BF16}};
    int bad = 0, ran = 0;
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        int q8 = paths[k].act == KVLM_ACT_Q8, bf16 = paths[k].act == KVLM_ACT_BF16, low = q8 || bf16;
        if ((q8 && !q8_weights) || (bf16 && !bf16_weights)) continue;
        float *got = run_path(model, tok, paths[k].k, paths[k].act, ids, n, forced, steps, threads, &info);
        if (!got) continue; /* not available on this CPU */
        ran += !low;
        int agree = 0;
        double worst = 0, worst_rel = 0;
        for (int p = 0; p < n_pos; p++) {
            const float *a = ref + V * (size_t)p, *b = got + V * (size_t)p;
            double mx = 0, d = 0;
            for (size_t i = 0; i < V; i++) {
                mx = fmax(mx, fabs(a[i]));
                d = fmax(d, fabs((double)a[i] - b[i]));
            }
            agree += argmax(a, V) == argmax(b, V);
            worst = fmax(worst, d);
            worst_rel = fmax(worst_rel, mx > 0 ? d / mx : d);
        }
        printf("| %-7s | %-11s | %3d/%-3d %6.2f%% | %12.3g | %26.3g |\n", info.kernels, info.activations, agree, n_pos,
               100.0 * agree / n_pos, worst, worst_rel);
        if (low ? !(worst_rel <= 0.05) : agree != n_pos) bad = 1;
        free(got);
    }
    if (q8_weights || bf16_weights)
        printf("(%s rows: %s activations against the FP32 scalar reference, held to max |Δ| <= 5%% of the largest "
               "logit)\n", q8_weights ? "q8" : "bf16", q8_weights ? "int8" : "BF16");
    if (!ran) printf("(this CPU runs only the scalar path)\n");
    if (bad) printf("verify: a fast path disagrees with the scalar reference\n");
    else if (q8_weights || bf16_weights)
        printf("verify: every FP32-activation path agrees with the scalar reference on every position, and the "
               "%s-activation paths stay within their bound\n", q8_weights ? "int8" : "BF16");
    else printf("verify: every fast path agrees with the scalar reference on every position\n");
    free(forced);
    free(ref);
    return bad;
}
