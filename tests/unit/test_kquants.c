/* Dequantization of Q8_0, Q4_0, Q4_K, Q5_K and Q6_K against values computed
 * independently (tests/kquant_ref.h, written from the formats' description).
 *
 * 1. Logical blocks: scales, mins and quants chosen here (every scale and min
 *    distinct, the 6-bit scales using their top bits, negative Q6_K scales)
 *    are packed by the reference encoder; the kernel's output must equal
 *    d*sc*q - dmin*m computed from those logical values. d and dmin are
 *    powers of two, so every expected value is exact.
 * 2. One-hot sweeps: for each element e a block where only q[e] is set:
 *    a wrong bit order or element permutation puts the value elsewhere.
 * 3. Random raw bytes: kernel == reference decoder on arbitrary blocks.
 * 4. The test-only quantizers (used by test_kquant_model) give small errors. */
#include <math.h>
#include <string.h>

#include "format/ggml_types.h"
#include "kernels/quant_blocks.h"
#include "kquant_ref.h"
#include "test_util.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    return (uint32_t)(test_xorshift(&rng) >> 16);
}

/* compares n outputs with the expected values; reports the first mismatch */
static int same(const char *what, int block, const float *got, const float *want, int n) {
    for (int i = 0; i < n; i++)
        if (!(got[i] == want[i])) {
            fprintf(stderr, "%s (case %d): element %d: kernel %.9g, expected %.9g\n", what, block, i, got[i], want[i]);
            return 0;
        }
    return 1;
}

/* ------------------------------------------------------------ Q4_K / Q5_K */

typedef struct {
    float d, dmin;
    int sc[8], mn[8], q[256];
} kq_logical;

static void kq_expected(const kq_logical *L, float *y) {
    for (int e = 0; e < 256; e++) y[e] = L->d * (float)L->sc[e / 32] * (float)L->q[e] - L->dmin * (float)L->mn[e / 32];
}

static void check_q45_K(int five, const kq_logical *L, const char *what, int case_no) {
    uint8_t b[REF_Q5_K_BYTES];
    float want[256], got[256], ref[256];
    if (five) ref_q5_K_encode(b, L->d, L->dmin, L->sc, L->mn, L->q);
    else ref_q4_K_encode(b, L->d, L->dmin, L->sc, L->mn, L->q);
    kq_expected(L, want);
    for (int e = 0; e < 256; e++) ref[e] = five ? ref_q5_K(b, e) : ref_q4_K(b, e);
    CHECK_MSG(same("reference decoder", case_no, ref, want, 256), "%s: encoder/decoder disagree", what);
    if (five) dequant_q5_K(b, got, 256);
    else dequant_q4_K(b, got, 256);
    CHECK_MSG(same(what, case_no, got, want, 256), "%s", what);
    memset(got, 0, sizeof got);
    dequant_row(five ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K, b, got, 256);
    CHECK_MSG(same(what, case_no, got, want, 256), "%s via dequant_row", what);
}

static void test_q45_K(int five) {
    const char *name = five ? "q5_K" : "q4_K";
    int levels = five ? 31 : 15;
    /* every scale and min distinct, covering the top 2 bits of the 6-bit fields */
    static const int sc[8] = {1, 62, 17, 40, 33, 5, 58, 26}, mn[8] = {63, 2, 48, 11, 20, 37, 9, 54};
    kq_logical L = {.d = 0.5f, .dmin = 0.25f};
    memcpy(L.sc, sc, sizeof sc);
    memcpy(L.mn, mn, sizeof mn);
    /* distinct-as-possible quants: every sub-block holds every level, in a different rotation */
    for (int e = 0; e < 256; e++) L.q[e] = (e * 7 + e / 32 * 3) % (levels + 1);
    check_q45_K(five, &L, name, 0);
    /* scales and mins one at a time: a sub-block's scale in another's slot shows */
    for (int j = 0; j < 8; j++) {
        kq_logical M = {.d = 1.0f, .dmin = 0.5f};
        for (int k = 0; k < 8; k++) M.sc[k] = M.mn[k] = 0;
        M.sc[j] = 63 - j;
        M.mn[(j + 3) % 8] = 48 + j;
        for (int e = 0; e < 256; e++) M.q[e] = levels;
        check_q45_K(five, &M, name, 100 + j);
    }
    /* one-hot: only q[e] is set */
    for (int e = 0; e < 256; e++) {
        kq_logical M = L;
        memset(M.mn, 0, sizeof M.mn);
        for (int i = 0; i < 256; i++) M.q[i] = 0;
        M.q[e] = levels - (e % 3);
        check_q45_K(five, &M, name, 1000 + e);
    }
    /* random logical blocks */
    for (int t = 0; t < 200; t++) {
        kq_logical M = {.d = ldexpf(1.0f, (int)(rnd() % 12) - 8), .dmin = ldexpf(1.0f, (int)(rnd() % 12) - 10)};
        for (int j = 0; j < 8; j++) {
            M.sc[j] = (int)(rnd() % 64);
            M.mn[j] = (int)(rnd() % 64);
        }
        for (int e = 0; e < 256; e++) M.q[e] = (int)(rnd() % (unsigned)(levels + 1));
        check_q45_K(five, &M, name, 2000 + t);
    }
}

