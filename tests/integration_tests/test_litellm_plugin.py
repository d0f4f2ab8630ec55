"""smart-router's classifier inside LiteLLM's own ``auto_router/complexity_router``."""

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
    Broken,
    smart,
    user,
    wire,
)

from smart_router import SmartRouter
from smart_router.litellm import SmartRouterClassifier
from smart_router.testing import MockOpenAIServer


@pytest.fixture
def sr(llm_server: MockOpenAIServer) -> SmartRouter:
    return smart(llm_server.base_url)


def complexity_router(sr: SmartRouter, plugin: Any, tiers: dict[str, str]) -> Any:
    marker = {"model_name": "smart-auto", "litellm_params": {
        "model": "auto_router/complexity_router",
        "complexity_router_config": {
            "classifier_type": "custom", "classifier_plugin": plugin, "tiers": tiers,
            "default_model": MODERATE, "classifier_fallback": "default_model",
            "max_tokens_from_tier_model": False,
        }}}
    return litellm.Router(model_list=[*sr.config.litellm_model_list(), marker], num_retries=0)


async def test_the_plugin_names_the_tier_the_complexity_router_uses(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    tiers = {name: tier.model for name, tier in sr.config.tiers.items()}
    router = complexity_router(sr, SmartRouterClassifier(sr), tiers)
    decided = []
    for text in (EASY, MID, HARD):
        response = await router.acompletion(model="smart-auto", messages=user(text))
        headers = response._hidden_params["additional_headers"]
        decided.append(headers["x-litellm-complexity-router-tier"])
        assert headers["x-litellm-complexity-router-cause"] == "classifier_plugin"
    assert decided == [sr.route(user(t)).tier for t in (EASY, MID, HARD)]
    assert [r["model"] for r in llm_server.requests] == [wire(SIMPLE), wire(MODERATE),
                                                         wire(COMPLEX)]


async def test_tier_map_targets_litellms_built_in_tiers(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    plugin = SmartRouterClassifier(
        sr, tier_map={"simple": "SIMPLE", "moderate": "MEDIUM", "complex": "COMPLEX"})
    router = complexity_router(sr, plugin, {"SIMPLE": SIMPLE, "MEDIUM": MODERATE,
                                            "COMPLEX": COMPLEX, "REASONING": COMPLEX_FALLBACK})
    await router.acompletion(model="smart-auto", messages=user(MID))
    await router.acompletion(model="smart-auto", messages=user(HARD))
    assert [r["model"] for r in llm_server.requests] == [wire(MODERATE), wire(COMPLEX)]


async def test_a_classifier_failure_routes_to_the_default_tier(
    llm_server: MockOpenAIServer, sr: SmartRouter
) -> None:
    broken = SmartRouter(sr.config, classifier=Broken(), ledger=False)
    tiers = {name: tier.model for name, tier in sr.config.tiers.items()}
    router = complexity_router(sr, SmartRouterClassifier(broken), tiers)
    response = await router.acompletion(model="smart-auto", messages=user(HARD))
    headers = response._hidden_params["additional_headers"]
    assert headers["x-litellm-complexity-router-tier"] == "moderate"  # the default tier
    assert [r["model"] for r in llm_server.requests] == [wire(MODERATE)]


def test_the_sync_path_does_not_run_the_complexity_router(sr: SmartRouter) -> None:
    """The documented limit: LiteLLM pre-routes async calls only."""
    tiers = {name: tier.model for name, tier in sr.config.tiers.items()}
    router = complexity_router(sr, SmartRouterClassifier(sr), tiers)
    with pytest.raises(litellm.BadRequestError, match="no pre-routing strategy selected"):
        router.completion(model="smart-auto", messages=user(HARD))
