/* kvlm tokenize: prints the ids of a text as a JSON array, with the
 * tokenizer of a model (-m) or a tokenizer file (--tokenizer: tokenizer.json,
 * a folder holding one, llama2.c's tokenizer.bin, or a GGUF file). BOS is
 * added by default, as Hugging Face's add_special_tokens=True does. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kvlm.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: kvlm tokenize (-m MODEL | --tokenizer FILE) [--special] [--no-bos] TEXT\n\n"
            "Prints the token ids of TEXT (\"-\" reads stdin) as a JSON array.\n\n"
            "  -m, --model PATH       use the model's tokenizer (HF folder, GGUF, llama2.c checkpoint)\n"
            "  -t, --tokenizer FILE   use this tokenizer (tokenizer.json or its folder, tokenizer.bin, GGUF);\n"
            "                         with -m: the tokenizer of a llama2.c checkpoint\n"
            "  -s, --special          \"<|eot_id|>\" and the like in TEXT become their ids (default: plain text)\n"
            "  -n, --no-bos           do not add the beginning-of-text id\n");
}

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    *len = n;
    return buf;
}

int cmd_tokenize(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"tokenizer", required_argument, NULL, 't'},
        {"special", no_argument, NULL, 's'},     {"no-bos", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *tok_path = NULL;
    int flags = KVLM_TOKENIZE_ADD_BOS, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:snh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 't': tok_path = optarg; break;
        case 's': flags |= KVLM_TOKENIZE_SPECIAL; break;
        case 'n': flags &= ~KVLM_TOKENIZE_ADD_BOS; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((!model_path && !tok_path) || optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    char *owned = NULL;
    size_t len = strlen(arg);
    if (!strcmp(arg, "-")) {
        owned = read_stdin(&len);
        if (!owned) {
            fprintf(stderr, "kvlm tokenize: cannot read stdin\n");
            return 1;
        }
        arg = owned;
    }
    kvlm_model *model = NULL;
    kvlm_tokenizer *own_tok = NULL;
    const kvlm_tokenizer *tok = NULL;
    int rc = 1;
    if (model_path) {
        kvlm_model_options opts;
        memset(&opts, 0, sizeof opts);
        opts.tokenizer_path = tok_path;
        model = kvlm_model_open(model_path, &opts);
        if (!model) {
            fprintf(stderr, "kvlm tokenize: %s\n", kvlm_last_error());
            goto done;
        }
        tok = kvlm_model_tokenizer(model);
        if (!tok) {
            fprintf(stderr, "kvlm tokenize: %s has no tokenizer (give one with --tokenizer)\n", model_path);
            goto done;
        }
    } else {
        own_tok = kvlm_tokenizer_load(tok_path);
        if (!own_tok) {
            fprintf(stderr, "kvlm tokenize: %s\n", kvlm_last_error());
            goto done;
        }
        tok = own_tok;
    }
    int n = kvlm_tokenize(tok, arg, len, flags, NULL, 0);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
    if (n < 0 || !ids || kvlm_tokenize(tok, arg, len, flags, ids, n) != n) {
        fprintf(stderr, "kvlm tokenize: %s\n", n < 0 ? kvlm_last_error() : "out of memory");
        free(ids);
        goto done;
    }
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", (int)ids[i]);
    printf("]\n");
    free(ids);
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    kvlm_tokenizer_free(own_tok);
    kvlm_model_free(model);
    free(owned);
    return rc;
}
