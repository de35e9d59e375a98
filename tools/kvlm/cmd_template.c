/* kvlm template: renders a conversation with the model's chat template and
 * prints the prompt exactly as the model would be fed it (no newline added).
 *
 * The template comes from the model (-m), from a file (--template-file: a
 * tokenizer_config.json, whose "chat_template" is read, or any other file
 * taken as the Jinja source itself), or is named (--chat-format). A named
 * format wins over the one recognized from the source. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "kvlm.h"
#include "model/hf_config.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: kvlm template (-m MODEL | --template-file FILE | --chat-format NAME) MESSAGES.json\n"
            "                     [--date \"26 Jul 2024\"] [--chat-format NAME] [--no-generation-prompt]\n\n"
            "Prints the prompt the chat template makes of MESSAGES.json (a JSON array of\n"
            "{\"role\", \"content\"}, or an object with such a \"messages\" array; \"-\" reads stdin).\n\n"
            "  -m, --model PATH          take the chat template from the model (HF folder, GGUF, ...)\n"
            "  -t, --template-file FILE  take it from a tokenizer_config.json (its \"chat_template\"),\n"
            "                            or from FILE as Jinja source when FILE does not end in .json\n"
            "  -f, --chat-format NAME    llama3.2 | llama3 | chatml (default: recognized from the template)\n"
            "  -d, --date DATE           Today Date of the Llama 3.2 system block (default \"26 Jul 2024\")\n"
            "  -n, --no-generation-prompt  leave out the assistant header at the end\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The template source from a file: malloc'd, or NULL with the error set (or
 * with *none set when a tokenizer_config.json has no chat_template). */
static char *template_from_file(const char *path, int *none) {
    char *text = NULL, *src = NULL;
    size_t len;
    *none = 0;
    if (read_whole_file(path, &text, &len) != KVLM_OK) return NULL;
    if (!ends_with(path, ".json")) return text;
    kvlm_status st = hf_parse_chat_template(text, len, path, &src);
    free(text);
    if (st == KVLM_OK && !src) *none = 1;
    return st == KVLM_OK ? src : NULL;
}

/* Reads a whole stream (stdin) into a malloc'd buffer. */
static char *read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            free(buf);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Parses the messages; *root keeps the strings alive. Returns NULL (with a
 * message printed) on error; an empty array gives a non-NULL empty list. */
