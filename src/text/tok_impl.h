/* The tokenizer's private layout, shared by the files of src/text/. Loaders
 * (tokenizer_json.c, tokenizer_llama2c.c, tokenizer_gguf.c) fill a
 * kvlm_tokenizer through the tok_* builder calls below; encoding
 * (tokenizer.c, added.c, normalize.c, pretok.c, bpe.c) and decoding (detok.c)
 * only read it, so one tokenizer serves many threads. */
#ifndef KVLM_TOK_IMPL_H
#define KVLM_TOK_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"
#include "kvlm.h"

/* token attributes */
enum {
    TA_USED = 1,      /* the id exists (vocabularies may have holes) */
    TA_VOCAB = 2,     /* in the model's vocabulary: BPE may produce it */
    TA_ADDED = 4,     /* an added token: matched in the text before BPE */
    TA_SPECIAL = 8,   /* special/control: matched only with KVLM_TOKENIZE_SPECIAL */
    TA_LSTRIP = 16,   /* added token swallows the whitespace on its left */
    TA_RSTRIP = 32,   /* ... on its right */
    TA_SINGLE_WORD = 64,
};

/* normalizer steps, applied in order to each piece of text between added tokens */
enum { NORM_PREPEND, NORM_REPLACE, NORM_NFC };
typedef struct {
    int op;
    char *a, *b; /* PREPEND: a; REPLACE: a -> b; NFC: none */
    size_t alen, blen;
} norm_op;

/* pre-tokenizer steps: each splits every piece it gets into smaller ones */
enum { PT_SPLIT, PT_PREFIX_SPACE, PT_METASPACE };
enum { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
enum { PREPEND_NEVER, PREPEND_ALWAYS, PREPEND_FIRST };
typedef struct {
    int type;
    pcre2_code *re; /* PT_SPLIT */
    int jit;        /* re was JIT-compiled */
    char *src;      /* the pattern as given (owned), literal or not */
    size_t src_len;
    int literal;
    int behavior, invert;
    char repl[8];   /* PT_METASPACE: the replacement character ("▁") */
    int repl_len;
    int prepend;    /* PREPEND_* */
    int split;
} pretok_step;
#define TOK_MAX_PRETOK 8

/* decoder steps, applied to each token's text to get its bytes */
enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE };
typedef struct {
    int op;
    char *a, *b; /* REPLACE a -> b; METASPACE: a = replacement */
    size_t alen, blen;
    int start, stop; /* STRIP */
    char ch;         /* STRIP: the character stripped (ASCII only) */
    int first_rule;  /* METASPACE: the first token loses its replacement chars */
} dec_op;

/* added-token trie: first-child / next-sibling */
typedef struct {
    int32_t child, sibling, id;
    uint8_t byte;
} trie_node;

/* where the merges come from */
enum {
    TOK_KIND_MERGES = 0,  /* a ranked merge list (tokenizer.json, GGUF gpt2) */
    TOK_KIND_SCORES = 1,  /* token scores, SentencePiece style (GGUF llama) */
    TOK_KIND_LLAMA2C = 2, /* token scores, llama2.c's tokenizer.bin */
};

struct kvlm_tokenizer {
    char *name; /* the file, for messages */
    int n_vocab;
    int kind; /* TOK_KIND_* */

    /* token strings: key (how the model and kvlm_token_id see it) and piece
     * (the bytes it decodes to), both in one arena */
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *key_off, *key_len, *piece_off, *piece_len;
    uint8_t *attr;

    strmap vocab;   /* key -> id for TA_VOCAB tokens */
    strmap added;   /* content -> id for TA_ADDED tokens */
    pairmap merges; /* (left id, right id) -> (rank, merged id); lower rank merges first */

    /* model */
    int byte_level;    /* BPE over raw bytes (GPT-2 byte-level alphabet) */
    int ignore_merges; /* a whole pre-token found in the vocabulary is one token */
    int byte_fallback; /* unknown characters become <0xXX> tokens */
    int fuse_unk;
    int32_t unk_id;
    int32_t byte_id[256]; /* byte-level: the one-byte token; else the <0xXX> token (-1: none) */
    int32_t ascii_id[128]; /* character mode: the token of a single ASCII character */

    norm_op *norm;
    int n_norm;
    pretok_step pre[TOK_MAX_PRETOK];
    int n_pre;

    trie_node *trie; /* node 0 is the root */
    int n_trie, cap_trie;
    uint8_t trie_first[256]; /* bytes that can start an added token */
    int n_plain_added;       /* added tokens that are not special (matched without KVLM_TOKENIZE_SPECIAL) */

    int32_t bos_ids[4]; /* what KVLM_TOKENIZE_ADD_BOS prepends */
    int n_bos;
    int32_t bos_id; /* kvlm_tokenizer_bos() */

