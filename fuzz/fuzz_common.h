/* What the fuzz targets share: the input as an in-memory file (for loaders
 * that take a path), and a workout for whatever tokenizer a target built. */
#ifndef KVLM_FUZZ_COMMON_H
#define KVLM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvlm.h"

/* Writes data to a memfd; *path receives /proc/self/fd/N. Returns the fd or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap) {
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* Encodes a short text (specials, digits, multi-byte and invalid UTF-8,
 * whitespace runs), decodes it whole and streamed, and decodes the first 64
 * ids one by one: every path a loaded vocabulary feeds. */
static inline void fuzz_exercise_tokenizer(const kvlm_tokenizer *tok) {
    static const char text[] = "Hello world! <|eot_id|> 12345  \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80 a\n\n\tb \xFF";
    int32_t ids[256];
    int n = kvlm_tokenize(tok, text, sizeof text - 1, KVLM_TOKENIZE_ADD_BOS | KVLM_TOKENIZE_SPECIAL, ids, 256);
    if (n > 256) n = 256;
    if (n > 0) {
        char out[1024];
        (void)kvlm_detokenize(tok, ids, n, out, sizeof out);
        kvlm_detok_stream *s = kvlm_detok_stream_new(tok);
        for (int i = 0; s && i < n; i++) (void)kvlm_detok_stream_push(s, ids[i], NULL);
        if (s) (void)kvlm_detok_stream_flush(s, NULL);
        kvlm_detok_stream_free(s);
    }
    int v = kvlm_tokenizer_vocab_size(tok);
    for (int32_t id = 0; id < v && id < 64; id++) {
        char out[64];
        (void)kvlm_detokenize(tok, &id, 1, out, sizeof out);
        (void)kvlm_token_is_special(tok, id);
    }
}

#endif
