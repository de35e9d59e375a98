/* GPT-2's byte-level alphabet: every byte value has a printable stand-in
 * character ('Ġ' for the space, 'Ċ' for '\n' ...). Byte-level vocabularies
 * are written in these characters; kvlm converts them back to raw bytes at
 * load time and runs BPE on raw bytes. */
#ifndef KVLM_BYTE_LEVEL_H
#define KVLM_BYTE_LEVEL_H

#include <stddef.h>
#include <stdint.h>

/* The stand-in character of byte b. */
uint32_t byte_level_char(uint8_t b);

/* Maps the stand-in characters of s (n bytes of UTF-8) back to bytes into out
 * (room for n bytes). Returns the number of bytes written, or -1 when s holds
 * a character outside the alphabet or is not valid UTF-8. */
long byte_level_decode(const char *s, size_t n, char *out);

/* Writes the stand-in characters of n raw bytes into out (room for 2n bytes);
 * returns the length. */
size_t byte_level_encode(const uint8_t *s, size_t n, char *out);

#endif
