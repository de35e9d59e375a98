#!/usr/bin/env python3
"""Renders the "python_only" cases of tests/reference/chat_cases.json with
Python's jinja2, set up as transformers' apply_chat_template sets it up
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, tojson as
json.dumps with ensure_ascii=False), and writes
tests/data/chat/python-trim-cases.jsonl in the format of render-cases.jsonl.

Those cases hold characters on which Jinja's trim differs between Python
(str.strip(): strips U+001C..U+001F and U+0085, keeps U+FEFF) and
@huggingface/jinja (JavaScript's trim(): the reverse). kvlm follows Python.

It also renders every other case and checks that it agrees with the
@huggingface/jinja output in render-cases.jsonl (run render_chat_cases.cjs
first). Run from the repository root: python3 tests/reference/render_chat_cases_python.py
"""
import json
import os
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
shared = os.environ.get("KVLM_SHARED_DIR", os.path.join(root, "..", "shared"))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson


def read(p):
    with open(p, encoding="utf-8") as f:
        return f.read()


templates = {
    "llama3.2": env.from_string(read(os.path.join(shared, "llama-3.2-1b-instruct", "chat_template.jinja"))),
    "llama3": env.from_string(read(os.path.join(root, "tests", "data", "chat", "llama3.jinja"))),
    "chatml": env.from_string(read(os.path.join(root, "tests", "data", "chat", "chatml.jinja"))),
}
cases = json.loads(read(os.path.join(here, "chat_cases.json")))
node = {}
node_path = os.path.join(root, "tests", "data", "chat", "render-cases.jsonl")
if os.path.exists(node_path):
    for line in read(node_path).split("\n"):
        if not line:
            continue
        d = json.loads(line)
        node[(d["name"], d["format"])] = d["prompt"]

out, mismatches, compared = [], 0, 0
for c in cases:
    for fmt, t in templates.items():
        gen = c.get("add_generation_prompt", True)
        if fmt == "llama3.2" and not c["messages"]:
            continue  # jinja2 raises on messages[0] of an empty list
        prompt = t.render(messages=c["messages"], add_generation_prompt=gen, bos_token="<|begin_of_text|>",
                          date_string=c.get("date") or "26 Jul 2024")
        if c.get("python_only"):
            out.append(json.dumps({"name": c["name"], "format": fmt, "date": c.get("date"),
                                   "add_generation_prompt": gen, "messages": c["messages"], "prompt": prompt},
                                  ensure_ascii=True))
        elif (c["name"], fmt) in node:
            compared += 1
            if node[(c["name"], fmt)] != prompt:
                mismatches += 1
                print(f"MISMATCH {c['name']} {fmt}:\n  node   {node[(c['name'], fmt)]!r}\n  python {prompt!r}")

dst = os.path.join(root, "tests", "data", "chat", "python-trim-cases.jsonl")
with open(dst, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
print(f"wrote {len(out)} cases to {os.path.relpath(dst, root)}; "
      f"{compared} renders compared with @huggingface/jinja, {mismatches} differ")
sys.exit(1 if mismatches else 0)
