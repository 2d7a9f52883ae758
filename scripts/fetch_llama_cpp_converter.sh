#!/usr/bin/env bash
# llama.cpp's HF-to-GGUF converter ships in its source, not in any wheel. Take it from the
# llama-cpp-python sdist on PyPI (no compile) and print the folder. Idempotent.
set -euo pipefail
DEST="${1:-${BREVITY_LLAMA_CPP:-$HOME/.cache/brevity/llama-cpp-src}}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
if [ -f "$DEST/convert_hf_to_gguf.py" ]; then echo "$DEST"; exit 0; fi
tmp=$(mktemp -d)
python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION" >&2
mkdir -p "$DEST"
tar xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp" --wildcards '*/vendor/llama.cpp/convert_hf_to_gguf.py' \
  '*/vendor/llama.cpp/conversion/*' '*/vendor/llama.cpp/gguf-py/*'
cp -r "$tmp"/llama_cpp_python-*/vendor/llama.cpp/. "$DEST"/
rm -rf "$tmp"
echo "$DEST"
