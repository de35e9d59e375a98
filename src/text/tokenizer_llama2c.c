/* llama2.c's tokenizer.bin: int32 max_token_length, then for every token a
 * float32 score, an int32 length and the bytes (SentencePiece pieces with '▁'
 * already turned into ' '). Encoding follows llama2.c's run.c: a " " dummy
 * prefix when the text is not empty, one token per code point (or its bytes
 * as ids byte+3), then repeated merges of the adjacent pair whose
 * concatenation is the token of best score (leftmost on ties). Decoding
 * follows run.c's decode(): a piece right after BOS loses its leading space,
 * <0xXX> pieces are raw bytes; BOS and EOS print nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mapped_file.h"
#include "tok_impl.h"
#include "tokenizer.h"

static int32_t rd_i32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

static float rd_f32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* llama2.c writes BOS and EOS as "\n<s>\n" and "\n</s>\n" */
static int strip_newlines(const uint8_t **p, size_t *n) {
    if (*n >= 3 && (*p)[0] == '\n' && (*p)[*n - 1] == '\n') {
        (*p)++;
        *n -= 2;
        return 1;
    }
    return 0;
}

static kvlm_status build(const char *path, const uint8_t *d, size_t size, int vocab_size, kvlm_tokenizer **out) {
    if (size < 4) return kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: no max_token_length header", path);
    int32_t max_len = rd_i32(d);
    if (max_len <= 0 || max_len > (1 << 20))
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: max_token_length %d is not plausible", path, (int)max_len);
    /* pass 1: count and check the records */
    size_t off = 4;
    int n = 0;
    while (off < size && (vocab_size <= 0 || n < vocab_size)) {
        if (size - off < 8)
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated in token %d (offset %zu): no score and length", path, n, off);
        int32_t len = rd_i32(d + off + 4);
        if (len < 0 || (size_t)len > size - off - 8)
            return kvlm_fail(KVLM_ERR_FORMAT, "%s: token %d (offset %zu): length %d runs past the end of the file",
                             path, n, off, (int)len);
        off += 8 + (size_t)len;
        if (++n >= (1 << 28)) return kvlm_fail(KVLM_ERR_FORMAT, "%s: too many tokens", path);
    }
    if (vocab_size > 0 && n < vocab_size)
        return kvlm_fail(KVLM_ERR_FORMAT, "%s: truncated: %d tokens of the %d expected", path, n, vocab_size);
    if (n == 0) return kvlm_fail(KVLM_ERR_FORMAT, "%s: no tokens", path);

    kvlm_tokenizer *t = tok_new(path, n);
    float *scores = malloc((size_t)n * sizeof *scores);
    uint8_t *usable = malloc((size_t)n);
    kvlm_status st = (!t || !scores || !usable) ? kvlm_fail(KVLM_ERR_NOMEM, "%s: out of memory", path) : KVLM_OK;
    off = 4;
    for (int id = 0; id < n && !st; id++) {
        scores[id] = rd_f32(d + off);
        size_t len = (size_t)rd_i32(d + off + 4);
        const uint8_t *p = d + off + 8;
        off += 8 + len;
        unsigned attr = TA_VOCAB;
        usable[id] = 1;
        if (id <= 2 && strip_newlines(&p, &len)) {
            /* BOS and EOS: found by kvlm_token_id("<s>"), and decoded to nothing,
             * as llama2.c never prints them */
            usable[id] = 0;
            st = tok_set(t, id, (const char *)p, len, "", 0, TA_ADDED | TA_SPECIAL);
            continue;
        }
        if (id == 0 && len == 5 && memcmp(p, "<unk>", 5) == 0) {
            attr = TA_ADDED | TA_SPECIAL;
            usable[id] = 0;
        }
        if (len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && hexval(p[3]) >= 0 && hexval(p[4]) >= 0) {
            char byte = (char)(hexval(p[3]) * 16 + hexval(p[4]));
            st = tok_set(t, id, (const char *)p, len, &byte, 1, attr);
        } else {
            st = tok_set(t, id, (const char *)p, len, NULL, 0, attr);
        }
    }
    if (!st) {
        t->kind = TOK_KIND_LLAMA2C;
        t->byte_fallback = 1;
        if (n >= 259)
            for (int b = 0; b < 256; b++) t->byte_id[b] = b + 3; /* run.c's byte fallback */
        t->dec_llama2c = 1;
        if (n > 1) {
            t->bos_id = 1;
            t->bos_ids[t->n_bos++] = 1;
        }
        st = tok_add_norm(t, NORM_PREPEND, " ", 1, NULL, 0); /* the dummy prefix */
    }
    if (!st) st = tok_finish(t);
    if (!st) st = tok_merges_from_scores(t, scores, usable);
    free(scores);
    free(usable);
    if (st) {
        kvlm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return KVLM_OK;
}

kvlm_status tokenizer_load_llama2c(const char *path, int vocab_size, kvlm_tokenizer **out) {
    if (!path || !out) return kvlm_fail(KVLM_ERR_ARG, "tokenizer_load_llama2c: bad argument");
    *out = NULL;
    mapped_file f;
    kvlm_status st = mapped_file_open(&f, path);
    if (st) return st;
    st = build(path, f.data, f.size, vocab_size, out);
    mapped_file_close(&f);
    return st;
}
