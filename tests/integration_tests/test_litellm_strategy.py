"""``SmartRoutingStrategy``: the classic custom-strategy API on a real ``litellm.Router``.

A custom strategy replaces the Router's own pick for every request, so each thing that
pick did is checked here: healthy deployments only, retries (the virtual name is aliased),
fallbacks along the tier's chain, pre-call checks, and real groups.
"""

from __future__ import annotations

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
    Keyword,
    served,
    smart,
    user,
    wire,
)

from smart_router import ConfigError, SmartRouter
from smart_router.litellm import SmartRoutingStrategy
from smart_router.testing import Error, MockOpenAIServer


@pytest.fixture
def classifier() -> Keyword:
    return Keyword()


@pytest.fixture
def sr(llm_server: MockOpenAIServer, classifier: Keyword) -> SmartRouter:
    return smart(llm_server.base_url, classifier)


def installed(sr: SmartRouter, extra: list[dict[str, Any]] = (), **settings: Any) -> Any:  # type: ignore[assignment]
    settings.setdefault("retry_after", 0)
    router = litellm.Router(model_list=[*sr.config.litellm_model_list(), *extra], **settings)
    SmartRoutingStrategy(router, sr).install()
    return router


async def test_async_and_sync_picks_route_by_tier(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    router = installed(sr)
    for text in (EASY, MID, HARD):
        await router.acompletion(model="smart-router", messages=user(text))
    router.completion(model="smart-router", messages=user(HARD))
    router.completion(model="smart-router", messages=user(EASY))
    assert served(llm_server) == [wire(SIMPLE), wire(MODERATE), wire(COMPLEX),
                                  wire(COMPLEX), wire(SIMPLE)]


async def test_install_aliases_the_name_so_retries_count(
    llm_server: MockOpenAIServer, sr: SmartRouter, classifier: Keyword
) -> None:
    router = installed(sr, num_retries=2)
    assert router.registry().aliases()["smart-router"] == SIMPLE
    llm_server.script(wire(SIMPLE), Error(500))
    response = await router.acompletion(model="smart-router", messages=user(EASY))
    # One deployment in the group: the retry goes on along the tier's chain.
    assert served(llm_server) == [wire(SIMPLE), wire(MODERATE)]
    assert response._hidden_params["additional_headers"]["x-litellm-attempted-retries"] == 1
    assert classifier.calls == 1  # classified once, not once per attempt


@pytest.mark.parametrize("sync", [False, True])
async def test_retries_walk_the_tiers_fallbacks(
    llm_server: MockOpenAIServer, sr: SmartRouter, sync: bool
) -> None:
    router = installed(sr, num_retries=3)
    llm_server.set_default(wire(COMPLEX), Error(500))
    if sync:
        response = router.completion(model="smart-router", messages=user(HARD))
    else:
        response = await router.acompletion(model="smart-router", messages=user(HARD))
    assert served(llm_server) == [wire(COMPLEX), wire(COMPLEX_FALLBACK)]
    assert wire(COMPLEX_FALLBACK) in response.choices[0].message.content


async def test_a_cooling_deployment_is_never_picked(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    broken = {"model_name": SIMPLE, "litellm_params": {
        **sr.config.litellm_params(SIMPLE), "model": "openai/deepseek-broken", "weight": 100}}
    router = installed(sr, [broken], num_retries=2, allowed_fails=0, cooldown_time=120)
    llm_server.set_default("deepseek-broken", Error(500))
    for i in range(6):
        call = router.completion if i % 2 else router.acompletion
        response = call(model="smart-router", messages=user(EASY))
        if not i % 2:
            response = await response
        assert wire(SIMPLE) in response.choices[0].message.content
    assert served(llm_server).count("deepseek-broken") == 1
    assert served(llm_server).count(wire(SIMPLE)) == 6


@pytest.mark.parametrize("sync", [False, True])
async def test_pre_call_checks_still_apply(
    llm_server: MockOpenAIServer, sr: SmartRouter, sync: bool
) -> None:
    small = {"model_name": MODERATE,
             "litellm_params": {**sr.config.litellm_params(MODERATE), "model": "openai/qwen-small",
                                "weight": 100},
             "model_info": {"max_input_tokens": 30}}
    router = installed(sr, [small], enable_pre_call_checks=True)
    long_prompt = user("MID " + "please compare these two approaches in detail " * 20)
    for _ in range(5):
        if sync:
            router.completion(model="smart-router", messages=long_prompt)
        else:
            await router.acompletion(model="smart-router", messages=long_prompt)
    assert served(llm_server) == [wire(MODERATE)] * 5


async def test_real_groups_still_route(
    llm_server: MockOpenAIServer, sr: SmartRouter, classifier: Keyword
) -> None:
    router = installed(sr)
    await router.acompletion(model=COMPLEX, messages=user(EASY))
    router.completion(model=SIMPLE, messages=user(HARD))
    assert served(llm_server) == [wire(COMPLEX), wire(SIMPLE)]
    assert classifier.calls == 0


def test_a_missing_tier_group_is_a_config_error(sr: SmartRouter) -> None:
    router = litellm.Router(model_list=sr.config.litellm_model_list()[:2])
    with pytest.raises(ConfigError, match="gpt-4o") as info:
        SmartRoutingStrategy(router, sr)
    assert COMPLEX_FALLBACK in str(info.value)


async def test_a_tier_group_the_prompt_outgrows_hands_over_to_its_fallback(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    model_list = [
        {**entry, "model_info": {"max_input_tokens": 30}} if entry["model_name"] == MODERATE
        else entry for entry in sr.config.litellm_model_list()]
    router = litellm.Router(model_list=model_list, enable_pre_call_checks=True, num_retries=0)
    SmartRoutingStrategy(router, sr).install()
    long_prompt = user("MID " + "please compare these two approaches in detail " * 20)
    await router.acompletion(model="smart-router", messages=long_prompt)
    router.completion(model="smart-router", messages=long_prompt)
    await router.acompletion(model="smart-router", messages=user("MID short"))
    # The moderate tier's chain is [qwen-plus, deepseek-chat]: only the short prompt fits.
    assert served(llm_server) == [wire(SIMPLE), wire(SIMPLE), wire(MODERATE)]
