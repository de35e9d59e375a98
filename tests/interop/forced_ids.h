/* Both sides of the llama.cpp interoperability check read the ids to feed
 * (teacher forcing) from the other side's output: the "greedy:" line. */
#ifndef KVLM_INTEROP_FORCED_IDS_H
#define KVLM_INTEROP_FORCED_IDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first n ids of the "greedy:" line of path (malloc'd), or NULL when the
 * file, the line or one of the n ids is missing. */
static inline int32_t *read_forced_ids(const char *path, int n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char line[1 << 16];
    int32_t *ids = NULL;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "greedy:", 7)) {
            ids = malloc(sizeof(int32_t) * (size_t)n);
            char *p = line + 7, *end;
            for (int i = 0; ids && i < n; i++, p = end) {
                ids[i] = (int32_t)strtol(p, &end, 10);
                if (end == p) {
                    free(ids);
                    ids = NULL;
                }
            }
            break;
        }
    fclose(f);
    return ids;
}

#endif
