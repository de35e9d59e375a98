/* UTF-8 helpers shared by the tokenizer: strict decoding (Unicode 3.9 table
 * of well-formed sequences), encoding, and the lossy clean-up of input text. */
#ifndef KVLM_UTF8_H
#define KVLM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (n > 0 bytes available).
 *   > 0: a well-formed character of that many bytes, *cp set;
 *   0:   the n bytes are a valid but incomplete start of a character;
 *   < 0: ill-formed: -k where k >= 1 is the length of the maximal subpart
 *        (the bytes to replace by one U+FFFD, as Unicode recommends). */
int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Writes cp (<= 0x10FFFF) as UTF-8 into out (4 bytes room); returns its length. */
int utf8_encode(uint32_t cp, char *out);

/* The length of the character starting with lead byte c (1 for a stray
 * continuation byte or an invalid lead), for text already known valid. */
static inline int utf8_len_lead(uint8_t c) {
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

/* The offset of the first ill-formed byte in s, or n when s is valid UTF-8
 * (an incomplete final character counts as ill-formed). */
size_t utf8_valid_prefix(const uint8_t *s, size_t n);

/* Copies s with every ill-formed subsequence replaced by U+FFFD into a new
 * malloc'd buffer (*out_len set). NULL when out of memory. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);

/* Unicode White_Space (the set Rust's char::is_whitespace uses). */
int utf8_is_space(uint32_t cp);

#endif
