/* fixtures: synth_small */
/* A GGUF whose matrices are Q4_K, Q5_K and Q6_K (laid out like llama.cpp's
 * Q4_K_M: embedding, attn_v and ffn_down in Q6_K, the rest Q4_K, a few Q5_K)
 * loads and runs. The file is written here: the synthetic small model in F32
 * GGUF (kvlm's converter), its matrices quantized by the test-only quantizers
 * of tests/kquant_ref.h, all metadata (tokenizer included) copied.
 *
 * Checks:
 *  - the K-quant model gives the same logits as an F32 model holding the
 *    values the reference decoder reads from those blocks (the whole path:
 *    binding, row strides, the matmul kernels' K-quant handling), for the
 *    scalar kernels and the automatic choice, prefill and decode;
 *  - against the original F32 model: an error (mean KL, max |Δlogit|) no
 *    larger than the same model's in Q4_0 (the yardstick of 4-bit
 *    quantization error here), and the same argmax on most positions;
 *  - int8 activations on the K-quant file (act_mode_check.h). */
#include <math.h>
#include <string.h>

#include "format/ggml_types.h"
#include "format/gguf.h"
#include "format/gguf_write.h"
#include "kquant_ref.h"
#include "model/convert.h"
#include "act_mode_check.h"
#include "test_util.h"

typedef struct {
    const gguf_file *src;
    uint32_t *types; /* per tensor: the type written */
    int dequantized; /* 1: write F32 holding the reference decoding of the quantized blocks */
} write_ctx;

static uint32_t pick_type(const gguf_tensor *t) {
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
    if (t->n_dims != 2 || t->type != GGML_TYPE_F32 || t->ne[0] % 256) return t->type;
    int layer = -1;
    sscanf(name, "blk.%d.", &layer);
    if (strstr(name, "token_embd") || strstr(name, "attn_v") || strstr(name, "ffn_down") || !strcmp(name, "output.weight"))
        return GGML_TYPE_Q6_K;
    if ((strstr(name, "attn_output") && layer % 2 == 0) || (strstr(name, "ffn_up") && layer == 1)) return GGML_TYPE_Q5_K;
    return GGML_TYPE_Q4_K;
}

static int write_data(void *p, int i, FILE *f) {
    write_ctx *c = p;
    const gguf_tensor *t = &c->src->tensors[i];
    uint32_t type = c->types[i];
    if (type == t->type) return fwrite(t->data, 1, (size_t)t->nbytes, f) == t->nbytes ? 0 : -1;
    int bytes = type == GGML_TYPE_Q4_K ? REF_Q4_K_BYTES : type == GGML_TYPE_Q5_K ? REF_Q5_K_BYTES : REF_Q6_K_BYTES;
    uint8_t blk[REF_Q6_K_BYTES];
    float x[256], y[256];
    uint64_t n_blocks = t->ne[0] * t->ne[1] / 256;
    for (uint64_t b = 0; b < n_blocks; b++) {
        memcpy(x, t->data + b * 1024, 1024);
        if (type == GGML_TYPE_Q6_K) ref_q6_K_quantize_block(x, blk);
        else ref_kq_quantize_block(x, blk, type == GGML_TYPE_Q4_K ? 15 : 31);
        if (c->dequantized) {
            for (int e = 0; e < 256; e++)
                y[e] = type == GGML_TYPE_Q4_K ? ref_q4_K(blk, e) : type == GGML_TYPE_Q5_K ? ref_q5_K(blk, e) : ref_q6_K(blk, e);
            if (fwrite(y, 4, 256, f) != 256) return -1;
        } else if (fwrite(blk, 1, (size_t)bytes, f) != (size_t)bytes) {
            return -1;
        }
    }
    return 0;
}

