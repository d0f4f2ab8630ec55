"""Faults, end to end through both front doors against the local test server.

A tier model that returns 500, 429 (Retry-After honoured) or hangs past the timeout
is retried and then served by its fallback; when every model fails, one
AllModelsFailedError lists each attempt; a classifier failure routes to the default
tier; an unreachable Redis ledger never fails a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from smart_router import AllModelsFailedError, Classifier, Conversation, SmartRouter
from smart_router._ledger import to_nano
from smart_router.testing import Error, MockOpenAIServer, Reply, Slow

MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]
WIRE = {m: m.split("/")[-1] for m in MODELS}  # the model name the server sees
HARD = ("Design a distributed, multi-region, fault-tolerant payments platform and explain "
        "the trade-offs between latency and consistency at scale.")


def config(server: MockOpenAIServer, **extra: Any) -> dict[str, Any]:
    """Every config model served by the local server (aliases keep the config names)."""
    models = {m: {"model": f"openai/{WIRE[m]}", "api_base": server.base_url,
                  "api_key": "sk-test"} for m in MODELS}
    return {"models": models, **extra}


class Broken(Classifier):
    def score(self, conversation: Conversation) -> float:
        raise RuntimeError("classifier model file missing")


# A front door: (router, retries, timeout) -> async call(text) -> (content, record, model_name)
Call = Callable[[str], Awaitable[tuple[str, dict[str, Any], str]]]


def langchain_door(router: SmartRouter, retries: int, timeout: float | None) -> Call:
    from smart_router.langchain import ChatSmartRouter

    llm = ChatSmartRouter(config=router, max_retries=retries, timeout=timeout)

    async def call(text: str) -> tuple[str, dict[str, Any], str]:
        msg = await llm.ainvoke(text)
        meta = msg.response_metadata
        return str(msg.content), meta["smart_router"], meta["model_name"]

    return call


def litellm_door(router: SmartRouter, retries: int, timeout: float | None) -> Call:
    import litellm

    from smart_router.litellm import attach

    settings: dict[str, Any] = {"num_retries": retries}
    if timeout is not None:
        settings["timeout"] = timeout
    lrouter = litellm.Router(model_list=router.config.litellm_model_list(), **settings)
    attach(lrouter, router)

    async def call(text: str) -> tuple[str, dict[str, Any], str]:
        resp = await lrouter.acompletion(model="smart-router",
                                         messages=[{"role": "user", "content": text}])
        record = resp._hidden_params["smart_router"]
        return str(resp.choices[0].message.content), record, record["model"]

    return call


DOORS = {"langchain": langchain_door, "litellm": litellm_door}


@pytest.fixture(params=list(DOORS))
def door(request: pytest.FixtureRequest) -> Callable[..., Call]:
    if request.param == "litellm":
        pytest.importorskip("smart_router.litellm", reason="the LiteLLM integration (issue 4)")
    return DOORS[request.param]


def make(server: MockOpenAIServer, door: Callable[..., Call], *, retries: int = 1,
         timeout: float | None = None, classifier: Classifier | None = None,
         **extra: Any) -> tuple[SmartRouter, Call]:
    router = SmartRouter(config(server, **extra), classifier=classifier)
    return router, door(router, retries, timeout)


async def test_500_is_retried_then_served_by_the_fallback(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    router, call = make(llm_server, door, retries=1)
    llm_server.script("gpt-4o", Error(500, "internal"), Error(500, "internal"))
    llm_server.script("claude-opus-4-5", Reply("from the fallback"))
    text, record, model = await call(HARD)
    assert text == "from the fallback"
    assert record["tier"] == "complex" and record["fallback_used"] is True
    assert model == record["model"] == "anthropic/claude-opus-4-5"
    assert len(llm_server.requests_for("gpt-4o")) == 2  # tried, retried
    assert len(llm_server.requests_for("claude-opus-4-5")) == 1
    assert router.ledger is not None
    [entry] = list(router.ledger.entries())
    assert entry.fallback_used and entry.routed_model == "gpt-4o"
    assert entry.cost_nano == to_nano(record["cost_usd"])


async def test_a_transient_500_is_retried_on_the_same_model(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    _, call = make(llm_server, door, retries=1)
    llm_server.script("gpt-4o", Error(500, "blip"), Reply("premium after a retry"))
    text, record, model = await call(HARD)
    assert text == "premium after a retry"
    assert model == "gpt-4o" and record["fallback_used"] is False
    assert llm_server.requests_for("claude-opus-4-5") == []


async def test_429_retry_after_is_honoured(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    _, call = make(llm_server, door, retries=1)
    llm_server.script("gpt-4o", Error(429, "slow down", retry_after=2), Reply("after waiting"))
    start = time.monotonic()
    text, record, _ = await call(HARD)
    waited = time.monotonic() - start
    assert text == "after waiting" and record["fallback_used"] is False
    assert waited >= 2.0  # the retry waited as long as the server asked
    assert len(llm_server.requests_for("gpt-4o")) == 2


async def test_persistent_429_falls_back(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    _, call = make(llm_server, door, retries=0)
    llm_server.script("gpt-4o", Error(429, "quota exhausted", retry_after=1))
    _text, record, model = await call(HARD)
    assert model == "anthropic/claude-opus-4-5" and record["fallback_used"]


async def test_a_hang_past_the_timeout_is_retried_then_served_by_the_fallback(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    _, call = make(llm_server, door, retries=1, timeout=0.5)
    llm_server.script("gpt-4o", Slow(30, Reply("too late")), Slow(30, Reply("too late")))
    llm_server.script("claude-opus-4-5", Reply("on time"))
    text, record, model = await call(HARD)
    assert (text, model) == ("on time", "anthropic/claude-opus-4-5")
    assert record["fallback_used"] is True
    assert len(llm_server.requests_for("gpt-4o")) == 2


async def test_when_every_model_fails_one_error_lists_each_attempt(
    llm_server: MockOpenAIServer, door: Callable[..., Call], request: pytest.FixtureRequest,
) -> None:
    _, call = make(llm_server, door, retries=0)
    llm_server.script("gpt-4o", Error(500, "premium is down"))
    llm_server.script("claude-opus-4-5", Error(503, "fallback is down too"))
    with pytest.raises(AllModelsFailedError) as err:
        await call(HARD)
    models = [model for model, _ in err.value.attempts]
    assert models == ["gpt-4o", "anthropic/claude-opus-4-5"]
    message = str(err.value)
    assert "gpt-4o" in message and "anthropic/claude-opus-4-5" in message
    assert "premium is down" in message and "fallback is down too" in message


async def test_a_classifier_failure_routes_to_the_default_tier(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    _, call = make(llm_server, door, classifier=Broken())
    _text, record, model = await call(HARD)
    assert record["tier"] == "moderate" and model == "dashscope/qwen-plus"
    assert any("classifier failed (RuntimeError)" in r for r in record["reasons"])


async def test_an_unreachable_redis_ledger_never_fails_a_request(
    llm_server: MockOpenAIServer, door: Callable[..., Call], caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    router, call = make(llm_server, door,
                        ledger={"redis_url": f"redis://127.0.0.1:{dead}/0"},
                        budgets={"monthly_usd": 100})
    costs = []
    with caplog.at_level(logging.WARNING, logger="smart_router"):
        for text in ("hello", HARD, "compare two sorting algorithms"):
            _, record, _ = await call(text)
            costs.append(to_nano(record["cost_usd"]))
    assert "unreachable" in caplog.text
    ledger = router.ledger
    assert ledger is not None and getattr(ledger, "pending", None) == 3
    assert ledger.spend(["all"]) == {"all": sum(costs)}  # budgets still see the spend


async def test_budget_degradation_end_to_end(
    llm_server: MockOpenAIServer, door: Callable[..., Call],
) -> None:
    """Spend recorded from real answers degrades the next request (capped at moderate);
    at the limit with ``refuse`` the front door raises BudgetExceededError, calling no model."""
    from smart_router import BudgetExceededError, Usage
    from smart_router._cost import usage_cost

    first_usage = {"prompt_tokens": 1_000, "completion_tokens": 600}
    base = SmartRouter(config(llm_server), ledger=False)
    first_cost = usage_cost(base.config, "gpt-4o", Usage(1_000, 600))
    limit = first_cost / 0.85  # the first answer spends 85% of the day's budget
    router, call = make(llm_server, door,
                        budgets={"daily_usd": limit, "refresh_seconds": 0, "at_limit": "refuse"})
    llm_server.script("gpt-4o", Reply("premium", usage=first_usage))
    llm_server.script("qwen-plus", Reply("moderate", usage={"prompt_tokens": 1_000,
                                                            "completion_tokens": 200_000}))
    _, first, _ = await call(HARD)
    assert first["tier"] == "complex" and not any("budget" in r for r in first["reasons"])
    _, second, model = await call(HARD)
    assert second["tier"] == "moderate" and model == "dashscope/qwen-plus"
    assert "budget: 85% of the daily budget spent" in second["reasons"][-1]
    assert second["reasons"][-1].endswith("capped at moderate")
    before = len(llm_server.requests)
    with pytest.raises(BudgetExceededError, match="daily budget spent"):
        await call(HARD)
    assert len(llm_server.requests) == before  # refused before any model was called
    assert router.ledger is not None and router.ledger.totals().count == 2
