/* Rotary position embeddings: inverse frequencies (with Llama 3 scaling) and
 * the rotation in both pairings. */
#ifndef KVLM_ROPE_H
#define KVLM_ROPE_H

#include "model.h"

/* inv_freq[i] for i < head_dim/2, computed in FP32 as Hugging Face does
 * (including the llama3 rope_scaling when cfg says so). */
void rope_inv_freq(const kvlm_config *cfg, float *inv_freq);

/* Rotates x (n_heads × head_dim, contiguous heads) in place for position pos.
 * interleaved: pairs (2i, 2i+1); else pairs (i, i + head_dim/2) (rotate_half). */
void rope_apply(float *x, int n_heads, int head_dim, const float *inv_freq, int pos, int interleaved);

#endif