/* Copies every metadata key of src (the types kvlm's converter writes). */
static int copy_metadata(const gguf_file *g, gguf_writer *w) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kvs[i];
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        if (!strcmp(key, "general.file_type")) {
            gguf_w_u32(w, key, 15); /* llama.cpp's MOSTLY_Q4_K_M */
            continue;
        }
        switch (kv->type) {
        case GGUF_TYPE_STRING: {
            char *s = strndup(kv->v.s.ptr, (size_t)kv->v.s.len);
            gguf_w_str(w, key, s);
            free(s);
            break;
        }
        case GGUF_TYPE_UINT32: gguf_w_u32(w, key, (uint32_t)kv->v.u); break;
        case GGUF_TYPE_INT32: gguf_w_i32(w, key, (int32_t)kv->v.i); break;
        case GGUF_TYPE_FLOAT32: gguf_w_f32(w, key, (float)kv->v.f); break;
        case GGUF_TYPE_BOOL: gguf_w_bool(w, key, (int)kv->v.u); break;
        case GGUF_TYPE_ARRAY: {
            size_t n = (size_t)kv->arr_n;
            if (kv->arr_type == GGUF_TYPE_STRING) {
                const char **s = malloc((n + 1) * sizeof *s);
                size_t *lens = malloc((n + 1) * sizeof *lens);
                for (size_t k = 0; k < n; k++) {
                    s[k] = kv->arr_strs[k].ptr;
                    lens[k] = (size_t)kv->arr_strs[k].len;
                }
                gguf_w_arr_str(w, key, s, lens, n);
                free(s);
                free(lens);
            } else if (kv->arr_type == GGUF_TYPE_INT32) {
                int32_t *v = malloc((n + 1) * sizeof *v);
                for (size_t k = 0; k < n; k++) v[k] = (int32_t)gguf_arr_i64(kv, k);
                gguf_w_arr_i32(w, key, v, n);
                free(v);
            } else if (kv->arr_type == GGUF_TYPE_FLOAT32) {
                float *v = malloc((n + 1) * sizeof *v);
                for (size_t k = 0; k < n; k++) v[k] = (float)gguf_arr_f64(kv, k);
                gguf_w_arr_f32(w, key, v, n);
                free(v);
            } else {
                fprintf(stderr, "metadata '%s': array type %u not copied\n", key, kv->arr_type);
                return -1;
            }
            break;
        }
        default: fprintf(stderr, "metadata '%s': type %u not copied\n", key, kv->type); return -1;
        }
    }
    return 0;
}

static kvlm_status write_variant(const gguf_file *g, const char *path, int dequantized, int *n_k) {
    gguf_writer *w = gguf_writer_new();
    uint32_t *types = calloc((size_t)g->n_tensors, sizeof *types);
    int ok = copy_metadata(g, w) == 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        types[i] = pick_type(t);
        if (types[i] != t->type) n_k[types[i] == GGML_TYPE_Q4_K ? 0 : types[i] == GGML_TYPE_Q5_K ? 1 : 2]++;
        uint32_t wt = dequantized ? t->type : types[i];
        ok = ok && gguf_w_tensor(w, name, wt, (int)t->n_dims, t->ne) >= 0;
    }
    write_ctx c = {g, types, dequantized};
    kvlm_status st = ok ? gguf_writer_write(w, path, write_data, NULL, &c) : KVLM_ERR_ARG;
    free(types);
    gguf_writer_free(w);
    return st;
}

typedef struct {
    double max_rel;  /* max over positions of max |diff| / max |logit| */
    double kl;       /* mean KL(a || b) of the next-token distributions */
    int agree, n;    /* positions with the same argmax */
} cmp_result;

static double log_sum_exp(const float *x, size_t n) {
    float m = x[0];
    for (size_t i = 1; i < n; i++) m = fmaxf(m, x[i]);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += exp((double)x[i] - m);
    return m + log(s);
}

static int argmax(const float *x, size_t n) {
    size_t a = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[a]) a = i;
    return (int)a;
}

/* Prefill of 24 tokens, then 8 decode steps fed with a's greedy choice. */
static cmp_result compare(kvlm_model *a, kvlm_model *b) {
    enum { NP = 24, ND = 8 };
    kvlm_model_info info;
    kvlm_model_get_info(a, &info);
    size_t V = (size_t)info.vocab_size;
    int32_t ids[NP];
    for (int i = 0; i < NP; i++) ids[i] = (int32_t)((i * 7919 + 31 * 104729 + 5) % 128000);
    kvlm_state *sa = kvlm_state_new(a, NULL), *sb = kvlm_state_new(b, NULL);
    float *la = malloc(4 * V * NP), *lb = malloc(4 * V * NP);
    cmp_result r = {0, 0, 0, 0};
    CHECK(kvlm_predict(sa, ids, NP, la, KVLM_LOGITS_ALL) == KVLM_OK);
    CHECK(kvlm_predict(sb, ids, NP, lb, KVLM_LOGITS_ALL) == KVLM_OK);
    int32_t next = 0;
    for (int step = 0; step < NP + ND; step++) {
        int row = step < NP ? step : 0;
        if (step >= NP) {
            CHECK(kvlm_predict(sa, &next, 1, la, KVLM_LOGITS_LAST) == KVLM_OK);
            CHECK(kvlm_predict(sb, &next, 1, lb, KVLM_LOGITS_LAST) == KVLM_OK);
        }
        const float *x = la + row * V, *y = lb + row * V;
        double mx = 0, d = 0;
        for (size_t i = 0; i < V; i++) {
            mx = fmax(mx, fabs(x[i]));
            d = fmax(d, fabs(x[i] - y[i]));
        }
        r.max_rel = fmax(r.max_rel, d / mx);
        double lx = log_sum_exp(x, V), ly = log_sum_exp(y, V), kl = 0;
        for (size_t i = 0; i < V; i++) {
            double u = (double)x[i] - lx, v = (double)y[i] - ly;
            kl += exp(u) * (u - v);
        }
        r.kl += kl / (NP + ND);
        r.agree += argmax(x, V) == argmax(y, V);
        r.n++;
        if (step >= NP - 1) next = argmax(x, V); /* a's greedy choice feeds the next decode step */
    }
    free(la);
    free(lb);
    kvlm_state_free(sa);
    kvlm_state_free(sb);
    return r;
}

