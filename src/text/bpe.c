/* BPE on one pre-token: split it into initial symbols (bytes for byte-level
 * vocabularies, characters with byte fallback otherwise), then merge adjacent
 * pairs, always the pair of lowest rank and, among equals, the leftmost: the
 * order of Hugging Face's BPE (rank = merge index) and of llama2.c /
 * SentencePiece (rank = the merged token's score, best first). Short words
 * use arrays; long ones a tournament tree, so a long pre-token costs
 * O(n log n). Long texts also keep a bounded cache of merged words. */
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"
#include "utf8.h"

#define SMALL_WORD 24

/* Initial symbols into c->syms[].id; returns how many (-1: out of memory). */
static long initial_symbols(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n) {
    if (n > c->cap_syms) {
        size_t cap = c->cap_syms ? c->cap_syms : 64;
        while (cap < n) cap *= 2;
        bpe_sym *v = realloc(c->syms, cap * sizeof *v);
        if (!v) return -1;
        c->syms = v;
        c->cap_syms = cap;
    }
    bpe_sym *sy = c->syms;
    size_t m = 0;
    int unk_pending = 0; /* Hugging Face's fuse_unk: one <unk> for a run of unknown characters */
    if (t->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_id[(uint8_t)s[i]];
            if (id >= 0) {
                if (unk_pending) sy[m++].id = t->unk_id;
                unk_pending = 0;
                sy[m++].id = id;
            } else if (t->unk_id >= 0) {
                if (unk_pending && !t->fuse_unk) sy[m++].id = t->unk_id;
                unk_pending = 1;
            }
        }
    } else {
        for (size_t i = 0; i < n;) {
            uint8_t b = (uint8_t)s[i];
            size_t k = (size_t)utf8_len_lead(b);
            if (k > n - i) k = n - i;
            int32_t id = b < 0x80 ? t->ascii_id[b] : strmap_get(&t->vocab, s + i, k);
            if (id >= 0) {
                if (unk_pending) sy[m++].id = t->unk_id;
                unk_pending = 0;
                sy[m++].id = id;
            } else {
                int all = t->byte_fallback;
                for (size_t j = 0; j < k && all; j++) all = t->byte_id[(uint8_t)s[i + j]] >= 0;
                if (all) {
                    if (unk_pending) sy[m++].id = t->unk_id;
                    unk_pending = 0;
                    for (size_t j = 0; j < k; j++) sy[m++].id = t->byte_id[(uint8_t)s[i + j]];
                } else if (t->unk_id >= 0) {
                    if (unk_pending && !t->fuse_unk) sy[m++].id = t->unk_id;
                    unk_pending = 1;
                }
                /* no byte fallback and no <unk>: the character is dropped, as in Hugging Face */
            }
            i += k;
        }
    }
    if (unk_pending) sy[m++].id = t->unk_id;
    return (long)m;
}

static inline uint32_t pair_rank(const kvlm_tokenizer *t, int32_t a, int32_t b, int32_t *merged) {
    const pair_slot *p = pairmap_get(&t->merges, a, b);
    if (!p) return UINT32_MAX;
    *merged = p->id;
    return p->rank;
}

static int merge_small(const kvlm_tokenizer *t, tok_ctx *c, size_t m) {
    int32_t ids[SMALL_WORD], nid[SMALL_WORD];
    uint32_t rk[SMALL_WORD]; /* rk[i]: rank of the pair (ids[i], ids[i+1]) */
    for (size_t i = 0; i < m; i++) ids[i] = c->syms[i].id;
    for (size_t i = 0; i + 1 < m; i++) rk[i] = pair_rank(t, ids[i], ids[i + 1], &nid[i]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (rk[i] < rk[best]) best = i;
        if (rk[best] == UINT32_MAX) break;
        ids[best] = nid[best];
        /* drop symbol best+1 and pair best+1 */
        for (size_t i = best + 1; i + 1 < m; i++) ids[i] = ids[i + 1];
        for (size_t i = best + 1; i + 2 < m; i++) {
            rk[i] = rk[i + 1];
            nid[i] = nid[i + 1];
        }
        m--;
        if (best > 0) rk[best - 1] = pair_rank(t, ids[best - 1], ids[best], &nid[best - 1]);
        if (best + 1 < m) rk[best] = pair_rank(t, ids[best], ids[best + 1], &nid[best]);
    }
    for (size_t i = 0; i < m; i++)
        if (tok_push(c, ids[i])) return -1;
    return 0;
}

/* Long words: a tournament tree over the symbol positions. Leaf i holds the
 * key rank << 32 | i of the pair starting at symbol i (UINT64_MAX: none), each
 * inner node the smaller of its children, so the root is the next merge. A
 * merge updates three leaves, each in log2(n) branch-free steps, and nothing
 * goes stale. */
static inline void tree_set(uint64_t *tr, size_t leaves, size_t i, uint64_t key) {
    size_t k = leaves + i;
    tr[k] = key;
    /* up to the first node whose value does not change: the ones above are then
     * unaffected (another changed leaf walks its own path) */
    for (k >>= 1; k >= 1; k >>= 1) {
        uint64_t a = tr[2 * k], b = tr[2 * k + 1], v = a < b ? a : b;
        if (tr[k] == v) break;
        tr[k] = v;
    }
}

static inline uint64_t pair_key(const kvlm_tokenizer *t, bpe_sym *sy, int32_t i) {
    int32_t nx = sy[i].next;
    if (nx < 0) return UINT64_MAX;
    uint32_t r = pair_rank(t, sy[i].id, sy[nx].id, &sy[i].merged);
    return r == UINT32_MAX ? UINT64_MAX : ((uint64_t)r << 32) | (uint32_t)i;
}

