"""``smart_router.litellm.attach`` on a real ``litellm.Router`` against MockOpenAIServer.

Each LiteLLM behaviour a virtual model name would lose is checked on a routed request:
retries of the tier group, per-tier fallbacks, cooldowns (a failing deployment is
skipped), pre-call checks, and pass-through of requests naming a real group. Costs are
checked against the usage the server reported, priced with LiteLLM's own cost function.
"""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest
from litellm_setup import (
    COMPLEX,
    COMPLEX_FALLBACK,
    EASY,
    HARD,
    MID,
    MODERATE,
    SIMPLE,
    Broken,
    Keyword,
    served,
    smart,
    user,
    wire,
)

from smart_router import ConfigError, SmartRouter
from smart_router.litellm import Attachment, attach
from smart_router.testing import Error, MockOpenAIServer, Reply


def headers(response: Any) -> dict[str, Any]:
    return response._hidden_params["additional_headers"]


def expected_cost(model: str, usage: Any) -> float:
    prompt, completion = litellm.cost_per_token(
        model=model, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
    return float(prompt + completion)


@pytest.fixture
def sr(llm_server: MockOpenAIServer) -> SmartRouter:
    return smart(llm_server.base_url)


def make_router(sr: SmartRouter, **settings: Any) -> Any:
    settings.setdefault("retry_after", 0)
    return litellm.Router(model_list=sr.config.litellm_model_list(), **settings)


async def test_each_request_goes_to_its_tier_group_with_a_cost_record(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = make_router(sr)
    attach(router, sr)
    records = {}
    for text in (EASY, MID, HARD):
        response = await router.acompletion(model="smart-router", messages=user(text))
        records[text] = response._hidden_params["smart_router"]
        usage = response.usage
        record = records[text]
        assert set(record) == {"tier", "model", "score", "reasons", "cost_usd",
                               "baseline_cost_usd", "fallback_used"}
        assert record["model"] == headers(response)["x-litellm-model-group"]
        assert record["cost_usd"] == pytest.approx(expected_cost(record["model"], usage))
        assert record["baseline_cost_usd"] == pytest.approx(expected_cost(COMPLEX, usage))
        assert record["fallback_used"] is False
    assert served(llm_server) == [wire(SIMPLE), wire(MODERATE), wire(COMPLEX)]
    assert [records[t]["tier"] for t in (EASY, MID, HARD)] == ["simple", "moderate", "complex"]
    assert records[EASY]["cost_usd"] < records[EASY]["baseline_cost_usd"]


def test_sync_completion_routes_too(llm_server: MockOpenAIServer, sr: SmartRouter) -> None:
    router = make_router(sr)
    attach(router, sr)
    response = router.completion(model="smart-router", messages=user(HARD))
    assert response._hidden_params["smart_router"]["tier"] == "complex"
    assert served(llm_server) == [wire(COMPLEX)]


async def test_a_real_group_passes_through_untouched(llm_server: MockOpenAIServer) -> None:
    classifier = Keyword()
    sr = smart(llm_server.base_url, classifier)
    router = make_router(sr)
    attach(router, sr)
    response = await router.acompletion(model=COMPLEX, messages=user(EASY))
    sync = router.completion(model=SIMPLE, messages=user(HARD))
    assert served(llm_server) == [wire(COMPLEX), wire(SIMPLE)]
    assert "smart_router" not in response._hidden_params
    assert "smart_router" not in sync._hidden_params
    assert classifier.calls == 0


async def test_retries_count_for_the_tier_group(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = make_router(sr, num_retries=2)
    attach(router, sr)
    llm_server.script(wire(SIMPLE), Error(500), Error(503))
    response = await router.acompletion(model="smart-router", messages=user(EASY))
    assert served(llm_server) == [wire(SIMPLE)] * 3
    assert headers(response)["x-litellm-attempted-retries"] == 2
    assert response._hidden_params["smart_router"]["fallback_used"] is False


@pytest.mark.parametrize(("text", "primary", "fallback"), [
    (EASY, SIMPLE, MODERATE),
    (HARD, COMPLEX, COMPLEX_FALLBACK),
])
async def test_fallbacks_are_the_tiers_own(
    llm_server: MockOpenAIServer, sr: SmartRouter, text: str, primary: str, fallback: str
) -> None:
    router = make_router(sr, num_retries=1)
    attach(router, sr)
    llm_server.set_default(wire(primary), Error(500))
    response = await router.acompletion(model="smart-router", messages=user(text))
    record = response._hidden_params["smart_router"]
    assert served(llm_server) == [wire(primary), wire(primary), wire(fallback)]
    assert (record["model"], record["fallback_used"]) == (fallback, True)
    assert record["cost_usd"] == pytest.approx(expected_cost(fallback, response.usage))
    assert headers(response)["x-litellm-attempted-fallbacks"] == 1


async def test_a_callers_fallbacks_win(llm_server: MockOpenAIServer, sr: SmartRouter) -> None:
    router = make_router(sr, num_retries=0)
    attach(router, sr)
    llm_server.set_default(wire(COMPLEX), Error(500))
    response = await router.acompletion(
        model="smart-router", messages=user(HARD), fallbacks=[SIMPLE])
    assert served(llm_server) == [wire(COMPLEX), wire(SIMPLE)]
    assert response._hidden_params["smart_router"]["model"] == SIMPLE


async def test_a_failing_deployment_cools_down_and_is_skipped(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    # The simple tier's group has two deployments; the one the shuffle favours always fails.
    model_list = sr.config.litellm_model_list()
    broken = {"model_name": SIMPLE, "litellm_params": {
        **sr.config.litellm_params(SIMPLE), "model": "openai/deepseek-broken", "weight": 100}}
    router = litellm.Router(model_list=[*model_list, broken], num_retries=2, retry_after=0,
                            allowed_fails=0, cooldown_time=120)
    attach(router, sr)
    llm_server.set_default("deepseek-broken", Error(500))
    for _ in range(8):
        response = await router.acompletion(model="smart-router", messages=user(EASY))
        assert response._hidden_params["smart_router"]["model"] == SIMPLE
    calls = served(llm_server)
    assert calls.count(wire(SIMPLE)) == 8
    assert calls.count("deepseek-broken") == 1  # cooled down after its first failure
    cooling = router.health().cooldowns.get_active_cooldowns(
        router.registry().names(SIMPLE, kind="ids"), None)
    assert len(cooling) == calls.count("deepseek-broken")


async def test_pre_call_checks_still_filter_the_tier_group(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    # A second moderate deployment, favoured by the shuffle, whose context window is too
    # small for the prompt.
    small = {"model_name": MODERATE,
             "litellm_params": {**sr.config.litellm_params(MODERATE), "model": "openai/qwen-small",
                                "weight": 100},
             "model_info": {"max_input_tokens": 30}}
    router = litellm.Router(model_list=[*sr.config.litellm_model_list(), small],
                            enable_pre_call_checks=True)
    attach(router, sr)
    long_prompt = user("MID " + "please compare these two approaches in detail " * 20)
    for _ in range(6):
        await router.acompletion(model="smart-router", messages=long_prompt)
    assert served(llm_server) == [wire(MODERATE)] * 6


async def test_a_classifier_failure_falls_back_to_the_default_tier(
    llm_server: MockOpenAIServer,
) -> None:
    sr = smart(llm_server.base_url, Broken())
    router = make_router(sr)
    attach(router, sr)
    response = await router.acompletion(model="smart-router", messages=user(HARD))
    sync = router.completion(model="smart-router", messages=user(HARD))
    for record in (response._hidden_params["smart_router"], sync._hidden_params["smart_router"]):
        assert (record["tier"], record["model"]) == ("moderate", MODERATE)
        assert any("classifier failed" in r for r in record["reasons"])
    assert served(llm_server) == [wire(MODERATE)] * 2


async def test_model_override_skips_classification(llm_server: MockOpenAIServer) -> None:
    classifier = Keyword()
    sr = smart(llm_server.base_url, classifier)
    router = make_router(sr)
    attach(router, sr)
    response = await router.acompletion(
        model="smart-router", messages=user(EASY), model_override=COMPLEX)
    assert classifier.calls == 0
    assert served(llm_server) == [wire(COMPLEX)]
    assert response._hidden_params["smart_router"]["model"] == COMPLEX
    with pytest.raises(ConfigError, match="gpt-4o-mini"):
        router.completion(model="smart-router", messages=user(EASY), model_override="gpt-4o-mini")


async def test_streams_carry_the_record_once_exhausted(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = make_router(sr)
    attach(router, sr)
    llm_server.set_default("*", Reply("one two three four five"))
    stream = await router.acompletion(model="smart-router", messages=user(HARD), stream=True)
    assert isinstance(stream, litellm.CustomStreamWrapper)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    record = stream._hidden_params["smart_router"]
    assert text == "one two three four five"
    assert (record["tier"], record["model"]) == ("complex", COMPLEX)
    assert record["cost_usd"] > 0
    sync = router.completion(model="smart-router", messages=user(EASY), stream=True,
                             stream_options={"include_usage": True})
    chunks = list(sync)
    usage = next(c.usage for c in chunks if getattr(c, "usage", None))
    record = sync._hidden_params["smart_router"]
    assert record["model"] == SIMPLE
    assert record["cost_usd"] == pytest.approx(expected_cost(SIMPLE, usage))


async def test_concurrent_requests_keep_their_own_records(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = make_router(sr)
    attach(router, sr)
    texts = [EASY, MID, HARD] * 10
    responses = await asyncio.gather(
        *(router.acompletion(model="smart-router", messages=user(t)) for t in texts))
    want = {EASY: SIMPLE, MID: MODERATE, HARD: COMPLEX}
    for text, response in zip(texts, responses, strict=True):
        assert response._hidden_params["smart_router"]["model"] == want[text]
        assert wire(want[text]) in response.choices[0].message.content


def test_attach_again_replaces_and_detach_restores(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = make_router(sr)
    first = attach(router, sr)
    second = attach(router, sr)
    assert isinstance(second, Attachment) and router.acompletion.__self__ is second
    assert first is not second
    second.detach()
    with pytest.raises(litellm.BadRequestError):
        router.completion(model="smart-router", messages=user(EASY))
