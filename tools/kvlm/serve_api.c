/* The OpenAI-compatible JSON: request bodies validated into a serve_req
 * (prompt tokens, sampling, stops), and the responses, stream chunks and
 * error objects built back. Unknown fields are ignored, as OpenAI's own
 * clients send many; known fields of the wrong type are a 400 naming them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

#define SERVE_MAX_STOPS 4

json_t *serve_api_error(const char *message, const char *type, const char *param, const char *code) {
    return json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message, "type", type ? type : "invalid_request_error",
                     "param", param, "code", code);
}

/* Sets *err to a 400 invalid_request_error and returns 400. */
static int bad(json_t **err, const char *param, const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *err = serve_api_error(msg, "invalid_request_error", param, code);
    return 400;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A field that is absent or null counts as not given. */
static json_t *field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_number(json_t *o, const char *key, double lo, double hi, double *out, int *given, json_t **err) {
    json_t *v = field(o, key);
    *given = v != NULL;
    if (!v) return 0;
    if (!json_is_number(v)) return bad(err, key, "invalid_type", "'%s' must be a number, not %s", key, type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return bad(err, key, "invalid_value", "'%s' must be between %g and %g (got %g)", key, lo, hi, x);
    *out = x;
    return 0;
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long *out, int *given, json_t **err) {
    json_t *v = field(o, key);
    *given = v != NULL;
    if (!v) return 0;
    if (!json_is_integer(v)) return bad(err, key, "invalid_type", "'%s' must be an integer, not %s", key, type_name(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return bad(err, key, "invalid_value", "'%s' must be between %lld and %lld (got %lld)", key, lo, hi, x);
    *out = x;
    return 0;
}

static int get_bool(json_t *o, const char *key, int *out, json_t **err) {
    json_t *v = field(o, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return bad(err, key, "invalid_type", "'%s' must be a boolean, not %s", key, type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* A required string (non-empty when nonempty is set). */
static int get_string(json_t *o, const char *key, int required, int nonempty, const char **out, json_t **err) {
    json_t *v = field(o, key);
    *out = NULL;
    if (!v) return required ? bad(err, key, "missing_required_parameter", "'%s' is required", key) : 0;
    if (!json_is_string(v)) return bad(err, key, "invalid_type", "'%s' must be a string, not %s", key, type_name(v));
    if (nonempty && !json_string_length(v)) return bad(err, key, "invalid_value", "'%s' must not be empty", key);
    *out = json_string_value(v);
    return 0;
}

/* ----------------------------------------------------------- the prompt */

/* Tokenizes text into req->prompt; 400 context_length_exceeded when it leaves
 * no room to generate. */
static int tokenize_prompt(serve_server *srv, serve_req *r, const char *text, size_t len, int flags, const char *param,
                           json_t **err) {
    int n_ctx = serve_sched_n_ctx(srv->sched);
    int cap = n_ctx + 1;
    r->prompt = malloc(sizeof(int32_t) * (size_t)cap);
    if (!r->prompt) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        return 500;
    }
    int n = kvlm_tokenize(srv->tok, text, len, flags, r->prompt, cap);
    if (n < 0) return bad(err, param, "invalid_value", "the prompt cannot be tokenized: %s", kvlm_last_error());
    if (n == 0) return bad(err, param, "invalid_value", "the prompt is empty (no tokens)");
    if (n >= n_ctx)
        return bad(err, param, "context_length_exceeded",
                   "This model's maximum context length is %d tokens. However, your prompt has %d tokens "
                   "(at least one position must stay free for the completion). Please reduce the length of the %s.",
                   n_ctx, n, param);
    r->n_prompt = n;
    return 0;
}

static int token_prompt(serve_server *srv, serve_req *r, json_t *arr, json_t **err) {
    int n_ctx = serve_sched_n_ctx(srv->sched);
    size_t n = json_array_size(arr);
    if (n >= (size_t)n_ctx)
        return bad(err, "prompt", "context_length_exceeded",
                   "This model's maximum context length is %d tokens. However, your prompt has %zu tokens.", n_ctx, n);
    r->prompt = malloc(sizeof(int32_t) * (n ? n : 1));
    if (!r->prompt) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        return 500;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        long long id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= srv->info.vocab_size)
            return bad(err, "prompt", "invalid_value", "'prompt[%zu]' must be a token id in 0..%d", i, srv->info.vocab_size - 1);
        r->prompt[i] = (int32_t)id;
    }
    r->n_prompt = (int)n;
    return 0;
}

/* The text of a message's content: a string, or an array of {"type": "text", "text"} parts. malloc'd. */
static int message_content(json_t *content, size_t i, char **out, json_t **err) {
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(content)) {
        *out = strdup(json_string_value(content));
    } else if (json_is_array(content)) {
        size_t total = 1, k;
        json_t *part;
        json_array_foreach(content, k, part) {
            json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
            if (!json_is_object(part) || !json_is_string(type) || strcmp(json_string_value(type), "text") ||
                !json_is_string(text))
                return bad(err, param, "invalid_value",
                           "'%s[%zu]' must be {\"type\": \"text\", \"text\": \"...\"} (only text parts are supported)", param, k);
            total += json_string_length(text);
        }
        *out = malloc(total);
        if (*out) {
            size_t at = 0;
            json_array_foreach(content, k, part) {
                json_t *text = json_object_get(part, "text");
                memcpy(*out + at, json_string_value(text), json_string_length(text));
                at += json_string_length(text);
            }
            (*out)[at] = '\0';
        }
    } else {
        return bad(err, param, content ? "invalid_type" : "missing_required_parameter",
                   content ? "'%s' must be a string or an array of text parts" : "'%s' is required", param);
    }
    if (!*out) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        return 500;
    }
    return 0;
}

static int render_and_tokenize(serve_server *srv, serve_req *r, kvlm_chat_message *msgs, int n, const char *param,
                               json_t **err) {
    if (srv->chat_fmt == KVLM_CHAT_AUTO)
        return bad(err, param, "unsupported_model",
                   "the model has no chat template kvlm can render; start the server with --chat-format, or use /v1/completions");
    char *text = kvlm_chat_render(srv->chat_fmt, msgs, n, 1, NULL);
    if (!text) return bad(err, param, "invalid_value", "the conversation cannot be rendered: %s", kvlm_last_error());
    int rc = tokenize_prompt(srv, r, text, strlen(text), KVLM_TOKENIZE_SPECIAL, param, err);
    free(text);
    return rc;
}

static int chat_prompt(serve_server *srv, serve_req *r, json_t *root, json_t **err) {
    json_t *msgs = json_object_get(root, "messages");
    if (!msgs || json_is_null(msgs)) return bad(err, "messages", "missing_required_parameter", "'messages' is required");
    if (!json_is_array(msgs)) return bad(err, "messages", "invalid_type", "'messages' must be an array, not %s", type_name(msgs));
    size_t n = json_array_size(msgs);
    if (!n) return bad(err, "messages", "invalid_value", "'messages' must not be empty");
    if (n > 100000) return bad(err, "messages", "invalid_value", "'messages' has too many entries");
    kvlm_chat_message *cm = calloc(n, sizeof *cm);
    char **texts = calloc(n, sizeof *texts);
    int rc = 0;
    if (!cm || !texts) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        rc = 500;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m)) {
            rc = bad(err, param, "invalid_type", "'%s' must be an object, not %s", param, type_name(m));
            break;
        }
        json_t *role = json_object_get(m, "role");
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!json_is_string(role)) {
            rc = bad(err, param, role ? "invalid_type" : "missing_required_parameter", "'%s' must be a string", param);
            break;
        }
        const char *rs = json_string_value(role);
        if (!strcmp(rs, "developer")) rs = "system";
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant")) {
            rc = bad(err, param, "invalid_value", "'%s' must be \"system\", \"user\" or \"assistant\" (got \"%s\")", param, rs);
            break;
        }
        rc = message_content(json_object_get(m, "content"), i, &texts[i], err);
        cm[i].role = rs;
        cm[i].content = texts[i];
    }
    if (!rc) rc = render_and_tokenize(srv, r, cm, (int)n, "messages", err);
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(cm);
    return rc;
}

