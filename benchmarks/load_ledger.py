"""Ledger write throughput per store, as ratios against an anchor measured in the same run.

    python benchmarks/load_ledger.py [--n 5000] [--json]

Anchor: pricing one answer (``SmartRouter.record`` with the ledger off), the work every
request already does. Measured: ``record`` with the in-memory ledger, a SQLite WAL file,
Redis (a redis-server started here on a free loopback port, when installed), Redis while
unreachable (spend kept locally), and two processes writing the same Redis ledger.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from smart_router import SmartRouter
from smart_router._ledger import LedgerEntry

MESSAGES = [{"role": "user", "content": "compare two sorting algorithms"}]
USAGE = {"prompt_tokens": 420, "completion_tokens": 180}
ROUNDS = 7


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str | None]:
    exe = shutil.which("redis-server")
    if exe is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def per_request_us(router: SmartRouter, n: int) -> float:
    decisions = [router.route(MESSAGES) for _ in range(n)]
    start = time.perf_counter()
    for d in decisions:
        router.record(d, d.model, USAGE)
    return (time.perf_counter() - start) / n * 1e6


def _writer(url: str, start: int, n: int) -> None:
    from smart_router._ledger_redis import RedisLedger

    led = RedisLedger(url, prefix="bench2")
    for i in range(start, start + n):
        led.add(LedgerEntry(id=str(i), ts=time.time(), tier="simple", model="m",
                            routed_model="m", prompt_tokens=1, completion_tokens=1,
                            cost_nano=i, baseline_nano=i, fallback_used=False))
    led.close()


def two_processes(url: str, n: int) -> dict[str, Any]:
    from smart_router._ledger_redis import RedisLedger

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, k * n, n)) for k in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    totals = RedisLedger(url, prefix="bench2").totals()
    return {"records": 2 * n, "seconds_incl_process_start": elapsed,
            "exact": totals.count == 2 * n and totals.cost_nano == sum(range(2 * n))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.n
    rows: dict[str, float] = {}
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, redis_server() as url:
        cases: dict[str, Callable[[], SmartRouter]] = {
            "anchor: record, no ledger": lambda: SmartRouter(ledger=False),
            "in-memory ledger": lambda: SmartRouter(),
            "SQLite WAL file": lambda: SmartRouter({"ledger": {"path": f"{tmp}/l.sqlite"}}),
        }
        if url:
            cases["Redis"] = lambda: SmartRouter({"ledger": {"redis_url": url}})
        dead = f"redis://127.0.0.1:{free_port()}/0"
        cases["Redis unreachable (kept locally)"] = lambda: SmartRouter(
            {"ledger": {"redis_url": dead}})
        per_request_us(SmartRouter(ledger=False), 50)  # warm up LiteLLM's cost functions
        routers = {name: make() for name, make in cases.items()}
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):  # interleaved rounds, median: a shared machine is noisy
            for name, router in routers.items():
                samples[name].append(per_request_us(router, max(1, n // ROUNDS)))
        rows = {name: statistics.median(v) for name, v in samples.items()}
        if url:
            extra["two_processes_redis"] = two_processes(url, n)
    anchor = rows["anchor: record, no ledger"]
    result = {"n": n, "us_per_request": rows,
              "ratio_to_anchor": {k: v / anchor for k, v in rows.items()}, **extra}
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"record() cost per request, n={n} (ratio to pricing alone)")
    for name, us in rows.items():
        print(f"  {name:36s} {us:8.1f} us   x{us / anchor:.2f}")
    if "two_processes_redis" in extra:
        print(f"  two processes -> one Redis ledger: {extra['two_processes_redis']}")


if __name__ == "__main__":
    main()
