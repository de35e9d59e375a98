#!/usr/bin/env python3
"""An independent re-implementation of llama2.c's run.c encode(), used to
write the expected ids in tests/unit/test_tokenizer_llama2c.c.

    python3 tests/reference/llama2c_tokenizer.py ../shared/models/stories260K/tok512.bin "text" ...

Prints one line per text: a C-style initializer of the ids with BOS (id 1)
first, as encode(t, text, bos=1, eos=0, ...) gives them.
"""
import struct
import sys


def load(path):
    data = open(path, "rb").read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, vocab, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        vocab.append(data[off:off + n])
        scores.append(score)
        off += n
    return vocab, scores


def encode(vocab, scores, text, bos=True):
    # run.c looks strings up with bsearch over the sorted vocabulary
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)
    tokens = []
    if bos:
        tokens.append(1)
    raw = text.encode("utf-8")
    if raw:
        tokens.append(lookup.get(b" ", -1))  # the dummy prefix
    # group bytes into code points as run.c does (lead byte + up to 3 continuations)
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        cp = raw[i:j]
        if cp in lookup:
            tokens.append(lookup[cp])
        else:
            tokens.extend(b + 3 for b in cp)  # byte fallback
        i = j
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for k in range(len(tokens) - 1):
            merged = vocab[tokens[k]] + vocab[tokens[k + 1]]
            idx = lookup.get(merged, -1)
            if idx != -1 and scores[idx] > best_score:
                best_score, best_id, best_idx = scores[idx], idx, k
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    return tokens


def main():
    vocab, scores = load(sys.argv[1])
    for text in sys.argv[2:]:
        ids = encode(vocab, scores, text)
        print("{%d, {%s}}," % (len(ids), ", ".join(map(str, ids))))


if __name__ == "__main__":
    main()
