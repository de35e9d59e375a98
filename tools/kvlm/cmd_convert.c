/* kvlm convert SRC -o OUT.gguf --type bf16|f16|f32|q8_0|q4_0: compile a model
 * once into a GGUF package that opens by mmap. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "kvlm.h"

typedef struct {
    double t0;
    int tty;
} progress_state;

static void progress(void *ctx, int done, int total) {
    progress_state *p = ctx;
    int width = 40, filled = total ? done * width / total : width;
    if (!p->tty && done != total) return;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %d/%d tensors %.1f s", filled, "########################################",
            width - filled, "", total ? done * 100 / total : 100, done, total, (kvlm_now_ms() - p->t0) / 1e3);
    if (done == total) fputc('\n', stderr);
}

static void usage(FILE *f) {
    fprintf(f, "usage: kvlm convert SRC -o OUT.gguf [--type bf16|f16|f32|q8_0|q4_0] [--embed-type TYPE]\n"
               "                    [--tokenizer tokenizer.bin] [--name NAME]\n"
               "  SRC: a Hugging Face folder, a GGUF file, or a llama2.c checkpoint (with --tokenizer).\n"
               "  The package holds the hyper-parameters, tokenizer, chat template and stop ids; q/k rows are\n"
               "  stored in llama.cpp's order, so llama.cpp opens it too. Q4_0 files keep the embedding in Q8_0\n"
               "  unless --embed-type says otherwise.\n");
}

int cmd_convert(int argc, char **argv) {
    kvlm_convert_options o = {.type = "bf16"};
    const char *out = NULL;
    static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {"type", required_argument, 0, 't'},
                                         {"embed-type", required_argument, 0, 'e'}, {"tokenizer", required_argument, 0, 'k'},
                                         {"name", required_argument, 0, 'n'},      {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:t:e:k:n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 't': o.type = optarg; break;
        case 'e': o.embed_type = optarg; break;
        case 'k': o.tokenizer_path = optarg; break;
        case 'n': o.name = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !out) {
        usage(stderr);
        return 2;
    }
    progress_state ps = {kvlm_now_ms(), isatty(2)};
    o.progress = progress;
    o.progress_ctx = &ps;
    if (kvlm_convert(argv[optind], out, &o) != KVLM_OK) {
        fprintf(stderr, "\nkvlm convert: %s\n", kvlm_last_error());
        return 1;
    }
    fprintf(stderr, "kvlm convert: wrote %s (%s) in %.1f s\n", out, o.type, (kvlm_now_ms() - ps.t0) / 1e3);
    return 0;
}
