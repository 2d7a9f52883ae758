"""Upstream servers for the gateway and the benchmarks: vLLM is started by the engines layer
(brevity.engines.vllm, re-exported here), `brevity serve` itself by `start_gateway`."""

from __future__ import annotations

import os
import subprocess

from brevity.engines.vllm import _die_with_parent, free_port, start_vllm, stop, wait_healthy
from brevity.zoo.chat import BUDGET_PHRASE, END_THINK, THINK

__all__ = ["free_port", "native_budget_args", "start_gateway", "start_vllm", "stop", "wait_healthy"]


def native_budget_args() -> dict:
    """What `native_budget = true` starts vLLM with, as `budget:N` closes thinking: the deepseek_r1 reasoning
    parser, and the zoo's closing phrase plus `</think>` as what vLLM forces when the budget runs out."""
    return {"reasoning_parser": "deepseek_r1",
            "reasoning_config": {"reasoning_start_str": THINK, "reasoning_end_str": BUDGET_PHRASE + END_THINK}}


def start_gateway(args: list[str], timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """`brevity serve ARGS` on a free port, for benchmarks; returns the process and its base URL."""
    port = free_port()
    proc = subprocess.Popen(["brevity", "serve", "--port", str(port), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ, preexec_fn=_die_with_parent)
    return proc, wait_healthy(proc, port, timeout_s, "brevity serve")
