"""Fast start and bounded memory: routes calibrate behind an open port (/health says what is ready, an alias
not ready is a 503 with Retry-After), a calibration is saved under the cache keyed by the models and settings,
and every cache and index on the serve path stays within its configured size."""

import random
import threading
import time

import httpx
import pytest
import torch

from brevity.methods import build_method
from brevity.methods.solution import Solution
from brevity.route.method import Route
from brevity.serve.background import BackgroundServer as Server
from brevity.serve.config import single_model
from brevity.serve.gateway import Gateway
from brevity.tasks import TaskSpec
from conftest import tiny_lrm_gateway


@pytest.fixture
def held_calibration(monkeypatch):
    """Route.prepare waits for `release` (or raises `fail`), then calibrates to a fixed threshold."""
    gate = {"release": threading.Event(), "fail": None}

    def prepare(self, ctx):
        assert gate["release"].wait(120)
        if gate["fail"]:
            raise gate["fail"]
        return {"threshold": 0.5, "calibrated_share": 0.25, "fast_engine": "the calibration's"}

    monkeypatch.setattr(Route, "prepare", prepare)
    return gate


def test_port_opens_before_calibration_and_alias_is_503_until_ready(held_calibration):
    cfg, gw = tiny_lrm_gateway(64)
    try:
        assert gw.alias_state == {"route:cascade": "calibrating"}
        with Server(cfg, gw) as url:
            health = httpx.get(f"{url}/health").json()
            assert health == {"status": "ok", "ready": False, "models": {"tiny-lrm": "ready"},
                              "aliases": {"route:cascade": "calibrating"}}
            body = {"model": "route:cascade", "messages": [{"role": "user", "content": "1+1"}]}
            r = httpx.post(f"{url}/v1/chat/completions", json=body)
            assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
            assert r.json()["error"]["code"] == "alias_not_ready" and r.json()["error"]["param"] == "model"
            # The model itself is served meanwhile.
            plain = httpx.post(f"{url}/v1/chat/completions", timeout=120,
                               json={**body, "model": "tiny-lrm", "max_tokens": 8})
            assert plain.status_code == 200, plain.text
            held_calibration["release"].set()
            gw.wait_ready(60)
            health = httpx.get(f"{url}/health").json()
            assert health["ready"] is True and health["aliases"] == {"route:cascade": "ready"}
            (key,) = gw.pinned
            state = gw.prepared[key]
            assert state["threshold"] == 0.5 and "fast_engine" not in state  # no calibration engine
    finally:
        held_calibration["release"].set()
        gw.close()


def test_failed_calibration_is_reported_and_refused(held_calibration):
    held_calibration["fail"] = RuntimeError("no validation split")
    held_calibration["release"].set()
    cfg, gw = tiny_lrm_gateway(64)
    try:
        with pytest.raises(Exception, match="no validation split"):
            gw.wait_ready(60)
        with Server(cfg, gw) as url:
            assert httpx.get(f"{url}/health").json()["aliases"]["route:cascade"].startswith("failed: RuntimeError")
            r = httpx.post(f"{url}/v1/chat/completions",
                           json={"model": "route:cascade", "messages": [{"role": "user", "content": "1+1"}]})
            assert r.status_code == 503 and "retry-after" not in r.headers
            assert r.json()["error"]["code"] == "alias_failed" and "no validation split" in r.json()["error"]["message"]
    finally:
        gw.close()


class _Engine:
    name, model_name = "hf", "m"

    def __init__(self, path):
        self.model_path = path


def _fake_sides(calls):
    def run_side(method, engine, problems, progress=None, logprobs=False):
        calls.append(method.spec())
        rng = random.Random(len(calls))
        return [Solution(p.id, method.spec(), "m", "hf", "1", rng.random() < 0.7, 10, 2,
                         extra={"answer_logprob": -rng.random()}) for p in problems]
    return run_side


