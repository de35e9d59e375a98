#!/usr/bin/env bash
# fixtures: synth_small
# kvlm verify on the synthetic model: every FP32-activation fast path agrees
# with the scalar reference on every position; a Q4_0 package adds the
# int8-activation rows (scalar included) held to their bound, a BF16 model
# the BF16-activation rows; an F16 model has none; usage and open errors;
# KVLM_ACT refused by name when wrong.
set -u
. "$(dirname "$0")/lib.sh"
need_synth
scratch verify

"$BIN" convert "$SYNTH" -o "$W/q4.gguf" --type q4_0 >/dev/null 2>"$W/err" || fail "convert to q4_0"

# 1. A Q4_0 package: FP32 rows at 100%, q8 rows for every set this CPU runs.
"$BIN" verify -m "$W/q4.gguf" -n 4 -t 2 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 0 ]; then ok; else fail "verify on q4_0 must pass (rc $rc)"; fi
f32_rows=$(grep -c '^| [a-z0-9]* *| f32 ' "$W/out")
f32_full=$(grep -c '^| [a-z0-9]* *| f32 .*100.00%' "$W/out")
if [ "$f32_rows" = "$f32_full" ]; then ok; else fail "every f32 row must agree on every position"; fi
if grep -q '^| scalar  | q8 ' "$W/out"; then ok; else fail "the scalar int8-activation row is missing"; fi
if [ "$f32_rows" -ge 1 ] || grep -q 'only the scalar path' "$W/out"; then ok; else fail "no fast path and no note"; fi
q8_rows=$(grep -c '^| [a-z0-9]* *| q8 ' "$W/out")
if [ "$q8_rows" = $((f32_rows + 1)) ]; then ok; else fail "one q8 row per set ($q8_rows for $f32_rows fast sets)"; fi
# the q8 rows' relative difference (last column) is within the 5% bound and not zero
if awk -F'|' '/^\| [a-z0-9]* *\| q8 / { v = $6 + 0; if (v <= 0 || v > 0.05) bad = 1 } END { exit bad }' "$W/out"; then ok
else fail "q8 rows outside (0, 5%]"; fi
if grep -q 'int8-activation paths stay within their bound' "$W/out"; then ok; else fail "the verdict line"; fi

# 2. A BF16 model (the synthetic folder): bf16 rows for every set, within the bound, no q8 rows.
"$BIN" verify -m "$SYNTH" -n 2 -t 2 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 0 ] && ! grep -q '| q8 ' "$W/out" && grep -q 'BF16-activation paths stay within their bound' "$W/out"; then ok
else fail "verify on the bf16 folder (rc $rc)"; fi
bf16_rows=$(grep -c '^| [a-z0-9]* *| bf16 ' "$W/out")
f32_rows=$(grep -c '^| [a-z0-9]* *| f32 ' "$W/out")
if [ "$bf16_rows" = $((f32_rows + 1)) ]; then ok; else fail "one bf16 row per set ($bf16_rows for $f32_rows fast sets)"; fi
if awk -F'|' '/^\| [a-z0-9]* *\| bf16 / { v = $6 + 0; if (v <= 0 || v > 0.05) bad = 1 } END { exit bad }' "$W/out"; then ok
else fail "bf16 rows outside (0, 5%]"; fi

# 3. An F16 package: FP32 rows only.
"$BIN" convert "$SYNTH" -o "$W/f16.gguf" --type f16 >/dev/null 2>"$W/err" || fail "convert to f16"
"$BIN" verify -m "$W/f16.gguf" -n 2 -t 2 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 0 ] && ! grep -q '| q8 \|| bf16 ' "$W/out" && grep -q 'every fast path agrees' "$W/out"; then ok
else fail "verify on an f16 package (rc $rc)"; fi

# 4. Errors.
"$BIN" verify >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 2 ] && grep -q 'usage: kvlm verify' "$W/err"; then ok; else fail "no model: usage, rc 2 (rc $rc)"; fi
"$BIN" verify -m "$W/none.gguf" >"$W/out" 2>"$W/err"
rc=$?
if [ $rc = 1 ] && grep -q 'none.gguf' "$W/err"; then ok; else fail "a missing file is named (rc $rc)"; fi
KVLM_ACT=int4 "$BIN" run -m "$W/q4.gguf" -p "x" -n 1 >"$W/out" 2>"$W/err"
rc=$?
if [ $rc != 0 ] && grep -q 'KVLM_ACT=int4' "$W/err"; then ok; else fail "a bad KVLM_ACT is refused by name (rc $rc)"; fi

finish
