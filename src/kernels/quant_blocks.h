/* Block layouts of the ggml quantized types kvlm reads (little-endian,
 * packed). d/dmin are FP16 bit patterns. */
#ifndef KVLM_QUANT_BLOCKS_H
#define KVLM_QUANT_BLOCKS_H

#include <stdint.h>
#include <string.h>

#define QK8_0 32
#define QK4_0 32
#define QK_K 256

typedef struct {
    uint16_t d;          /* scale */
    int8_t qs[QK8_0];    /* x[i] = d * qs[i] */
} block_q8_0;

typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2]; /* x[j] = d * ((qs[j] & 15) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8) */
} block_q4_0;

/* 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales`:
 * x = d * scale_j * q - dmin * min_j, q in 0..15 */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K;

/* as Q4_K with a fifth bit per value in qh: q in 0..31 */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

/* 16 sub-blocks of 16 with int8 scales: x = d * scale_j * (q - 32), q in 0..63
 * (low 4 bits in ql, high 2 bits in qh) */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block");

/* Dequantizes n elements (a multiple of the block size) starting at a block. */
void dequant_q8_0(const void *blocks, float *y, int64_t n);
void dequant_q4_0(const void *blocks, float *y, int64_t n);
void dequant_q4_K(const void *blocks, float *y, int64_t n);
void dequant_q5_K(const void *blocks, float *y, int64_t n);
void dequant_q6_K(const void *blocks, float *y, int64_t n);
/* Any type kvlm reads (F32, F16, BF16 and the above): one row of n elements. */
void dequant_row(uint32_t type, const void *row, float *y, int64_t n);

/* The 6-bit scales and mins of a Q4_K/Q5_K super-block as 8 bytes each
 * (byte i: sub-block i). Sub-blocks 0..3 are the low 6 bits of bytes 0..3
 * (scales) and 4..7 (mins); 4..7 take their low 4 bits from bytes 8..11
 * (scale: low nibble, min: high) and their top 2 bits from the top bits of
 * bytes 0..3 (scale) and 4..7 (min). */
static inline void k4_unpack_scales(const uint8_t *q, uint64_t *sc8, uint64_t *mn8) {
    uint32_t u0, u1, u2;
    memcpy(&u0, q, 4);
    memcpy(&u1, q + 4, 4);
    memcpy(&u2, q + 8, 4);
    const uint32_t six = 0x3f3f3f3fu, four = 0x0f0f0f0fu, two = 0x03030303u;
    *sc8 = (uint64_t)(u0 & six) | (uint64_t)((u2 & four) | (((u0 >> 6) & two) << 4)) << 32;
    *mn8 = (uint64_t)(u1 & six) | (uint64_t)(((u2 >> 4) & four) | (((u1 >> 6) & two) << 4)) << 32;
}

#endif
