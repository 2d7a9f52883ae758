#!/usr/bin/env bash
# Download the llama-cpp-python source package from PyPI once and print its path. The sdist carries
# llama.cpp's converter, gguf-py, vocabulary files and chat templates; the fetch scripts read it.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
DIR="${BREVITY_SDIST_DIR:-$HOME/.cache/brevity/sdist}"
tarball="$DIR/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$tarball" ]; then
  mkdir -p "$DIR"
  tmp=$(mktemp -d "$DIR/.dl.XXXXXX")
  python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION" >&2
  mv "$tmp"/llama_cpp_python-"$VERSION".tar.gz "$tarball"
  rm -rf "$tmp"
fi
echo "$tarball"
