/* RoPE against the reference: inverse frequencies with Llama 3 scaling and
 * rotations at positions up to 131071 (where the scaling acts, above 8192),
 * in the Hugging Face pairing and in the interleaved pairing of GGUF. */
#include <math.h>
#include <string.h>

#include "model/rope.h"
#include "test_util.h"

static void check_file(const char *rel, const kvlm_config *cfg) {
    char *path = test_data_path(rel);
    size_t len;
    char *buf = test_read_file(path, &len);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (!buf) return;
    uint32_t hd, n_pos;
    memcpy(&hd, buf + 12, 4);
    memcpy(&n_pos, buf + 16, 4);
    CHECK(!memcmp(buf, "KVLMROPE", 8) && (int)hd == cfg->head_dim);
    const float *ref_inv = (const float *)(buf + 20);
    float inv[256];
    rope_inv_freq(cfg, inv);
    double worst_f = 0;
    for (uint32_t i = 0; i < hd / 2; i++) {
        double r = fabs(inv[i] - ref_inv[i]) / ref_inv[i];
        if (r > worst_f) worst_f = r;
    }
    CHECK_MSG(worst_f <= 1e-6, "%s: inv_freq differs by %.3g relative", rel, worst_f);
    const char *p = buf + 20 + 4 * (hd / 2);
    double worst = 0;
    int max_pos = 0;
    for (uint32_t k = 0; k < n_pos; k++, p += 4 + 8 * hd) {
        int32_t pos;
        float x[256], y[256], xi[256], yi[256];
        memcpy(&pos, p, 4);
        memcpy(x, p + 4, 4 * hd);
        memcpy(y, p + 4 + 4 * hd, 4 * hd);
        if (pos > max_pos) max_pos = pos;
        /* the HF pairing */
        float got[256];
        memcpy(got, x, 4 * hd);
        rope_apply(got, 1, (int)hd, inv, pos, 0);
        for (uint32_t d = 0; d < hd; d++) {
            double e = fabs(got[d] - y[d]);
            if (e > worst) worst = e;
        }
        /* interleaved pairing on the permuted vector gives the permuted result */
        for (uint32_t i = 0; i < hd / 2; i++) {
            xi[2 * i] = x[i];
            xi[2 * i + 1] = x[i + hd / 2];
        }
        rope_apply(xi, 1, (int)hd, inv, pos, 1);
        for (uint32_t i = 0; i < hd / 2; i++) {
            yi[i] = xi[2 * i];
            yi[i + hd / 2] = xi[2 * i + 1];
        }
        for (uint32_t d = 0; d < hd; d++) CHECK(yi[d] == got[d]);
    }
    CHECK_MSG(worst <= 2e-5, "%s: rotation differs by %.3g", rel, worst);
    printf("%s: %u positions up to %d, max |diff| %.3g, inv_freq rel diff %.3g\n", rel, n_pos, max_pos, worst, worst_f);
    free(buf);
    free(path);
}

int main(void) {
    kvlm_config llama32 = {.head_dim = 64, .rope_theta = 500000.0f, .rope_scaling = ROPE_SCALING_LLAMA3,
                           .rope_factor = 32.0f, .rope_low_freq_factor = 1.0f, .rope_high_freq_factor = 4.0f,
                           .rope_orig_max_pos = 8192};
    check_file("golden/rope-llama32.rope", &llama32);
    kvlm_config plain = {.head_dim = 8, .rope_theta = 10000.0f};
    check_file("golden/rope-plain.rope", &plain);
    /* scaling acts: the lowest frequency is the unscaled one divided by 32 */
    float scaled[32], unscaled[32];
    kvlm_config none = llama32;
    none.rope_scaling = ROPE_SCALING_NONE;
    rope_inv_freq(&llama32, scaled);
    rope_inv_freq(&none, unscaled);
    CHECK(scaled[0] == unscaled[0]);
    CHECK(fabsf(scaled[31] * 32.0f - unscaled[31]) <= 1e-6f * unscaled[31]);
    return test_finish();
}
