"""A managed llama.cpp server: the model folder's GGUF (brevity.zoo.gguf.cached_gguf converts it with llama.cpp's
own converter), served by llama-cpp-python's server from its own venv
(scripts/setup_llama_cpp_server.sh compiles it; opt-in, not in the default test setup), and talked to through the
`openai` engine. `brevity bench --engine llama-cpp` starts one per model, as `--engine vllm` does.

llama-cpp-python's completions API takes text prompts only, so the engine sends each prompt's exact text (its
special tokens written out, which llama.cpp parses back to the same ids); it returns no token ids, so output is
re-tokenized locally. It runs one request at a time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from brevity.engines.vllm import ManagedServerEngine, _die_with_parent, free_port, wait_healthy
from brevity.errors import BrevityError
from brevity.settings import settings

DEFAULT_VENV = settings().llama_cpp_server


def check_venv(venv: str | Path) -> None:
    if not (Path(venv) / "bin" / "python").exists():
        raise BrevityError(f"no llama-cpp-python server venv at {venv} (scripts/setup_llama_cpp_server.sh "
                           "builds it there, or set BREVITY_LLAMA_CPP_SERVER)")


def start_llama_cpp(gguf: Path, served_name: str, venv: str | Path, log_path: str | Path, n_ctx: int = 2048,
                    timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """Start `python -m llama_cpp.server` on a free port; returns the process and its /v1 URL once it lists
    its model."""
    check_venv(venv)
    port = free_port()
    cmd = [str(Path(venv) / "bin" / "python"), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
           served_name, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--seed", "0",
           "--n_threads", str(os.cpu_count() or 1)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    url = wait_healthy(proc, port, timeout_s, "llama_cpp.server", log_path, path="/v1/models")
    return proc, f"{url}/v1"


class LlamaCppEngine(ManagedServerEngine):
    """The `openai` engine in front of a llama.cpp server it started itself."""

    name = "llama-cpp"

    def __init__(self, model_path: str | Path, gguf: str | Path, venv: str | Path = DEFAULT_VENV, n_ctx: int = 2048,
                 log_path: str | Path | None = None, **kw):
        """`model_path`: the HF folder (its tokenizer and format); `gguf`: the same weights as GGUF."""
        check_venv(venv)
        self._serve(model_path, log_path, lambda folder, log: start_llama_cpp(
            Path(gguf), folder.name, venv, log, n_ctx=n_ctx), **kw)
        self.text_prompts = True