static int completion_prompt(serve_server *srv, serve_req *r, json_t *root, json_t **err) {
    json_t *p = json_object_get(root, "prompt");
    if (!p || json_is_null(p)) return bad(err, "prompt", "missing_required_parameter", "'prompt' is required");
    int flags = KVLM_TOKENIZE_SPECIAL | (kvlm_tokenizer_bos(srv->tok) >= 0 ? KVLM_TOKENIZE_ADD_BOS : 0);
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0))) p = json_array_get(p, 0);
    if (json_is_string(p)) return tokenize_prompt(srv, r, json_string_value(p), json_string_length(p), flags, "prompt", err);
    if (json_is_array(p) && json_array_size(p) && json_is_integer(json_array_get(p, 0))) return token_prompt(srv, r, p, err);
    if (json_is_array(p) && json_array_size(p) > 1)
        return bad(err, "prompt", "invalid_value", "only one prompt per request is supported ('prompt' has %zu)",
                   json_array_size(p));
    return bad(err, "prompt", "invalid_type", "'prompt' must be a string, an array of one string, or an array of token ids");
}

/* "fr" → "French"; anything else is taken as the language's name. */
static const char *language_name(const char *code) {
    static const char *const names[][2] = {
        {"ar", "Arabic"},  {"cs", "Czech"},    {"da", "Danish"},    {"de", "German"},     {"el", "Greek"},
        {"en", "English"}, {"es", "Spanish"},  {"fi", "Finnish"},   {"fr", "French"},     {"he", "Hebrew"},
        {"hi", "Hindi"},   {"hu", "Hungarian"},{"id", "Indonesian"},{"it", "Italian"},    {"ja", "Japanese"},
        {"ko", "Korean"},  {"nl", "Dutch"},    {"no", "Norwegian"}, {"pl", "Polish"},     {"pt", "Portuguese"},
        {"ro", "Romanian"},{"ru", "Russian"},  {"sv", "Swedish"},   {"th", "Thai"},       {"tr", "Turkish"},
        {"uk", "Ukrainian"},{"vi", "Vietnamese"},{"zh", "Chinese"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(code, names[i][0])) return names[i][1];
    return code;
}

static int translate_prompt(serve_server *srv, serve_job *job, json_t *root, json_t **err) {
    const char *text, *source, *target;
    int rc;
    if ((rc = get_string(root, "text", 1, 1, &text, err)) || (rc = get_string(root, "target", 1, 1, &target, err)) ||
        (rc = get_string(root, "source", 0, 0, &source, err)))
        return rc;
    /* the translator's own system prompt (kvlm_task_system_prompt), with language codes spelled out */
    char *system = kvlm_task_system_prompt(KVLM_TASK_TRANSLATE, source ? language_name(source) : NULL, language_name(target));
    if (!system)
        return bad(err, strstr(kvlm_last_error(), "source") ? "source" : "target", "invalid_value", "%s",
                   kvlm_last_error());
    job->target = strdup(target);
    job->source = source ? strdup(source) : NULL;
    if (!job->target || (source && !job->source)) {
        free(system);
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        return 500;
    }
    kvlm_chat_message msgs[2] = {{"system", system}, {"user", text}};
    rc = render_and_tokenize(srv, job->req, msgs, 2, "text", err);
    free(system);
    if (!rc && !job->req->max_tokens) {
        /* as the translator does: twice the text's tokens and a little more */
        int32_t one;
        int n = kvlm_tokenize(srv->tok, text, strlen(text), 0, &one, 1);
        if (n > 0) job->req->max_tokens = 2 * n + 16;
    }
    return rc;
}

/* ------------------------------------------------------------- options */

static int parse_stops(serve_req *r, json_t *root, json_t **err) {
    json_t *v = field(root, "stop");
    if (!v) return 0;
    const char *list[SERVE_MAX_STOPS];
    int n = 0;
    if (json_is_string(v)) {
        if (!json_string_length(v)) return bad(err, "stop", "invalid_value", "'stop' must not be an empty string");
        list[n++] = json_string_value(v);
    } else if (json_is_array(v)) {
        if (json_array_size(v) > SERVE_MAX_STOPS)
            return bad(err, "stop", "invalid_value", "'stop' may hold at most %d strings", SERVE_MAX_STOPS);
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s) || !json_string_length(s))
                return bad(err, "stop", "invalid_type", "'stop[%zu]' must be a non-empty string", i);
            list[n++] = json_string_value(s);
        }
    } else {
        return bad(err, "stop", "invalid_type", "'stop' must be a string or an array of strings, not %s", type_name(v));
    }
    for (int i = 0; i < n; i++)
        if (strlen(list[i]) > 256) return bad(err, "stop", "invalid_value", "a stop string is longer than 256 bytes");
    if (serve_req_set_stops(r, list, n)) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        return 500;
    }
    return 0;
}

