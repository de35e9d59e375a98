/* Reading Hugging Face JSON files: config.json, generation_config.json,
 * tokenizer_config.json. */
#ifndef KVLM_HF_CONFIG_H
#define KVLM_HF_CONFIG_H

#include "model.h"

/* Fills m->cfg from config.json (path names the file for messages). */
kvlm_status hf_parse_config(kvlm_config *cfg, const char *json_text, size_t len, const char *path);
/* Overrides eos/bos ids and sampling defaults from generation_config.json. */
kvlm_status hf_parse_generation_config(kvlm_config *cfg, const char *json_text, size_t len, const char *path);
/* The chat_template string of tokenizer_config.json (malloc'd), or NULL when it has none. */
kvlm_status hf_parse_chat_template(const char *json_text, size_t len, const char *path, char **out);

#endif
