"""Unit tests of the LiteLLM front doors: attach-time checks, records, headers, the
classifier plugin and the proxy hook's request/response handling (no proxy process)."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import litellm
import pytest
import yaml

from smart_router import Classifier, ConfigError, Conversation, SmartRouter
from smart_router._litellm_common import make_record, record_headers
from smart_router.litellm import (
    SmartRouterClassifier,
    SmartRouterProxyHook,
    attach,
    complexity_classifier,
    proxy_hook,
)

SIMPLE, MODERATE, COMPLEX = "deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o"
COMPLEX_FALLBACK = "anthropic/claude-opus-4-5"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "litellm_proxy"


class Keyword(Classifier):
    def score(self, conversation: Conversation) -> float:
        return 0.95 if "HARD" in conversation.task_text else 0.05


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def sr() -> SmartRouter:
    return SmartRouter({"ledger": {"enabled": False}}, classifier=Keyword())


def mocked(name: str, group: str | None = None) -> dict[str, Any]:
    """A deployment answered by LiteLLM's mock_response: no network at all."""
    return {"model_name": group or name,
            "litellm_params": {"model": f"openai/{name.split('/')[-1]}", "api_key": "sk-test",
                               "mock_response": f"answer from {name}"}}


# -- attach-time checks -----------------------------------------------------------------------

def test_a_tier_model_missing_from_the_router_is_named(sr: SmartRouter) -> None:
    router = litellm.Router(model_list=[mocked(SIMPLE), mocked(MODERATE)])
    with pytest.raises(ConfigError) as info:
        attach(router, sr)
    assert COMPLEX in str(info.value) and COMPLEX_FALLBACK in str(info.value)
    assert SIMPLE not in str(info.value).split("(it has")[0]


def test_the_virtual_name_must_not_be_a_real_group(sr: SmartRouter) -> None:
    groups = [mocked(m) for m in sr.config.routable_models()]
    router = litellm.Router(model_list=[*groups, mocked("x", "smart-router")])
    with pytest.raises(ConfigError, match="already a model group"):
        attach(router, sr)
    attach(router, sr, name="tiered")  # another name is fine


async def test_aliased_tier_models_are_reported_by_their_config_name(sr: SmartRouter) -> None:
    # gpt-4o is served by a group with another name, through model_group_alias.
    groups = [mocked(m) for m in sr.config.routable_models() if m != COMPLEX]
    router = litellm.Router(model_list=[*groups, mocked("gpt-4o", "azure-gpt4o")],
                            model_group_alias={COMPLEX: "azure-gpt4o"})
    attach(router, sr)
    response = await router.acompletion(model="smart-router", messages=user("HARD one"))
    record = response._hidden_params["smart_router"]
    assert (record["tier"], record["model"], record["fallback_used"]) == (
        "complex", COMPLEX, False)
    assert response.choices[0].message.content == "answer from gpt-4o"


def test_mock_responses_route_and_are_priced(sr: SmartRouter) -> None:
    router = litellm.Router(model_list=[mocked(m) for m in sr.config.routable_models()])
    attach(router, sr)
    response = router.completion(model="smart-router", messages=user("hello"))
    record = response._hidden_params["smart_router"]
    assert response.choices[0].message.content == f"answer from {SIMPLE}"
    assert record["model"] == SIMPLE
    assert 0 < record["cost_usd"] < record["baseline_cost_usd"]


# -- records and headers ----------------------------------------------------------------------

def test_an_unpriced_answering_group_uses_litellms_cost(sr: SmartRouter) -> None:
    decision = sr.route(user("hello"))
    response = SimpleNamespace(_hidden_params={"response_cost": 0.0123})
    usage = {"prompt_tokens": 100, "completion_tokens": 50}
    record = make_record(sr, decision, "my-private-model", usage, response)
    assert record["model"] == "my-private-model" and record["fallback_used"] is True
    assert record["cost_usd"] == pytest.approx(0.0123)
    assert record["baseline_cost_usd"] == pytest.approx(sr.record(decision, COMPLEX, usage)[
        "baseline_cost_usd"])
    assert "no smart-router price" in record["reasons"][-1]


def test_record_headers_are_ascii_and_complete(sr: SmartRouter) -> None:
    decision = sr.route(user("hello"))
    record = sr.record(decision, SIMPLE, {"prompt_tokens": 10, "completion_tokens": 5})
    record["reasons"] = ["naïve “quoted” reason", "second\nline"]
    headers = record_headers(record)
    assert set(headers) == {f"x-smart-router-{k}" for k in (
        "tier", "model", "score", "reasons", "cost-usd", "baseline-cost-usd", "fallback-used")}
    assert all(v.isascii() and "\n" not in v for v in headers.values())
    assert float(headers["x-smart-router-cost-usd"]) == pytest.approx(record["cost_usd"])
    summary = record_headers({"tier": "simple", "model": SIMPLE, "score": 0.1, "reasons": []})
    assert "x-smart-router-cost-usd" not in summary


# -- the complexity-router classifier plugin --------------------------------------------------

async def test_the_plugin_answers_tier_names(sr: SmartRouter) -> None:
    plugin = SmartRouterClassifier(sr)
    context = SimpleNamespace(structured_messages=user("HARD one"), raw_messages=[])
    assert await plugin.classify(context) == "complex"
    mapped = SmartRouterClassifier(sr, tier_map={"complex": "REASONING"})
    assert await mapped.classify(context) == "REASONING"
    raw_only = SimpleNamespace(structured_messages=[], raw_messages=user("hi"))
    assert await plugin.classify(raw_only) == "simple"


