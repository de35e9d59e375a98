#!/usr/bin/env python3
"""llama_ref.py -- an independent numpy reference of LlamaForCausalLM (Llama 3.x).

Written from the Hugging Face transformers semantics (modeling_llama.py,
modeling_rope_utils.py), run in float32 as HF does when the model is loaded
with torch_dtype=float32 and attn_implementation="eager". It does not share
code or derivations with kvlm's C sources; it exists to produce golden files
the C tests compare against. Run it with Debian's interpreter (has numpy):

    /usr/bin/python3 tests/reference/llama_ref.py golden MODEL_DIR \
        (--prompt-ids 1,2,3 | --prompt-seed S --prompt-len N) \
        [--n-gen 32] [--sample-stride 8] [--check-full] -o OUT.gold
    /usr/bin/python3 tests/reference/llama_ref.py rope --head-dim 64 --theta 500000 \
        --scaling llama3:32:1:4:8192 --positions 0,1,100,8191 -o OUT.rope
    /usr/bin/python3 tests/reference/llama_ref.py show FILE.gold|FILE.rope
    /usr/bin/python3 tests/reference/llama_ref.py selftest

MODEL_DIR is a Hugging Face folder: config.json plus model.safetensors, or
model.safetensors.index.json with its shards. Tensor dtypes BF16, F16, F32.

Prompt from a seed (--prompt-seed S --prompt-len N), reproducible in C with
64-bit integers:  ids[i] = (i*7919 + S*104729 + 13) % min(vocab_size, 128000)

Generation: the prompt is fed in one causal pass, then n_gen tokens are chosen
greedily (argmax, lowest id on ties) and fed back one at a time through a KV
cache; the last generated token is fed too, so there are n_prompt + n_gen fed
positions, each with its logits recorded.

Golden file (.gold), all little-endian, no padding:
    char    magic[8]  = "KVLMGOLD"
    uint32  version   = 1
    uint32  vocab_size
    uint32  n_prompt
    uint32  n_gen
    uint32  n_sample            number of sampled logit ids
    uint32  top_k     = 8
    uint64  model_fnv1a         FNV-1a 64 (basis 0xcbf29ce484222325, prime
                                0x100000001b3) over the bytes of model.safetensors;
                                sharded model: one running hash over the shards'
                                bytes, shards in file-name order
    int32   prompt_ids[n_prompt]
    int32   gen_ids[n_gen]      gen_ids[i] = argmax of logits at position n_prompt-1+i
    int32   sample_ids[n_sample]  0, stride, 2*stride, ... (< vocab_size)
    then for each fed position p = 0 .. n_prompt+n_gen-1 (tokens fed: prompt_ids, then gen_ids):
        int32   argmax          (lowest id on ties)
        float32 max_abs_logit
        float32 logits[n_sample]      logits at sample_ids
        int32   top_ids[top_k]        descending by logit, ties by ascending id
        float32 top_vals[top_k]

RoPE file (.rope), little-endian:
    char    magic[8] = "KVLMROPE"
    uint32  version = 1
    uint32  head_dim
    uint32  n_pos
    float32 inv_freq[head_dim/2]
    then per position:  int32 pos; float32 x[head_dim]; float32 y[head_dim]
    where x[i] = float32(sin(0.37*i + 1) + 0.01*i) (computed in double, rounded once)
    and y = x*cos + rotate_half(x)*sin at that position (HF convention: element d
    pairs with d + head_dim/2), in float32.

Float32 details mirrored from HF/torch (documented where numpy could differ):
  * inv_freq = 1 / base**(arange(0, dim, 2)/dim): the exponent is float32, the
    power is rounded once to float32 (what powf returns), then 1/x in float32.
  * llama3 scaling (_compute_llama3_parameters): every step in float32; note that
    torch evaluates `scalar / tensor` as tensor.reciprocal() * scalar, and so do we.
  * cos/sin: the angle is float32(position * inv_freq); cos/sin of that float32
    value are rounded once to float32 (correctly rounded; torch's are within ~1 ulp).
  * RMSNorm: mean(x^2) in float32, x * (1/sqrt(var + eps)), then weight * that.
  * attention: scores = (q @ k^T) * float32(head_dim**-0.5), causal mask, softmax in
    float32 (exp(x - max) * (1/sum)), @ v.  SiLU(x) = x / (1 + exp(-x)).
  Matrix products go through numpy/BLAS in float32 (summation order differs from
  torch's; expect ~1e-6 relative agreement with HF, not bit equality).
"""

import argparse
import ctypes
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

GOLD_MAGIC = b"KVLMGOLD"
ROPE_MAGIC = b"KVLMROPE"
FORMAT_VERSION = 1
TOP_K = 8
PROMPT_SEED_VOCAB_CAP = 128000


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

