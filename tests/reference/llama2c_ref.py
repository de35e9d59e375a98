#!/usr/bin/env python3
"""llama2c_ref.py -- an independent numpy re-implementation of llama2.c's
run.c (legacy fp32 checkpoint, greedy sampling), used to write the expected
outputs of packs/stories-completion.jsonl. It shares no code with kvlm.

    /usr/bin/python3 tests/reference/llama2c_ref.py CHECKPOINT TOKENIZER N_TOKENS "prompt" ...
    /usr/bin/python3 tests/reference/llama2c_ref.py --pack CHECKPOINT TOKENIZER PACK.jsonl > NEW.jsonl

Like run.c: the prompt is encoded with BOS (tests/reference/llama2c_tokenizer.py,
the same encode() run.c has), fed one position at a time, then N_TOKENS
tokens are chosen by argmax (the lowest id among equal maxima) and printed;
generation ends early when the model picks BOS (id 1). A piece right after
BOS loses its leading space and <0xXX> pieces are raw bytes, as in run.c's
decode(). Only the continuation is printed (kvlm run's output), as a JSON
string per prompt. --pack rewrites a pack's "complete" cases with "expected"
set from this reference (their "max_tokens" as N_TOKENS).
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama2c_tokenizer  # noqa: E402


def load_checkpoint(path):
    data = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(data, dtype="<f4", offset=28)
    head = dim // n_heads
    kv_dim = n_kv * head
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = w[off:off + n].reshape(shape).astype(np.float32)
        off += n
        return a

    p = {"dim": dim, "hidden": hidden, "n_layers": n_layers, "n_heads": n_heads, "n_kv": n_kv,
         "vocab": vocab, "seq_len": seq_len, "head": head, "kv_dim": kv_dim}
    p["emb"] = take(vocab, dim)
    p["rms_att"] = take(n_layers, dim)
    p["wq"] = take(n_layers, dim, dim)
    p["wk"] = take(n_layers, kv_dim, dim)
    p["wv"] = take(n_layers, kv_dim, dim)
    p["wo"] = take(n_layers, dim, dim)
    p["rms_ffn"] = take(n_layers, dim)
    p["w1"] = take(n_layers, hidden, dim)
    p["w2"] = take(n_layers, dim, hidden)
    p["w3"] = take(n_layers, hidden, dim)
    p["rms_final"] = take(dim)
    off += seq_len * head // 2 * 2  # the legacy freq_cis_real / freq_cis_imag tables
    p["wcls"] = p["emb"] if shared else take(vocab, dim)
    return p


def rmsnorm(x, w):
    ss = np.float32(np.mean(x.astype(np.float64) ** 2)) + np.float32(1e-5)
    return (x * np.float32(1.0 / np.sqrt(ss))) * w


def rope(v, pos, head):
    # run.c: for each pair (i, i+1), freq = 1 / 10000^((i % head) / head)
    out = v.copy()
    i = np.arange(0, v.shape[0], 2)
    freq = 1.0 / np.power(10000.0, (i % head) / head)
    ang = pos * freq
    c, s = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    a, b = v[i], v[i + 1]
    out[i] = a * c - b * s
    out[i + 1] = a * s + b * c
    return out


class Model:
    def __init__(self, p):
        self.p = p
        L, S, kv = p["n_layers"], p["seq_len"], p["kv_dim"]
        self.k = np.zeros((L, S, kv), np.float32)
        self.v = np.zeros((L, S, kv), np.float32)

    def forward(self, token, pos):
        p = self.p
        head, nh, nkv = p["head"], p["n_heads"], p["n_kv"]
        x = p["emb"][token].copy()
        for l in range(p["n_layers"]):
            xb = rmsnorm(x, p["rms_att"][l])
            q = rope(p["wq"][l] @ xb, pos, head)
            self.k[l, pos] = rope(p["wk"][l] @ xb, pos, head)
            self.v[l, pos] = p["wv"][l] @ xb
            att_out = np.zeros(p["dim"], np.float32)
            for h in range(nh):
                kvh = h // (nh // nkv)
                qh = q[h * head:(h + 1) * head]
                ks = self.k[l, :pos + 1, kvh * head:(kvh + 1) * head]
                vs = self.v[l, :pos + 1, kvh * head:(kvh + 1) * head]
                sc = (ks @ qh) / np.float32(np.sqrt(head))
                sc = np.exp(sc - sc.max())
                sc /= sc.sum()
                att_out[h * head:(h + 1) * head] = sc @ vs
            x = x + p["wo"][l] @ att_out
            xb = rmsnorm(x, p["rms_ffn"][l])
            h1 = p["w1"][l] @ xb
            h3 = p["w3"][l] @ xb
            x = x + p["w2"][l] @ ((h1 / (1.0 + np.exp(-h1))) * h3)
        x = rmsnorm(x, p["rms_final"])
        return p["wcls"] @ x


def piece_bytes(vocab, prev, tok):
    b = vocab[tok]
    if prev == 1 and b[:1] == b" ":
        b = b[1:]
    if len(b) == 6 and b[:3] == b"<0x" and b[5:] == b">":
        try:
            return bytes([int(b[3:5], 16)])
        except ValueError:
            pass
    return b


def complete(p, vocab, scores, prompt, n_tokens):
    ids = llama2c_tokenizer.encode(vocab, scores, prompt)
    m = Model(p)
    out = b""
    token, pos = ids[0], 0
    generated = 0
    while generated < n_tokens and pos < p["seq_len"]:
        logits = m.forward(token, pos)
        if pos < len(ids) - 1:
            nxt = ids[pos + 1]
        else:
            nxt = int(np.argmax(logits))
            if nxt == 1:
                break
            out += piece_bytes(vocab, token, nxt)
            generated += 1
        pos += 1
        token = nxt
    return out.decode("utf-8", errors="replace")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--pack":
        ckpt, tokp, pack = args[1:4]
        p = load_checkpoint(ckpt)
        vocab, scores = llama2c_tokenizer.load(tokp)
        for line in open(pack, encoding="utf-8"):
            if not line.strip():
                continue
            case = json.loads(line)
            if case.get("task") == "complete":
                case["expected"] = complete(p, vocab, scores, case["input"], case.get("max_tokens", 16))
            print(json.dumps(case, ensure_ascii=False))
        return
    if len(args) < 4:
        sys.exit(__doc__)
    ckpt, tokp, n = args[0], args[1], int(args[2])
    p = load_checkpoint(ckpt)
    vocab, scores = llama2c_tokenizer.load(tokp)
    for prompt in args[3:]:
        print(json.dumps(complete(p, vocab, scores, prompt, n), ensure_ascii=False))


if __name__ == "__main__":
    main()
