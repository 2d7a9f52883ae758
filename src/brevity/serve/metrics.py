"""Prometheus metrics at /metrics: requests, thinking tokens, tokens saved, latency, batch sizes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from brevity.methods.solution import Solution


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("brevity_requests", "Requests answered, by model, endpoint and status code",
                                ["model", "endpoint", "status"], registry=r)
        self.thinking = Counter("brevity_thinking_tokens", "Thinking (reasoning) tokens generated", ["model"],
                                registry=r)
        self.completion = Counter("brevity_completion_tokens", "Generated tokens, thinking included", ["model"],
                                  registry=r)
        self.saved = Counter("brevity_thinking_tokens_saved",
                             "Thinking tokens below the model's mean under plain cot (its manifest or config "
                             "reference_thinking), summed over requests", ["model"], registry=r)
        self.latency = Histogram("brevity_request_seconds", "Time from request to last byte", ["model", "endpoint"],
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128), registry=r)
        self.batch = Histogram("brevity_batch_size", "Requests decoded together in one batch", ["model"],
                               buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.inflight = Gauge("brevity_requests_in_flight", "Requests being served", registry=r)
        self.cache_bytes = Gauge("brevity_prefix_cache_bytes", "KV bytes held by an in-process engine's prefix "
                                 "cache (a served model, or side:NAME for a route's other model)", ["engine"],
                                 registry=r)
        self.cache_limit = Gauge("brevity_prefix_cache_limit_bytes", "The most KV bytes that prefix cache holds "
                                 "(prefix_cache_mb)", ["engine"], registry=r)

    def watch_cache(self, engine: str, cache) -> None:
        """Report a prefix cache's fill at every scrape (a soak's warm-up ends when the caches are full)."""
        self.cache_bytes.labels(engine).set_function(lambda: cache.bytes)
        self.cache_limit.labels(engine).set(cache.max_bytes)

    def solved(self, model: str, sol: Solution, reference_thinking: float) -> None:
        self.thinking.labels(model).inc(sol.thinking_tokens)
        self.completion.labels(model).inc(sol.generated_positions)
        if reference_thinking > 0:
            self.saved.labels(model).inc(max(0.0, reference_thinking - sol.thinking_tokens))

    def render(self) -> bytes:
        return generate_latest(self.registry)