class LlamaConfig:
    """The subset of Hugging Face's LlamaConfig this reference uses (same defaults)."""

    def __init__(self, d):
        self.hidden_size = int(d["hidden_size"])
        self.num_hidden_layers = int(d["num_hidden_layers"])
        self.num_attention_heads = int(d["num_attention_heads"])
        kv = d.get("num_key_value_heads")
        self.num_key_value_heads = int(kv) if kv is not None else self.num_attention_heads
        hd = d.get("head_dim")
        self.head_dim = int(hd) if hd is not None else self.hidden_size // self.num_attention_heads
        self.intermediate_size = int(d["intermediate_size"])
        self.vocab_size = int(d["vocab_size"])
        self.rms_norm_eps = float(d.get("rms_norm_eps", 1e-6))
        self.rope_theta = float(d.get("rope_theta", 10000.0))
        self.tie_word_embeddings = bool(d.get("tie_word_embeddings", False))
        self.rope_scaling = parse_rope_scaling(d.get("rope_scaling"))
        act = d.get("hidden_act", "silu")
        if act != "silu":
            raise NotImplementedError(f"hidden_act {act!r} (only silu)")
        if d.get("attention_bias", False) or d.get("mlp_bias", False):
            raise NotImplementedError("attention_bias / mlp_bias (Llama 3 has none)")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even")

    @classmethod
    def from_dir(cls, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            return cls(json.load(f))


def parse_rope_scaling(rs):
    """config.json rope_scaling -> None or dict(factor, low_freq_factor, high_freq_factor,
    original_max_position_embeddings). Only none/default and llama3 are supported."""
    if rs is None:
        return None
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return None
    if kind != "llama3":
        raise NotImplementedError(f"rope_scaling type {kind!r} (only llama3)")
    return {
        "factor": float(rs["factor"]),
        "low_freq_factor": float(rs["low_freq_factor"]),
        "high_freq_factor": float(rs["high_freq_factor"]),
        "original_max_position_embeddings": int(rs["original_max_position_embeddings"]),
    }


# --------------------------------------------------------------------------------------
# safetensors reading
# --------------------------------------------------------------------------------------

def bf16_bits_to_f32(u16):
    """bfloat16 bit patterns (uint16) -> float32: the 16 bits become the high half."""
    return (np.asarray(u16, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def read_safetensors_header(path):
    """Return (data_start, header_dict) of one .safetensors file.

    Layout: uint64 little-endian N, then N bytes of UTF-8 JSON mapping tensor name ->
    {dtype, shape, data_offsets: [begin, end)} (offsets relative to data_start = 8 + N),
    plus an optional "__metadata__" entry."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        n = struct.unpack("<Q", raw)[0]
        size = os.path.getsize(path)
        if n > size - 8:
            raise ValueError(f"{path}: header length {n} exceeds file size {size}")
        header = json.loads(f.read(n).decode("utf-8"))
    return 8 + n, header


_ST_DTYPES = {"BF16": (np.dtype("<u2"), 2), "F16": (np.dtype("<f2"), 2), "F32": (np.dtype("<f4"), 4)}


class SafetensorsModel:
    """Lazy access to the tensors of a Hugging Face model folder (single or sharded).

    get(name) returns a float32 array, converted from the file's dtype on first use;
    with keep=True the converted arrays are cached (the 1B model takes ~5 GB), with
    keep=False they are converted again each time (slower, little memory)."""

    def __init__(self, model_dir, keep=True):
        single = os.path.join(model_dir, "model.safetensors")
        index = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(single):
            self.files = [single]
        elif os.path.exists(index):
            with open(index) as f:
                wm = json.load(f)["weight_map"]
            self.files = [os.path.join(model_dir, fn) for fn in sorted(set(wm.values()))]
        else:
            raise FileNotFoundError(f"{model_dir}: no model.safetensors or model.safetensors.index.json")
        self.entries = {}
        self._maps = {}
        for path in self.files:
            start, header = read_safetensors_header(path)
            size = os.path.getsize(path)
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                b, e = info["data_offsets"]
                if not (0 <= b <= e and start + e <= size):
                    raise ValueError(f"{path}: {name} data_offsets {b},{e} out of range")
                if name in self.entries:
                    raise ValueError(f"tensor {name} appears twice")
                self.entries[name] = (path, info["dtype"], tuple(info["shape"]), start + b, start + e)
        self.keep = keep
        self._cache = {}

    def __contains__(self, name):
        return name in self.entries

    def _map(self, path):
        if path not in self._maps:
            self._maps[path] = np.memmap(path, dtype=np.uint8, mode="r")
        return self._maps[path]

    def get(self, name):
        if name in self._cache:
            return self._cache[name]
        if name not in self.entries:
            raise KeyError(f"tensor {name} not found in the model")
        path, dt, shape, b, e = self.entries[name]
        if dt not in _ST_DTYPES:
            raise NotImplementedError(f"{name}: dtype {dt} (supported: BF16, F16, F32)")
        npdt, itemsize = _ST_DTYPES[dt]
        count = int(np.prod(shape, dtype=np.int64))
        if (e - b) != count * itemsize:
            raise ValueError(f"{name}: {e - b} bytes for shape {shape} of {dt}")
        raw = np.frombuffer(self._map(path), dtype=npdt, count=count, offset=b)
        if dt == "BF16":
            arr = bf16_bits_to_f32(raw)
        else:
            arr = raw.astype(np.float32)
        arr = arr.reshape(shape)
        if self.keep:
            self._cache[name] = arr
        return arr


class DictWeights:
    """In-memory weights (name -> float32 array), same interface as SafetensorsModel."""

    def __init__(self, d):
        self.d = d

    def __contains__(self, name):
        return name in self.d

    def get(self, name):
        return self.d[name]


# --------------------------------------------------------------------------------------
# FNV-1a 64 over the model file(s)
# --------------------------------------------------------------------------------------

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1

_FNV_C_SRC = r"""
#include <stddef.h>
#include <stdint.h>
uint64_t kvlm_ref_fnv1a(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}
"""
_fnv_native_fn = None


def _fnv_native():
    """FNV-1a is a strict byte-serial recurrence that numpy cannot vectorize; for the
    2.5 GB model a pure Python loop takes minutes, so compile the 3-line loop with the
    system C compiler when there is one (pure Python is the fallback)."""
    global _fnv_native_fn
    if _fnv_native_fn is None:
        _fnv_native_fn = False
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc and not os.environ.get("KVLM_REF_PURE_PYTHON_FNV"):
            try:
                with tempfile.TemporaryDirectory() as td:
                    src, so = os.path.join(td, "fnv.c"), os.path.join(td, "fnv.so")
                    with open(src, "w") as f:
                        f.write(_FNV_C_SRC)
                    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so, src], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    lib = ctypes.CDLL(so)
                fn = lib.kvlm_ref_fnv1a
                fn.restype = ctypes.c_uint64
                fn.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
                _fnv_native_fn = fn
            except (OSError, subprocess.CalledProcessError):
                pass
    return _fnv_native_fn or None


def fnv1a_update_py(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & _MASK64
    return h


def fnv1a_update(h, data):
    """Continue an FNV-1a 64 hash `h` over bytes-like `data`."""
    fn = _fnv_native()
    if fn is None:
        return fnv1a_update_py(h, bytes(data))
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return h
    return int(fn(h, buf.ctypes.data, buf.size))


def fnv1a_files(paths, chunk=1 << 26):
    h = FNV_OFFSET
    for p in paths:
        with open(p, "rb") as f:
            while True:
                data = f.read(chunk)
                if not data:
                    break
                h = fnv1a_update(h, data)
    return h


# --------------------------------------------------------------------------------------
# Model math (each function works for float32 and float64 inputs alike)
# --------------------------------------------------------------------------------------

def rms_norm(x, weight, eps):
    """LlamaRMSNorm: x * rsqrt(mean(x^2, -1) + eps), then weight * that."""
    dt = x.dtype
    variance = np.mean(np.square(x), axis=-1, keepdims=True, dtype=dt)
    rsqrt = dt.type(1) / np.sqrt(variance + dt.type(eps))
    return weight * (x * rsqrt)


def rope_inv_freq(head_dim, theta, scaling=None, dtype=np.float32):
    """RoPE inverse frequencies, HF _compute_default_rope_parameters and, when scaling
    is a llama3 dict, _compute_llama3_parameters. Returns head_dim/2 values."""
    dt = np.dtype(dtype)
    f = dt.type
    exponent = np.arange(0, head_dim, 2, dtype=np.int64).astype(dt) / f(head_dim)
    # base ** exponent: float32 power, i.e. rounded once from the exact value (= powf)
    power = np.power(np.float64(theta), exponent.astype(np.float64)).astype(dt)
    inv_freq = f(1.0) / power
    if scaling is None:
        return inv_freq

    factor = f(scaling["factor"])
    low_freq_factor = scaling["low_freq_factor"]
    high_freq_factor = scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor      # python floats, as in HF
    high_freq_wavelen = old_context_len / high_freq_factor

    # wavelen = 2 * math.pi / inv_freq  -> torch: inv_freq.reciprocal() * (2*pi)
    wavelen = (f(1.0) / inv_freq) * f(2 * math.pi)
    # wavelen > low_freq_wavelen: divide by factor; wavelen < high_freq_wavelen: keep
    inv_freq_llama = np.where(wavelen > f(low_freq_wavelen), inv_freq / factor, inv_freq)
    # in between: interpolate with a smooth factor
    smooth_factor = ((f(1.0) / wavelen) * f(old_context_len) - f(low_freq_factor)) \
        / f(high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (f(1.0) - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < f(high_freq_wavelen)) & ~(wavelen > f(low_freq_wavelen))
    return np.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama).astype(dt)


def rope_cos_sin(positions, inv_freq):
    """LlamaRotaryEmbedding.forward: angles = position * inv_freq (in inv_freq's dtype),
    emb = cat(angles, angles); returns (cos, sin), each [len(positions), head_dim]."""
    dt = inv_freq.dtype
    freqs = np.asarray(positions).astype(dt)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    # cos/sin of the float32 angle, rounded once to float32
    cos = np.cos(emb.astype(np.float64)).astype(dt)
    sin = np.sin(emb.astype(np.float64)).astype(dt)
    return cos, sin


def rotate_half(x):
    """cat(-x2, x1) over the last axis, x1/x2 its first/second halves."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rope(x, cos, sin):
    """x * cos + rotate_half(x) * sin; x is [..., T, head_dim], cos/sin [T, head_dim]."""
    return (x * cos) + (rotate_half(x) * sin)


def repeat_kv(x, n_rep):
    """[n_kv, S, hd] -> [n_kv*n_rep, S, hd]; query head h uses kv head h // n_rep."""
    if n_rep == 1:
        return x
    return np.repeat(x, n_rep, axis=0)


def softmax(x):
    """Softmax over the last axis as torch's CPU kernel: exp(x - max) * (1 / sum)."""
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e * (x.dtype.type(1) / np.sum(e, axis=-1, keepdims=True))


def silu(x):
    with np.errstate(over="ignore"):
        return x / (x.dtype.type(1) + np.exp(-x))


def linear(x, w):
    """nn.Linear without bias: x @ w.T with w [out, in]."""
    return x @ w.T


class KVCache:
    """Per-layer keys/values after RoPE, each [n_kv_heads, S, head_dim]."""

    def __init__(self, n_layers):
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.length = 0

    def append(self, layer_idx, k, v):
        if self.k[layer_idx] is None:
            self.k[layer_idx], self.v[layer_idx] = k, v
        else:
            self.k[layer_idx] = np.concatenate([self.k[layer_idx], k], axis=1)
            self.v[layer_idx] = np.concatenate([self.v[layer_idx], v], axis=1)
        return self.k[layer_idx], self.v[layer_idx]


def attention(x, w, cfg, cos, sin, cache, layer_idx, start_pos):
    """LlamaAttention with eager attention. x: [T, hidden] (already normed), tokens at
    positions start_pos .. start_pos+T-1; cache holds the keys/values of 0..start_pos-1."""
    T = x.shape[0]
    nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    q = linear(x, w["q"]).reshape(T, nh, hd).transpose(1, 0, 2)     # [nh, T, hd]
    k = linear(x, w["k"]).reshape(T, nkv, hd).transpose(1, 0, 2)    # [nkv, T, hd]
    v = linear(x, w["v"]).reshape(T, nkv, hd).transpose(1, 0, 2)
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    k_all, v_all = cache.append(layer_idx, k, v)                    # [nkv, S, hd]
    S = k_all.shape[1]
    k_all = repeat_kv(k_all, nh // nkv)
    v_all = repeat_kv(v_all, nh // nkv)

    scaling = x.dtype.type(hd ** -0.5)
    scores = np.matmul(q, k_all.transpose(0, 2, 1)) * scaling       # [nh, T, S]
    allowed = np.arange(S)[None, :] <= (start_pos + np.arange(T))[:, None]
    scores = np.where(allowed[None, :, :], scores, x.dtype.type(-np.inf))
    probs = softmax(scores)
    out = np.matmul(probs, v_all)                                   # [nh, T, hd]
    out = out.transpose(1, 0, 2).reshape(T, nh * hd)
    return linear(out, w["o"])


def mlp(x, w):
    """LlamaMLP: down(silu(gate(x)) * up(x))."""
    return linear(silu(linear(x, w["gate"])) * linear(x, w["up"]), w["down"])


def layer(h, w, cfg, cos, sin, cache, layer_idx, start_pos):
    """LlamaDecoderLayer: pre-norm attention and MLP blocks, each with a residual."""
    h = h + attention(rms_norm(h, w["input_norm"], cfg.rms_norm_eps), w, cfg, cos, sin,
                      cache, layer_idx, start_pos)
    h = h + mlp(rms_norm(h, w["post_norm"], cfg.rms_norm_eps), w)
    return h


class LlamaModel:
    """Config + weights + precomputed inv_freq, computing in `dtype` (float32 like HF,
    or float64 for accuracy checks)."""

    def __init__(self, cfg, weights, dtype=np.float32):
        self.cfg = cfg
        self.weights = weights
        self.dtype = np.dtype(dtype)
        self.inv_freq = rope_inv_freq(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling, self.dtype)
        self._check_shapes()

    @classmethod
    def from_dir(cls, model_dir, dtype=np.float32, keep=True):
        return cls(LlamaConfig.from_dir(model_dir), SafetensorsModel(model_dir, keep=keep), dtype)

    def _check_shapes(self):
        if not isinstance(self.weights, SafetensorsModel):
            return
        c = self.cfg
        h, hd = c.hidden_size, c.head_dim
        want = {"model.embed_tokens.weight": (c.vocab_size, h), "model.norm.weight": (h,)}
        for i in range(c.num_hidden_layers):
            p = f"model.layers.{i}."
            want.update({
                p + "input_layernorm.weight": (h,),
                p + "post_attention_layernorm.weight": (h,),
                p + "self_attn.q_proj.weight": (c.num_attention_heads * hd, h),
                p + "self_attn.k_proj.weight": (c.num_key_value_heads * hd, h),
                p + "self_attn.v_proj.weight": (c.num_key_value_heads * hd, h),
                p + "self_attn.o_proj.weight": (h, c.num_attention_heads * hd),
                p + "mlp.gate_proj.weight": (c.intermediate_size, h),
                p + "mlp.up_proj.weight": (c.intermediate_size, h),
                p + "mlp.down_proj.weight": (h, c.intermediate_size),
            })
        if not c.tie_word_embeddings:
            want["lm_head.weight"] = (c.vocab_size, h)
        for name, shape in want.items():
            if name not in self.weights.entries:
                raise ValueError(f"missing tensor {name}")
            got = self.weights.entries[name][2]
            if tuple(got) != shape:
                raise ValueError(f"{name}: shape {got}, config implies {shape}")

    def w(self, name):
        a = self.weights.get(name)
        return a if a.dtype == self.dtype else a.astype(self.dtype)

    def layer_weights(self, i):
        p = f"model.layers.{i}."
        return {
            "input_norm": self.w(p + "input_layernorm.weight"),
            "post_norm": self.w(p + "post_attention_layernorm.weight"),
            "q": self.w(p + "self_attn.q_proj.weight"),
            "k": self.w(p + "self_attn.k_proj.weight"),
            "v": self.w(p + "self_attn.v_proj.weight"),
            "o": self.w(p + "self_attn.o_proj.weight"),
            "gate": self.w(p + "mlp.gate_proj.weight"),
            "up": self.w(p + "mlp.up_proj.weight"),
            "down": self.w(p + "mlp.down_proj.weight"),
        }

    def lm_head(self):
        name = "model.embed_tokens.weight" if self.cfg.tie_word_embeddings else "lm_head.weight"
        return self.w(name)

    def new_cache(self):
        return KVCache(self.cfg.num_hidden_layers)


def forward(model, token_ids, cache=None):
    """LlamaForCausalLM forward for tokens at positions cache.length .. cache.length+T-1
    (a fresh cache: one full causal pass). Appends to the cache; returns logits [T, vocab]."""
    cfg = model.cfg
    if cache is None:
        cache = model.new_cache()
    ids = np.asarray(token_ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError("token_ids must be a non-empty 1-D sequence")
    if ids.min() < 0 or ids.max() >= cfg.vocab_size:
        raise ValueError("token id out of range")
    start = cache.length
    positions = start + np.arange(ids.size)
    cos, sin = rope_cos_sin(positions, model.inv_freq)
    h = model.w("model.embed_tokens.weight")[ids]
    for i in range(cfg.num_hidden_layers):
        h = layer(h, model.layer_weights(i), cfg, cos, sin, cache, i, start)
    cache.length += ids.size
    h = rms_norm(h, model.w("model.norm.weight"), cfg.rms_norm_eps)
    return linear(h, model.lm_head())


# --------------------------------------------------------------------------------------
# Greedy generation and golden files
# --------------------------------------------------------------------------------------

def greedy_argmax(logits):
    return int(np.argmax(logits))       # first occurrence = lowest id on ties


def top_k(logits, k=TOP_K):
    """(ids, vals) of the k largest logits, descending, ties broken by ascending id."""
    ids = np.arange(logits.size)
    order = np.lexsort((ids, -logits.astype(np.float64)))[:k]
    return order.astype(np.int64), logits[order]


def run_greedy(model, prompt_ids, n_gen, log=None):
    """Feed the prompt in one causal pass, then n_gen greedy tokens one at a time (the
    last one is fed too). Returns (gen_ids, logits [n_prompt+n_gen, vocab])."""
    cache = model.new_cache()
    t0 = time.time()
    rows = [forward(model, prompt_ids, cache)]
    if log:
        log(f"prompt pass: {len(prompt_ids)} tokens in {time.time() - t0:.1f}s")
    gen = []
    last = rows[0][-1]
    for i in range(n_gen):
        nxt = greedy_argmax(last)
        gen.append(nxt)
        t0 = time.time()
        last = forward(model, [nxt], cache)[0]
        rows.append(last[None, :])
        if log and (i < 2 or i == n_gen - 1):
            log(f"step {i}: token {nxt}, {time.time() - t0:.2f}s")
    return gen, np.concatenate(rows, axis=0)


def prompt_from_seed(seed, n, vocab_size):
    m = min(vocab_size, PROMPT_SEED_VOCAB_CAP)
    return [(i * 7919 + seed * 104729 + 13) % m for i in range(n)]


def sample_ids_for(vocab_size, stride):
    return np.arange(0, vocab_size, stride, dtype=np.int64)


def write_golden(path, vocab_size, prompt_ids, gen_ids, logits, model_hash, stride):
    """Write the .gold file described in the module doc."""
    n_prompt, n_gen = len(prompt_ids), len(gen_ids)
    if logits.shape != (n_prompt + n_gen, vocab_size):
        raise ValueError("logits shape does not match prompt + gen")
    samples = sample_ids_for(vocab_size, stride)
    parts = [
        GOLD_MAGIC,
        struct.pack("<IIIIIIQ", FORMAT_VERSION, vocab_size, n_prompt, n_gen, samples.size, TOP_K, model_hash),
        np.asarray(prompt_ids, dtype="<i4").tobytes(),
        np.asarray(gen_ids, dtype="<i4").tobytes(),
        samples.astype("<i4").tobytes(),
    ]
    for row in logits:
        row = row.astype(np.float32)
        tids, tvals = top_k(row)
        parts += [
            struct.pack("<i", greedy_argmax(row)),
            np.float32(np.max(np.abs(row))).astype("<f4").tobytes(),
            row[samples].astype("<f4").tobytes(),
            tids.astype("<i4").tobytes(),
            tvals.astype("<f4").tobytes(),
        ]
    with open(path, "wb") as f:
        for p in parts:
            f.write(p)


def read_golden(path):
    """Parse a .gold file into a dict (inverse of write_golden)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != GOLD_MAGIC:
        raise ValueError(f"{path}: bad magic")
    version, vocab, n_prompt, n_gen, n_sample, k, model_hash = struct.unpack_from("<IIIIIIQ", data, 8)
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: version {version}")
    off = 8 + struct.calcsize("<IIIIIIQ")

    def take(dtype, n):
        nonlocal off
        a = np.frombuffer(data, dtype=dtype, count=n, offset=off)
        off += a.nbytes
        return a

    g = {"vocab_size": vocab, "n_prompt": n_prompt, "n_gen": n_gen, "top_k": k, "model_fnv1a": model_hash,
         "prompt_ids": take("<i4", n_prompt), "gen_ids": take("<i4", n_gen), "sample_ids": take("<i4", n_sample),
         "positions": []}
    for _ in range(n_prompt + n_gen):
        g["positions"].append({
            "argmax": int(take("<i4", 1)[0]), "max_abs_logit": float(take("<f4", 1)[0]),
            "logits": take("<f4", n_sample), "top_ids": take("<i4", k), "top_vals": take("<f4", k)})
    if off != len(data):
        raise ValueError(f"{path}: {len(data) - off} trailing bytes")
    return g


# --------------------------------------------------------------------------------------
# RoPE files
# --------------------------------------------------------------------------------------

def parse_scaling_arg(s):
    """'none' or 'llama3:factor:low_freq_factor:high_freq_factor:original_max_pos'."""
    if s in (None, "", "none"):
        return None
    parts = s.split(":")
    if parts[0] != "llama3" or len(parts) != 5:
        raise ValueError("--scaling must be none or llama3:FACTOR:LOW:HIGH:ORIG_MAX_POS")
    return {"factor": float(parts[1]), "low_freq_factor": float(parts[2]),
            "high_freq_factor": float(parts[3]), "original_max_position_embeddings": int(parts[4])}


def rope_test_input(head_dim):
    i = np.arange(head_dim, dtype=np.float64)
    return (np.sin(0.37 * i + 1.0) + 0.01 * i).astype(np.float32)


def write_rope(path, head_dim, theta, scaling, positions):
    inv_freq = rope_inv_freq(head_dim, theta, scaling, np.float32)
    x = rope_test_input(head_dim)
    cos, sin = rope_cos_sin(np.asarray(positions, dtype=np.int64), inv_freq)
    y = apply_rope(x[None, :], cos, sin)
    with open(path, "wb") as f:
        f.write(ROPE_MAGIC + struct.pack("<III", FORMAT_VERSION, head_dim, len(positions)))
        f.write(inv_freq.astype("<f4").tobytes())
        for j, p in enumerate(positions):
            f.write(struct.pack("<i", p) + x.astype("<f4").tobytes() + y[j].astype("<f4").tobytes())
    return inv_freq, x, y


def read_rope(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != ROPE_MAGIC:
        raise ValueError(f"{path}: bad magic")
    version, hd, n = struct.unpack_from("<III", data, 8)
    off = 20
    inv = np.frombuffer(data, "<f4", hd // 2, off)
    off += inv.nbytes
    rows = []
    for _ in range(n):
        pos = struct.unpack_from("<i", data, off)[0]
        x = np.frombuffer(data, "<f4", hd, off + 4)
        y = np.frombuffer(data, "<f4", hd, off + 4 + 4 * hd)
        off += 4 + 8 * hd
        rows.append((pos, x, y))
    if off != len(data):
        raise ValueError(f"{path}: {len(data) - off} trailing bytes")
    return {"version": version, "head_dim": hd, "inv_freq": inv, "rows": rows}


# --------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------

def llama3_inv_freq_scalar(head_dim, theta, factor, low, high, orig):
    """Independent double-precision scalar version of the llama3 frequency scaling, written
    from the formula (Llama 3.1 reference apply_scaling), not from the vectorized code."""
    out = []
    low_wavelen = orig / low
    high_wavelen = orig / high
    for i in range(0, head_dim, 2):
        freq = 1.0 / (theta ** (i / head_dim))
        wavelen = 2.0 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(freq)
        elif wavelen > low_wavelen:
            out.append(freq / factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append((1.0 - smooth) * freq / factor + smooth * freq)
    return out


def naive_forward_f64(cfg, weights, ids):
    """Deliberately plain float64 forward (explicit loops over positions and heads, RoPE by
    rotating each pair (d, d + hd/2) by pos * inv_freq[d]), to cross-check the vectorized code."""
    g = lambda n: weights.get(n).astype(np.float64)
    hd, nh, nkv = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
    half = hd // 2
    sc = cfg.rope_scaling
    if sc:
        inv = llama3_inv_freq_scalar(hd, cfg.rope_theta, sc["factor"], sc["low_freq_factor"],
                                     sc["high_freq_factor"], sc["original_max_position_embeddings"])
    else:
        inv = [1.0 / (cfg.rope_theta ** (i / hd)) for i in range(0, hd, 2)]

    def norm(x, wt):
        return wt * x / math.sqrt(float(np.dot(x, x)) / x.size + cfg.rms_norm_eps)

    def rot(vec, pos):
        out = vec.copy()
        for d in range(half):
            c, s = math.cos(pos * inv[d]), math.sin(pos * inv[d])
            a, b = vec[d], vec[d + half]
            out[d], out[d + half] = a * c - b * s, b * c + a * s
        return out

    hs = [g("model.embed_tokens.weight")[t].copy() for t in ids]
    for L in range(cfg.num_hidden_layers):
        p = f"model.layers.{L}."
        ks, vs, new = [], [], []
        for pos, h in enumerate(hs):
            x = norm(h, g(p + "input_layernorm.weight"))
            q = g(p + "self_attn.q_proj.weight") @ x
            k = g(p + "self_attn.k_proj.weight") @ x
            v = g(p + "self_attn.v_proj.weight") @ x
            ks.append([rot(k[j * hd:(j + 1) * hd], pos) for j in range(nkv)])
            vs.append([v[j * hd:(j + 1) * hd] for j in range(nkv)])
            att = np.zeros(nh * hd)
            for head in range(nh):
                kvh = head // (nh // nkv)
                qh = rot(q[head * hd:(head + 1) * hd], pos)
                sc_ = np.array([np.dot(qh, ks[j][kvh]) / math.sqrt(hd) for j in range(pos + 1)])
                pr = np.exp(sc_ - sc_.max())
                pr /= pr.sum()
                att[head * hd:(head + 1) * hd] = sum(pr[j] * vs[j][kvh] for j in range(pos + 1))
            h = h + g(p + "self_attn.o_proj.weight") @ att
            x = norm(h, g(p + "post_attention_layernorm.weight"))
            gt = g(p + "mlp.gate_proj.weight") @ x
            up = g(p + "mlp.up_proj.weight") @ x
            h = h + g(p + "mlp.down_proj.weight") @ (gt / (1.0 + np.exp(-gt)) * up)
            new.append(h)
        hs = new
    head_w = g("model.embed_tokens.weight" if cfg.tie_word_embeddings else "lm_head.weight")
    return np.stack([head_w @ norm(h, g("model.norm.weight")) for h in hs])


def selftest():
    sys.dont_write_bytecode = True   # keep tests/reference free of __pycache__
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_tiny_model as mtm

    failures = []

    def check(name, ok, detail):
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
        if not ok:
            failures.append(name)

    def rel(a, b):
        return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) / np.max(np.abs(b)))

    # A tiny model: 2 layers, hidden 64, 4 heads / 2 kv heads (head_dim 16), vocab 512,
    # llama3 rope scaling with a small original context so all three frequency bands occur.
    cfgd = mtm.llama_config(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128,
                            vocab=512, rope_theta=10000.0, rope_scaling="llama3", tied=True)
    cfgd["rope_scaling"]["original_max_position_embeddings"] = 64
    cfg = LlamaConfig(cfgd)
    wd = {n: a for n, a in mtm.random_weights(cfgd, seed=1)}
    m32 = LlamaModel(cfg, DictWeights(wd), np.float32)
    m64 = LlamaModel(cfg, DictWeights(wd), np.float64)
    ids = [(i * 7919 + 13) % 512 for i in range(12)]

    print("(a) KV-cache incremental decoding vs one full causal pass (float32)")
    full = forward(m32, ids)
    cache = m32.new_cache()
    parts = [forward(m32, ids[:5], cache)]
    for t in ids[5:]:
        parts.append(forward(m32, [t], cache))
    inc = np.concatenate(parts)
    r = rel(inc, full)
    check("incremental == full pass", r <= 1e-5, f"max|diff|/max|logit| = {r:.2e} (limit 1e-5)")
    gen, lg = run_greedy(m32, ids[:4], 6)
    r = rel(lg, forward(m32, ids[:4] + gen))
    check("greedy run logits == full pass over prompt+gen", r <= 1e-5, f"{r:.2e}, gen={gen}")

    print("(b) llama3 inv_freq vs an independent scalar loop")
    for hd, theta, sc in [(64, 500000.0, (32.0, 1.0, 4.0, 8192)), (128, 500000.0, (8.0, 1.0, 4.0, 8192)),
                          (16, 10000.0, (32.0, 1.0, 4.0, 64))]:
        vec = rope_inv_freq(hd, theta, {"factor": sc[0], "low_freq_factor": sc[1], "high_freq_factor": sc[2],
                                        "original_max_position_embeddings": sc[3]})
        ref = np.array(llama3_inv_freq_scalar(hd, theta, *sc))
        plain = np.array([1.0 / theta ** (i / hd) for i in range(0, hd, 2)])
        bands = (int(np.sum(ref == plain)), int(np.sum(np.isclose(ref, plain / sc[0], rtol=1e-12))))
        r = float(np.max(np.abs(vec - ref) / ref))
        check(f"inv_freq hd={hd} theta={theta:g} scaling={sc}", r <= 1e-6 and vec.dtype == np.float32,
              f"max rel err {r:.2e} (kept {bands[0]}, divided {bands[1]}, smoothed {hd // 2 - sum(bands)})")
    vec = rope_inv_freq(64, 500000.0, None)
    ref = np.array([1.0 / 500000.0 ** (i / 64) for i in range(0, 64, 2)])
    r = float(np.max(np.abs(vec - ref) / ref))
    check("inv_freq without scaling", r <= 1e-6, f"max rel err {r:.2e}")

    print("(c) float64 forward vs float32 forward; float64 vs a naive loop implementation")
    l64 = forward(m64, ids)
    r = rel(full, l64)
    check("float32 ~ float64", r <= 1e-4, f"max|diff|/max|logit| = {r:.2e} (limit 1e-4)")
    naive = naive_forward_f64(cfg, DictWeights(wd), ids)
    r = rel(l64, naive)
    check("float64 vectorized == naive loops", r <= 1e-10, f"{r:.2e}")

    print("(d) RoPE properties")
    inv = rope_inv_freq(64, 500000.0, parse_scaling_arg("llama3:32:1:4:8192"), np.float64)
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal(64), rng.standard_normal(64)
    cos, sin = rope_cos_sin(np.array([0, 7, 1000, 1007]), inv)
    rq, rk = apply_rope(q[None], cos, sin), apply_rope(k[None], cos, sin)
    check("position 0 is the identity", np.array_equal(rq[0], q), "")
    d1, d2 = float(np.dot(rq[1], rk[0])), float(np.dot(rq[3], rk[2]))
    check("<R(m)q, R(n)k> depends on m-n only", abs(d1 - d2) <= 1e-9 * max(1, abs(d1)), f"{d1:.12f} vs {d2:.12f}")
    pair = rq[2][:32] ** 2 + rq[2][32:] ** 2
    check("rotation keeps each (d, d+32) pair's norm", np.allclose(pair, q[:32] ** 2 + q[32:] ** 2, rtol=1e-12), "")

    print("(e) safetensors reading (bf16 sharded, f16, f32 untied) vs in-memory weights")
    with tempfile.TemporaryDirectory() as td:
        for dtype, shards, tied in [("bf16", 3, True), ("f16", 1, True), ("f32", 1, False)]:
            d = os.path.join(td, f"{dtype}{shards}")
            c = dict(cfgd, tie_word_embeddings=tied)
            mtm.write_model(d, c, dtype=dtype, seed=3, shards=shards, verbose=False)
            disk = LlamaModel.from_dir(d)
            mem = {}
            for n, a in mtm.random_weights(c, seed=3):
                if dtype == "bf16":
                    a = mtm.bf16_to_f32(mtm.f32_to_bf16(a))
                elif dtype == "f16":
                    a = a.astype(np.float16).astype(np.float32)
                mem[n] = a
            same = all(np.array_equal(disk.weights.get(n), a) for n, a in mem.items())
            same_logits = np.array_equal(forward(disk, ids[:6]), forward(LlamaModel(LlamaConfig(c), DictWeights(mem)), ids[:6]))
            check(f"{dtype} shards={shards} tied={tied}", same and same_logits and len(mem) == len(disk.weights.entries),
                  f"{len(mem)} tensors identical, logits identical")

        print("(f) golden / rope files round-trip; FNV-1a")
        d = os.path.join(td, "bf163")
        gold = os.path.join(td, "t.gold")
        main(["golden", d, "--prompt-seed", "2", "--prompt-len", "5", "--n-gen", "4", "--sample-stride", "7",
              "-o", gold, "--quiet"])
        g = read_golden(gold)
        want_prompt = prompt_from_seed(2, 5, 512)
        mdl = LlamaModel.from_dir(d)
        gen, lg = run_greedy(mdl, want_prompt, 4)
        ok = (list(g["prompt_ids"]) == want_prompt and list(g["gen_ids"]) == gen
              and len(g["positions"]) == 9 and len(g["sample_ids"]) == len(range(0, 512, 7))
              and all(p["argmax"] == int(np.argmax(lg[i])) for i, p in enumerate(g["positions"]))
              and all(np.array_equal(p["logits"], lg[i][::7]) for i, p in enumerate(g["positions"]))
              and all(np.array_equal(p["top_vals"], np.sort(lg[i])[::-1][:8]) for i, p in enumerate(g["positions"]))
              and all(g["positions"][4 + i]["argmax"] == gen[i] for i in range(4))
              and g["model_fnv1a"] == fnv1a_files(mdl.weights.files))
        check("golden file", ok, f"{os.path.getsize(gold)} bytes, prompt {want_prompt}, gen {gen}")
        rp = os.path.join(td, "t.rope")
        main(["rope", "--head-dim", "64", "--theta", "500000", "--scaling", "llama3:32:1:4:8192",
              "--positions", "0,1,8192,131071", "-o", rp, "--quiet"])
        rr = read_rope(rp)
        x = rr["rows"][1][1].astype(np.float64)
        c1, s1 = math.cos(float(rr["inv_freq"][0])), math.sin(float(rr["inv_freq"][0]))
        y0 = x[0] * c1 - x[32] * s1
        check("rope file", len(rr["rows"]) == 4 and np.array_equal(rr["rows"][0][1], rr["rows"][0][2])
              and abs(rr["rows"][1][2][0] - y0) < 1e-6 and rr["rows"][3][0] == 131071,
              f"{os.path.getsize(rp)} bytes")

    vectors = {b"": 0xCBF29CE484222325, b"a": 0xAF63DC4C8601EC8C, b"foobar": 0x85944171F73967E8}
    ok = all(fnv1a_update_py(FNV_OFFSET, s) == h and fnv1a_update(FNV_OFFSET, s) == h for s, h in vectors.items())
    blob = np.random.default_rng(9).integers(0, 256, 100003, dtype=np.uint8).tobytes()
    ok = ok and fnv1a_update(FNV_OFFSET, blob) == fnv1a_update_py(FNV_OFFSET, blob)
    check("FNV-1a 64 test vectors", ok, "native helper" if _fnv_native() else "pure Python only")

    print("selftest:", "FAILED: " + ", ".join(failures) if failures else "all passed")
    return 1 if failures else 0


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

def parse_int_list(s):
    return [int(t) for t in s.split(",") if t.strip() != ""]


def cmd_golden(a):
    log = (lambda s: None) if a.quiet else (lambda s: print(s, file=sys.stderr))
    model = LlamaModel.from_dir(a.model_dir, keep=not a.low_mem)
    cfg = model.cfg
    if a.prompt_ids is not None:
        if a.prompt_seed is not None or a.prompt_len is not None:
            raise SystemExit("give either --prompt-ids or --prompt-seed/--prompt-len, not both")
        prompt = parse_int_list(a.prompt_ids)
    else:
        if a.prompt_seed is None or a.prompt_len is None:
            raise SystemExit("give --prompt-ids or --prompt-seed with --prompt-len")
        prompt = prompt_from_seed(a.prompt_seed, a.prompt_len, cfg.vocab_size)
    if not prompt:
        raise SystemExit("empty prompt")
    t0 = time.time()
    gen, logits = run_greedy(model, prompt, a.n_gen, log)
    log(f"forward done in {time.time() - t0:.1f}s; generated {gen}")
    gaps = []
    for row in logits[len(prompt) - 1:len(prompt) - 1 + a.n_gen]:
        _, tv = top_k(row, 2)
        gaps.append(float(tv[0] - tv[1]) / max(float(np.max(np.abs(row))), 1e-30))
    if gaps:
        log(f"smallest top1-top2 logit gap over the greedy choices: {min(gaps):.2e} of max|logit|")
    if a.check_full:
        full = forward(model, prompt + gen)
        r = float(np.max(np.abs(full - logits)) / np.max(np.abs(full)))
        log(f"full causal pass vs incremental: max|diff|/max|logit| = {r:.2e}")
        if r > 1e-5:
            raise SystemExit("incremental and full-pass logits disagree")
    t0 = time.time()
    h = fnv1a_files(model.weights.files)
    log(f"model fnv1a 0x{h:016x} ({time.time() - t0:.1f}s)")
    write_golden(a.output, cfg.vocab_size, prompt, gen, logits, h, a.sample_stride)
    log(f"wrote {a.output} ({os.path.getsize(a.output)} bytes)")
    return 0


def cmd_rope(a):
    scaling = parse_scaling_arg(a.scaling)
    positions = parse_int_list(a.positions)
    inv, _, _ = write_rope(a.output, a.head_dim, a.theta, scaling, positions)
    if not a.quiet:
        print(f"wrote {a.output}: head_dim {a.head_dim}, {len(positions)} positions, "
              f"inv_freq[0]={inv[0]:.9g} inv_freq[-1]={inv[-1]:.9g}", file=sys.stderr)
    return 0


def cmd_show(a):
    with open(a.file, "rb") as f:
        magic = f.read(8)
    if magic == GOLD_MAGIC:
        g = read_golden(a.file)
        print(f"golden: vocab {g['vocab_size']}, prompt {g['n_prompt']}, gen {g['n_gen']}, "
              f"{len(g['sample_ids'])} samples, top_k {g['top_k']}, model fnv1a 0x{g['model_fnv1a']:016x}")
        print("prompt_ids:", list(map(int, g["prompt_ids"])))
        print("gen_ids:   ", list(map(int, g["gen_ids"])))
        for i, p in enumerate(g["positions"]):
            top = ", ".join(f"{int(t)}:{float(v):.5g}" for t, v in zip(p["top_ids"][:4], p["top_vals"][:4]))
            print(f"  pos {i:4d}: argmax {p['argmax']:6d} max|l| {p['max_abs_logit']:.5g}  top {top}")
    elif magic == ROPE_MAGIC:
        r = read_rope(a.file)
        print(f"rope: head_dim {r['head_dim']}, {len(r['rows'])} positions")
        print("inv_freq:", " ".join(f"{v:.6g}" for v in r["inv_freq"]))
        for pos, x, y in r["rows"]:
            print(f"  pos {pos}: y[0..3] = {' '.join(f'{v:.6g}' for v in y[:4])}")
    else:
        raise SystemExit(f"{a.file}: unknown magic {magic!r}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference of LlamaForCausalLM; see the module doc.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("golden", help="greedy-generate and write a .gold file")
    g.add_argument("model_dir")
    g.add_argument("--prompt-ids", help="comma-separated token ids")
    g.add_argument("--prompt-seed", type=int)
    g.add_argument("--prompt-len", type=int)
    g.add_argument("--n-gen", type=int, default=32)
    g.add_argument("--sample-stride", type=int, default=8)
    g.add_argument("--check-full", action="store_true",
                   help="also run one full causal pass over prompt+gen and compare")
    g.add_argument("--low-mem", action="store_true",
                   help="do not keep converted float32 weights (re-convert on each use)")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("-o", "--output", required=True)

    r = sub.add_parser("rope", help="write a .rope file of inv_freq and rotated vectors")
    r.add_argument("--head-dim", type=int, required=True)
    r.add_argument("--theta", type=float, required=True)
    r.add_argument("--scaling", default="none", help="none or llama3:FACTOR:LOW:HIGH:ORIG_MAX_POS")
    r.add_argument("--positions", required=True, help="comma-separated positions")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("-o", "--output", required=True)

    s = sub.add_parser("show", help="print a summary of a .gold or .rope file")
    s.add_argument("file")

    sub.add_parser("selftest", help="check the reference against itself and a naive version")

    a = ap.parse_args(argv)
    if a.cmd == "golden":
        if a.sample_stride < 1 or a.n_gen < 0:
            raise SystemExit("--sample-stride must be >= 1 and --n-gen >= 0")
        return cmd_golden(a)
    if a.cmd == "rope":
        if a.head_dim < 2 or a.head_dim % 2:
            raise SystemExit("--head-dim must be even")
        return cmd_rope(a)
    if a.cmd == "show":
        return cmd_show(a)
    return selftest()


if __name__ == "__main__":
    sys.exit(main())
