"""A managed llama.cpp server: the model folder converted to GGUF with llama.cpp's own converter (cached under
~/.cache/brevity/gguf, keyed on the weights), served by llama-cpp-python's server from its own venv
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

DEFAULT_VENV = Path(os.environ.get("BREVITY_LLAMA_CPP_SERVER", Path.home() / ".cache/brevity/llama-cpp-server"))
GGUF_CACHE = Path.home() / ".cache/brevity/gguf"


def cached_gguf(model_path: Path) -> Path:
    """The folder's GGUF (f32), converted once per distinct weights and tokenizer."""
    from brevity.bench.runner import model_hash
    from brevity.zoo.gguf import default_converter, export_gguf

    out = GGUF_CACHE / f"{model_path.name}-{model_hash(model_path)}.gguf"
    if not out.is_file():
        GGUF_CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.part")
        export_gguf(model_path, tmp, default_converter())
        tmp.rename(out)
    return out


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

    def __init__(self, model_path: str | Path, venv: str | Path = DEFAULT_VENV, n_ctx: int = 2048,
                 log_path: str | Path | None = None, **kw):
        check_venv(venv)
        self._serve(model_path, log_path, lambda folder, log: start_llama_cpp(
            cached_gguf(folder), folder.name, venv, log, n_ctx=n_ctx), **kw)
        self.text_prompts = True
