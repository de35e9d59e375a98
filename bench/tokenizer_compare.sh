#!/usr/bin/env bash
# Encode speed of kvlm's tokenizer against Hugging Face `tokenizers` (Rust,
# through its npm binding), both on one thread, on the same generated text,
# whole and paragraph by paragraph. Prints both MB/s and the ratio, and checks
# that both produced the same ids (checksums).
#
#   bench/tokenizer_compare.sh [BUILD_DIR] [MB]
#
# BUILD_DIR: a Release build with bench/ (default: build). The npm package is
# installed into $KVLM_PEERS (default /tmp/kvlm-peers), outside the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-build}
mb=${2:-8}
peers=${KVLM_PEERS:-/tmp/kvlm-peers}
shared=${KVLM_SHARED_DIR:-$root/../shared}
tokjson=$shared/llama-3.2-1b-instruct/tokenizer.json
bench=$build/bench/tokenizer_bench
[ -x "$bench" ] || bench=$root/$build/bench/tokenizer_bench
[ -x "$bench" ] || { echo "tokenizer_compare: no $bench (build with -DCMAKE_BUILD_TYPE=Release first)" >&2; exit 1; }
[ -f "$tokjson" ] || { echo "tokenizer_compare: $tokjson is absent" >&2; exit 77; }
if [ ! -d "$peers/node_modules/tokenizers" ]; then
  mkdir -p "$peers"
  npm install --silent --no-audit --no-fund --prefix "$peers" tokenizers@0.23.2 >&2
fi
text=$(mktemp /tmp/kvlm-bench-text.XXXXXX)
trap 'rm -f "$text"' EXIT

export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false UV_THREADPOOL_SIZE=1
export NODE_PATH=$peers/node_modules
field() { sed -n "s/.* \([0-9.]*\) MB\/s.*/\1/p"; }
sum() { sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p'; }
status=0
for mode in whole paragraphs; do
  flag=; [ "$mode" = paragraphs ] && flag=--paragraphs
  k=$("$bench" --tokenizer "$tokjson" --shared "$shared" --mb "$mb" --iters 3 --dump "$text" $flag)
  h=$(node "$here/tokenizer_peer.mjs" "$tokjson" "$text" 3 $flag)
  echo "[$mode] $k"
  echo "[$mode] $h"
  kv=$(echo "$k" | field); hv=$(echo "$h" | field)
  same=yes; [ "$(echo "$k" | sum)" = "$(echo "$h" | sum)" ] || { same=NO; status=1; }
  awk -v k="$kv" -v h="$hv" -v m="$mode" -v s="$same" \
    'BEGIN { printf "[%s] kvlm %.2f MB/s, hf-tokenizers %.2f MB/s, ratio %.1fx, same ids: %s\n", m, k, h, k / h, s }'
done
exit $status
