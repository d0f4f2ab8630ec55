"""Overhead of ``ChatSmartRouter.invoke`` over a direct ``litellm.completion``.

    python benchmarks/bench_langchain_overhead.py [--n 400] [--slow-n 60] [--latency-ms 100]

Anchor: ``litellm.completion`` to the local MockOpenAIServer, measured in the same run and
interleaved with the other paths (their order rotates every iteration), so machine noise
hits all of them alike. Paths, all answered by the same server and model:

- ``litellm.completion``: the anchor;
- ``litellm.Router.completion``: the Router ``ChatSmartRouter`` calls through (retries,
  cooldowns, fallbacks), without LangChain or routing;
- ``ChatSmartRouter.invoke``: LangChain + classification + the Router + the cost record
  (priced, and written to the default in-memory cost ledger); once more with the ledger off.

Twice: against the instant local server (pure overhead, the worst case for a ratio) and
against the same server answering after ``--latency-ms`` (a fast real model call). The
server runs in its own process, as a provider would: in-process, its thread would compete
with the client for the GIL and inflate whatever the client does after the response. The
parts of the overhead are timed alone too: ``SmartRouter.route``, ``SmartRouter.record``
and LangChain's own ``invoke`` floor (a chat model that returns a constant).

Prints a table and writes benchmarks/results/langchain_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from smart_router import SmartRouter
from smart_router.langchain import ChatSmartRouter
from smart_router.testing import MockOpenAIServer, Slow

PROMPT = "What's the capital of France?"  # routes to the simple tier: deepseek-chat
MODEL = "deepseek/deepseek-chat"
RESULTS = Path(__file__).parent / "results" / "langchain_overhead.json"


def config(base_url: str) -> dict[str, Any]:
    tiers = {
        "simple": {"model": MODEL, "fallbacks": ["dashscope/qwen-plus"]},
        "moderate": {"model": "dashscope/qwen-plus", "fallbacks": [MODEL]},
        "complex": {"model": "gpt-4o", "fallbacks": ["anthropic/claude-opus-4-5"]},
    }
    names = {m for t in tiers.values() for m in [t["model"], *t["fallbacks"]]}
    return {
        "tiers": tiers,
        "models": {n: {"model": f"openai/{n.split('/')[-1]}", "api_base": base_url,
                       "api_key": "sk-bench"} for n in names},
        "classifier": {"type": "heuristic"},
    }


class ConstantChat(BaseChatModel):
    """LangChain's own invoke cost: callbacks, run ids, message objects, no I/O."""

    @property
    def _llm_type(self) -> str:
        return "constant"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("Paris."))])


def _serve(latency_s: float, ports: Any, stop: Any) -> None:
    """The server process: answers every request after ``latency_s``."""
    with MockOpenAIServer() as server:
        if latency_s:
            server.set_default("*", Slow(latency_s))
        ports.put(server.port)
        stop.wait()


