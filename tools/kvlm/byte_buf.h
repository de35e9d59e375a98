/* Appending to a growable, NUL-terminated byte buffer: the generated text of
 * a command, a server request's output, its stop-string window and its SSE
 * stream all grow this way. */
#ifndef KVLM_TOOLS_BYTE_BUF_H
#define KVLM_TOOLS_BYTE_BUF_H

#include <stddef.h>

/* Appends n bytes of p to *buf (length *len, allocated *cap, doubling from
 * 256) and keeps a '\0' after them. Returns 0, or -1 when out of memory with
 * the buffer as it was. */
int byte_buf_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n);

#endif