static kvlm_chat_message *read_messages(const char *path, json_t **root, int *n_msgs) {
    json_error_t err;
    json_t *j;
    if (!strcmp(path, "-")) {
        size_t len = 0;
        char *text = read_stream(stdin, &len);
        if (!text) {
            fprintf(stderr, "kvlm template: cannot read the messages from stdin\n");
            return NULL;
        }
        j = json_loadb(text, len, 0, &err);
        free(text);
    } else {
        j = json_load_file(path, 0, &err);
    }
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    if (!j) {
        fprintf(stderr, "kvlm template: %s:%d:%d: %s\n", name, err.line, err.column, err.text);
        return NULL;
    }
    json_t *arr = json_is_object(j) ? json_object_get(j, "messages") : j;
    if (!json_is_array(arr)) {
        fprintf(stderr, "kvlm template: %s: expected a JSON array of {\"role\", \"content\"} messages\n", name);
        json_decref(j);
        return NULL;
    }
    size_t n = json_array_size(arr);
    if (n > 1000000) {
        fprintf(stderr, "kvlm template: %s: too many messages (%zu)\n", name, n);
        json_decref(j);
        return NULL;
    }
    kvlm_chat_message *m = calloc(n + 1, sizeof *m);
    if (!m) {
        fprintf(stderr, "kvlm template: out of memory\n");
        json_decref(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *role = json_object_get(e, "role"), *content = json_object_get(e, "content");
        const char *bad = !json_is_object(e)        ? "is not an object"
                          : !json_is_string(role)    ? "has no string \"role\""
                          : !json_is_string(content) ? "has no string \"content\""
                                                     : NULL;
        if (bad) {
            fprintf(stderr, "kvlm template: %s: message %zu %s\n", name, i, bad);
            free(m);
            json_decref(j);
            return NULL;
        }
        m[i].role = json_string_value(role);
        m[i].content = json_string_value(content);
    }
    *root = j;
    *n_msgs = (int)n;
    return m;
}

int cmd_template(int argc, char **argv) {
    const char *model_path = NULL, *template_file = NULL, *format_name = NULL, *date = NULL;
    int gen = 1;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"template-file", required_argument, 0, 't'},
                                         {"chat-format", required_argument, 0, 'f'},
                                         {"date", required_argument, 0, 'd'},
                                         {"no-generation-prompt", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:t:f:d:nh", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': model_path = optarg; break;
        case 't': template_file = optarg; break;
        case 'f': format_name = optarg; break;
        case 'd': date = optarg; break;
        case 'n': gen = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || (model_path && template_file)) {
        if (optind != argc - 1) fprintf(stderr, "kvlm template: expected one MESSAGES.json (or -)\n");
        else fprintf(stderr, "kvlm template: give -m or --template-file, not both\n");
        usage(stderr);
        return 2;
    }
    kvlm_chat_format fmt = KVLM_CHAT_AUTO;
    if (format_name && strcmp(format_name, "auto")) {
        fmt = kvlm_chat_format_from_name(format_name);
        if (fmt == KVLM_CHAT_AUTO) {
            fprintf(stderr, "kvlm template: --chat-format: %s\n", kvlm_last_error());
            return 2;
        }
    }
    if (fmt == KVLM_CHAT_AUTO && !model_path && !template_file) {
        fprintf(stderr, "kvlm template: give -m MODEL, --template-file FILE or --chat-format NAME\n");
        usage(stderr);
        return 2;
    }

    /* The template's source: read even when the format is named, so a bad path is still reported. */
    int rc = 1;
    kvlm_model *model = NULL;
    char *file_src = NULL;
    const char *src = NULL, *origin = model_path ? model_path : template_file;
    if (model_path) {
        if (!(model = kvlm_model_open(model_path, NULL))) {
            fprintf(stderr, "kvlm template: %s\n", kvlm_last_error());
            return 1;
        }
        src = kvlm_model_chat_template(model);
    } else if (template_file) {
        int none;
        file_src = template_from_file(template_file, &none);
        if (!file_src && !none) {
            fprintf(stderr, "kvlm template: %s\n", kvlm_last_error());
            return 1;
        }
        src = file_src;
    }
    json_t *root = NULL;
    kvlm_chat_message *msgs = NULL;
    char *prompt = NULL;
    int n_msgs = 0;
    size_t len;
    if (fmt == KVLM_CHAT_AUTO) {
        if (!src) {
            fprintf(stderr, "kvlm template: %s has no chat template: choose a format with --chat-format (llama3.2, llama3, chatml)\n",
                    origin);
            goto done;
        }
        fmt = kvlm_chat_format_detect(src);
        if (fmt == KVLM_CHAT_AUTO) {
            fprintf(stderr, "kvlm template: %s: %s\n", origin, kvlm_last_error());
            goto done;
        }
    }
    if (!(msgs = read_messages(argv[optind], &root, &n_msgs))) goto done;
    if (!(prompt = kvlm_chat_render(fmt, msgs, n_msgs, gen, date))) {
        fprintf(stderr, "kvlm template: %s\n", kvlm_last_error());
        goto done;
    }
    len = strlen(prompt);
    if (fwrite(prompt, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "kvlm template: cannot write the prompt\n");
        goto done;
    }
    rc = 0;
done:
    free(prompt);
    free(msgs);
    json_decref(root);
    free(file_src);
    kvlm_model_free(model);
    return rc;
}
