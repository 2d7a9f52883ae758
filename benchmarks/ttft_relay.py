"""Time to first token through `brevity serve --backend openai`, against a fake upstream that streams a
completion in pieces (`--pieces`, one every `--gap` seconds; the whole answer takes pieces x gap). Measures
the first chunk that carries generated text (not the role) on /v1/chat/completions, median over `--n`.
A stand-in for a `vllm serve` upstream where the CPU is too busy to start one; run it against two trees:
    PYTHONPATH=src python benchmarks/ttft_relay.py            # this tree
    PYTHONPATH=/path/to/other/src python benchmarks/ttft_relay.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from brevity.serve.background import BackgroundServer
from brevity.serve.config import ModelConfig, ServeConfig
from brevity.serve.gateway import Gateway

TEXT = ("Okay, so I need the total. 18 / 3 = 6. 6 / 3 = 2. 2 * 4 = 8. Wait, let me check. Yes, 8 is right.\n"
        "</think>\n\nThe answer is 8.")


def upstream(pieces: int, gap: float) -> ThreadingHTTPServer:
    step = max(1, len(TEXT) // pieces)
    parts = [TEXT[i:i + step] for i in range(0, len(TEXT), step)]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _json(self, obj):
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._json({"object": "list", "data": [{"id": "tiny-lrm", "object": "model"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not body.get("stream"):
                time.sleep(gap * len(parts))
                return self._json({"choices": [{"index": 0, "text": TEXT, "finish_reason": "stop"}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for k, p in enumerate(parts):
                time.sleep(gap)
                ch = {"index": 0, "text": p, "finish_reason": "stop" if k == len(parts) - 1 else None}
                self.wfile.write(f"data: {json.dumps({'choices': [ch]})}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.03)
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    srv = upstream(args.pieces, args.gap)
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    cfg = ServeConfig(models={"tiny-lrm": ModelConfig("tiny-lrm", "tiny-lrm", backend="openai", url=url,
                                                      upstream_model="tiny-lrm")})
    gw = Gateway(cfg)
    gw.start()
    first_any, first_text, total = [], [], []
    # One client for all requests: httpx.stream() alone builds a client, and its SSL context, per call (~20 ms)
    with BackgroundServer(cfg, gw) as base, httpx.Client(timeout=60) as http:
        for _ in range(args.n):
            t0 = time.perf_counter()
            a = t = None
            with http.stream("POST", f"{base}/v1/chat/completions", json={
                    "model": "tiny-lrm", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
                for line in r.iter_lines():
                    if not line.startswith("data: {"):
                        continue
                    now = time.perf_counter() - t0
                    a = a if a is not None else now
                    delta = (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {})
                    if t is None and (delta.get("content") or delta.get("reasoning_content")):
                        t = now
            first_any.append(a)
            first_text.append(t)
            total.append(time.perf_counter() - t0)
    gw.close()
    ms = lambda xs: f"{1000 * statistics.median(xs):.0f} ms"  # noqa: E731
    print(f"upstream: {args.pieces} pieces, one every {args.gap * 1000:.0f} ms; {args.n} requests")
    print(f"median first chunk {ms(first_any)}, first text {ms(first_text)}, whole response {ms(total)}")


if __name__ == "__main__":
    main()