static int parse_options(serve_server *srv, serve_job *job, json_t *root, json_t **err) {
    serve_req *r = job->req;
    int rc, given;
    const char *model;
    if ((rc = get_string(root, "model", 0, 0, &model, err))) return rc;
    if (model && strcmp(model, srv->model_id))
        return bad(err, "model", "model_not_found", "The model '%s' does not exist; this server has '%s'", model,
                   srv->model_id);
    long long n = 1;
    if ((rc = get_int(root, "n", 1, 1, &n, &given, err))) return rc;
    int logprobs = 0;
    if ((rc = get_bool(root, "logprobs", &logprobs, err))) return rc;
    if (logprobs) return bad(err, "logprobs", "unsupported_value", "logprobs are not supported");
    /* sampling: the model's generation_config.json defaults, else OpenAI's */
    kvlm_sampler_params *sp = &r->sampling;
    sp->temperature = srv->info.gen_temperature > 0 ? srv->info.gen_temperature : 1.0f;
    sp->top_p = srv->info.gen_top_p > 0 ? srv->info.gen_top_p : 1.0f;
    double x;
    if ((rc = get_number(root, "temperature", 0, 2, &x, &given, err))) return rc;
    if (given) sp->temperature = (float)x;
    if ((rc = get_number(root, "top_p", 0, 1, &x, &given, err))) return rc;
    if (given) sp->top_p = x > 0 ? (float)x : 1e-6f;
    if ((rc = get_number(root, "min_p", 0, 1, &x, &given, err))) return rc;
    if (given) sp->min_p = (float)x;
    if ((rc = get_number(root, "repeat_penalty", 0.01, 10, &x, &given, err))) return rc;
    if (given) sp->repeat_penalty = (float)x;
    long long v;
    if ((rc = get_int(root, "top_k", 0, 1 << 30, &v, &given, err))) return rc;
    if (given) sp->top_k = (int)v;
    if ((rc = get_int(root, "seed", INT64_MIN, INT64_MAX, &v, &given, err))) return rc;
    if (given) sp->seed = (uint64_t)v;
    else {
        /* a fresh seed per request */
        pthread_mutex_lock(&srv->mu);
        sp->seed = (uint64_t)time(NULL) * 6364136223846793005ULL + srv->next_id * 1442695040888963407ULL;
        pthread_mutex_unlock(&srv->mu);
    }
    /* clamped to the context once the prompt is known */
    const char *mt_key = field(root, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if ((rc = get_int(root, mt_key, 1, INT32_MAX, &v, &given, err))) return rc;
    r->max_tokens = given ? (int)v : 0;
    if ((rc = get_bool(root, "ignore_eos", &r->ignore_eos, err))) return rc;
    if ((rc = get_bool(root, "stream", &job->stream, err))) return rc;
    json_t *so = field(root, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return bad(err, "stream_options", "invalid_type", "'stream_options' must be an object, not %s", type_name(so));
        if ((rc = get_bool(so, "include_usage", &job->include_usage, err))) return rc;
    }
    return parse_stops(r, root, err);
}

int serve_api_parse(serve_server *srv, serve_kind kind, const char *body, size_t len, serve_job *job, json_t **err) {
    memset(job, 0, sizeof *job);
    *err = NULL;
    job->kind = kind;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char msg[300];
        snprintf(msg, sizeof msg, "The request body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        *err = serve_api_error(msg, "invalid_request_error", NULL, "invalid_json");
        return 400;
    }
    int rc = 0;
    if (!json_is_object(root)) rc = bad(err, NULL, "invalid_type", "The request body must be a JSON object, not %s", type_name(root));
    if (!rc && !(job->req = serve_req_new())) {
        *err = serve_api_error("out of memory", "server_error", NULL, NULL);
        rc = 500;
    }
    if (!rc) {
        pthread_mutex_lock(&srv->mu);
        job->req->id = ++srv->next_id;
        pthread_mutex_unlock(&srv->mu);
        static const char *const prefix[] = {"chatcmpl", "cmpl", "trans"};
        snprintf(job->id, sizeof job->id, "%s-kvlm%llx%06llx", prefix[kind], (unsigned long long)srv->created,
                 (unsigned long long)job->req->id);
        job->created = (long long)time(NULL);
    }
    if (!rc) rc = parse_options(srv, job, root, err);
    if (!rc) {
        if (kind == SERVE_CHAT) rc = chat_prompt(srv, job->req, root, err);
        else if (kind == SERVE_COMPLETION) rc = completion_prompt(srv, job->req, root, err);
        else rc = translate_prompt(srv, job, root, err);
    }
    if (!rc) {
        int left = serve_sched_n_ctx(srv->sched) - job->req->n_prompt;
        if (!job->req->max_tokens || job->req->max_tokens > left) job->req->max_tokens = left;
    }
    json_decref(root);
    if (rc) serve_job_clear(job);
    return rc;
}

void serve_job_clear(serve_job *job) {
    serve_req_unref(job->req);
    free(job->source);
    free(job->target);
    job->req = NULL;
    job->source = job->target = NULL;
}

/* ------------------------------------------------------------ responses */

/* A JSON string of generated text; bytes that are not UTF-8 (jansson refuses
 * them) become '?'. */
static json_t *text_json(const char *text, size_t len) {
    json_t *j = json_stringn(text ? text : "", text ? len : 0);
    if (j) return j;
    char *copy = malloc(len + 1);
    if (!copy) return json_string("");
    for (size_t i = 0; i < len; i++) copy[i] = (unsigned char)text[i] < 0x80 && text[i] ? text[i] : '?';
    j = json_stringn(copy, len);
    free(copy);
    return j ? j : json_string("");
}

static json_t *usage(const serve_req *r) {
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", r->n_prompt, "completion_tokens", r->n_generated,
                     "total_tokens", r->n_prompt + r->n_generated, "prompt_tokens_details", "cached_tokens", r->n_cached);
}

