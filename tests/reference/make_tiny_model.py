#!/usr/bin/env python3
"""Write a random Llama model as a Hugging Face folder (config.json + safetensors).

Handy for tests: the tensor names, shapes and layouts are exactly those of
LlamaForCausalLM checkpoints (see ../shared/llama-3.2-1b-instruct/TENSORS.md),
only the sizes and the (random, seeded) values differ.

Usage (run with Debian's interpreter, which has numpy):

    /usr/bin/python3 tests/reference/make_tiny_model.py OUT_DIR \
        [--preset tiny|small|llama-3.2-1b] [--hidden 256] [--layers 4] \
        [--heads 8] [--kv-heads 4] [--head-dim 32] [--intermediate 512] \
        [--vocab 128256] [--dtype bf16|f16|f32] [--seed 0] \
        [--rope-scaling llama3|none] [--rope-theta 500000] [--untied] \
        [--shards N] [--embed-std 0.02]

Presets:
    tiny          hidden 64, 2 layers, 4 heads / 2 kv heads, head_dim 16, ffn 128, vocab 512
    small         hidden 256, 4 layers, 8 heads / 4 kv heads, head_dim 32, ffn 512, vocab 128256
    llama-3.2-1b  the exact Llama 3.2 1B layout (hidden 2048, 16 layers, 32/8 heads,
                  head_dim 64, ffn 8192, vocab 128256), random weights (~2.5 GB in bf16)
Explicit options override the preset. Defaults otherwise follow Llama 3.2
(rope_theta 500000, llama3 rope scaling 32/1/4/8192, rms_norm_eps 1e-5, tied embeddings).

Weights: linear layers ~ N(0, 1/fan_in) (variance preserving), norm weights
1 + 0.1*N(0,1), embeddings N(0, embed_std^2) with embed_std 0.02 by default
(HF's initializer_range; a large embed_std with tied embeddings makes the random
model just repeat its last input token, a weak test of greedy decoding). Values
are drawn in float32 and
rounded to the file dtype (bf16: round-to-nearest-even), so whatever reads the
file sees exactly representable values.

With --shards N > 1 the tensors are spread over model-0000i-of-0000N.safetensors
plus model.safetensors.index.json (the Hugging Face sharded layout).

The module also exports `llama_config`, `tensor_specs`, `random_weights`,
`write_safetensors` and `f32_to_bf16` for use by llama_ref.py's selftest.
"""

import argparse
import json
import os
import sys

import numpy as np

PRESETS = {
    "tiny": dict(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=512),
    "small": dict(hidden=256, layers=4, heads=8, kv_heads=4, head_dim=32, intermediate=512, vocab=128256),
    "llama-3.2-1b": dict(hidden=2048, layers=16, heads=32, kv_heads=8, head_dim=64, intermediate=8192, vocab=128256),
}

LLAMA3_SCALING = {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3",
}


def llama_config(hidden, layers, heads, kv_heads, head_dim, intermediate, vocab,
                 rope_theta=500000.0, rope_scaling="llama3", tied=True, rms_norm_eps=1e-5,
                 torch_dtype="bfloat16"):
    """A config.json dict in the Hugging Face LlamaConfig format."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 128000 if vocab > 128000 else 1,
        "eos_token_id": 128009 if vocab > 128009 else 2,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": intermediate,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": rms_norm_eps,
        "rope_scaling": dict(LLAMA3_SCALING) if rope_scaling == "llama3" else None,
        "rope_theta": float(rope_theta),
        "tie_word_embeddings": bool(tied),
        "torch_dtype": torch_dtype,
        "use_cache": True,
        "vocab_size": vocab,
    }


def tensor_specs(cfg):
    """[(name, shape, kind)] in checkpoint order; kind is 'embed', 'norm' or 'linear'."""
    h = cfg["hidden_size"]
    hd = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    nq = cfg["num_attention_heads"] * hd
    nkv = cfg["num_key_value_heads"] * hd
    ff = cfg["intermediate_size"]
    specs = [("model.embed_tokens.weight", (cfg["vocab_size"], h), "embed")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [
            (p + "input_layernorm.weight", (h,), "norm"),
            (p + "self_attn.q_proj.weight", (nq, h), "linear"),
            (p + "self_attn.k_proj.weight", (nkv, h), "linear"),
            (p + "self_attn.v_proj.weight", (nkv, h), "linear"),
            (p + "self_attn.o_proj.weight", (h, nq), "linear"),
            (p + "post_attention_layernorm.weight", (h,), "norm"),
            (p + "mlp.gate_proj.weight", (ff, h), "linear"),
            (p + "mlp.up_proj.weight", (ff, h), "linear"),
            (p + "mlp.down_proj.weight", (h, ff), "linear"),
        ]
    specs.append(("model.norm.weight", (h,), "norm"))
    if not cfg.get("tie_word_embeddings", False):
        specs.append(("lm_head.weight", (cfg["vocab_size"], h), "linear"))
    return specs


def random_tensor(rng, shape, kind, embed_std=0.02):
    """One float32 tensor drawn as described in the module doc."""
    if kind == "norm":
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    if kind == "embed":
        std = embed_std
    else:
        std = 1.0 / np.sqrt(shape[1])
    a = rng.standard_normal(shape, dtype=np.float32)
    a *= np.float32(std)
    return a


def random_weights(cfg, seed=0, embed_std=0.02):
    """Generator of (name, float32 array), deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    for name, shape, kind in tensor_specs(cfg):
        yield name, random_tensor(rng, shape, kind, embed_std)


