/* Chat templates rendered natively: the Jinja templates kvlm recognizes are
 * re-implemented here byte for byte (no Jinja engine).
 *
 * Llama 3.1/3.2 (meta-llama/Llama-3.2-1B-Instruct chat_template.jinja, no tools):
 *   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
 *   Cutting Knowledge Date: December 2023\nToday Date: DATE\n\n
 *   SYSTEM|trim<|eot_id|>             (always present; SYSTEM = messages[0] when its role is "system")
 *   then per message: <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT|trim<|eot_id|>
 *   ("tool" and "ipython" messages: header "ipython", content as a JSON string: `content | tojson`)
 *   then, with add_generation_prompt, <|start_header_id|>assistant<|end_header_id|>\n\n
 *   With no messages at all this renders the system block and the generation prompt, as
 *   @huggingface/jinja does (Python's jinja2 raises an error on messages[0] there).
 * Llama 3 (Meta-Llama-3-8B-Instruct):
 *   per message: <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT|trim<|eot_id|>, the first one
 *   preceded by <|begin_of_text|> (so no BOS when there are no messages), then the generation prompt.
 * ChatML (the plain template of the Hugging Face chat-templating docs):
 *   per message: <|im_start|>ROLE\nCONTENT<|im_end|>\n, then <|im_start|>assistant\n. No BOS, no trim.
 *   (Qwen2's variant also inserts "You are a helpful assistant." when the first message is not a
 *   system message; kvlm renders the plain one.)
 *
 * Jinja's trim is Python's str.strip(): it removes the code points for which str.isspace() holds
 * (ASCII \t\n\v\f\r and space, U+001C..U+001F, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000) from both ends. Note that @huggingface/jinja's trim is
 * JavaScript's String.prototype.trim(), which differs on U+001C..U+001F and U+0085 (kept) and
 * U+FEFF (removed); kvlm follows Python, as transformers' apply_chat_template does. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "kvlm.h"

#define CHAT_CHOICES "llama3.2, llama3, chatml"
#define DEFAULT_DATE "26 Jul 2024"

/* ------------------------------------------------------------ detection */

kvlm_chat_format kvlm_chat_format_detect(const char *src) {
    if (!src) {
        kvlm_fail(KVLM_ERR_ARG, "no chat template: choose a format with --chat-format (" CHAT_CHOICES ")");
        return KVLM_CHAT_AUTO;
    }
    int headers = strstr(src, "<|start_header_id|>") && strstr(src, "<|end_header_id|>");
    if (headers && strstr(src, "Cutting Knowledge Date")) return KVLM_CHAT_LLAMA32;
    if (headers) return KVLM_CHAT_LLAMA3;
    if (strstr(src, "<|im_start|>") && strstr(src, "<|im_end|>")) return KVLM_CHAT_CHATML;
    kvlm_fail(KVLM_ERR_UNSUPPORTED,
              "the chat template is not one kvlm renders natively (Llama 3.2/3.1, Llama 3, ChatML): "
              "choose a format with --chat-format (" CHAT_CHOICES ")");
    return KVLM_CHAT_AUTO;
}

static const struct {
    const char *name;
    kvlm_chat_format fmt;
} g_names[] = {
    {"llama3.2", KVLM_CHAT_LLAMA32},
    {"llama3.1", KVLM_CHAT_LLAMA32}, /* the same template without tools */
    {"llama3", KVLM_CHAT_LLAMA3},
    {"chatml", KVLM_CHAT_CHATML},
    {"auto", KVLM_CHAT_AUTO},
};

kvlm_chat_format kvlm_chat_format_from_name(const char *name) {
    if (name)
        for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
            if (!strcmp(name, g_names[i].name)) return g_names[i].fmt;
    kvlm_fail(KVLM_ERR_ARG, "unknown chat format '%s' (choices: " CHAT_CHOICES ")", name ? name : "(null)");
    return KVLM_CHAT_AUTO;
}

const char *kvlm_chat_format_name(kvlm_chat_format fmt) {
    switch (fmt) {
    case KVLM_CHAT_AUTO: return "auto";
    case KVLM_CHAT_LLAMA32: return "llama3.2";
    case KVLM_CHAT_LLAMA3: return "llama3";
    case KVLM_CHAT_CHATML: return "chatml";
    }
    return "unknown";
}

/* ------------------------------------------------------------- trimming */

static int py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Decodes one well-formed UTF-8 sequence at s[0..n); returns its length, or 0
 * when it is not well formed (such bytes are never whitespace). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned char b = s[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if ((b & 0xE0) == 0xC0) {
        len = 2, c = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3, c = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
        len = 4, c = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* Python's str.strip() on UTF-8: sets [*b, *e) to the trimmed span of s. */
static void py_strip(const char *s, size_t *b, size_t *e) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), lo = 0, hi = n;
    uint32_t cp;
    size_t len;
    while (lo < hi && (len = utf8_decode(u + lo, hi - lo, &cp)) && py_isspace(cp)) lo += len;
    while (hi > lo) {
        size_t start = hi - 1; /* back to the lead byte of the last sequence (at most 4 bytes) */
        while (start > lo && hi - start < 4 && (u[start] & 0xC0) == 0x80) start--;
        len = utf8_decode(u + start, hi - start, &cp);
        if (len != hi - start || !py_isspace(cp)) break;
        hi = start;
    }
    *b = lo;
    *e = hi;
}