static int merge_tree(const kvlm_tokenizer *t, tok_ctx *c, size_t m) {
    size_t leaves = 1;
    while (leaves < m) leaves <<= 1;
    if (2 * leaves > c->cap_tree) {
        uint64_t *h = realloc(c->tree, 2 * leaves * sizeof *h);
        if (!h) return -1;
        c->tree = h;
        c->cap_tree = 2 * leaves;
    }
    bpe_sym *sy = c->syms;
    uint64_t *tr = c->tree;
    for (size_t i = 0; i < m; i++) {
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < m ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i < leaves; i++) tr[leaves + i] = i < m ? pair_key(t, sy, (int32_t)i) : UINT64_MAX;
    for (size_t k = leaves - 1; k >= 1; k--) {
        uint64_t a = tr[2 * k], b = tr[2 * k + 1];
        tr[k] = a < b ? a : b;
    }
    while (tr[1] != UINT64_MAX) {
        int32_t pos = (int32_t)(uint32_t)tr[1];
        int32_t nx = sy[pos].next;
        sy[pos].id = sy[pos].merged;
        sy[nx].id = -1; /* removed */
        sy[pos].next = sy[nx].next;
        if (sy[nx].next >= 0) sy[sy[nx].next].prev = pos;
        tree_set(tr, leaves, (size_t)nx, UINT64_MAX);
        tree_set(tr, leaves, (size_t)pos, pair_key(t, sy, pos));
        if (sy[pos].prev >= 0) tree_set(tr, leaves, (size_t)sy[pos].prev, pair_key(t, sy, sy[pos].prev));
    }
    for (int32_t i = 0; i >= 0; i = sy[i].next)
        if (tok_push(c, sy[i].id)) return -1;
    return 0;
}

/* The word cache: direct-mapped slots over an arena holding each word and
 * its ids; when the arena is full everything is dropped (memory stays bounded). */
#define CACHE_SLOTS 4096
#define CACHE_ARENA (1u << 20)
#define CACHE_MAX_WORD 256

struct word_slot {
    uint64_t hash; /* 0: empty */
    uint32_t off;  /* in the arena: the ids (int32), then the word's bytes */
    uint16_t len, n_ids;
};

static int cache_get(tok_ctx *c, uint64_t h, const char *s, size_t n) {
    if (!c->cache) return 0;
    const struct word_slot *w = &c->cache[h & (CACHE_SLOTS - 1)];
    if (w->hash != h || w->len != n) return 0;
    const char *p = c->cache_arena + w->off;
    if (memcmp(p + 4 * (size_t)w->n_ids, s, n) != 0) return 0;
    for (size_t i = 0; i < w->n_ids; i++) {
        int32_t id;
        memcpy(&id, p + 4 * i, 4);
        if (tok_push(c, id)) return -1;
    }
    return 1;
}

static void cache_put(tok_ctx *c, uint64_t h, const char *s, size_t n, const int32_t *ids, size_t n_ids) {
    if (n > CACHE_MAX_WORD || n_ids > CACHE_MAX_WORD || h == 0) return;
    if (!c->cache) {
        c->cache = calloc(CACHE_SLOTS, sizeof *c->cache);
        c->cache_arena = malloc(CACHE_ARENA);
        if (!c->cache || !c->cache_arena) { /* no cache then: not an error */
            free(c->cache);
            free(c->cache_arena);
            c->cache = NULL;
            c->cache_arena = NULL;
            c->cache_on = 0;
            return;
        }
    }
    size_t need = 4 * n_ids + n;
    if (c->cache_len + need > CACHE_ARENA) {
        memset(c->cache, 0, CACHE_SLOTS * sizeof *c->cache);
        c->cache_len = 0;
    }
    struct word_slot *w = &c->cache[h & (CACHE_SLOTS - 1)];
    char *p = c->cache_arena + c->cache_len;
    memcpy(p, ids, 4 * n_ids);
    memcpy(p + 4 * n_ids, s, n);
    w->hash = h;
    w->off = (uint32_t)c->cache_len;
    w->len = (uint16_t)n;
    w->n_ids = (uint16_t)n_ids;
    c->cache_len += (need + 3) & ~(size_t)3;
}

int tok_bpe_word(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n) {
    if (n == 0) return 0;
    uint64_t h = 0;
    int cached = c->cache_on && n <= CACHE_MAX_WORD;
    if (t->ignore_merges || cached) h = hash_bytes(s, n);
    if (t->ignore_merges) {
        int32_t id = strmap_get_hashed(&t->vocab, s, n, h);
        if (id >= 0) return tok_push(c, id);
    }
    if (cached) {
        int r = cache_get(c, h, s, n);
        if (r) return r < 0 ? -1 : 0;
    }
    long m = initial_symbols(t, c, s, n);
    if (m < 0) {
        c->oom = 1;
        return -1;
    }
    if (m == 0) return 0;
    size_t first = c->n_ids;
    int rc = m == 1 ? tok_push(c, c->syms[0].id)
                    : (size_t)m <= SMALL_WORD ? merge_small(t, c, (size_t)m) : merge_tree(t, c, (size_t)m);
    if (rc) {
        c->oom = 1;
        return rc;
    }
    if (cached) cache_put(c, h, s, n, c->ids + first, c->n_ids - first);
    return 0;
}
