/* llama.cpp's side of the interoperability check, written against llama.h's
 * public C API (built by llamacpp_greedy.sh beside an existing llama.cpp
 * build; no llama.cpp code here). Loads a GGUF, tokenizes the prompt with
 * the vocabulary in the file (BOS as the file asks), decodes greedily for N
 * steps (argmax over the logits, first index on ties, no stop ids) and
 * prints the same lines as kvlm_greedy_ids:
 *   prompt: ID ...
 *   greedy: ID ...
 *   margin: M ...
 * With FORCED (a file whose "greedy:" line holds N ids, e.g. kvlm's output)
 * those ids are fed instead of the argmax (teacher forcing); with LOGITS the
 * N rows of logits are written there (float32, n_vocab per row).
 * usage: llamacpp_greedy_ids MODEL PROMPT N [THREADS [FORCED [LOGITS]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forced_ids.h"
#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: llamacpp_greedy_ids MODEL PROMPT N [THREADS]\n");
        return 2;
    }
    const char *prompt = argv[2];
    int steps = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 2;
    int32_t *forced = argc > 5 ? read_forced_ids(argv[5], steps) : NULL;
    FILE *dump = argc > 6 ? fopen(argv[6], "wb") : NULL;
    if ((argc > 5 && !forced) || (argc > 6 && !dump)) {
        fprintf(stderr, "llamacpp_greedy_ids: cannot read %s or write %s\n", argv[5], argc > 6 ? argv[6] : "");
        return 1;
    }
    if (!getenv("LLAMACPP_VERBOSE")) llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llamacpp_greedy_ids: llama.cpp cannot load %s\n", argv[1]);
        return 1;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    int n = -llama_tokenize(vocab, prompt, (int32_t)strlen(prompt), NULL, 0, true, false);
    llama_token *ids = malloc(sizeof(llama_token) * (size_t)(n + steps + 1));
    float *margins = malloc(sizeof(float) * (size_t)(steps + 1));
    int *argmax_at = malloc(sizeof(int) * (size_t)(steps + 1));
    if (n <= 0 || !ids || !margins || !argmax_at ||
        llama_tokenize(vocab, prompt, (int32_t)strlen(prompt), ids, n, true, false) != n) {
        fprintf(stderr, "llamacpp_greedy_ids: cannot tokenize the prompt\n");
        return 1;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n + steps + 16);
    cp.n_batch = cp.n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llamacpp_greedy_ids: cannot create a context\n");
        return 1;
    }
    for (int i = 0; i < steps; i++) {
        llama_token *in = i == 0 ? ids : ids + n + i - 1;
        if (llama_decode(ctx, llama_batch_get_one(in, i == 0 ? n : 1)) != 0) {
            fprintf(stderr, "llamacpp_greedy_ids: llama_decode failed at step %d\n", i);
            return 1;
        }
        const float *logits = llama_get_logits_ith(ctx, -1);
        int a = 0, b = -1;
        for (int v = 1; v < n_vocab; v++)
            if (logits[v] > logits[a]) a = v;
        for (int v = 0; v < n_vocab; v++)
            if (v != a && (b < 0 || logits[v] > logits[b])) b = v;
        ids[n + i] = a;
        argmax_at[i] = a;
        margins[i] = logits[a] - logits[b];
        if (dump && fwrite(logits, sizeof(float), (size_t)n_vocab, dump) != (size_t)n_vocab) {
            fprintf(stderr, "llamacpp_greedy_ids: write error\n");
            return 1;
        }
        if (forced) ids[n + i] = forced[i]; /* what the next step is fed */
    }
    printf("prompt:");
    for (int i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\ngreedy:");
    for (int i = 0; i < steps; i++) printf(" %d", forced ? argmax_at[i] : ids[n + i]);
    printf("\nmargin:");
    for (int i = 0; i < steps; i++) printf(" %.4f", margins[i]);
    printf("\n");
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    if (dump && fclose(dump) != 0) {
        fprintf(stderr, "llamacpp_greedy_ids: write error\n");
        return 1;
    }
    free(ids);
    free(margins);
    free(argmax_at);
    free(forced);
    return 0;
}
