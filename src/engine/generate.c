/* The decode loop: prefill the prompt, then sample → stop check → feed back,
 * streaming each token's text through the tokenizer's streaming decoder. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "state.h"

static int is_stop(int32_t id, const int32_t *stops, int n) {
    for (int i = 0; i < n; i++)
        if (stops[i] == id) return 1;
    return 0;
}

kvlm_status kvlm_generate(kvlm_state *s, const int32_t *prompt, int n_prompt, const kvlm_generate_params *params,
                          int32_t *out_ids, int max_out, kvlm_generate_result *res) {
    kvlm_generate_params p = {0};
    if (params) p = *params;
    kvlm_generate_result r = {0};
    if (!s || !prompt || n_prompt < 1) return kvlm_fail(KVLM_ERR_ARG, "kvlm_generate: no state, or an empty prompt");
    if (p.max_tokens < 0) return kvlm_fail(KVLM_ERR_ARG, "kvlm_generate: max_tokens %d is negative", p.max_tokens);
    if (n_prompt > s->n_ctx - s->pos)
        return kvlm_fail(KVLM_ERR_CONTEXT, "the prompt has %d tokens, but only %d of the context's %d positions are free",
                         n_prompt, s->n_ctx - s->pos, s->n_ctx);
    kvlm_model *m = s->model;
    const int32_t *stops = p.stop_ids ? p.stop_ids : m->cfg.eos_ids;
    int n_stops = p.stop_ids ? p.n_stop_ids : m->cfg.n_eos;
    int vocab = m->cfg.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)vocab);
    /* the history the repetition penalty looks at: the prompt, then the output */
    int hist_cap = n_prompt + (s->n_ctx - s->pos) + 1;
    int32_t *hist = malloc(sizeof(int32_t) * (size_t)hist_cap);
    kvlm_sampler *sampler = kvlm_sampler_new(&p.sampling, vocab);
    kvlm_detok_stream *ds = m->tokenizer && p.on_token ? kvlm_detok_stream_new(m->tokenizer) : NULL;
    kvlm_status st = KVLM_OK;
    if (!logits || !hist || !sampler || (m->tokenizer && p.on_token && !ds)) {
        st = sampler ? kvlm_fail(KVLM_ERR_NOMEM, "kvlm_generate: out of memory") : KVLM_ERR_ARG;
        goto done;
    }
    memcpy(hist, prompt, sizeof(int32_t) * (size_t)n_prompt);
    int n_hist = n_prompt;
    double t0 = kvlm_now_ms();
    st = kvlm_predict(s, prompt, n_prompt, logits, KVLM_LOGITS_LAST);
    r.prefill_ms = kvlm_now_ms() - t0;
    r.n_prompt = n_prompt;
    while (st == KVLM_OK) {
        int32_t id = kvlm_sampler_sample(sampler, logits, hist, n_hist);
        if (is_stop(id, stops, n_stops)) {
            r.stop_reason = KVLM_STOP_EOS;
            r.stop_id = id;
            break;
        }
        if (out_ids && r.n_generated < max_out) out_ids[r.n_generated] = id;
        r.n_generated++;
        hist[n_hist++] = id;
        if (p.on_token) {
            size_t len = 0;
            const char *text = ds ? kvlm_detok_stream_push(ds, id, &len) : "";
            if (!text) text = "";
            if (p.on_token(p.ctx, id, text, len)) {
                r.stop_reason = KVLM_STOP_CALLBACK;
                break;
            }
        }
        if (p.max_tokens && r.n_generated >= p.max_tokens) {
            r.stop_reason = KVLM_STOP_MAX_TOKENS;
            break;
        }
        if (s->pos >= s->n_ctx) {
            r.stop_reason = KVLM_STOP_CONTEXT_FULL;
            break;
        }
        t0 = kvlm_now_ms();
        st = kvlm_predict(s, &id, 1, logits, KVLM_LOGITS_LAST);
        r.decode_ms += kvlm_now_ms() - t0;
        r.n_decode++;
    }
    if (st == KVLM_OK && ds && p.on_token) {
        size_t len = 0;
        const char *rest = kvlm_detok_stream_flush(ds, &len);
        if (rest && len) p.on_token(p.ctx, -1, rest, len);
    }
done:
    kvlm_detok_stream_free(ds);
    kvlm_sampler_free(sampler);
    free(hist);
    free(logits);
    if (res) *res = r;
    return st;
}
