/* fixtures: synth_small */
/* The same synthetic model as a Hugging Face folder and as GGUF (written by
 * the converter, q/k rows permuted into llama.cpp's interleaved order) gives
 * the same logits. With an FP32 KV cache, lossless types agree to float
 * rounding (1e-5); with the default FP16 cache, a last-bit difference in a
 * key can flip its FP16 rounding, so the engine's bound (1e-3) applies. */
#include <math.h>
#include <string.h>

#include "format/ggml_types.h"
#include "model/convert.h"
#include "test_util.h"

static double compare_models(kvlm_model *a, kvlm_model *b, int n_prompt, kvlm_kv_type kv, int *argmax_same) {
    kvlm_model_info info;
    kvlm_model_get_info(a, &info);
    size_t V = (size_t)info.vocab_size;
    int32_t ids[24];
    for (int i = 0; i < n_prompt; i++) ids[i] = (int32_t)((i * 7919 + 77 * 104729 + 13) % 128000);
    kvlm_state_options so = {.kv_type = kv};
    kvlm_state *sa = kvlm_state_new(a, &so), *sb = kvlm_state_new(b, &so);
    float *la = malloc(4 * V * n_prompt), *lb = malloc(4 * V * n_prompt);
    CHECK(kvlm_predict(sa, ids, n_prompt, la, KVLM_LOGITS_ALL) == KVLM_OK);
    CHECK(kvlm_predict(sb, ids, n_prompt, lb, KVLM_LOGITS_ALL) == KVLM_OK);
    double worst = 0;
    *argmax_same = 1;
    for (int p = 0; p < n_prompt; p++) {
        const float *x = la + p * V, *y = lb + p * V;
        double mx = 0, d = 0;
        size_t ax = 0, ay = 0;
        for (size_t i = 0; i < V; i++) {
            if (fabs(x[i]) > mx) mx = fabs(x[i]);
            if (fabs(x[i] - y[i]) > d) d = fabs(x[i] - y[i]);
            if (x[i] > x[ax]) ax = i;
            if (y[i] > y[ay]) ay = i;
        }
        if (d / mx > worst) worst = d / mx;
        if (ax != ay) *argmax_same = 0;
    }
    free(la);
    free(lb);
    kvlm_state_free(sa);
    kvlm_state_free(sb);
    return worst;
}

/* Top-1 agreement and mean KL(a || b) of the next-token distributions
 * (softmax in double) over n positions of a pseudo-random prompt. */
static double quality(kvlm_model *a, kvlm_model *b, int n, double *agree) {
    kvlm_model_info info;
    kvlm_model_get_info(a, &info);
    size_t V = (size_t)info.vocab_size;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 104729 + 7 * 7919 + 3) % 128000);
    kvlm_state *sa = kvlm_state_new(a, NULL), *sb = kvlm_state_new(b, NULL);
    float *la = malloc(4 * V * n), *lb = malloc(4 * V * n);
    CHECK(kvlm_predict(sa, ids, n, la, KVLM_LOGITS_ALL) == KVLM_OK);
    CHECK(kvlm_predict(sb, ids, n, lb, KVLM_LOGITS_ALL) == KVLM_OK);
    double kl_sum = 0;
    int same = 0;
    for (int p = 0; p < n; p++) {
        const float *x = la + p * V, *y = lb + p * V;
        size_t ax = 0, ay = 0;
        for (size_t i = 1; i < V; i++) {
            if (x[i] > x[ax]) ax = i;
            if (y[i] > y[ay]) ay = i;
        }
        same += ax == ay;
        double sx = 0, sy = 0;
        for (size_t i = 0; i < V; i++) {
            sx += exp((double)x[i] - x[ax]);
            sy += exp((double)y[i] - y[ay]);
        }
        double lx = x[ax] + log(sx), ly = y[ay] + log(sy), kl = 0;
        for (size_t i = 0; i < V; i++) {
            double u = (double)x[i] - lx, v = (double)y[i] - ly;
            kl += exp(u) * (u - v);
        }
        kl_sum += kl;
    }
    *agree = (double)same / n;
    free(ids);
    free(la);
    free(lb);
    kvlm_state_free(sa);
    kvlm_state_free(sb);
    return kl_sum / n;
}

