"""Batches concurrent requests for one engine: a worker thread owns the engine, takes every request
waiting (up to `batch_size`, the first one waiting at most `batch_wait_ms` for company), groups them
by method (a frozen Method is its own key) and runs each group as one `method.solve` call, so the engine decodes
them together (probes and answer rounds included). A `batch_size` of 1 serves one request at a time.

An engine whose server batches continuously (`parallel_calls` > 1: an upstream vLLM) gets each group as soon
as it is taken, on its own thread: a request that arrives while others decode starts at once, as it would on
the upstream alone, instead of waiting for the batch in flight to end. With no batching window (`batch_wait_ms`
0, the upstream default) it goes to that thread straight from `submit`: each thread hop can wait a GIL switch
interval for a busy event loop, and the first token's latency pays for every hop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from brevity.engines.base import Engine
from brevity.errors import BrevityError
from brevity.methods.base import Method, RunContext
from brevity.serve.stream import ResponseStream
from brevity.tasks import Problem

log = logging.getLogger("brevity.serve")


@dataclass
class Job:
    problem: Problem
    stream: ResponseStream  # where its response goes
    method: Method  # what to run (the scheduler's engine is the model)
    submitted: float = 0.0


class Scheduler:
    def __init__(self, engine: Engine, context_for: Callable[[Method], RunContext], batch_size: int = 32,
                 batch_wait_ms: float = 5.0, on_batch: Callable[[int], None] | None = None):
        """`context_for(method)`: the run context to solve with on this engine (the method's prepared state)."""
        self.engine, self.context_for = engine, context_for
        self.batch_size, self.wait = batch_size, batch_wait_ms / 1000
        self.on_batch = on_batch
        self.pool = ThreadPoolExecutor(engine.parallel_calls, thread_name_prefix=f"brevity-{engine.model_name}") \
            if engine.parallel_calls > 1 else None
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=f"brevity-{engine.model_name}", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> None:
        job.submitted = time.perf_counter()
        if self.pool and self.wait <= 0:  # nothing to wait for: no batch to form
            if self.on_batch:
                self.on_batch(1)
            self.pool.submit(self._run, [job])
        else:
            self.jobs.put(job)

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _take(self) -> list[Job] | None:
        first = self.jobs.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.perf_counter() + self.wait
        while len(batch) < self.batch_size:
            try:
                nxt = self.jobs.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if nxt is None:
                self.jobs.put(None)
                break
            batch.append(nxt)
        return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            live = sum(not j.stream.cancelled for j in batch)
            if self.on_batch and live:
                self.on_batch(live)
            groups: dict[Method, list[Job]] = {}
            for job in batch:
                groups.setdefault(job.method, []).append(job)
            for jobs in groups.values():
                if self.pool:
                    self.pool.submit(self._run, jobs)
                else:
                    self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        """Solve the jobs whose clients are still there (one method)."""
        live = []
        for job in jobs:
            if job.stream.cancelled:  # the client left while the request waited
                job.stream.fail(TimeoutError("cancelled before it started"))
            else:
                live.append(job)
        if live:
            self._solve(live[0].method, live)

    def _solve(self, method: Method, jobs: list[Job]) -> None:
        """Solve a group together; if that fails for a reason other than bad input, try each request alone
        so that one bad request does not fail its batch mates."""
        try:
            ctx = self.context_for(method).but(streams={j.problem.id: j.stream for j in jobs})
            sols = method.solve([j.problem for j in jobs], ctx)
        except Exception as e:  # noqa: BLE001  (reported to each waiting request)
            if len(jobs) > 1 and not isinstance(e, BrevityError):
                for j in jobs:
                    self._solve(method, [j])
                return
            log.exception("%d request(s) failed (%s)", len(jobs), method.spec())
            for j in jobs:
                j.stream.fail(e)
            return
        for j, sol in zip(jobs, sols):
            j.stream.finish(sol)
