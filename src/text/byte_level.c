#include "byte_level.h"

#include "utf8.h"

/* Bytes that stand for themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF.
 * The other 68 bytes map to U+0100.. in increasing byte order. */
static int self_mapped(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

uint32_t byte_level_char(uint8_t b) {
    if (self_mapped(b)) return b;
    if (b <= 0x20) return 256u + b;               /* 0x00..0x20 -> U+0100..U+0120 */
    if (b >= 0x7F && b <= 0xA0) return 256u + 33u + (b - 0x7Fu); /* -> U+0121..U+0142 */
    return 256u + 67u;                            /* 0xAD -> U+0143 */
}

/* U+0100 + k -> the k-th non-self-mapped byte (k < 68) */
static uint8_t shifted_byte(uint32_t k) {
    if (k < 33) return (uint8_t)k;
    if (k < 67) return (uint8_t)(0x7F + (k - 33));
    return 0xAD;
}

long byte_level_decode(const char *s, size_t n, char *out) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        int k = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (k <= 0) return -1;
        i += (size_t)k;
        if (cp < 256 && self_mapped(cp))
            out[o++] = (char)cp;
        else if (cp >= 256 && cp < 256 + 68)
            out[o++] = (char)shifted_byte(cp - 256);
        else
            return -1;
    }
    return (long)o;
}

size_t byte_level_encode(const uint8_t *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)utf8_encode(byte_level_char(s[i]), out + o);
    return o;
}
