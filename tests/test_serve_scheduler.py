"""The gateway's scheduler: an in-process engine decodes one batch at a time, so a request that arrives
mid-batch waits for it; an engine whose upstream batches continuously (`parallel_calls` > 1) starts it at
once, so that the gateway in front of vLLM keeps vLLM's time to first token."""

from __future__ import annotations

import threading
import time

import pytest

from brevity.methods.base import RunContext
from brevity.serve.scheduler import Job, Scheduler
from brevity.tasks import Problem


class Sink:
    def __init__(self):
        self.cancelled, self.done, self.result = False, threading.Event(), None

    def finish(self, sol) -> None:
        self.result = sol
        self.done.set()

    def fail(self, err) -> None:
        self.result = err
        self.done.set()


class Engine:
    model_name = "fake"

    def __init__(self, parallel_calls: int):
        self.parallel_calls = parallel_calls


class Method:
    """Holds any batch with the problem "slow" until the gate opens."""

    def __init__(self, gate: threading.Event):
        self.gate = gate

    def spec(self) -> str:
        return "gated"

    def solve(self, problems, ctx):
        assert set(ctx.streams) == {p.id for p in problems}  # each problem's stream, by its id
        if any(p.id == "slow" for p in problems):
            assert self.gate.wait(10)
        return [f"solved {p.id}" for p in problems]


def job(pid: str, method) -> Job:
    return Job(Problem(pid, "q", ""), Sink(), method)


@pytest.mark.parametrize("parallel_calls", [1, 8])
def test_a_request_waits_for_the_batch_in_flight_only_on_a_one_batch_engine(parallel_calls):
    gate = threading.Event()
    method = Method(gate)
    engine = Engine(parallel_calls)
    sched = Scheduler(engine, lambda m: RunContext(engine), batch_size=8, batch_wait_ms=0)
    try:
        slow, fast = job("slow", method), job("fast", method)
        sched.submit(slow)
        time.sleep(0.3)  # the slow request's batch is decoding
        sched.submit(fast)
        fast_done_first = fast.stream.done.wait(3)
        gate.set()
        assert slow.stream.done.wait(10) and fast.stream.done.wait(10)
        assert (slow.stream.result, fast.stream.result) == ("solved slow", "solved fast")
        assert fast_done_first == (parallel_calls > 1)
    finally:
        gate.set()
        sched.close()
