"""1,000 concurrent requests with 30% of premium calls failing, through each front door.

    python benchmarks/load_front_doors.py [--n 1000] [--fail 0.3] [--json]

Anchor (same run, same local server, same failures): a plain ``litellm.Router`` called
with each request's model group and fallbacks already known, i.e. LiteLLM alone. Then
``ChatSmartRouter.ainvoke`` and ``attach()`` + ``Router.acompletion``, which add routing,
cost records and the ledger. Reported: wall time, requests/s, ratio to the anchor, and
whether every request was answered and the ledger's totals equal the per-request sums.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from smart_router import SmartRouter
from smart_router._ledger import to_nano
from smart_router.testing import Fail, MockOpenAIServer, Reply

MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]
TEXTS = [
    "Design a distributed, multi-region, fault-tolerant payments platform and explain the "
    "trade-offs between latency and consistency at scale.",
    "hello, what is the capital of France?",
    "Write an email to my landlord asking to end my lease two months early; polite but firm, "
    "under 200 words.",
]
MIX = (0, 0, 1, 1, 2)  # 40% complex, 40% simple, 20% moderate


def config(server: MockOpenAIServer) -> dict[str, Any]:
    models = {m: {"model": f"openai/{m.split('/')[-1]}", "api_base": server.base_url,
                  "api_key": "sk-bench"} for m in MODELS}
    return {"models": models}


def prompts(n: int) -> list[str]:
    return [f"{TEXTS[MIX[i % len(MIX)]]} (#{i})" for i in range(n)]


async def run(send: Callable[[str], Awaitable[dict[str, Any] | None]], n: int) -> dict[str, Any]:
    start = time.perf_counter()
    results = await asyncio.gather(*(send(p) for p in prompts(n)), return_exceptions=True)
    elapsed = time.perf_counter() - start
    errors = [r for r in results if isinstance(r, BaseException)]
    records = [r for r in results if isinstance(r, dict)]
    return {"seconds": elapsed, "requests_per_s": n / elapsed, "errors": len(errors),
            "fallbacks": sum(bool(r.get("fallback_used")) for r in records), "records": records}


Send = Callable[[str], Awaitable[dict[str, Any]]]


async def bench(n: int, fail: float, rounds: int) -> dict[str, Any]:
    import litellm

    from smart_router.langchain import ChatSmartRouter
    from smart_router.litellm import attach

    results: dict[str, Any] = {}
    with MockOpenAIServer() as server:
        cfg = config(server)
        probe = SmartRouter(cfg, ledger=False)
        plan = {t: probe.route([{"role": "user", "content": t}]) for t in TEXTS}
        plain = litellm.Router(model_list=probe.config.litellm_model_list(), num_retries=0)

        async def anchor(text: str) -> dict[str, Any]:
            d = plan[text.rsplit(" (#", 1)[0]]  # the decision, made ahead of time
            resp = await plain.acompletion(model=d.model, fallbacks=d.fallbacks,
                                           messages=[{"role": "user", "content": text}])
            headers = resp._hidden_params.get("additional_headers") or {}
            return {"fallback_used": headers.get("x-litellm-model-group") != d.model}

        llm = ChatSmartRouter(config=SmartRouter(cfg), max_retries=0)

        async def langchain(text: str) -> dict[str, Any]:
            record: dict[str, Any] = (await llm.ainvoke(text)).response_metadata["smart_router"]
            return record

        sr = SmartRouter(cfg)
        attached = litellm.Router(model_list=sr.config.litellm_model_list(), num_retries=0)
        attach(attached, sr)

        async def via_attach(text: str) -> dict[str, Any]:
            resp = await attached.acompletion(model="smart-router",
                                              messages=[{"role": "user", "content": text}])
            record: dict[str, Any] = resp._hidden_params["smart_router"]
            return record

        doors: dict[str, tuple[Send, SmartRouter | None]] = {
            "anchor: litellm.Router alone": (anchor, None),
            "ChatSmartRouter.ainvoke": (langchain, llm.router),
            "attach() + Router.acompletion": (via_attach, sr),
        }
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in doors}
        for send, _ in doors.values():
            server.set_default("gpt-4o", Fail(fail, then=Reply("premium answer")))
            await run(send, 50)  # warm-up: imports, connection pools
        for _ in range(rounds):  # interleaved rounds, median: a shared machine is noisy
            for name, (send, router) in doors.items():
                before = router.ledger.totals() if router and router.ledger else None
                premium = Fail(fail, then=Reply("premium answer"))
                server.set_default("gpt-4o", premium)
                out = await run(send, n)
                out["premium_failures"] = premium.failures
                records = out.pop("records")
                if router is not None and router.ledger is not None and before is not None:
                    after = router.ledger.totals()
                    out["ledger_exact"] = (
                        after.count - before.count == n == len(records)
                        and after.cost_nano - before.cost_nano
                        == sum(to_nano(r["cost_usd"]) for r in records))
                samples[name].append(out)
        for name, runs in samples.items():
            runs.sort(key=lambda r: r["seconds"])
            median = dict(runs[len(runs) // 2])
            median["seconds_all_rounds"] = [r["seconds"] for r in runs]
            median["errors"] = sum(r["errors"] for r in runs)
            if "ledger_exact" in median:
                median["ledger_exact"] = all(r["ledger_exact"] for r in runs)
            results[name] = median
    base = results["anchor: litellm.Router alone"]["seconds"]
    for out in results.values():
        out["time_ratio_to_anchor"] = out["seconds"] / base
    return {"n": n, "premium_fail_rate": fail, "rounds": rounds, "doors": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--fail", type=float, default=0.3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)  # pool-saturation warnings at 1,000
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)
    result = asyncio.run(bench(args.n, args.fail, args.rounds))
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"{args.n} concurrent requests, {args.fail:.0%} of premium calls failing "
          f"(median of {args.rounds} interleaved rounds)")
    for name, r in result["doors"].items():
        print(f"  {name:32s} {r['seconds']:6.2f} s  {r['requests_per_s']:7.1f} req/s  "
              f"x{r['time_ratio_to_anchor']:.2f}  errors {r['errors']}  fallbacks "
              f"{r['fallbacks']}/{r['premium_failures']} failed premium calls"
              + (f"  ledger exact: {r['ledger_exact']}" if "ledger_exact" in r else ""))


if __name__ == "__main__":
    main()