int main(void) {
    char *dir = test_work_path("synth-small");
    char *f32 = test_work_path("synth-small-kq-f32.gguf"), *kq = test_work_path("synth-small-kq.gguf"),
         *deq = test_work_path("synth-small-kq-deq.gguf"), *q40 = test_work_path("synth-small-kq-q4_0.gguf");
    kvlm_model_options scalar = {.n_threads = 2, .kernels = KVLM_KERNELS_SCALAR}, fast = {.n_threads = 2};
    kvlm_model *hf = kvlm_model_open(dir, &scalar);
    CHECK_MSG(hf != NULL, "%s", kvlm_last_error());
    if (!hf) return test_finish();
    convert_options co = {.type = GGML_TYPE_F32, .embed_type = -1, .name = "synth-small"};
    CHECK_MSG(model_convert_gguf(hf, f32, &co) == KVLM_OK, "%s", kvlm_last_error());
    /* the yardstick for the quantization error: the same model in Q4_0 (embedding in Q8_0) */
    co.type = GGML_TYPE_Q4_0;
    CHECK_MSG(model_convert_gguf(hf, q40, &co) == KVLM_OK, "%s", kvlm_last_error());
    kvlm_model_free(hf);

    gguf_file g;
    CHECK_MSG(gguf_open(&g, f32) == KVLM_OK, "%s", kvlm_last_error());
    int n_k[3] = {0}, n_k2[3] = {0};
    CHECK_MSG(write_variant(&g, kq, 0, n_k) == KVLM_OK, "%s", kvlm_last_error());
    CHECK_MSG(write_variant(&g, deq, 1, n_k2) == KVLM_OK, "%s", kvlm_last_error());
    gguf_close(&g);
    printf("K-quant model: %d Q4_K, %d Q5_K, %d Q6_K matrices\n", n_k[0], n_k[1], n_k[2]);
    CHECK(n_k[0] > 0 && n_k[1] > 0 && n_k[2] > 0);

    for (int kernels = 0; kernels < 2; kernels++) {
        const kvlm_model_options *mo = kernels ? &fast : &scalar;
        kvlm_model *mq = kvlm_model_open(kq, mo), *md = kvlm_model_open(deq, mo), *mf = kvlm_model_open(f32, mo),
                   *m4 = kvlm_model_open(q40, mo);
        CHECK_MSG(mq && md && mf && m4, "%s", kvlm_last_error());
        if (mq && md && mf && m4) {
            kvlm_model_info iq;
            kvlm_model_get_info(mq, &iq);
            printf("[%s kernels] K-quant model: weight type %s, %.1f MB of weights per token\n", iq.kernels,
                   iq.weight_type, (double)iq.weight_bytes / 1e6);
            CHECK(!strcmp(iq.weight_type, "q4_K"));
            CHECK(kvlm_model_tokenizer(mq) != NULL);
            cmp_result r = compare(md, mq);
            printf("[%s kernels] K-quant vs F32 of the same decoded values: max |diff| / max |logit| = %.3g, argmax %d/%d\n",
                   iq.kernels, r.max_rel, r.agree, r.n);
            CHECK_MSG(r.max_rel <= 1e-5 && r.agree == r.n, "decoded-F32 vs K-quant %.3g", r.max_rel);
            cmp_result k = compare(mf, mq), q = compare(mf, m4);
            printf("[%s kernels] vs the original F32: K-quant: max |diff| / max |logit| %.3g, mean KL %.4g, argmax %d/%d;"
                   " Q4_0: %.3g, %.4g, %d/%d\n", iq.kernels, k.max_rel, k.kl, k.agree, k.n, q.max_rel, q.kl, q.agree, q.n);
            /* within the error of a 4-bit format, and the same argmax on most positions */
            CHECK_MSG(k.kl <= q.kl && k.max_rel <= q.max_rel * 1.25, "K-quant error above Q4_0's");
            CHECK_MSG(k.agree * 10 >= k.n * 6, "K-quant argmax agrees at %d/%d positions", k.agree, k.n);
        }
        kvlm_model_free(mq);
        kvlm_model_free(md);
        kvlm_model_free(mf);
        kvlm_model_free(m4);
    }
    act_mode_check(kq, KVLM_ACT_Q8);
    free(dir);
    free(f32);
    free(kq);
    free(deq);
    free(q40);
    return test_finish();
}
