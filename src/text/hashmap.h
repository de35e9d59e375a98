/* Open-addressing hash tables (linear probing, power-of-two capacity) used by
 * the tokenizer: strmap maps a byte string to a token id (the strings live in
 * the tokenizer's arena and are reached through offset/length arrays), and
 * pairmap maps a pair of ids to a merge (rank, resulting id). Both are
 * read-only after loading, so lookups from many threads are safe. */
#ifndef KVLM_HASHMAP_H
#define KVLM_HASHMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvlm.h"

uint64_t hash_bytes(const void *p, size_t n);

/* The strings a strmap indexes: key of id i is base[off[i] .. off[i]+len[i]). */
typedef struct {
    const char *const *base; /* the arena may move while it grows */
    const uint32_t *const *off;
    const uint32_t *const *len;
} strmap_keys;

typedef struct {
    uint64_t *slots; /* 0: empty; else (hash high 32 bits << 32) | (id + 1) */
    uint32_t mask;
    uint32_t count;
    strmap_keys keys;
} strmap;

kvlm_status strmap_init(strmap *m, uint32_t expected, strmap_keys keys);
void strmap_free(strmap *m);
/* Adds id under its key unless the key is present (the first id wins).
 * Returns 1 when added, 0 when the key was there, -1 when out of memory. */
int strmap_put(strmap *m, int32_t id);
/* The id stored under key, or -1. */
int32_t strmap_get(const strmap *m, const void *key, size_t n);
/* The same with the key's hash_bytes() already known. */
int32_t strmap_get_hashed(const strmap *m, const void *key, size_t n, uint64_t h);

/* Bulk loading probes these tables at random, a cache miss per probe: the
 * loaders hash a batch of keys first and prefetch, then look them up.
 * strmap_prefetch_slot touches the home slot of hash h; once that slot is
 * cached, strmap_prefetch_key touches the string it points at. */
static inline void strmap_prefetch_slot(const strmap *m, uint64_t h) {
    if (m->slots) __builtin_prefetch(&m->slots[(uint32_t)(h >> 32) & m->mask]);
}
static inline void strmap_prefetch_key(const strmap *m, uint64_t h) {
    if (!m->slots) return;
    uint64_t s = m->slots[(uint32_t)(h >> 32) & m->mask];
    if (s) __builtin_prefetch(*m->keys.base + (*m->keys.off)[(uint32_t)s - 1]);
}

typedef struct {
    uint64_t key; /* (a << 32) | b; UINT64_MAX: empty */
    uint32_t rank;
    int32_t id;
} pair_slot;

typedef struct {
    pair_slot *slots;
    uint32_t mask;
    uint32_t count;
} pairmap;

kvlm_status pairmap_init(pairmap *m, uint32_t expected);
void pairmap_free(pairmap *m);
/* Inserts (a, b) -> (rank, id); an existing pair is replaced only when
 * overwrite. Grows as needed. KVLM_ERR_NOMEM on failure. */
kvlm_status pairmap_put(pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id, int overwrite);

static inline uint64_t pairmap_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

/* The slot where the probe for key starts in a table of mask + 1 slots. */
static inline uint32_t pair_home(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static inline void pairmap_prefetch(const pairmap *m, int32_t a, int32_t b) {
    if (m->slots) __builtin_prefetch(&m->slots[pair_home(pairmap_key(a, b), m->mask)], 1);
}

static inline const pair_slot *pairmap_get(const pairmap *m, int32_t a, int32_t b) {
    if (!m->slots) return NULL;
    uint64_t key = pairmap_key(a, b);
    uint32_t i = pair_home(key, m->mask);
    for (;;) {
        const pair_slot *s = &m->slots[i];
        if (s->key == key) return s;
        if (s->key == UINT64_MAX) return NULL;
        i = (i + 1) & m->mask;
    }
}

#endif