/* ------------------------------------------------------------------ Q6_K */

typedef struct {
    float d;
    int sc[16], q[256];
} q6_logical;

static void check_q6_K(const q6_logical *L, int case_no) {
    uint8_t b[REF_Q6_K_BYTES];
    float want[256], got[256], ref[256];
    ref_q6_K_encode(b, L->d, L->sc, L->q);
    for (int e = 0; e < 256; e++) {
        want[e] = L->d * (float)L->sc[e / 16] * (float)(L->q[e] - 32);
        ref[e] = ref_q6_K(b, e);
    }
    CHECK_MSG(same("reference decoder", case_no, ref, want, 256), "q6_K: encoder/decoder disagree");
    dequant_q6_K(b, got, 256);
    CHECK_MSG(same("q6_K", case_no, got, want, 256), "q6_K");
    memset(got, 0, sizeof got);
    dequant_row(GGML_TYPE_Q6_K, b, got, 256);
    CHECK_MSG(same("q6_K", case_no, got, want, 256), "q6_K via dequant_row");
}

static void test_q6_K(void) {
    /* 16 distinct scales, negative ones and the int8 extremes included */
    static const int sc[16] = {1, -2, 3, -5, 8, -13, 21, -34, 55, -89, 127, -128, 7, -1, 100, -77};
    q6_logical L = {.d = 0.125f};
    memcpy(L.sc, sc, sizeof sc);
    for (int e = 0; e < 256; e++) L.q[e] = (e * 5 + e / 64) % 64;
    check_q6_K(&L, 0);
    for (int e = 0; e < 256; e++) {
        q6_logical M = L;
        for (int i = 0; i < 256; i++) M.q[i] = 32; /* value 0 */
        M.q[e] = e % 2 ? 63 : 1 + e % 31;
        check_q6_K(&M, 1000 + e);
    }
    for (int t = 0; t < 200; t++) {
        q6_logical M = {.d = ldexpf(1.0f, (int)(rnd() % 10) - 10)};
        for (int j = 0; j < 16; j++) M.sc[j] = (int)(rnd() % 256) - 128;
        for (int e = 0; e < 256; e++) M.q[e] = (int)(rnd() % 64);
        check_q6_K(&M, 2000 + t);
    }
}

/* ---------------------------------------------------------- Q8_0 / Q4_0 */

static void test_q8_0_q4_0(void) {
    uint8_t b[4 * REF_Q8_0_BYTES];
    float want[128], got[128];
    /* Q8_0: four blocks, every quant distinct within a block, -128 and 127 included */
    for (int k = 0; k < 4; k++) {
        float d = ldexpf(1.0f, -k - 1);
        ref_put_half(b + k * REF_Q8_0_BYTES, d);
        for (int e = 0; e < 32; e++) {
            int q = (e * 8 + k * 3) % 256 - 128;
            b[k * REF_Q8_0_BYTES + 2 + e] = (uint8_t)(int8_t)q;
            want[32 * k + e] = d * (float)q;
        }
    }
    b[2] = 0x80; /* -128 */
    want[0] = 0.5f * -128.0f;
    b[3] = 0x7f;
    want[1] = 0.5f * 127.0f;
    for (int e = 0; e < 128; e++) CHECK(ref_q8_0(b + (e / 32) * REF_Q8_0_BYTES, e % 32) == want[e]);
    dequant_q8_0(b, got, 128);
    CHECK(same("q8_0", 0, got, want, 128));
    dequant_row(GGML_TYPE_Q8_0, b, got, 128);
    CHECK(same("q8_0 row", 0, got, want, 128));
    /* Q4_0: one-hot over the 32 positions, then distinct levels */
    for (int e = 0; e < 32; e++) {
        uint8_t q[REF_Q4_0_BYTES];
        ref_put_half(q, 2.0f);
        memset(q + 2, 0x88, 16); /* every value 0 */
        int level = e % 16 == 8 ? 15 : e % 16;
        q[2 + e % 16] = e < 16 ? (uint8_t)((q[2 + e % 16] & 0xf0) | level) : (uint8_t)((q[2 + e % 16] & 0x0f) | (level << 4));
        for (int i = 0; i < 32; i++) want[i] = i == e ? 2.0f * (float)(level - 8) : 0.0f;
        for (int i = 0; i < 32; i++) CHECK(ref_q4_0(q, i) == want[i]);
        dequant_q4_0(q, got, 32);
        CHECK(same("q4_0 one-hot", e, got, want, 32));
    }
    uint8_t q[2 * REF_Q4_0_BYTES];
    for (int k = 0; k < 2; k++) {
        ref_put_half(q + k * REF_Q4_0_BYTES, k ? -0.25f : 0.75f);
        for (int j = 0; j < 16; j++) q[k * REF_Q4_0_BYTES + 2 + j] = (uint8_t)(((j + k) % 16) | (((15 - j) % 16) << 4));
        for (int e = 0; e < 32; e++) want[32 * k + e] = ref_q4_0(q + k * REF_Q4_0_BYTES, e);
    }
    /* the reference decoder's reading of the levels above, spelled out */
    CHECK(want[0] == 0.75f * (0 - 8) && want[16] == 0.75f * (15 - 8) && want[31] == 0.75f * (0 - 8));
    CHECK(want[32] == -0.25f * (1 - 8) && want[48] == -0.25f * (15 - 8));
    dequant_row(GGML_TYPE_Q4_0, q, got, 64);
    CHECK(same("q4_0 row", 0, got, want, 64));
}