static json_t *timings(const serve_req *r) {
    double prompt_ms = r->t_first > 0 ? r->t_first - r->t_admit : 0;
    double gen_ms = r->t_first > 0 && r->t_end > r->t_first ? r->t_end - r->t_first : 0;
    return json_pack("{s:f, s:i, s:f, s:i, s:f, s:f}", "queued_ms", r->t_admit > 0 ? r->t_admit - r->t_submit : 0.0,
                     "prompt_n", r->n_prompt - r->n_cached, "prompt_ms", prompt_ms, "predicted_n", r->n_generated,
                     "predicted_ms", gen_ms,
                     "predicted_per_second", gen_ms > 0 && r->n_generated > 1 ? (r->n_generated - 1) * 1000.0 / gen_ms : 0.0);
}

/* Caller holds r->mu (or r has ended). */
json_t *serve_api_result(const serve_server *srv, const serve_job *job) {
    const serve_req *r = job->req;
    const char *fin = serve_finish_name(r->finish);
    json_t *text = text_json(r->text, r->text_len);
    if (job->kind == SERVE_TRANSLATE)
        return json_pack("{s:s, s:s, s:I, s:s, s:o, s:s?, s:s, s:s?, s:o, s:o}", "id", job->id, "object", "translation",
                         "created", (json_int_t)job->created, "model", srv->model_id, "translation", text, "source",
                         job->source, "target", job->target, "finish_reason", fin, "usage", usage(r), "timings", timings(r));
    json_t *choice;
    if (job->kind == SERVE_CHAT)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:n, s:s?}", "index", 0, "message", "role", "assistant", "content", text,
                           "logprobs", "finish_reason", fin);
    else
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "text", text, "logprobs", "finish_reason", fin);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o], s:o, s:o}", "id", job->id, "object",
                     job->kind == SERVE_CHAT ? "chat.completion" : "text_completion", "created", (json_int_t)job->created,
                     "model", srv->model_id, "system_fingerprint", "kvlm-" KVLM_VERSION, "choices", choice, "usage",
                     usage(r), "timings", timings(r));
}

