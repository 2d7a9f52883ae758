"""The gateway on a free local port in a background thread, for tests, notebooks and scripts that embed it
(`brevity serve` is the way to run it as a service)."""

from __future__ import annotations

import threading
import time

import uvicorn

from brevity.serve.app import create_app
from brevity.serve.config import ServeConfig
from brevity.serve.gateway import Gateway


class BackgroundServer:
    def __init__(self, cfg: ServeConfig, gw: Gateway, port: int = 0):
        self.server = uvicorn.Server(uvicorn.Config(create_app(cfg, gw), host="127.0.0.1", port=port,
                                                    log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        """Start; returns the base URL (without /v1)."""
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the gateway failed to start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
