"""How long `brevity serve --model tiny-lrm` takes to open its port (GET /health answers) and to be ready
(every alias calibrated), with an empty route-calibration cache (a fresh BREVITY_CACHE) and then with the
calibration saved by the first run. Prints each run, the medians, the server's CPU seconds when /health
first answered (the best guide to an idle machine when this one is busy) and the load average.

    python benchmarks/serve_start.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time

import httpx


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(port: int, cache: str, timeout_s: float = 900) -> tuple[float, float, float]:
    """(seconds to /health, server CPU seconds then, seconds to ready)."""
    env = {**os.environ, "BREVITY_CACHE": cache}
    t0 = time.perf_counter()
    proc = subprocess.Popen(["brevity", "serve", "--model", "tiny-lrm", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opened = cpu = None
    try:
        while time.perf_counter() - t0 < timeout_s:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                if opened is None:
                    opened, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid)
                if body.get("ready", True):
                    return opened, cpu, time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("the server was not ready in time")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=18700)
    args = ap.parse_args()
    for label, shared in (("empty cache", False), ("saved calibration", True)):
        cache = tempfile.mkdtemp()
        if shared:
            one_start(args.port, cache)  # writes the calibration the timed runs load
        rows = [one_start(args.port + 1 + i, cache if shared else tempfile.mkdtemp()) for i in range(args.runs)]
        opened, cpu, ready = (statistics.median(c) for c in zip(*rows))
        print(f"{label}: to /health {[round(r[0], 1) for r in rows]} s (median {opened:.1f}), server CPU then "
              f"median {cpu:.1f} s, to ready {[round(r[2], 1) for r in rows]} s (median {ready:.1f}); "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
