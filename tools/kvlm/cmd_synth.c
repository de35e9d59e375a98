/* kvlm synth: a Hugging Face folder of deterministic pseudo-random weights
 * for any Llama config, with the real tensor names and shapes.
 *
 * Scales are chosen so the model is far from flat: every projection keeps
 * unit-RMS activations (uniform weights of std 1/sqrt(fan_in)), norms are
 * near 1, and the (tied) embedding has std 8/sqrt(hidden), so logits have a
 * standard deviation of about 8 and greedy choices win by clear margins. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "core/error.h"
#include "core/half.h"
#include "core/mapped_file.h"
#include "format/safetensors_write.h"
#include "model/hf_config.h"

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float uniform(uint64_t *s) { return (float)(splitmix64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f; }

typedef struct {
    st_write_tensor t;
    float std;    /* of the random part */
    float mean;   /* added (1 for norm weights) */
} synth_tensor;

static int write_values(FILE *f, const synth_tensor *st, uint64_t seed, int index) {
    uint64_t n = 1;
    for (int d = 0; d < st->t.n_dims; d++) n *= st->t.shape[d];
    uint64_t s = seed * 0x100000001b3ull + (uint64_t)index * 0x9e3779b97f4a7c15ull + 12345;
    float a = st->std * sqrtf(3.0f); /* uniform on [-a, a] has std a/sqrt(3) */
    enum { BUF = 1 << 16 };
    static uint8_t buf[BUF * 4];
    int f32 = !strcmp(st->t.dtype, "F32"), f16 = !strcmp(st->t.dtype, "F16");
    for (uint64_t done = 0; done < n;) {
        uint64_t k = n - done < BUF ? n - done : BUF;
        for (uint64_t i = 0; i < k; i++) {
            float v = st->mean + a * uniform(&s);
            if (f32) {
                memcpy(buf + 4 * i, &v, 4);
            } else {
                uint16_t h = f16 ? f32_to_f16(v) : f32_to_bf16(v);
                memcpy(buf + 2 * i, &h, 2);
            }
        }
        size_t bytes = (size_t)k * (f32 ? 4 : 2);
        if (fwrite(buf, 1, bytes, f) != bytes) return 0;
        done += k;
    }
    return 1;
}

static int copy_file(const char *from, const char *to) {
    char *text;
    size_t len;
    if (read_whole_file(from, &text, &len) != KVLM_OK) return 0;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    free(text);
    return ok;
}

static int copy_from_dir(const char *dir, const char *name, const char *out_dir) {
    char *from = path_join(dir, name), *to = path_join(out_dir, name);
    int ok = 1;
    if (path_exists(from)) {
        ok = copy_file(from, to);
        if (!ok) fprintf(stderr, "kvlm synth: cannot copy %s to %s\n", from, to);
    }
    free(from);
    free(to);
    return ok;
}

static void usage(FILE *out) {
    fprintf(out, "usage: kvlm synth --config CONFIG.json -o OUT_DIR [--tokenizer-dir DIR] [--seed N] [--dtype bf16|f16|f32]\n"
                 "  Writes OUT_DIR/{config.json, model.safetensors} of pseudo-random weights for the config, and\n"
                 "  copies tokenizer.json, tokenizer_config.json and generation_config.json from --tokenizer-dir.\n");
}

