/* kvlm's side of the llama.cpp interoperability check: tokenizes a prompt
 * with the model's own tokenizer (BOS added), then decodes greedily (argmax,
 * first index on ties, no stop ids) for N steps and prints
 *   prompt: ID ID ...
 *   greedy: ID ID ...    (the argmax at each step)
 *   margin: M M ...      (top-1 minus top-2 logit at each step)
 * With FORCED (a file whose "greedy:" line holds N ids) those ids are fed
 * instead of the argmax (teacher forcing). With OTHER (N rows of float32
 * logits, as llamacpp_greedy_ids writes them for the same FORCED ids) it also
 * prints how the two next-token distributions compare, step by step:
 *   compare: argmax K/N mean_kl X max_kl Y max_dlogit Z   (KL(kvlm || other), softmax in double)
 * usage: kvlm_greedy_ids MODEL PROMPT N [THREADS [FORCED [OTHER]]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forced_ids.h"
#include "kvlm.h"

static double log_sum_exp(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)x[i] - m);
    return m + log(s);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: kvlm_greedy_ids MODEL PROMPT N [THREADS [FORCED [OTHER]]]\n");
        return 2;
    }
    int steps = atoi(argv[3]);
    kvlm_model_options mo = {.n_threads = argc > 4 ? atoi(argv[4]) : 0};
    int32_t *forced = argc > 5 ? read_forced_ids(argv[5], steps > 0 ? steps : 1) : NULL;
    FILE *other = argc > 6 ? fopen(argv[6], "rb") : NULL;
    if ((argc > 5 && !forced) || (argc > 6 && !other)) {
        fprintf(stderr, "kvlm_greedy_ids: cannot read %s\n", argc > 5 && !forced ? argv[5] : argv[6]);
        return 1;
    }
    kvlm_model *m = kvlm_model_open(argv[1], &mo);
    if (!m) {
        fprintf(stderr, "kvlm_greedy_ids: %s\n", kvlm_last_error());
        return 1;
    }
    const kvlm_tokenizer *tok = kvlm_model_tokenizer(m);
    if (!tok || steps < 1) {
        fprintf(stderr, "kvlm_greedy_ids: %s\n", tok ? "N must be >= 1" : "the model has no tokenizer");
        kvlm_model_free(m);
        return 1;
    }
    const char *prompt = argv[2];
    int n = kvlm_tokenize(tok, prompt, strlen(prompt), KVLM_TOKENIZE_ADD_BOS, NULL, 0);
    kvlm_model_info info;
    kvlm_model_get_info(m, &info);
    int V = info.vocab_size;
    int32_t *ids = n > 0 ? malloc(sizeof(int32_t) * (size_t)(n + steps)) : NULL;
    int32_t *argmax_at = malloc(sizeof(int32_t) * (size_t)steps);
    float *logits = malloc(sizeof(float) * (size_t)V), *theirs = malloc(sizeof(float) * (size_t)V);
    float *margins = malloc(sizeof(float) * (size_t)steps);
    kvlm_state_options so = {.n_ctx = n + steps + 1};
    kvlm_state *s = ids ? kvlm_state_new(m, &so) : NULL;
    int rc = 1, same = 0;
    double kl_sum = 0, kl_max = 0, dmax = 0;
    if (!ids || !argmax_at || !logits || !theirs || !margins || !s) {
        fprintf(stderr, "kvlm_greedy_ids: %s\n", n <= 0 ? "cannot tokenize the prompt" : kvlm_last_error());
        goto done;
    }
    kvlm_tokenize(tok, prompt, strlen(prompt), KVLM_TOKENIZE_ADD_BOS, ids, n);
    for (int i = 0; i < steps; i++) {
        const int32_t *in = i == 0 ? ids : ids + n + i - 1;
        if (kvlm_predict(s, in, i == 0 ? n : 1, logits, KVLM_LOGITS_LAST) != KVLM_OK) {
            fprintf(stderr, "kvlm_greedy_ids: %s\n", kvlm_last_error());
            goto done;
        }
        int a = 0, b = -1;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[a]) a = v;
        for (int v = 0; v < V; v++)
            if (v != a && (b < 0 || logits[v] > logits[b])) b = v;
        argmax_at[i] = a;
        margins[i] = logits[a] - logits[b];
        ids[n + i] = forced ? forced[i] : a;
        if (other) {
            if (fread(theirs, sizeof(float), (size_t)V, other) != (size_t)V) {
                fprintf(stderr, "kvlm_greedy_ids: %s holds fewer than %d rows of %d logits\n", argv[6], steps, V);
                goto done;
            }
            double la = log_sum_exp(logits, V), lb = log_sum_exp(theirs, V), kl = 0;
            int ta = 0;
            for (int v = 0; v < V; v++) {
                double p = (double)logits[v] - la, q = (double)theirs[v] - lb;
                kl += exp(p) * (p - q);
                if (fabs((double)logits[v] - theirs[v]) > dmax) dmax = fabs((double)logits[v] - theirs[v]);
                if (theirs[v] > theirs[ta]) ta = v;
            }
            kl_sum += kl > 0 ? kl : 0;
            if (kl > kl_max) kl_max = kl;
            same += ta == a;
        }
    }
    printf("prompt:");
    for (int i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\ngreedy:");
    for (int i = 0; i < steps; i++) printf(" %d", argmax_at[i]);
    printf("\nmargin:");
    for (int i = 0; i < steps; i++) printf(" %.4f", margins[i]);
    printf("\n");
    if (other) printf("compare: argmax %d/%d mean_kl %.6g max_kl %.6g max_dlogit %.4g\n", same, steps, kl_sum / steps, kl_max, dmax);
    rc = 0;
done:
    if (other) fclose(other);
    kvlm_state_free(s);
    free(forced);
    free(ids);
    free(argmax_at);
    free(logits);
    free(theirs);
    free(margins);
    kvlm_model_free(m);
    return rc;
}