json_t *serve_api_chunk(const serve_server *srv, const serve_job *job, const char *delta, size_t len, const char *finish,
                        int first) {
    json_t *text = delta ? text_json(delta, len) : NULL;
    json_t *choice;
    if (job->kind == SERVE_COMPLETION) {
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "text", text ? text : json_string(""), "logprobs",
                           "finish_reason", finish);
    } else {
        json_t *d = json_object();
        if (first) json_object_set_new(d, "role", json_string("assistant"));
        if (text || first) json_object_set_new(d, "content", text ? text : json_string(""));
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "delta", d, "logprobs", "finish_reason", finish);
    }
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o]}", "id", job->id, "object",
                          job->kind == SERVE_COMPLETION ? "text_completion" : "chat.completion.chunk", "created",
                          (json_int_t)job->created, "model", srv->model_id, "system_fingerprint", "kvlm-" KVLM_VERSION,
                          "choices", choice);
    if (c && job->include_usage) json_object_set_new(c, "usage", json_null());
    return c;
}

json_t *serve_api_usage_chunk(const serve_server *srv, const serve_job *job) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:[], s:o, s:o}", "id", job->id, "object",
                     job->kind == SERVE_COMPLETION ? "text_completion" : "chat.completion.chunk", "created",
                     (json_int_t)job->created, "model", srv->model_id, "system_fingerprint", "kvlm-" KVLM_VERSION,
                     "choices", "usage", usage(job->req), "timings", timings(job->req));
}

json_t *serve_api_models(const serve_server *srv) {
    return json_pack("{s:s, s:[{s:s, s:s, s:I, s:s, s:i, s:s, s:s}]}", "object", "list", "data", "id", srv->model_id,
                     "object", "model", "created", (json_int_t)srv->created, "owned_by", "kvlm", "context_length",
                     serve_sched_n_ctx(srv->sched), "weight_type", srv->info.weight_type ? srv->info.weight_type : "",
                     "source_format", srv->info.source_format ? srv->info.source_format : "");
}
