#!/usr/bin/env bash
# Installs the dependencies, builds kvlm, and runs its main job.
#   scripts/run.sh                      the real stories260K model from ../shared: a story from a prompt
#   MODEL=/path/to/Llama-3.2-1B-Instruct scripts/run.sh
#                                       compiles the Hugging Face folder (or GGUF) once into a Q8_0 package,
#                                       then translates a sentence to French with it
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKVLM_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ -n "${MODEL:-}" ]; then
  pkg=build/model-q8_0.gguf
  [ -f "$pkg" ] || build/kvlm convert "$MODEL" -o "$pkg" --type q8_0
  build/kvlm translate -m "$pkg" --to French "The cat is on the table."
else
  shared=${KVLM_SHARED_DIR:-../shared}
  build/kvlm run -m "$shared/models/stories260K/stories260K.bin" --tokenizer "$shared/models/stories260K/tok512.bin" \
    -p "Once upon a time, there was a little dog" -n 200
fi