/* --------------------------------------------------- random raw bytes */

static void test_random_bytes(void) {
    static const struct {
        uint32_t type;
        int bytes;
        float (*ref)(const uint8_t *, int);
        int d_at[2];
    } types[] = {
        {GGML_TYPE_Q4_K, REF_Q4_K_BYTES, ref_q4_K, {0, 2}},
        {GGML_TYPE_Q5_K, REF_Q5_K_BYTES, ref_q5_K, {0, 2}},
        {GGML_TYPE_Q6_K, REF_Q6_K_BYTES, ref_q6_K, {208, 208}},
    };
    enum { NB = 3 };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int it = 0; it < 50; it++) {
            uint8_t row[NB * REF_Q5_K_BYTES + REF_Q6_K_BYTES];
            float got[NB * 256], want[NB * 256];
            for (size_t i = 0; i < sizeof row; i++) row[i] = (uint8_t)rnd();
            for (int k = 0; k < NB; k++)
                for (int w = 0; w < 2; w++) /* finite scales: exponent below the inf/nan range */
                    row[k * types[t].bytes + types[t].d_at[w] + 1] &= 0xbf;
            for (int k = 0; k < NB; k++)
                for (int e = 0; e < 256; e++) want[256 * k + e] = types[t].ref(row + k * types[t].bytes, e);
            dequant_row(types[t].type, row, got, NB * 256);
            /* the kernel may fold d*sc first or not: allow one rounding */
            int ok = 1;
            for (int i = 0; i < NB * 256 && ok; i++)
                if (fabsf(got[i] - want[i]) > 1e-6f * fmaxf(1.0f, fabsf(want[i]))) {
                    fprintf(stderr, "%s random row %d: element %d: kernel %.9g, reference %.9g\n",
                            ggml_type_get(types[t].type).name, it, i, got[i], want[i]);
                    ok = 0;
                }
            CHECK(ok);
        }
    }
}

/* ---------------------------------------------------- test quantizers */

static void test_quantizers(void) {
    float x[512], y[512];
    uint8_t b[2 * REF_Q6_K_BYTES];
    for (int i = 0; i < 512; i++) x[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 97) / 50.0f) + ((i % 64) == 5 ? 3.0f : 0.0f);
    for (int lv = 0; lv < 3; lv++) {
        const char *name = lv == 0 ? "q4_K" : lv == 1 ? "q5_K" : "q6_K";
        int bytes = lv == 0 ? REF_Q4_K_BYTES : lv == 1 ? REF_Q5_K_BYTES : REF_Q6_K_BYTES;
        for (int k = 0; k < 2; k++) {
            if (lv == 2) ref_q6_K_quantize_block(x + 256 * k, b + k * bytes);
            else ref_kq_quantize_block(x + 256 * k, b + k * bytes, lv == 0 ? 15 : 31);
        }
        dequant_row(lv == 0 ? GGML_TYPE_Q4_K : lv == 1 ? GGML_TYPE_Q5_K : GGML_TYPE_Q6_K, b, y, 512);
        double err = 0, amax = 0;
        for (int i = 0; i < 512; i++) {
            err = fmax(err, fabs((double)x[i] - y[i]));
            amax = fmax(amax, fabs((double)x[i]));
        }
        /* a step is at most (range / levels) plus the 6-bit scale rounding; half a step of error */
        double bound = lv == 0 ? 0.12 : lv == 1 ? 0.06 : 0.04;
        printf("test quantizer %s: max |error| %.4f of max |x| %.2f\n", name, err, amax);
        CHECK_MSG(err <= bound * amax, "%s quantizer error %.4f", name, err);
    }
}

int main(void) {
    test_q8_0_q4_0();
    test_q45_K(0);
    test_q45_K(1);
    test_q6_K();
    test_random_bytes();
    test_quantizers();
    return test_finish();
}
