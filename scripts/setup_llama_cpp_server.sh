#!/usr/bin/env bash
# Install llama-cpp-python[server] (it compiles llama.cpp from the cached sdist: about 8 minutes here) into
# its own venv, for the GGUF serving test and benchmark. Opt-in: not part of scripts/test_setup.sh.
# Idempotent: reuses a working venv.
# Usage: scripts/setup_llama_cpp_server.sh [VENV]   (default: ~/.cache/brevity/llama-cpp-server)
set -euo pipefail
here="$(dirname "$0")"
VENV="${1:-${BREVITY_LLAMA_CPP_SERVER:-$HOME/.cache/brevity/llama-cpp-server}}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp.server" >/dev/null 2>&1; then
  echo "$VENV"; exit 0
fi
tarball="$(bash "$here/llama_cpp_sdist.sh")"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
# CPU only, no OpenMP oddities: llama.cpp's default CPU backend.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}" "$VENV/bin/pip" install -q "${tarball}[server]" >&2
"$VENV/bin/python" -c "import llama_cpp.server" >&2
echo "$VENV"