static int build_tensors(const kvlm_config *c, const char *dtype, synth_tensor *ts) {
    int n = 0;
    uint64_t D = (uint64_t)c->dim, Q = (uint64_t)c->n_heads * c->head_dim, KV = (uint64_t)c->n_kv_heads * c->head_dim;
    uint64_t H = (uint64_t)c->hidden_dim, V = (uint64_t)c->vocab_size;
    static char names[4096][80];
#define ADD(nm, std_, mean_, nd, s0, s1)                                                         \
    do {                                                                                         \
        ts[n] = (synth_tensor){{names[n], dtype, nd, {s0, s1, 0, 0}}, std_, mean_};               \
        snprintf(names[n], sizeof names[n], "%s", nm);                                          \
        n++;                                                                                     \
    } while (0)
    char nm[80];
    ADD("model.embed_tokens.weight", 8.0f / sqrtf((float)D), 0.0f, 2, V, D);
    for (int l = 0; l < c->n_layers; l++) {
#define L(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, suffix), nm)
        ADD(L("input_layernorm"), 0.1f, 1.0f, 1, D, 0);
        ADD(L("self_attn.q_proj"), 1.0f / sqrtf((float)D), 0.0f, 2, Q, D);
        ADD(L("self_attn.k_proj"), 1.0f / sqrtf((float)D), 0.0f, 2, KV, D);
        ADD(L("self_attn.v_proj"), 1.0f / sqrtf((float)D), 0.0f, 2, KV, D);
        ADD(L("self_attn.o_proj"), 4.0f / sqrtf((float)Q), 0.0f, 2, D, Q);
        ADD(L("post_attention_layernorm"), 0.1f, 1.0f, 1, D, 0);
        ADD(L("mlp.gate_proj"), 1.0f / sqrtf((float)D), 0.0f, 2, H, D);
        ADD(L("mlp.up_proj"), 1.0f / sqrtf((float)D), 0.0f, 2, H, D);
        ADD(L("mlp.down_proj"), 4.0f / sqrtf((float)H), 0.0f, 2, D, H);
#undef L
    }
    ADD("model.norm.weight", 0.1f, 1.0f, 1, D, 0);
    if (!c->tied) ADD("lm_head.weight", 8.0f / sqrtf((float)D), 0.0f, 2, V, D);
#undef ADD
    return n;
}

int cmd_synth(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *tok_dir = NULL, *dtype_arg = "bf16";
    unsigned long long seed = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"tokenizer-dir", required_argument, 0, 't'},
                                         {"seed", required_argument, 0, 's'},   {"dtype", required_argument, 0, 'd'},
                                         {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:t:s:d:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 't': tok_dir = optarg; break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'd': dtype_arg = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config || !out) {
        usage(stderr);
        return 2;
    }
    const char *dtype = !strcmp(dtype_arg, "bf16") ? "BF16" : !strcmp(dtype_arg, "f16") ? "F16" : !strcmp(dtype_arg, "f32") ? "F32" : NULL;
    if (!dtype) {
        fprintf(stderr, "kvlm synth: --dtype %s: expected bf16, f16 or f32\n", dtype_arg);
        return 2;
    }
    char *text;
    size_t len;
    kvlm_config cfg = {0};
    if (read_whole_file(config, &text, &len) != KVLM_OK || hf_parse_config(&cfg, text, len, config) != KVLM_OK) {
        fprintf(stderr, "kvlm synth: %s\n", kvlm_last_error());
        return 1;
    }
    free(text);
    if (cfg.n_layers > 400 || cfg.dim <= 0 || cfg.head_dim <= 0) {
        fprintf(stderr, "kvlm synth: %s: unsupported sizes\n", config);
        return 1;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "kvlm synth: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char *cfg_out = path_join(out, "config.json");
    int ok = copy_file(config, cfg_out);
    free(cfg_out);
    if (tok_dir)
        ok = ok && copy_from_dir(tok_dir, "tokenizer.json", out) && copy_from_dir(tok_dir, "tokenizer_config.json", out) &&
             copy_from_dir(tok_dir, "generation_config.json", out);
    if (!ok) return 1;

    static synth_tensor ts[4096];
    int n = build_tensors(&cfg, dtype, ts);
    st_write_tensor wt[4096];
    for (int i = 0; i < n; i++) wt[i] = ts[i].t;
    char *path = path_join(out, "model.safetensors");
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "kvlm synth: cannot create %s: %s\n", path, strerror(errno));
        free(path);
        return 1;
    }
    ok = st_write_header(f, path, wt, n) == KVLM_OK;
    for (int i = 0; ok && i < n; i++) ok = write_values(f, &ts[i], seed, i);
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "kvlm synth: writing %s failed\n", path);
    else fprintf(stderr, "kvlm synth: wrote %s (%d tensors, %s)\n", out, n, dtype);
    free(path);
    return ok ? 0 : 1;
}
