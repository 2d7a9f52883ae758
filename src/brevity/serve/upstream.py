"""Upstream servers for the gateway and the benchmarks: vLLM is started by the engines layer
(brevity.engines.vllm, re-exported here), `brevity serve` itself by `start_gateway`."""

from __future__ import annotations

import os
import subprocess

from brevity.engines.vllm import _die_with_parent, free_port, start_vllm, stop, wait_healthy

__all__ = ["free_port", "native_budget_args", "start_gateway", "start_vllm", "stop", "wait_healthy"]


def native_budget_args(fmt) -> dict:
    """What `native_budget = true` starts vLLM with for a model of format `fmt` (its ModelFormat), as `budget:N`
    closes thinking: the format's reasoning parser, and its forced-close phrase plus closing marker as what vLLM
    forces when the budget runs out."""
    from brevity.errors import BrevityError

    spec = fmt.spec
    if not spec.vllm_parser or not spec.thinks:
        raise BrevityError(f"format {spec.name} has no vLLM reasoning parser; serve it without native_budget")
    return {"reasoning_parser": spec.vllm_parser,
            "reasoning_config": {"reasoning_start_str": spec.open, "reasoning_end_str": spec.forced_close + spec.close}}


def start_gateway(args: list[str], timeout_s: float = 300, ready: bool = True) -> tuple[subprocess.Popen, str]:
    """`brevity serve ARGS` on a free port, for benchmarks; returns the process and its base URL once /health
    answers and, with `ready` (the default: a timed run should not time a calibration), every alias is ready."""
    port = free_port()
    proc = subprocess.Popen(["brevity", "serve", "--port", str(port), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ, preexec_fn=_die_with_parent)
    return proc, wait_healthy(proc, port, timeout_s, "brevity serve", ready=ready)
