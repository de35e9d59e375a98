// Encodes texts with Hugging Face `tokenizers` (npm binding, installed outside
// the repository; NODE_PATH=/tmp/kvlm-peers/node_modules) to check the expected
// ids written in tests/unit/test_tokenizer_*.c.
//
//   node tests/reference/hf_encode.mjs TOKENIZER_JSON [--bos] TEXT...
//
// Prints, per text, {"text", "ids", "decoded"} (special tokens in the text are
// parsed; --bos: add_special_tokens=True).
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');

const args = process.argv.slice(2);
const bos = args.includes('--bos');
const [path, ...texts] = args.filter((a) => a !== '--bos');
const tok = Tokenizer.fromFile(path);
for (const text of texts) {
  const enc = await tok.encode(text, null, { addSpecialTokens: bos });
  const ids = enc.getIds();
  const decoded = await tok.decode(ids, false);
  console.log(JSON.stringify({ text, ids, decoded }));
}