/* --------------------------------------------------------------- output */

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (n > b->cap - b->len - 1 || !b->p) {
        size_t cap = b->cap ? b->cap : 256;
        while (n > cap - b->len - 1) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_trimmed(sbuf *b, const char *s) {
    size_t lo, hi;
    py_strip(s, &lo, &hi);
    sb_put(b, s + lo, hi - lo);
}

/* `content | tojson` of a string, as transformers' tojson (json.dumps with
 * ensure_ascii=False) and @huggingface/jinja both write it. */
static void sb_json_string(sbuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    sb_str(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c >= 0x20) {
                sb_put(b, s, 1);
                continue;
            }
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            n = 6;
        }
        sb_put(b, esc, n);
    }
    sb_str(b, "\"");
}

static void llama_header(sbuf *b, const char *role) {
    sb_str(b, "<|start_header_id|>");
    sb_str(b, role);
    sb_str(b, "<|end_header_id|>\n\n");
}

static void render_llama32(sbuf *b, const kvlm_chat_message *m, int n, int gen, const char *date) {
    int first = 0;
    sb_str(b, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Cutting Knowledge Date: December 2023\nToday Date: ");
    sb_str(b, date);
    sb_str(b, "\n\n");
    if (n > 0 && !strcmp(m[0].role, "system")) {
        sb_trimmed(b, m[0].content);
        first = 1;
    }
    sb_str(b, "<|eot_id|>");
    for (int i = first; i < n; i++) {
        if (!strcmp(m[i].role, "tool") || !strcmp(m[i].role, "ipython")) {
            llama_header(b, "ipython");
            sb_json_string(b, m[i].content);
        } else {
            llama_header(b, m[i].role);
            sb_trimmed(b, m[i].content);
        }
        sb_str(b, "<|eot_id|>");
    }
    if (gen) llama_header(b, "assistant");
}

static void render_llama3(sbuf *b, const kvlm_chat_message *m, int n, int gen) {
    for (int i = 0; i < n; i++) {
        if (i == 0) sb_str(b, "<|begin_of_text|>");
        llama_header(b, m[i].role);
        sb_trimmed(b, m[i].content);
        sb_str(b, "<|eot_id|>");
    }
    if (gen) llama_header(b, "assistant");
}

static void render_chatml(sbuf *b, const kvlm_chat_message *m, int n, int gen) {
    for (int i = 0; i < n; i++) {
        sb_str(b, "<|im_start|>");
        sb_str(b, m[i].role);
        sb_str(b, "\n");
        sb_str(b, m[i].content);
        sb_str(b, "<|im_end|>\n");
    }
    if (gen) sb_str(b, "<|im_start|>assistant\n");
}

char *kvlm_chat_render(kvlm_chat_format fmt, const kvlm_chat_message *msgs, int n_msgs, int add_generation_prompt,
                       const char *date) {
    if (fmt != KVLM_CHAT_LLAMA32 && fmt != KVLM_CHAT_LLAMA3 && fmt != KVLM_CHAT_CHATML) {
        if (fmt == KVLM_CHAT_AUTO)
            kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: the format is AUTO; recognize it first with "
                                    "kvlm_chat_format_detect or choose one (" CHAT_CHOICES ")");
        else
            kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: unknown chat format %d (choices: " CHAT_CHOICES ")", (int)fmt);
        return NULL;
    }
    if (n_msgs < 0) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: n_msgs is %d (must be >= 0)", n_msgs);
        return NULL;
    }
    if (n_msgs > 0 && !msgs) {
        kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: msgs is NULL with n_msgs %d", n_msgs);
        return NULL;
    }
    for (int i = 0; i < n_msgs; i++) {
        if (!msgs[i].role) {
            kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: message %d has no role (NULL)", i);
            return NULL;
        }
        if (!msgs[i].content) {
            kvlm_fail(KVLM_ERR_ARG, "kvlm_chat_render: message %d (role '%s') has no content (NULL)", i,
                      msgs[i].role);
            return NULL;
        }
    }
    sbuf b = {0};
    sb_put(&b, "", 0); /* an empty render is "" rather than NULL */
    switch (fmt) {
    case KVLM_CHAT_LLAMA32: render_llama32(&b, msgs, n_msgs, add_generation_prompt, date ? date : DEFAULT_DATE); break;
    case KVLM_CHAT_LLAMA3: render_llama3(&b, msgs, n_msgs, add_generation_prompt); break;
    default: render_chatml(&b, msgs, n_msgs, add_generation_prompt); break;
    }
    if (b.failed) {
        free(b.p);
        kvlm_fail(KVLM_ERR_NOMEM, "kvlm_chat_render: out of memory");
        return NULL;
    }
    return b.p;
}
