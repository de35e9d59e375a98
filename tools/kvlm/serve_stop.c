/* Stop strings. The text grows a token at a time; a stop string may span
 * tokens, so matching looks back far enough to cover a match that ends in the
 * new text, and the text shown is held back while its tail could still become
 * a stop string. */
#include <stdlib.h>
#include <string.h>

#include "byte_buf.h"
#include "serve.h"

void serve_stop_init(serve_stop *s, char **stops, int n_stops) {
    memset(s, 0, sizeof *s);
    s->stops = stops;
    s->n_stops = n_stops;
}

void serve_stop_free(serve_stop *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

int serve_stop_append(serve_stop *s, const char *text, size_t len) {
    if (s->matched) return 1;
    size_t old = s->len;
    if (byte_buf_append(&s->buf, &s->len, &s->cap, text, len)) return -1;
    /* the earliest match that ends in the new text */
    size_t best = s->len;
    for (int i = 0; i < s->n_stops; i++) {
        size_t k = strlen(s->stops[i]);
        if (!k || k > s->len) continue;
        size_t from = old >= k - 1 ? old - (k - 1) : 0;
        const char *hit = memmem(s->buf + from, s->len - from, s->stops[i], k);
        if (hit && (size_t)(hit - s->buf) < best) best = (size_t)(hit - s->buf);
    }
    if (best < s->len) {
        s->len = best;
        s->buf[best] = '\0';
        s->matched = 1;
        return 1;
    }
    return 0;
}

size_t serve_stop_safe(const serve_stop *s) {
    if (s->matched) return s->len;
    size_t hold = 0;
    for (int i = 0; i < s->n_stops; i++) {
        size_t k = strlen(s->stops[i]);
        /* the longest proper prefix of the stop string that ends the text */
        for (size_t p = k > 1 ? k - 1 : 0; p > hold; p--)
            if (p <= s->len && !memcmp(s->buf + s->len - p, s->stops[i], p)) {
                hold = p;
                break;
            }
    }
    return s->len - hold;
}