class ServerProcess:
    """A MockOpenAIServer in its own process, like a real provider: its CPU work never
    competes with the measured client for this process's GIL."""

    def __init__(self, latency_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._ports, self._stop = ctx.Queue(), ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(latency_s, self._ports, self._stop),
                                 daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        return f"http://127.0.0.1:{self._ports.get(timeout=120)}/v1"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(timeout=30)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(paths: dict[str, Callable[[], Any]], n: int, warmup: int) -> dict[str, list[float]]:
    names = list(paths)
    for _ in range(warmup):
        for name in names:
            paths[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        k = i % len(names)
        for name in names[k:] + names[:k]:  # rotate the order: no path always runs first
            samples[name].append(timed(paths[name]))
    return samples


def micro(fn: Callable[[], Any], n: int) -> float:
    """Median microseconds of ``fn``."""
    for _ in range(50):
        fn()
    return statistics.median(timed(fn) for _ in range(n)) * 1e6


def summarize(samples: dict[str, list[float]], anchor: str) -> list[dict[str, Any]]:
    base = samples[anchor]
    base_median = statistics.median(base)
    rows = []
    for name, times in samples.items():
        median = statistics.median(times)
        rows.append({
            "path": name,
            "median_ms": round(median * 1e3, 3),
            "ratio_of_medians": round(median / base_median, 3),
            "median_paired_ratio": round(statistics.median(
                t / b for t, b in zip(times, base, strict=True)), 3),
            "overhead_ms": round((median - base_median) * 1e3, 3),
        })
    return rows


def paths_for(base_url: str) -> tuple[dict[str, Callable[[], Any]], ChatSmartRouter]:
    messages = [{"role": "user", "content": PROMPT}]
    llm = ChatSmartRouter(config=config(base_url), max_retries=0)
    unledgered = ChatSmartRouter(config=SmartRouter(config(base_url), ledger=False),
                                 max_retries=0)
    router = llm.litellm_router
    check = llm.invoke(PROMPT)
    assert check.response_metadata["model_name"] == MODEL, "benchmark prompt misrouted"
    return {
        "litellm.completion": lambda: litellm.completion(
            model="openai/deepseek-chat", api_base=base_url, api_key="sk-bench",
            messages=messages),
        "litellm.Router.completion": lambda: router.completion(model=MODEL, messages=messages),
        "ChatSmartRouter.invoke": lambda: llm.invoke(PROMPT),
        "  same, cost ledger off": lambda: unledgered.invoke(PROMPT),
    }, llm


def run(n: int, slow_n: int, latency_ms: float) -> dict[str, Any]:
    scenarios = {}
    for label, latency, iterations, warmup in (
        ("instant local server", 0.0, n, 30),
        (f"server answering in {latency_ms:g} ms", latency_ms / 1000, slow_n, 3),
    ):
        with ServerProcess(latency) as base_url:
            paths, llm = paths_for(base_url)
            scenarios[label] = summarize(interleaved(paths, iterations, warmup),
                                         "litellm.completion")
    messages = [{"role": "user", "content": PROMPT}]
    decision = llm.router.route(messages)
    usage = {"prompt_tokens": 16, "completion_tokens": 9}
    floor = ConstantChat()
    parts = {
        "SmartRouter.route_us": round(micro(lambda: llm.router.route(messages), 2000), 1),
        "SmartRouter.record_us": round(
            micro(lambda: llm.router.record(decision, MODEL, usage), 2000), 1),
        "langchain_invoke_floor_us": round(micro(lambda: floor.invoke(PROMPT), 2000), 1),
    }
    return {
        "anchor": "litellm.completion to the same local server, same model, same run",
        "server": "MockOpenAIServer in its own process (no GIL contention with the client)",
        "iterations": {"instant": n, "slow": slow_n},
        "scenarios": scenarios,
        "parts": parts,
        "environment": {
            "python": platform.python_version(),
            "litellm": _version("litellm"),
            "langchain_core": _version("langchain-core"),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "machine": platform.machine(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def print_table(result: dict[str, Any]) -> None:
    print(f"{'scenario':<30}{'path':<28}{'median ms':>10}{'ratio':>8}{'paired':>8}"
          f"{'+ms':>8}")
    for scenario, rows in result["scenarios"].items():
        for i, row in enumerate(rows):
            print(f"{scenario if i == 0 else '':<30}{row['path']:<28}{row['median_ms']:>10.2f}"
                  f"{row['ratio_of_medians']:>8.3f}{row['median_paired_ratio']:>8.3f}"
                  f"{row['overhead_ms']:>+8.2f}")
    parts = result["parts"]
    print(f"parts (median): route {parts['SmartRouter.route_us']:.0f} us, record (pricing + "
          f"ledger) {parts['SmartRouter.record_us']:.0f} us, LangChain invoke floor "
          f"{parts['langchain_invoke_floor_us']:.0f} us")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="iterations, instant server")
    parser.add_argument("--slow-n", type=int, default=60, help="iterations, slow server")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.n, args.slow_n, args.latency_ms)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_table(result)
        print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
