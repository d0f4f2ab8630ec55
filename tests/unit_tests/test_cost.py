"""Costs: real usage priced with LiteLLM's cost functions, output at the output price."""

from __future__ import annotations

import pytest

from smart_router import SmartRouter, Usage
from smart_router._cost import usage_cost


def test_output_tokens_are_priced_at_the_output_price() -> None:
    r = SmartRouter()
    d = r.route([{"role": "user", "content": "hello"}])
    rec = r.record(d, d.model, {"prompt_tokens": 1000, "completion_tokens": 500})
    # deepseek-chat: $0.28/M in, $0.42/M out; gpt-4o: $2.50/M in, $10/M out
    assert rec["cost_usd"] == pytest.approx(1000 * 0.28e-6 + 500 * 0.42e-6)
    assert rec["baseline_cost_usd"] == pytest.approx(1000 * 2.5e-6 + 500 * 10e-6)
    # the case study's estimator (everything at the input price) would be wrong:
    assert rec["baseline_cost_usd"] != pytest.approx(1500 * 2.5e-6)
    assert rec["fallback_used"] is False and rec["model"] == "deepseek/deepseek-chat"


def test_fallback_is_priced_on_the_model_that_answered() -> None:
    r = SmartRouter()
    d = r.route([{"role": "user", "content": "hello"}])
    rec = r.record(d, "dashscope/qwen-plus", Usage(100, 100))
    assert rec["fallback_used"] is True and rec["model"] == "dashscope/qwen-plus"
    assert rec["cost_usd"] == pytest.approx(100 * 0.4e-6 + 100 * 1.2e-6)


def test_price_overrides_win() -> None:
    r = SmartRouter({
        "tiers": {"a": {"model": "my-local", "fallbacks": ["gpt-4o"]}},
        "models": {"my-local": {"model": "openai/my-local", "api_base": "http://127.0.0.1:1/v1",
                                "input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6}},
    })
    assert usage_cost(r.config, "my-local", Usage(10, 20)) == pytest.approx(10e-6 + 60e-6)


def test_alias_is_priced_by_its_config_name() -> None:
    r = SmartRouter({"models": {"gpt-4o": {"model": "openai/some-gateway-name",
                                           "api_base": "http://127.0.0.1:1/v1"}}})
    assert usage_cost(r.config, "gpt-4o", Usage(1000, 0)) == pytest.approx(2.5e-3)


def test_usage_from_objects_and_dicts() -> None:
    class U:
        prompt_tokens = 7
        completion_tokens = 9

    assert Usage.from_openai(U()) == Usage(7, 9)
    assert Usage.from_openai({"prompt_tokens": 3}) == Usage(3, 0)


def test_pre_call_estimate_counts_prompt_and_prices_output_separately() -> None:
    r = SmartRouter(ledger=False)
    messages = [{"role": "user", "content": "hello there"}]
    d = r.route(messages)
    est = r.estimate(d, messages, output_tokens=1000)
    assert 5 <= est["prompt_tokens"] <= 15 and est["completion_tokens"] == 1000
    p = est["prompt_tokens"]
    assert est["cost_usd"] == pytest.approx(p * 0.28e-6 + 1000 * 0.42e-6)
    assert est["baseline_cost_usd"] == pytest.approx(p * 2.5e-6 + 1000 * 10e-6)


def test_price_writes_nothing_and_record_writes_once() -> None:
    r = SmartRouter()
    assert r.ledger is not None
    d = r.route([{"role": "user", "content": "hello"}])
    r.price(d, d.model, Usage(10, 10))
    assert r.ledger.totals().count == 0
    r.record(d, d.model, Usage(10, 10))
    r.record(d, d.model, Usage(10, 10))  # the same request again: counted once
    assert r.ledger.totals().count == 1