def f32_to_bf16(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (no NaN inputs)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounding = ((u >> 16) & 1) + np.uint32(0x7FFF)
    return ((u + rounding) >> 16).astype(np.uint16)


def bf16_to_f32(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


def to_file_dtype(a, dtype):
    """float32 array -> (bytes-ready array, safetensors dtype string)."""
    if dtype == "bf16":
        return f32_to_bf16(a), "BF16"
    if dtype == "f16":
        return a.astype(np.float16), "F16"
    if dtype == "f32":
        return a.astype(np.float32), "F32"
    raise ValueError(f"unknown dtype {dtype}")


ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4}


def write_safetensors(path, items, metadata=None):
    """Write a safetensors file.

    items: list of (name, st_dtype, shape, producer) where producer() returns a
    C-contiguous numpy array whose raw bytes are the tensor data (so tensors are
    produced one at a time and big models never sit in memory whole).
    Layout: uint64 LE header length N, N bytes of JSON (padded with spaces to a
    multiple of 8), then the data, tensors back to back in the given order.
    """
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, st_dtype, shape, _ in items:
        n = ITEMSIZE[st_dtype] * int(np.prod(shape, dtype=np.int64))
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as f:
        f.write(len(hbytes).to_bytes(8, "little"))
        f.write(hbytes)
        for name, st_dtype, shape, producer in items:
            arr = np.ascontiguousarray(producer())
            expect = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            if arr.nbytes != expect or tuple(arr.shape) != tuple(shape):
                raise ValueError(f"{name}: producer gave {arr.shape} / {arr.nbytes} bytes, expected {shape}")
            if sys.byteorder != "little":
                arr = arr.byteswap()
            f.write(arr.tobytes())
    return off


def write_model(out_dir, cfg, dtype="bf16", seed=0, embed_std=0.02, shards=1, verbose=True):
    """Write config.json and the weights of a random model into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    cfg = dict(cfg)
    cfg["torch_dtype"] = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[dtype]
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    specs = tensor_specs(cfg)
    st_dtype = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
    rng = np.random.default_rng(seed)

    # Tensors are produced lazily but in checkpoint order, so the rng stream (and
    # therefore the values) does not depend on the shard count.
    def producer(shape, kind):
        return lambda: to_file_dtype(random_tensor(rng, shape, kind, embed_std), dtype)[0]

    items = [(name, st_dtype, shape, producer(shape, kind)) for name, shape, kind in specs]
    meta = {"format": "pt"}
    if shards <= 1:
        path = os.path.join(out_dir, "model.safetensors")
        write_safetensors(path, items, meta)
        if verbose:
            print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(items)} tensors)")
        return
    # Split into `shards` groups of consecutive tensors with roughly equal byte counts.
    sizes = [ITEMSIZE[st_dtype] * int(np.prod(s, dtype=np.int64)) for _, _, s, _ in items]
    total = sum(sizes)
    groups = [[] for _ in range(shards)]
    acc = 0
    for it, sz in zip(items, sizes):
        g = min(shards - 1, acc * shards // max(total, 1))
        groups[g].append(it)
        acc += sz
    weight_map = {}
    for gi, group in enumerate(groups):
        fname = f"model-{gi + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(out_dir, fname), group, meta)
        for name, _, _, _ in group:
            weight_map[name] = fname
        if verbose:
            print(f"wrote {fname} ({len(group)} tensors)")
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    for k in ("hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=None)
    ap.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--rope-scaling", choices=["llama3", "none"], default="llama3")
    ap.add_argument("--rms-norm-eps", type=float, default=1e-5)
    ap.add_argument("--untied", action="store_true", help="write a separate lm_head.weight")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--embed-std", type=float, default=0.02)
    a = ap.parse_args(argv)
    dims = dict(PRESETS[a.preset])
    for k in dims:
        v = getattr(a, k)
        if v is not None:
            dims[k] = v
    if a.head_dim is None and (a.hidden is not None or a.heads is not None):
        dims["head_dim"] = dims["hidden"] // dims["heads"]
    cfg = llama_config(rope_theta=a.rope_theta, rope_scaling=a.rope_scaling, tied=not a.untied,
                       rms_norm_eps=a.rms_norm_eps, **dims)
    write_model(a.out_dir, cfg, dtype=a.dtype, seed=a.seed, embed_std=a.embed_std, shards=a.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