def test_calibration_is_saved_and_keyed_by_models_and_settings(tmp_path, monkeypatch, lrm_path):
    from brevity.methods.base import RunContext
    from brevity.tasks import TaskSpec
    from brevity.zoo import resolve_model

    monkeypatch.setenv("BREVITY_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr("brevity.route.sides.run_side", _fake_sides(calls))
    strong, fast = _Engine(lrm_path), _Engine(resolve_model("tiny-llm"))

    def prepare(engine, task=TaskSpec("arith"), **settings):
        r = Route(kind="cascade", calib_n=20, **settings)
        return r, r.prepare(RunContext(engine, make_engine=lambda name: fast, task=task))

    first, state = prepare(strong)
    assert len(calls) == 2
    saved = list((tmp_path / "route").glob("calibration-*.json"))
    assert len(saved) == 1 and not any(tmp_path.glob("route/*.tmp"))
    again, again_state = prepare(strong)
    assert len(calls) == 2 and again.calibration(again_state) == first.calibration(state)  # loaded
    prepare(strong, share=0.5)  # other settings: calibrated afresh
    prepare(strong, task=TaskSpec("arith", (("max_steps", 3),)))  # another task too
    _Engine.__init__(fast, lrm_path)  # another fast model
    prepare(strong)
    assert len(calls) == 8 and len(list((tmp_path / "route").glob("calibration-*.json"))) == 4
    saved[0].write_text("{torn")
    prepare(_Engine(resolve_model("tiny-llm")))  # unreadable: calibrated again, saved again
    assert len(calls) == 10


# Bounds -----------------------------------------------------------------------------------------------
def test_prefix_cache_index_drops_evicted_entries():
    from brevity.engines.prefix_cache import BLOCK, PrefixCache

    def kv(n):
        return [(torch.zeros(1, n, 4), torch.zeros(1, n, 4))]

    per_entry = kv(4 * BLOCK)[0][0].numel() * 4 * 2
    cache = PrefixCache(max_bytes=10 * per_entry)
    rng = random.Random(0)
    for i in range(500):
        shared = (i % 7,) * BLOCK  # some entries share their first block
        tokens = shared + tuple(rng.randrange(1000) for _ in range(3 * BLOCK))
        cache.put(tokens, kv(len(tokens)))
    assert len(cache.entries) == 10 and cache.bytes <= cache.max_bytes
    assert set(cache.index.values()) <= set(cache.entries)
    assert len(cache.index) <= sum(len(e.tokens) // BLOCK for e in cache.entries.values())
    last = list(cache.entries.values())[-1].tokens
    assert cache.lookup(last + (1,))[0] == len(last)  # live entries still hit


def test_gateway_prepared_states_are_bounded():
    cfg = single_model("tiny-lrm")
    cfg.limits.max_methods = 4
    gw = Gateway(cfg)
    gw.engines["tiny-lrm"] = None  # base methods prepare nothing
    gw.prepared[("tiny-lrm", Route())] = alias = {"threshold": 0.5}
    gw.pinned.add(("tiny-lrm", Route()))
    for b in range(1, 40):
        ctx = gw.context_for("tiny-lrm", build_method(f"budget:max={b};max_tokens={100 + b}"))
        assert ctx.state is None and ctx.task == TaskSpec("arith")
    assert len(gw.prepared) == 5
    assert gw.prepared[("tiny-lrm", Route())] is alias  # pinned: kept
    assert ("tiny-lrm", build_method("budget:max=39")) in gw.prepared  # keyed without the lengths


def test_metric_labels_stay_bounded():
    from fastapi.testclient import TestClient

    from brevity.serve.app import create_app

    cfg = single_model("tiny-lrm")
    gw = Gateway(cfg)
    gw.engines["tiny-lrm"] = None  # not started: unknown models fail before any engine is used
    client = TestClient(create_app(cfg, gw))
    for i in range(50):
        r = client.post("/v1/chat/completions", json={"model": f"m{i}", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 404
        client.get(f"/v1/thing{i}")
    text = gw.metrics.render().decode()
    models = {line.split('model="')[1].split('"')[0] for line in text.splitlines()
              if line.startswith("brevity_requests_total{")}
    endpoints = {line.split('endpoint="')[1].split('"')[0] for line in text.splitlines()
                 if line.startswith("brevity_requests_total{")}
    assert models == {"other"} and endpoints <= {"/v1/chat/completions", "other"}


def test_stop_criteria_and_format_caches_are_bounded(lrm_engine):
    from brevity.engines.hf import MAX_STOP_SETS

    for i in range(MAX_STOP_SETS + 10):
        lrm_engine._stop_criteria((f"stop{i}",))
    assert len(lrm_engine._stops) == MAX_STOP_SETS and ("stop0",) not in lrm_engine._stops
    fmt = lrm_engine.format
    for i in range(5000):
        fmt.encode(f"phrase {i}")
    fmt.encode("x" * 300)
    assert len(fmt._cache) <= 4096 and "x" * 300 not in fmt._cache


def test_wait_healthy_waits_for_readiness_and_reports_a_failed_alias():
    import json
    import subprocess
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from brevity.errors import BrevityError
    from brevity.serve.upstream import wait_healthy

    answers = iter([{"status": "ok", "ready": False, "aliases": {"r": "calibrating"}}] * 2
                   + [{"status": "ok", "ready": True, "aliases": {"r": "ready"}}])
    seen = []

    class Health(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = json.dumps(next(answers, {"status": "ok", "ready": False, "aliases": {"r": "failed: boom"}}))
            seen.append(body)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        port = server.server_address[1]
        assert wait_healthy(proc, port, 30, "brevity serve", ready=True) == f"http://127.0.0.1:{port}"
        assert len(seen) == 3  # two answers said calibrating
        with pytest.raises(BrevityError, match="alias r failed: boom"):
            wait_healthy(proc, port, 30, "brevity serve", ready=True)
        assert wait_healthy(proc, port, 30, "brevity serve") == f"http://127.0.0.1:{port}"  # up is enough
    finally:
        proc.kill()
        server.shutdown()


def test_malloc_trimmer_trims_on_schedule_and_a_negative_period_is_refused(tmp_path):
    from brevity.errors import BrevityError
    from brevity.serve.config import load_config
    from brevity.serve.memory import MallocTrimmer

    trimmer = MallocTrimmer(0.05).start()
    try:
        if trimmer.libc is None:
            pytest.skip("the C library here is not glibc: the trimmer is a no-op")
        time.sleep(0.5)
        assert trimmer.trims >= 3
    finally:
        trimmer.close()
    assert MallocTrimmer(0).libc is None  # 0: the allocator is left alone
    bad = tmp_path / "c.toml"
    bad.write_text('[models.m]\npath = "tiny-lrm"\n[limits]\nmalloc_trim_s = -1\n')
    with pytest.raises(BrevityError, match="malloc_trim_s"):
        load_config(bad)


def test_prefix_cache_fill_is_a_metric():
    from brevity.engines.prefix_cache import BLOCK, PrefixCache
    from brevity.serve.metrics import Metrics

    metrics, cache = Metrics(), PrefixCache(max_bytes=1 << 20)
    metrics.watch_cache("tiny-lrm", cache)
    cache.put(tuple(range(BLOCK)), [(torch.zeros(1, 2, BLOCK, 4), torch.zeros(1, 2, BLOCK, 4))])
    text = metrics.render().decode()
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("brevity_prefix"))
    assert float(lines['brevity_prefix_cache_bytes{engine="tiny-lrm"}']) == cache.bytes > 0
    assert float(lines['brevity_prefix_cache_limit_bytes{engine="tiny-lrm"}']) == 1 << 20


def test_malloc_trimmer_caps_arenas_and_fixes_the_mmap_threshold(monkeypatch):
    """Both glibc settings behind the quiet soak's +1.1% (docs/findings/serving.md) reach mallopt; 0 sets neither."""
    from brevity.serve import memory

    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

        def malloc_trim(self, pad):
            return 0

    monkeypatch.setattr(memory, "_glibc", lambda: FakeLibc())
    memory.MallocTrimmer(60)
    assert calls == [(memory.M_ARENA_MAX, 2), (memory.M_MMAP_THRESHOLD, 1 << 20)]
    calls.clear()
    memory.MallocTrimmer(0)
    assert calls == []
