#!/usr/bin/env node
/* Renders tests/reference/chat_cases.json with the real Jinja chat templates
 * through @huggingface/jinja (the reference renderer), and writes the expected
 * prompts that tests/unit/test_chat_template.c checks kvlm_chat_render against:
 *   tests/data/chat/render-cases.jsonl, one {"name", "format", "date",
 *   "add_generation_prompt", "messages", "prompt"} per line.
 *
 * Templates: llama3.2 = ../shared/llama-3.2-1b-instruct/chat_template.jinja,
 * llama3 = tests/data/chat/llama3.jinja (Meta-Llama-3-8B-Instruct),
 * chatml = tests/data/chat/chatml.jinja (the plain ChatML template).
 * Variables as transformers passes them: messages, add_generation_prompt,
 * bos_token "<|begin_of_text|>", and date_string: the case's date, or else
 * "26 Jul 2024", the template's fallback when neither date_string nor
 * strftime_now is defined (@huggingface/jinja, like transformers, defines
 * strftime_now, which would give today's date; kvlm's default is the fixed
 * fallback, so the reference passes it explicitly). "date": null in the
 * output means kvlm_chat_render is called with date NULL.
 *
 * Cases marked "python_only" are skipped here: they hold characters on which
 * @huggingface/jinja's trim (JavaScript's String.prototype.trim) and Python's
 * str.strip() disagree; render_chat_cases_python.py renders those.
 *
 * Run from the repository root (node is not needed to build or test):
 *   mkdir -p /tmp/kvlm-peers && (cd /tmp/kvlm-peers && npm install @huggingface/jinja@0.5.11)
 *   JINJA_PEERS=/tmp/kvlm-peers node tests/reference/render_chat_cases.cjs
 */
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const peers = process.env.JINJA_PEERS || "/tmp/kvlm-peers";
const { Template } = createRequire(path.join(peers, "package.json"))("@huggingface/jinja");
const root = path.resolve(__dirname, "..", "..");
const shared = process.env.KVLM_SHARED_DIR || path.join(root, "..", "shared");

const templates = {
  "llama3.2": fs.readFileSync(path.join(shared, "llama-3.2-1b-instruct", "chat_template.jinja"), "utf8"),
  "llama3": fs.readFileSync(path.join(root, "tests", "data", "chat", "llama3.jinja"), "utf8"),
  "chatml": fs.readFileSync(path.join(root, "tests", "data", "chat", "chatml.jinja"), "utf8"),
};
const cases = JSON.parse(fs.readFileSync(path.join(__dirname, "chat_cases.json"), "utf8"));

/* JSON with every non-ASCII UTF-16 unit escaped (\uXXXX; pairs for astral
 * code points), so the file is plain ASCII and no line separator hides in it. */
const asciiJson = (v) =>
  JSON.stringify(v).replace(/[\u007f-\uffff]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));

const lines = [];
for (const c of cases) {
  if (c.python_only) continue;
  for (const [format, source] of Object.entries(templates)) {
    const gen = c.add_generation_prompt !== false;
    const vars = { messages: c.messages, add_generation_prompt: gen, bos_token: "<|begin_of_text|>" };
    vars.date_string = c.date || "26 Jul 2024";
    const prompt = new Template(source).render(vars);
    lines.push(asciiJson({ name: c.name, format, date: c.date || null, add_generation_prompt: gen,
                                messages: c.messages, prompt }));
  }
}
const out = path.join(root, "tests", "data", "chat", "render-cases.jsonl");
fs.writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} cases to ${path.relative(root, out)}`);
