import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BREVITY_SHARED", ROOT.parent / "shared"))
GSM8K = SHARED / "data" / "gsm8k"


@pytest.fixture(scope="session")
def gsm8k_dir() -> Path:
    if not (GSM8K / "test.jsonl").is_file():
        pytest.skip(f"GSM8K copy not found at {GSM8K}")
    return GSM8K


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
