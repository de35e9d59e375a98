#include "hashmap.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "../core/error.h"

/* Tables of a large vocabulary (megabytes, probed at random) are backed by
 * transparent huge pages where the kernel offers them: far fewer TLB misses
 * while a tokenizer is built and used. */
static void *table_alloc(size_t bytes, int zero) {
    enum { HUGE = 2u << 20 };
    if (bytes < HUGE) return zero ? calloc(1, bytes) : malloc(bytes);
    size_t size = (bytes + HUGE - 1) / HUGE * HUGE;
    void *p = aligned_alloc(HUGE, size);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, bytes);
    return p;
}

static inline uint64_t load_tail(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    switch (n) {
    case 7: v |= (uint64_t)p[6] << 48; /* fall through */
    case 6: v |= (uint64_t)p[5] << 40; /* fall through */
    case 5: v |= (uint64_t)p[4] << 32; /* fall through */
    case 4: v |= (uint64_t)p[3] << 24; /* fall through */
    case 3: v |= (uint64_t)p[2] << 16; /* fall through */
    case 2: v |= (uint64_t)p[1] << 8;  /* fall through */
    case 1: v |= (uint64_t)p[0]; break;
    default: break;
    }
    return v;
}

uint64_t hash_bytes(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0x243F6A8885A308D3ull ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    h = (h ^ load_tail(p, n)) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return h;
}

/* A power of two with room for expected * slack_x2 / 2 keys. */
static uint32_t capacity_for(uint32_t expected, unsigned slack_x2) {
    uint64_t cap = 16;
    while (cap * 2 < (uint64_t)expected * slack_x2) cap <<= 1;
    return cap > (1u << 31) ? (1u << 31) : (uint32_t)cap;
}

kvlm_status strmap_init(strmap *m, uint32_t expected, strmap_keys keys) {
    memset(m, 0, sizeof *m);
    uint32_t cap = capacity_for(expected, 4); /* load <= 1/2: a miss ends soon */
    m->slots = table_alloc((size_t)cap * sizeof *m->slots, 1);
    if (!m->slots) return kvlm_fail(KVLM_ERR_NOMEM, "tokenizer: out of memory for the vocabulary table");
    m->mask = cap - 1;
    m->keys = keys;
    return KVLM_OK;
}

void strmap_free(strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static inline int key_eq(const strmap *m, int32_t id, const void *key, size_t n) {
    uint32_t len = (*m->keys.len)[id];
    return len == n && memcmp(*m->keys.base + (*m->keys.off)[id], key, n) == 0;
}

static int strmap_grow(strmap *m) {
    uint32_t cap = (m->mask + 1) * 2;
    uint64_t *slots = table_alloc((size_t)cap * sizeof *slots, 1);
    if (!slots) return -1;
    for (uint32_t i = 0; i <= m->mask; i++) {
        uint64_t s = m->slots[i];
        if (!s) continue;
        uint32_t j = (uint32_t)(s >> 32) & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

int strmap_put(strmap *m, int32_t id) {
    if ((uint64_t)(m->count + 1) * 4 > (uint64_t)(m->mask + 1) * 3 && strmap_grow(m) != 0) return -1;
    const char *key = *m->keys.base + (*m->keys.off)[id];
    size_t n = (*m->keys.len)[id];
    uint64_t h = hash_bytes(key, n);
    uint32_t tag = (uint32_t)(h >> 32);
    uint32_t i = tag & m->mask;
    for (;;) {
        uint64_t s = m->slots[i];
        if (!s) break;
        if ((uint32_t)(s >> 32) == tag && key_eq(m, (int32_t)(uint32_t)s - 1, key, n)) return 0;
        i = (i + 1) & m->mask;
    }
    m->slots[i] = ((uint64_t)tag << 32) | (uint32_t)(id + 1);
    m->count++;
    return 1;
}

int32_t strmap_get(const strmap *m, const void *key, size_t n) {
    return m->slots ? strmap_get_hashed(m, key, n, hash_bytes(key, n)) : -1;
}

int32_t strmap_get_hashed(const strmap *m, const void *key, size_t n, uint64_t h) {
    if (!m->slots) return -1;
    uint32_t tag = (uint32_t)(h >> 32);
    uint32_t i = tag & m->mask;
    for (;;) {
        uint64_t s = m->slots[i];
        if (!s) return -1;
        if ((uint32_t)(s >> 32) == tag) {
            int32_t id = (int32_t)(uint32_t)s - 1;
            if (key_eq(m, id, key, n)) return id;
        }
        i = (i + 1) & m->mask;
    }
}

kvlm_status pairmap_init(pairmap *m, uint32_t expected) {
    memset(m, 0, sizeof *m);
    uint32_t cap = capacity_for(expected, 3); /* load <= 2/3: 280k merges in 8 MB */
    m->slots = table_alloc((size_t)cap * sizeof *m->slots, 0);
    if (!m->slots) return kvlm_fail(KVLM_ERR_NOMEM, "tokenizer: out of memory for the merge table");
    for (uint32_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
    m->mask = cap - 1;
    return KVLM_OK;
}

void pairmap_free(pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static kvlm_status pairmap_grow(pairmap *m) {
    uint32_t cap = (m->mask + 1) * 2;
    pair_slot *slots = table_alloc((size_t)cap * sizeof *slots, 0);
    if (!slots) return kvlm_fail(KVLM_ERR_NOMEM, "tokenizer: out of memory for the merge table");
    for (uint32_t i = 0; i < cap; i++) slots[i].key = UINT64_MAX;
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        uint32_t j = pair_home(m->slots[i].key, cap - 1);
        while (slots[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return KVLM_OK;
}

kvlm_status pairmap_put(pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id, int overwrite) {
    if (!m->slots) {
        kvlm_status st = pairmap_init(m, 16);
        if (st) return st;
    }
    if ((uint64_t)(m->count + 1) * 3 > (uint64_t)(m->mask + 1) * 2) {
        kvlm_status st = pairmap_grow(m);
        if (st) return st;
    }
    uint64_t key = pairmap_key(a, b);
    uint32_t i = pair_home(key, m->mask);
    for (;;) {
        pair_slot *s = &m->slots[i];
        if (s->key == key) {
            if (overwrite) {
                s->rank = rank;
                s->id = id;
            }
            return KVLM_OK;
        }
        if (s->key == UINT64_MAX) {
            s->key = key;
            s->rank = rank;
            s->id = id;
            m->count++;
            return KVLM_OK;
        }
        i = (i + 1) & m->mask;
    }
}
