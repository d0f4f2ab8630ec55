"""Classification latency per request: the local classifier vs LiteLLM's heuristic.

    python benchmarks/bench_classifier_speed.py [--reps 7]

Anchor: LiteLLM's complexity_router ``classify`` (its rule-based scorer, on the newest
user message), measured in the same process and interleaved with ours request by
request, so machine noise hits both alike. Requests: the whole dev set (every kind,
long pasted documents and multi-turn threads included) plus the RouteLLM MT-Bench turns.
Each request is timed ``--reps`` times per classifier, in rotating order; a request's
latency is the median of its timings, and p50/p99 are taken across requests (the raw
p99 over every single timing is reported too). Garbage collection is off while timing.

Also: ``SmartRouter.route`` end to end (message validation, directive stripping,
classification, policies) and the wall time of ``import smart_router`` in a fresh
interpreter (median of 5).
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bench_classifier_quality import DEV_SET, ROUTELLM, LiteLLMHeuristic

from smart_router import SmartRouter
from smart_router._classifiers import HeuristicClassifier
from smart_router._datasets import load_labeled, load_mt_bench
from smart_router._local import LocalClassifier
from smart_router._messages import parse_messages


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import smart_router; " \
           "print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    return statistics.median(runs)


def speed_results(reps: int = 7) -> dict[str, Any]:
    requests = [(r.messages, r.tools) for r in load_labeled(DEV_SET)]
    requests += [(m, None) for m in load_mt_bench(ROUTELLM).messages]
    convs = [parse_messages(m, t) for m, t in requests]
    local, heuristic, lite = LocalClassifier(), HeuristicClassifier(), LiteLLMHeuristic()
    router = SmartRouter({"classifier": {"type": "local"}}, ledger=False)
    paths: dict[str, Callable[[int], Any]] = {
        "litellm complexity_router": lambda i: lite.router.classify(convs[i].last_user_text),
        "local": lambda i: local.classify(convs[i]),
        "heuristic": lambda i: heuristic.classify(convs[i]),
        "SmartRouter.route (local)": lambda i: router.route(*requests[i]),
    }
    for i in range(len(convs)):  # warm up: model load, regex caches
        for fn in paths.values():
            fn(i)
    per_request: dict[str, list[float]] = {k: [] for k in paths}
    raw: dict[str, list[float]] = {k: [] for k in paths}
    names = list(paths)
    gc.disable()
    try:
        for i in range(len(convs)):
            timings: dict[str, list[float]] = {k: [] for k in paths}
            for rep in range(reps):
                for k in names[rep % len(names):] + names[:rep % len(names)]:
                    t = time.perf_counter()
                    paths[k](i)
                    timings[k].append(time.perf_counter() - t)
            for k, ts in timings.items():
                per_request[k].append(statistics.median(ts))
                raw[k].extend(ts)
    finally:
        gc.enable()
    anchor = statistics.median(per_request["litellm complexity_router"])
    out: dict[str, Any] = {"requests": len(convs), "reps": reps, "paths": {}}
    for k in names:
        p50 = statistics.median(per_request[k])
        out["paths"][k] = {"p50_us": p50 * 1e6, "p99_us": _pct(per_request[k], 0.99) * 1e6,
                           "raw_p99_us": _pct(raw[k], 0.99) * 1e6,
                           "max_us": max(per_request[k]) * 1e6, "p50_vs_litellm": p50 / anchor}
    out["import_smart_router_s"] = import_time()
    return out


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    print(json.dumps(speed_results(parser.parse_args().reps), indent=1))


if __name__ == "__main__":
    main()