    dec_op *dec;
    int n_dec;
    int dec_strip_start;     /* drop up to this many dec_strip_char at the start of the text */
    char dec_strip_char;
    int dec_first_differs;   /* the first token decodes differently (Metaspace) */
    int dec_llama2c;         /* llama2.c: a piece after BOS drops its leading space */
};

/* ---- building (tokenizer.c) */
kvlm_tokenizer *tok_new(const char *name, int n_vocab);
/* Sets token id's key and piece (piece NULL: same bytes as the key) and attributes. */
kvlm_status tok_set(kvlm_tokenizer *t, int id, const char *key, size_t klen, const char *piece, size_t plen,
                    unsigned attr);
/* Builds the lookup tables once every token is set. */
kvlm_status tok_finish(kvlm_tokenizer *t);
/* Adds a merge of (a, b) into id with the given rank. */
kvlm_status tok_add_merge(kvlm_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t id, int overwrite);
/* SentencePiece/llama2.c style: a pair merges when the concatenation of the two
 * strings is a token; the higher its score, the earlier it merges (equal
 * scores: leftmost first). Tokens for which usable[id] == 0 never merge. */
kvlm_status tok_merges_from_scores(kvlm_tokenizer *t, const float *scores, const uint8_t *usable);
kvlm_status tok_add_norm(kvlm_tokenizer *t, int op, const char *a, size_t alen, const char *b, size_t blen);
kvlm_status tok_add_dec(kvlm_tokenizer *t, const dec_op *op);
/* pretok.c: appends a Split step whose pattern is compiled the way Hugging
 * Face (Rust/Oniguruma) reads it (literal: a plain string), or another step.
 * what names the field for messages. */
kvlm_status tok_add_split(kvlm_tokenizer *t, const char *pattern, size_t len, int literal, int behavior, int invert,
                          const char *what);
kvlm_status tok_add_pretok(kvlm_tokenizer *t, const pretok_step *st, const char *what);
static inline const char *tok_key(const kvlm_tokenizer *t, int id) { return t->arena + t->key_off[id]; }
static inline const char *tok_piece(const kvlm_tokenizer *t, int id) { return t->arena + t->piece_off[id]; }

/* The standard GPT-2 and Llama 3 pre-tokenizer patterns. */
extern const char TOK_RE_GPT2[];
extern const char TOK_RE_LLAMA3[];
extern const char TOK_RE_QWEN2[];

/* ---- encoding */
typedef struct {
    int32_t id;     /* -1: merged into the symbol before */
    int32_t prev, next;
    int32_t merged; /* what the pair starting here merges into */
} bpe_sym;

typedef struct {
    int32_t *ids;
    size_t n_ids, cap_ids;
    bpe_sym *syms;
    size_t cap_syms;
    uint64_t *tree; /* BPE's tournament tree of rank << 32 | position of the left symbol */
    size_t cap_tree;
    char *buf[TOK_MAX_PRETOK + 2]; /* per-level scratch text */
    size_t buf_cap[TOK_MAX_PRETOK + 2];
    pcre2_match_data *md;
    int oom;
    /* for long texts: a bounded cache of the words BPE has merged (bpe.c) */
    int cache_on;
    struct word_slot *cache;
    char *cache_arena;
    size_t cache_len;
} tok_ctx;

int tok_push(tok_ctx *c, int32_t id);
/* a scratch buffer of at least n bytes for pipeline level lvl (NULL: out of memory) */
char *tok_scratch(tok_ctx *c, int lvl, size_t n);
/* normalize.c: the normalized text of s (may be s itself) */
const char *tok_normalize(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n, size_t *out_n);
/* pretok.c: splits s and BPE-encodes every piece; -1 on out of memory */
int tok_pretokenize(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n, int at_start);
/* bpe.c: encodes one pre-token */
int tok_bpe_word(const kvlm_tokenizer *t, tok_ctx *c, const char *s, size_t n);
/* added.c */
kvlm_status tok_trie_build(kvlm_tokenizer *t);
/* Finds the next added token in s[from..n) as Hugging Face does (leftmost,
 * then longest). Returns its id and sets [*start, *end) (whitespace swallowed
 * by lstrip/rstrip included), or -1 when there is none. */
int32_t tok_find_added(const kvlm_tokenizer *t, const char *s, size_t n, size_t from, int special,
                       size_t *start, size_t *end);

/* ---- decoding (detok.c) */
/* Runs the decoder steps over one token's text; out needs room for klen bytes
 * (decoding never grows text except Replace, whose growth the caller sizes:
 * tok_decode_bound). Returns the length. */
size_t tok_decode_token(const kvlm_tokenizer *t, const char *key, size_t klen, int is_first, char *out);
size_t tok_decode_bound(const kvlm_tokenizer *t, size_t klen);

#endif
