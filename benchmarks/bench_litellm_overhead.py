"""Overhead of ``smart_router.litellm.attach`` routing over plain ``Router.acompletion``.

    python benchmarks/bench_litellm_overhead.py [--n 400] [--concurrent 1000] [--no-proxy]

Anchor: ``router.acompletion(model=<the tier group>)`` on a plain ``litellm.Router``,
measured in the same run, interleaved with the other paths (order rotated every
iteration) so machine noise hits all alike. Paths, all answered by the same group:

- ``Router.acompletion(group)``: the anchor;
- ``attached, model=group``: the same call on an attached Router (pass-through check);
- ``attached, model=smart-router``: classification + the Router + the cost record (in the
  default in-memory cost ledger); once more with the ledger off.

Twice: with LiteLLM's ``mock_response`` (no I/O at all: the worst case for a ratio) and
against the local MockOpenAIServer. Then throughput: ``--concurrent`` requests at once
(``asyncio.gather``), plain vs attached, requests per second and their ratio. Last, unless
``--no-proxy``: a real ``litellm --config`` proxy (the shipped example, pointed at the
local server): its startup time (local price map, telemetry off, no database) and
sequential requests for a model group vs ``smart-router`` through the proxy hook.

Prints a table and writes benchmarks/results/litellm_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from smart_router import SmartRouter
from smart_router.litellm import attach
from smart_router.testing import MockOpenAIServer

PROMPT = "What's the capital of France?"  # routes to the simple tier: deepseek-chat
MODEL = "deepseek/deepseek-chat"
MESSAGES = [{"role": "user", "content": PROMPT}]
RESULTS = Path(__file__).parent / "results" / "litellm_overhead.json"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "litellm_proxy"


def config(base_url: str | None) -> dict[str, Any]:
    tiers = {
        "simple": {"model": MODEL, "fallbacks": ["dashscope/qwen-plus"]},
        "moderate": {"model": "dashscope/qwen-plus", "fallbacks": [MODEL]},
        "complex": {"model": "gpt-4o", "fallbacks": ["anthropic/claude-opus-4-5"]},
    }
    names = {m for t in tiers.values() for m in [t["model"], *t["fallbacks"]]}
    where = {"api_base": base_url} if base_url else {"mock_response": "Paris."}
    return {"tiers": tiers, "models": {
        n: {"model": f"openai/{n.split('/')[-1]}", "api_key": "sk-bench", **where}
        for n in names}}


def routers(base_url: str | None) -> dict[str, Any]:
    sr = SmartRouter(config(base_url))
    unledgered = SmartRouter(config(base_url), ledger=False)
    model_list = sr.config.litellm_model_list()
    plain = litellm.Router(model_list=model_list)
    attached = litellm.Router(model_list=model_list)
    attach(attached, sr)
    no_ledger = litellm.Router(model_list=model_list)
    attach(no_ledger, unledgered)
    return {"plain": plain, "attached": attached, "no_ledger": no_ledger}


def paths(r: dict[str, Any]) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "Router.acompletion(group)": lambda: r["plain"].acompletion(model=MODEL, messages=MESSAGES),
        "attached, model=group": lambda: r["attached"].acompletion(model=MODEL, messages=MESSAGES),
        "attached, model=smart-router": lambda: r["attached"].acompletion(
            model="smart-router", messages=MESSAGES),
        "  same, cost ledger off": lambda: r["no_ledger"].acompletion(
            model="smart-router", messages=MESSAGES),
    }


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[Any]]], n: int, warmup: int
) -> dict[str, list[float]]:
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            await calls[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        k = i % len(names)
        for name in names[k:] + names[:k]:  # rotate: no path always runs first
            start = time.perf_counter()
            await calls[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def summarize(samples: dict[str, list[float]], anchor: str) -> list[dict[str, Any]]:
    base = samples[anchor]
    base_median = statistics.median(base)
    return [{
        "path": name,
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "ratio_of_medians": round(statistics.median(times) / base_median, 3),
        "median_paired_ratio": round(statistics.median(
            t / b for t, b in zip(times, base, strict=True)), 3),
        "overhead_ms": round((statistics.median(times) - base_median) * 1e3, 3),
    } for name, times in samples.items()]


async def throughput(r: dict[str, Any], concurrent: int, rounds: int) -> dict[str, Any]:
    """Wall time of ``concurrent`` requests at once; best of ``rounds``, alternating."""
    async def burst(router: Any, model: str) -> float:
        start = time.perf_counter()
        out = await asyncio.gather(*(router.acompletion(model=model, messages=MESSAGES)
                                     for _ in range(concurrent)))
        elapsed = time.perf_counter() - start
        assert len(out) == concurrent
        return elapsed

    await burst(r["plain"], MODEL)  # warm the clients and connection pools
    await burst(r["attached"], "smart-router")
    plain, routed = [], []
    for _ in range(rounds):
        plain.append(await burst(r["plain"], MODEL))
        routed.append(await burst(r["attached"], "smart-router"))
    return {
        "concurrent": concurrent,
        "plain_rps": round(concurrent / min(plain), 1),
        "attached_rps": round(concurrent / min(routed), 1),
        "throughput_ratio": round(min(plain) / min(routed), 3),
    }


def proxy(server: MockOpenAIServer, n: int) -> dict[str, Any]:
    """Startup time of the example proxy, and its per-request cost with the hook."""
    import secrets
    import subprocess
    import tempfile
    import urllib.request

    import yaml
    from openai import OpenAI

    cfg = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    for entry in cfg["model_list"]:
        if not entry["litellm_params"]["model"].startswith("auto_router/"):
            entry["litellm_params"] = {"model": f"openai/{entry['model_name'].split('/')[-1]}",
                                       "api_base": server.base_url, "api_key": "sk-bench"}
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = f"sk-{secrets.token_hex(16)}"
    env = {**os.environ, "LITELLM_MASTER_KEY": key, "LITELLM_TELEMETRY_DISABLED": "true",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "SMART_ROUTER_CONFIG": str(EXAMPLE / "smart_router.yaml")}
    log = open(folder / "proxy.log", "wb")  # noqa: SIM115  # open for the process's life
    start = time.perf_counter()
    process = subprocess.Popen(
        ["litellm", "--config", str(folder / "config.yaml"), "--host", "127.0.0.1",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - start > 300:
                raise RuntimeError(f"proxy did not start; see {folder / 'proxy.log'}")
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/health/liveliness", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        startup = time.perf_counter() - start
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)

        def call(model: str) -> Callable[[], Any]:
            return lambda: client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]

        calls = {"proxy, model=group": call(MODEL), "proxy, model=smart-router": call(
            "smart-router")}
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for fn in calls.values():
            for _ in range(10):
                fn()
        for i in range(n):
            names = list(calls)[i % 2:] + list(calls)[:i % 2]
            for name in names:
                t = time.perf_counter()
                calls[name]()
                samples[name].append(time.perf_counter() - t)
        return {"startup_s": round(startup, 1),
                "requests": summarize(samples, "proxy, model=group")}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def run(n: int, concurrent: int, with_proxy: bool) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    mocked = routers(None)
    scenarios["mock_response (no I/O)"] = summarize(
        await interleaved(paths(mocked), n, warmup=20), "Router.acompletion(group)")
    result: dict[str, Any] = {"anchor": "Router.acompletion(model=<tier group>) on a plain "
                              "Router, same run", "iterations": n, "scenarios": scenarios}
    with MockOpenAIServer() as server:
        local = routers(server.base_url)
        check = await local["attached"].acompletion(model="smart-router", messages=MESSAGES)
        assert check._hidden_params["smart_router"]["model"] == MODEL, "prompt misrouted"
        scenarios["local server"] = summarize(
            await interleaved(paths(local), n, warmup=20), "Router.acompletion(group)")
        result["throughput"] = {
            "mock_response": await throughput(mocked, concurrent, rounds=3),
            "local server": await throughput(local, concurrent, rounds=3),
        }
        if with_proxy:
            result["proxy"] = await asyncio.to_thread(proxy, server, max(50, n // 4))
    result["parts"] = parts()
    result["environment"] = {"python": platform.python_version(), "litellm": _version("litellm"),
                             "cpus": os.cpu_count(), "machine": platform.machine()}
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return result


def parts() -> dict[str, float]:
    """Median microseconds of the work attach adds per request, timed alone."""
    from smart_router._litellm_common import decision_summary

    sr = SmartRouter(config(None), ledger=False)
    ledgered = SmartRouter(config(None))
    decision = sr.route(MESSAGES)
    usage = {"prompt_tokens": 16, "completion_tokens": 9}

    def micro(fn: Callable[[], Any], n: int = 2000) -> float:
        for _ in range(50):
            fn()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return round(statistics.median(times) * 1e6, 1)

    return {
        "SmartRouter.route_us": micro(lambda: sr.route(MESSAGES)),
        "decision_summary_us": micro(lambda: decision_summary(decision)),
        "SmartRouter.record_us (ledger off)": micro(lambda: sr.record(decision, MODEL, usage)),
        "route + record_us (in-memory ledger)": micro(
            lambda: ledgered.record(ledgered.route(MESSAGES), MODEL, usage)),
    }


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def print_table(result: dict[str, Any]) -> None:
    print(f"{'scenario':<24}{'path':<32}{'median ms':>10}{'ratio':>8}{'paired':>8}{'+ms':>8}")
    rows = dict(result["scenarios"])
    if "proxy" in result:
        rows["proxy (example config)"] = result["proxy"]["requests"]
    for scenario, lines in rows.items():
        for i, row in enumerate(lines):
            print(f"{scenario if i == 0 else '':<24}{row['path']:<32}{row['median_ms']:>10.3f}"
                  f"{row['ratio_of_medians']:>8.3f}{row['median_paired_ratio']:>8.3f}"
                  f"{row['overhead_ms']:>+8.3f}")
    for scenario, t in result["throughput"].items():
        print(f"{t['concurrent']} concurrent, {scenario}: plain {t['plain_rps']} req/s, "
              f"attached {t['attached_rps']} req/s, ratio {t['throughput_ratio']}")
    if "proxy" in result:
        print(f"proxy startup: {result['proxy']['startup_s']} s")
    print("parts (median us): " + ", ".join(f"{k} {v}" for k, v in result["parts"].items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="iterations per path")
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--no-proxy", action="store_true", help="skip the proxy measurements")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.n, args.concurrent, not args.no_proxy))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else "")
    if not args.json:
        print_table(result)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
