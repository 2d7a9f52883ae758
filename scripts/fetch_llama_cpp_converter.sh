#!/usr/bin/env bash
# llama.cpp's HF-to-GGUF converter ships in its source, not in any wheel. Take it from the
# llama-cpp-python sdist on PyPI (no compile) and print the folder. Idempotent.
set -euo pipefail
DEST="${1:-${BREVITY_LLAMA_CPP:-$HOME/.cache/brevity/llama-cpp-src}}"
if [ -f "$DEST/convert_hf_to_gguf.py" ]; then echo "$DEST"; exit 0; fi
tarball=$(bash "$(dirname "$0")/llama_cpp_sdist.sh")
tmp=$(mktemp -d)
mkdir -p "$DEST"
tar xzf "$tarball" -C "$tmp" --wildcards '*/vendor/llama.cpp/convert_hf_to_gguf.py' \
  '*/vendor/llama.cpp/conversion/*' '*/vendor/llama.cpp/gguf-py/*'
cp -r "$tmp"/llama_cpp_python-*/vendor/llama.cpp/. "$DEST"/
rm -rf "$tmp"
echo "$DEST"
