// tokenizer_peer.mjs: Hugging Face `tokenizers` (the Rust library, through its
// npm binding) encoding the same text as bench/tokenizer_bench.c, on one thread.
//
//   node bench/tokenizer_peer.mjs TOKENIZER_JSON TEXT_FILE [ITERS] [--paragraphs]
//
// --paragraphs: the text is cut after every "\n\n" and the pieces encoded with
// encodeBatch, which runs them one after the other when parallelism is off
// (TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1, as the compare script sets).
//
// Needs the npm package `tokenizers` installed OUTSIDE the repository; the
// module is found through NODE_PATH (bench/tokenizer_compare.sh sets it), e.g.
//   npm install --prefix /tmp/kvlm-peers tokenizers@0.23.2
// Prints one line like tokenizer_bench: MB/s (10^6 bytes) and the ids' checksum.
import { createRequire } from 'module';
import { readFileSync } from 'fs';

const require = createRequire(import.meta.url);
let Tokenizer;
try {
  ({ Tokenizer } = require('tokenizers'));
} catch (e) {
  console.error('tokenizer_peer: the npm package "tokenizers" was not found (set NODE_PATH): ' + e.message);
  process.exit(77);
}

const args = process.argv.slice(2);
const paragraphs = args.includes('--paragraphs');
const [tokPath, textPath, itersArg] = args.filter((a) => a !== '--paragraphs');
if (!tokPath || !textPath) {
  console.error('usage: node tokenizer_peer.mjs TOKENIZER_JSON TEXT_FILE [ITERS]');
  process.exit(2);
}
const iters = Number(itersArg || 3);
const bytes = readFileSync(textPath);
const text = bytes.toString('utf8');

let t0 = performance.now();
const tok = Tokenizer.fromFile(tokPath);
const loadS = (performance.now() - t0) / 1000;

const pieces = paragraphs ? text.split(/(?<=\n\n)/) : [text];
let best = Infinity, ids = null;
for (let i = 0; i < iters; i++) {
  t0 = performance.now();
  let encs;
  if (paragraphs) encs = await tok.encodeBatch(pieces, { addSpecialTokens: false });
  else encs = [await tok.encode(text, null, { addSpecialTokens: false })];
  const dt = (performance.now() - t0) / 1000;
  ids = encs.flatMap((e) => e.getIds());
  if (dt < best) best = dt;
}
let h = 0;
for (const id of ids) h = (Math.imul(h, 31) + id) >>> 0;
const mb = bytes.length / 1e6;
console.log(`hf-tokenizers: ${mb.toFixed(2)} MB in ${pieces.length} piece(s), ${ids.length} tokens, load ${loadS.toFixed(3)} s, ` +
            `best of ${iters}: ${best.toFixed(3)} s, ${(mb / best).toFixed(2)} MB/s, checksum ${h.toString(16).padStart(8, '0')}`);