/* Q8_0 and Q4_0 packages against the HF folder, within the quality bounds
 * `kvlm quality` measures (the synthetic model's near-tied top logits keep
 * even Q8_0 near 95% top-1 agreement: see tests/cli/test_quality.sh). */
static void quantized_cases(kvlm_model *hf, const kvlm_model_options *mo) {
    static const struct {
        uint32_t type;
        const char *file;
        double min_agree, max_kl;
    } q[] = {
        {GGML_TYPE_Q8_0, "synth-small-q8_0.gguf", 0.90, 0.01},
        {GGML_TYPE_Q4_0, "synth-small-q4_0.gguf", 0.30, 2.0},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char *out = test_work_path(q[i].file);
        convert_options co = {.type = q[i].type, .embed_type = -1, .name = "synth-small"};
        CHECK_MSG(model_convert_gguf(hf, out, &co) == KVLM_OK, "%s", kvlm_last_error());
        kvlm_model *g = kvlm_model_open(out, mo);
        CHECK_MSG(g != NULL, "%s", kvlm_last_error());
        if (g) {
            double agree, kl = quality(hf, g, 128, &agree);
            printf("HF folder vs %s: top-1 agreement %.1f%%, mean KL %.4g nats over 128 positions\n", q[i].file,
                   100 * agree, kl);
            CHECK_MSG(agree >= q[i].min_agree && kl <= q[i].max_kl, "%s: agreement %.3f, KL %.4g", q[i].file, agree, kl);
            kvlm_model_free(g);
        }
        free(out);
    }
}

int main(void) {
    char *dir = test_work_path("synth-small");
    kvlm_model_options mo = {.n_threads = 2, .kernels = KVLM_KERNELS_SCALAR};
    kvlm_model *hf = kvlm_model_open(dir, &mo);
    CHECK_MSG(hf != NULL, "%s", kvlm_last_error());
    if (!hf) return test_finish();
    struct {
        uint32_t type;
        const char *file;
        double bound;
    } cases[] = {
        {GGML_TYPE_BF16, "synth-small-bf16.gguf", 1e-5},
        {GGML_TYPE_F32, "synth-small-f32.gguf", 1e-5},
        {GGML_TYPE_F16, "synth-small-f16.gguf", 1e-3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = test_work_path(cases[i].file);
        convert_options co = {.type = cases[i].type, .embed_type = -1, .name = "synth-small"};
        CHECK_MSG(model_convert_gguf(hf, out, &co) == KVLM_OK, "%s", kvlm_last_error());
        kvlm_model *g = kvlm_model_open(out, &mo);
        CHECK_MSG(g != NULL, "%s", kvlm_last_error());
        if (g) {
            kvlm_model_info a, b;
            kvlm_model_get_info(hf, &a);
            kvlm_model_get_info(g, &b);
            CHECK(!strcmp(b.source_format, "gguf"));
            CHECK(a.dim == b.dim && a.n_layers == b.n_layers && a.n_heads == b.n_heads && a.n_kv_heads == b.n_kv_heads &&
                  a.vocab_size == b.vocab_size && a.max_pos == b.max_pos && a.tied_embeddings == b.tied_embeddings);
            CHECK(a.rope_theta == b.rope_theta && a.norm_eps == b.norm_eps);
            for (int kv = 0; kv < 2; kv++) {
                int same;
                double bound = kv == KVLM_KV_F32 ? cases[i].bound : 1e-3;
                double d = compare_models(hf, g, 24, (kvlm_kv_type)kv, &same);
                CHECK_MSG(d <= bound, "%s kv %d: logits differ by %.3g of max |logit|", cases[i].file, kv, d);
                CHECK(same);
                printf("HF folder vs %s, %s KV: max |diff| / max |logit| = %.3g, argmax %s\n", cases[i].file,
                       kv == KVLM_KV_F32 ? "f32" : "f16", d, same ? "identical" : "DIFFERENT");
            }
            kvlm_model_free(g);
        }
        free(out);
    }
    quantized_cases(hf, &mo);
    kvlm_model_free(hf);
    free(dir);
    return test_finish();
}