async def test_the_plugin_declines_what_it_cannot_route(sr: SmartRouter) -> None:
    plugin = SmartRouterClassifier(sr)
    bad = SimpleNamespace(structured_messages=[{"role": "wizard", "content": "x"}],
                          raw_messages=[])
    assert await plugin.classify(bad) is None
    assert copy.deepcopy(plugin) is plugin  # LiteLLM copies configs; one classifier is shared


def test_module_instances_read_the_config_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "sr.yaml"
    path.write_text(yaml.safe_dump({"tiers": {"only": {"model": COMPLEX}}}))
    monkeypatch.setenv("SMART_ROUTER_CONFIG", str(path))
    plugin = SmartRouterClassifier()
    hook = SmartRouterProxyHook()
    assert plugin.smart_router.tier_names == ["only"]
    assert hook.smart_router.tier_names == ["only"]
    assert isinstance(complexity_classifier, SmartRouterClassifier)
    assert isinstance(proxy_hook, SmartRouterProxyHook)


# -- the proxy hook, without a proxy ----------------------------------------------------------

@pytest.fixture
def hook(sr: SmartRouter) -> SmartRouterProxyHook:
    hook = SmartRouterProxyHook(sr)
    hook._back = {}  # the proxy Router check needs a running proxy: see the e2e test
    return hook


KEY = SimpleNamespace(team_id="team-a", user_id="u1")


async def test_pre_call_retargets_only_its_own_name(hook: SmartRouterProxyHook) -> None:
    other = {"model": "gpt-4o", "messages": user("HARD"), "litellm_call_id": "c0"}
    assert await hook.async_pre_call_hook(KEY, None, dict(other), "acompletion") == other
    data = {"model": "smart-router", "messages": user("HARD design"), "litellm_call_id": "c1",
            "metadata": {"caller": "kept"}}
    out = await hook.async_pre_call_hook(KEY, None, data, "acompletion")
    assert out["model"] == COMPLEX and out["fallbacks"] == [COMPLEX_FALLBACK]
    summary = out["metadata"]["smart_router"]
    assert (summary["tier"], summary["request_id"]) == ("complex", "c1")
    assert out["metadata"]["caller"] == "kept"
    own = {"model": "smart-router", "messages": user("HARD"), "litellm_call_id": "c2",
           "fallbacks": ["x"], "model_override": SIMPLE}
    out = await hook.async_pre_call_hook(KEY, None, own, "completion")
    assert out["model"] == SIMPLE and out["fallbacks"] == ["x"] and "model_override" not in out


async def test_pre_call_rejects_what_it_cannot_route(hook: SmartRouterProxyHook) -> None:
    from fastapi import HTTPException

    with pytest.raises(HTTPException) as info:
        await hook.async_pre_call_hook(
            KEY, None, {"model": "smart-router", "input": "x"}, "aresponses")
    assert info.value.status_code == 400
    with pytest.raises(HTTPException) as info:
        await hook.async_pre_call_hook(
            KEY, None, {"model": "smart-router", "messages": [{"role": "wizard"}]}, "completion")
    assert info.value.status_code == 400


async def test_post_call_records_and_sets_headers(hook: SmartRouterProxyHook) -> None:
    data = {"model": "smart-router", "messages": user("hello"), "litellm_call_id": "c3"}
    await hook.async_pre_call_hook(KEY, None, data, "acompletion")
    response = litellm.ModelResponse(model="x", usage={"prompt_tokens": 20, "completion_tokens": 8})
    response._hidden_params["additional_headers"] = {"x-litellm-model-group": MODERATE}
    await hook.async_post_call_success_hook(data, KEY, response)
    record = response._hidden_params["smart_router"]
    assert (record["model"], record["fallback_used"]) == (MODERATE, True)
    assert data["metadata"]["smart_router"]["cost_usd"] == record["cost_usd"] > 0
    headers = await hook.async_post_call_response_headers_hook(data, KEY, response)
    assert headers is not None and headers["x-smart-router-model"] == MODERATE
    forged = {"litellm_call_id": "c4", "metadata": {"smart_router": {"tier": "x"}}}
    assert await hook.async_post_call_response_headers_hook(forged, KEY, response) is None


async def test_streams_are_recorded_when_they_end(hook: SmartRouterProxyHook) -> None:
    data = {"model": "smart-router", "messages": user("hello"), "litellm_call_id": "c5"}
    await hook.async_pre_call_hook(KEY, None, data, "acompletion")

    async def chunks() -> Any:
        yield SimpleNamespace(usage=None)
        yield SimpleNamespace(usage={"prompt_tokens": 12, "completion_tokens": 30})

    seen = [c async for c in hook.async_post_call_streaming_iterator_hook(KEY, chunks(), data)]
    assert len(seen) == 2
    record = data["metadata"]["smart_router"]
    expected = hook.smart_router.record(
        hook.smart_router.route(user("hello")), SIMPLE,
        {"prompt_tokens": 12, "completion_tokens": 30})
    assert record["cost_usd"] == pytest.approx(expected["cost_usd"])


# -- the shipped proxy example ----------------------------------------------------------------

def test_the_example_config_is_consistent() -> None:
    config = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    core = SmartRouter(EXAMPLE / "smart_router.yaml", ledger=False)
    groups = {entry["model_name"] for entry in config["model_list"]}
    assert set(core.config.routable_models()) <= groups
    (callback,) = config["litellm_settings"]["callbacks"]
    module, _, attr = callback.rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), attr), SmartRouterProxyHook)
    auto = next(e for e in config["model_list"]
                if e["litellm_params"]["model"] == "auto_router/complexity_router")
    settings = auto["litellm_params"]["complexity_router_config"]
    module, _, attr = settings["classifier_plugin"].rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), attr), SmartRouterClassifier)
    assert set(settings["tiers"]) == set(core.tier_names)
    assert set(settings["tiers"].values()) <= groups
