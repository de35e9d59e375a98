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

/* Every stand-in character is below U+0144: one UTF-8 byte or a lead byte
 * 0xC2..0xC5 and a continuation byte. (Decoded inline: this loop runs over
 * every vocabulary entry and merge when a tokenizer loads.) */
long byte_level_decode(const char *s, size_t n, char *out) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t c = u[i];
        if (c < 0x80) {
            if (!self_mapped(c)) return -1;
            out[o++] = (char)c;
            i++;
            continue;
        }
        if (c < 0xC2 || c > 0xC5 || i + 1 >= n || (u[i + 1] & 0xC0) != 0x80) return -1;
        uint32_t cp = ((c & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
        i += 2;
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
