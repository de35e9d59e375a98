#!/usr/bin/env bash
# kvlm vs llama.cpp on the very same GGUF files, back to back, several rounds.
#
#   bench/compare_llamacpp.sh [-b KVLM_BIN] [-l LLAMA_BENCH] [-r ROUNDS] [-p 512] [-n 128] [-t 2] [-a f32|q8|bf16] MODEL.gguf...
#
# LLAMA_BENCH is the path of llama.cpp's llama-bench (built beside the project by
# you, e.g. from the source that the npm package node-llama-cpp bundles; this
# script does not build it). Each round runs llama-bench once and kvlm bench
# once per model (one repetition each, alternating, so both see the same
# machine state); the table shows medians over rounds and kvlm/llama.cpp ratios.
# -a q8 runs kvlm with int8 activations for Q8_0/Q4_0/K-quant weights and -a bf16 with
# BF16 activations for BF16 weights (kvlm bench --act), as llama.cpp always does for
# these types; the default is FP32 activations.
set -euo pipefail
KVLM=${KVLM_BIN:-build/kvlm}
LLAMA=${LLAMA_BENCH:-}
ROUNDS=5 PP=512 TG=128 THREADS=2 ACT=f32
while getopts "b:l:r:p:n:t:a:" opt; do
  case $opt in
    b) KVLM=$OPTARG ;; l) LLAMA=$OPTARG ;; r) ROUNDS=$OPTARG ;; p) PP=$OPTARG ;; n) TG=$OPTARG ;; t) THREADS=$OPTARG ;;
    a) ACT=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-b kvlm] [-l llama-bench] [-r rounds] [-p pp] [-n tg] [-t threads] [-a f32|q8|bf16] MODEL.gguf..." >&2; exit 2; }
[ -x "$KVLM" ] || { echo "kvlm binary not found at $KVLM (build it, or pass -b)" >&2; exit 2; }
[ -n "$LLAMA" ] && [ -x "$LLAMA" ] || { echo "llama-bench not found: pass -l /path/to/llama-bench or set LLAMA_BENCH" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed to read the JSON results" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for model in "$@"; do
  for r in $(seq 1 "$ROUNDS"); do
    "$LLAMA" -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 -o json >"$out/llama-$(basename "$model")-$r.json" 2>/dev/null
    "$KVLM" bench -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 --act "$ACT" --json >"$out/kvlm-$(basename "$model")-$r.json"
    echo "round $r/$ROUNDS done: $(basename "$model")" >&2
  done
done

python3 - "$out" "$PP" "$TG" "$@" <<'PY'
import json, os, statistics, sys
out, pp, tg, models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def med(v): return statistics.median(v) if v else float('nan')
print(f"| model | llama.cpp pp{pp} t/s | kvlm pp{pp} t/s | ratio | llama.cpp tg{tg} t/s | kvlm tg{tg} t/s | ratio | kvlm share of bandwidth limit |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for m in models:
    b = os.path.basename(m)
    lp, lg, kp, kg, share = [], [], [], [], []
    r = 1
    while os.path.exists(f"{out}/kvlm-{b}-{r}.json"):
        for rec in json.load(open(f"{out}/llama-{b}-{r}.json")):
            if rec.get("n_prompt") == pp and rec.get("n_gen") == 0: lp.append(rec["avg_ts"])
            if rec.get("n_gen") == tg and rec.get("n_prompt") == 0: lg.append(rec["avg_ts"])
        k = json.load(open(f"{out}/kvlm-{b}-{r}.json"))
        kp += [e["tokens_per_s"] for e in k["prefill"] if e["n_prompt"] == pp]
        kg.append(k["decode_tokens_per_s"])
        share.append(k["decode_share_of_limit"])
        r += 1
    print(f"| {b} | {med(lp):.1f} | {med(kp):.1f} | {med(kp)/med(lp):.2f}x | {med(lg):.2f} | {med(kg):.2f} | {med(kg)/med(lg):.2f}x | {100*med(share):.0f}% |")
print(f"\nmedians of {r-1} rounds; kvlm activations: {k.get('activations', '?')}")
PY
