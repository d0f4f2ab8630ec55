"""1,000 concurrent requests through each front door, 30% of premium calls failing.

Every request is answered, every failed premium call is served by the fallback,
and the ledger's totals equal the sum of the per-request costs exactly (integer
nano-dollars). Bounded: seconds per door on a 2-core machine.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from smart_router import SmartRouter
from smart_router._ledger import to_nano
from smart_router.testing import Fail, MockOpenAIServer, Reply

MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]
HARD = ("Design a distributed, multi-region, fault-tolerant payments platform and explain "
        "the trade-offs between latency and consistency at scale.")
EASY = "hello, what is the capital of France?"
MID = ("Write an email to my landlord asking to end my lease two months early; polite but "
       "firm, under 200 words.")
N = 1_000


def config(server: MockOpenAIServer) -> dict[str, Any]:
    models = {m: {"model": f"openai/{m.split('/')[-1]}", "api_base": server.base_url,
                  "api_key": "sk-test"} for m in MODELS}
    return {"models": models}


def prompts(n: int) -> list[str]:
    # 40% complex, 40% simple, 20% moderate; a numbered suffix makes each one distinct
    return [f"{(HARD, HARD, EASY, EASY, MID)[i % 5]} (#{i})" for i in range(n)]


Send = Callable[[str], Awaitable[tuple[str, dict[str, Any]]]]


def langchain_send(router: SmartRouter) -> Send:
    from smart_router.langchain import ChatSmartRouter

    llm = ChatSmartRouter(config=router, max_retries=0)

    async def send(text: str) -> tuple[str, dict[str, Any]]:
        msg = await llm.ainvoke(text)
        assert msg.response_metadata["model_name"] == msg.response_metadata["smart_router"][
            "model"]
        return str(msg.content), msg.response_metadata["smart_router"]

    return send


def litellm_send(router: SmartRouter) -> Send:
    import litellm

    from smart_router.litellm import attach

    lrouter = litellm.Router(model_list=router.config.litellm_model_list(), num_retries=0)
    attach(lrouter, router)

    async def send(text: str) -> tuple[str, dict[str, Any]]:
        resp = await lrouter.acompletion(model="smart-router",
                                         messages=[{"role": "user", "content": text}])
        return str(resp.choices[0].message.content), resp._hidden_params["smart_router"]

    return send


@pytest.mark.parametrize("door", ["langchain", "litellm"])
async def test_1000_concurrent_requests_with_failing_premium(
    llm_server: MockOpenAIServer, door: str,
) -> None:
    if door == "litellm":
        pytest.importorskip("smart_router.litellm", reason="the LiteLLM integration (issue 4)")
    premium = Fail(0.3, then=Reply("premium answer"))
    llm_server.set_default("gpt-4o", premium)
    router = SmartRouter(config(llm_server))
    send = (langchain_send if door == "langchain" else litellm_send)(router)

    results = await asyncio.gather(*(send(p) for p in prompts(N)))

    assert len(results) == N and all(text for text, _ in results)  # every request answered
    records = [r for _, r in results]
    tiers = Counter(r["tier"] for r in records)
    assert tiers == {"complex": 400, "simple": 400, "moderate": 200}
    answered = Counter((r["tier"], r["model"]) for r in records)
    premium_ok = premium.calls - premium.failures
    assert premium.failures >= 0.25 * premium.calls > 0
    # Every premium call that failed was served by the complex tier's fallback, and
    # nothing else fell back: the fallback count is exactly the failure count.
    assert answered[("complex", "gpt-4o")] == premium_ok
    assert answered[("complex", "anthropic/claude-opus-4-5")] == 400 - premium_ok
    assert sum(r["fallback_used"] for r in records) == 400 - premium_ok
    assert len(llm_server.requests_for("claude-opus-4-5")) == 400 - premium_ok
    assert all(r["fallback_used"] == (r["model"] == "anthropic/claude-opus-4-5")
               for r in records)

    # The ledger: one entry per request, totals exactly the per-request sums.
    ledger = router.ledger
    assert ledger is not None
    totals = ledger.totals()
    assert totals.count == N
    assert totals.cost_nano == sum(to_nano(r["cost_usd"]) for r in records)
    assert totals.baseline_nano == sum(to_nano(r["baseline_cost_usd"]) for r in records)
    entries = list(ledger.entries())
    assert len({e.id for e in entries}) == N
    assert Counter(e.model for e in entries) == Counter(r["model"] for r in records)
    assert sum(e.fallback_used for e in entries) == 400 - premium_ok


def test_threaded_batch_records_every_request_once(llm_server: MockOpenAIServer) -> None:
    """The sync path from many threads (LangChain's batch): the ledger stays exact."""
    from smart_router.langchain import ChatSmartRouter

    llm_server.set_default("gpt-4o", Fail(0.3, then=Reply("premium answer")))
    router = SmartRouter(config(llm_server))
    llm = ChatSmartRouter(config=router, max_retries=0)
    messages = llm.batch(prompts(200), config={"max_concurrency": 16})
    records = [m.response_metadata["smart_router"] for m in messages]
    assert len(records) == 200 and all(m.content for m in messages)
    assert router.ledger is not None
    totals = router.ledger.totals()
    assert totals.count == 200
    assert totals.cost_nano == sum(to_nano(r["cost_usd"]) for r in records)
