"""End to end: a real ``litellm --config ...`` proxy process with smart-router's hook.

The proxy runs the shipped example (examples/litellm_proxy/config.yaml and
smart_router.yaml) with each model's ``litellm_params`` pointed at the local
MockOpenAIServer, and the cost ledger in an SQLite file the test reads; no database, no
internet (local price map, telemetry off). Requests go through the ``openai`` client.
Expected tiers and costs come from an in-process ``SmartRouter`` with the same config,
so the proxy must agree with the core.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from openai import OpenAI

from smart_router import SmartRouter
from smart_router._ledger import LedgerEntry, SQLiteLedger
from smart_router.testing import Error, MockOpenAIServer

pytestmark = pytest.mark.proxy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "litellm_proxy"
# What `litellm --config` imports on startup beyond litellm's own dependencies (the
# `proxy` extra of smart-router); a missing one skips (or fails in CI) with this hint.
PROXY_MODULES = ["fastapi", "uvicorn", "backoff", "orjson", "apscheduler", "jwt", "multipart",
                 "cryptography", "rq", "semver", "expression", "fastapi_sso", "mcp",
                 "soundfile", "uvloop"]
STARTUP_TIMEOUT = 180.0  # seconds: CI-like, loaded machine, no network
EASY = "hi there"
HARD = ("Design a multi-region active-active payments platform at scale: which consensus "
        "protocol, how to shard the ledger, failure modes during a region outage, and the "
        "trade-offs between latency and consistency.")


def wire(name: str) -> str:
    return name.split("/")[-1]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def proxy_config(base_url: str) -> dict[str, Any]:
    """The example config, every real model pointed at the mock server."""
    config: dict[str, Any] = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        if not params["model"].startswith("auto_router/"):
            entry["litellm_params"] = {"model": f"openai/{wire(entry['model_name'])}",
                                       "api_base": base_url, "api_key": "sk-test"}
    return config


def _live(url: str) -> Callable[[Any], bool]:
    def check(_: Any) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False
    return check


@dataclass
class Proxy:
    client: OpenAI
    startup_s: float
    ledger: Path  # the proxy's smart-router cost ledger (SQLite)

    def entry(self, call_id: str, wait: float = 10.0) -> LedgerEntry:
        """The ledger entry of one request (written after the answer, for streams)."""
        deadline = time.monotonic() + wait
        while True:
            found = [e for e in SQLiteLedger(self.ledger).entries() if e.id == call_id]
            if found or time.monotonic() > deadline:
                assert found, f"no ledger entry for {call_id}"
                return found[0]
            time.sleep(0.1)


@pytest.fixture(scope="module")
def proxy(
    mock_llm_server: MockOpenAIServer,
    service_launcher: Callable[..., contextlib.AbstractContextManager[Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    from conftest import free_port, service_unavailable

    missing = [m for m in PROXY_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        service_unavailable(f"the LiteLLM proxy needs {missing}: pip install -e '.[proxy]'")
    folder = tmp_path_factory.mktemp("proxy")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(proxy_config(mock_llm_server.base_url)))
    routing = yaml.safe_load((EXAMPLE / "smart_router.yaml").read_text())
    routing["ledger"] = {"path": str(folder / "ledger.sqlite")}
    # sort_keys=False: the tiers' order (cheapest first) is part of the config.
    (folder / "smart_router.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    port = free_port()
    key = f"sk-{secrets.token_hex(16)}"
    env = {**os.environ, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_TELEMETRY_DISABLED": "true",
           "SMART_ROUTER_CONFIG": str(folder / "smart_router.yaml")}
    env.pop("DATABASE_URL", None)  # no database: the proxy keeps keys and spend in memory
    executable = Path(sys.executable).with_name("litellm")
    argv = [str(executable) if executable.exists() else "litellm", "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port)]
    started = time.monotonic()
    with service_launcher(
        "litellm-proxy", argv, port=port, env=env, cwd=str(folder),
        install_hint="pip install -e '.[proxy]' (litellm ships the `litellm` command)",
        ready_timeout=STARTUP_TIMEOUT,
        ready_check=_live(f"http://127.0.0.1:{port}/health/liveliness"),
    ):
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0,
                        timeout=60)
        yield Proxy(client, time.monotonic() - started, folder / "ledger.sqlite")


@pytest.fixture
def client(proxy: Proxy, llm_server: MockOpenAIServer) -> OpenAI:
    return proxy.client


@pytest.fixture(scope="module")
def core() -> SmartRouter:
    return SmartRouter(EXAMPLE / "smart_router.yaml", ledger=False)


def chat(client: OpenAI, model: str, text: str, **kwargs: Any) -> tuple[Any, Any]:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=user(text), **kwargs)  # type: ignore[arg-type]
    return raw.headers, raw.parse()


def test_the_proxy_started_within_its_bound(proxy: Proxy) -> None:
    assert 0 < proxy.startup_s < STARTUP_TIMEOUT


@pytest.mark.parametrize("text", [EASY, HARD])
def test_requests_go_to_their_tier_with_a_cost_record(
    client: OpenAI, llm_server: MockOpenAIServer, core: SmartRouter, proxy: Proxy, text: str
) -> None:
    headers, body = chat(client, "smart-router", text)
    decision = core.route(user(text))
    assert [r["model"] for r in llm_server.requests] == [wire(decision.model)]
    assert headers["x-smart-router-tier"] == decision.tier
    assert headers["x-smart-router-model"] == decision.model
    assert headers["x-litellm-model-group"] == decision.model
    assert headers["x-smart-router-fallback-used"] == "false"
    expected = core.record(decision, decision.model, body.usage.model_dump())
    assert float(headers["x-smart-router-cost-usd"]) == pytest.approx(expected["cost_usd"])
    assert float(headers["x-smart-router-baseline-cost-usd"]) == pytest.approx(
        expected["baseline_cost_usd"])
    assert float(headers["x-smart-router-score"]) == pytest.approx(decision.score, abs=1e-4)
    entry = proxy.entry(headers["x-litellm-call-id"])
    assert (entry.tier, entry.model, entry.fallback_used) == (decision.tier, decision.model, False)
    assert entry.prompt_tokens == body.usage.prompt_tokens
    assert entry.cost_usd == pytest.approx(expected["cost_usd"], abs=1e-9)


def test_other_models_pass_through(client: OpenAI, llm_server: MockOpenAIServer) -> None:
    headers, body = chat(client, "gpt-4o", EASY)
    assert [r["model"] for r in llm_server.requests] == ["gpt-4o"]
    assert not any(h.startswith("x-smart-router-") for h in headers)
    assert "[gpt-4o]" in body.choices[0].message.content


def test_model_override_skips_classification(
    client: OpenAI, llm_server: MockOpenAIServer
) -> None:
    headers, _ = chat(client, "smart-router", EASY, extra_body={"model_override": "gpt-4o"})
    assert [r["model"] for r in llm_server.requests] == ["gpt-4o"]
    assert "model override" in headers["x-smart-router-reasons"]


def test_streams_get_decision_headers_and_a_ledger_entry(
    client: OpenAI, llm_server: MockOpenAIServer, core: SmartRouter, proxy: Proxy
) -> None:
    with client.chat.completions.with_streaming_response.create(
            model="smart-router", messages=user(HARD), stream=True) as response:  # type: ignore[arg-type]
        text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse()
                       if chunk.choices)
        headers = response.headers
    decision = core.route(user(HARD))
    assert headers["x-smart-router-tier"] == decision.tier
    assert "x-smart-router-cost-usd" not in headers  # unknown until the stream ends
    assert text and [r["model"] for r in llm_server.requests] == ["gpt-4o"]
    entry = proxy.entry(headers["x-litellm-call-id"])
    assert (entry.tier, entry.model) == (decision.tier, decision.model)
    assert entry.completion_tokens > 0 and entry.cost_usd > 0


def test_the_complexity_router_plugin_runs_in_the_proxy(
    client: OpenAI, llm_server: MockOpenAIServer, core: SmartRouter
) -> None:
    headers, _ = chat(client, "smart-auto", HARD)
    assert headers["x-litellm-complexity-router-tier"] == core.route(user(HARD)).tier
    assert [r["model"] for r in llm_server.requests] == ["gpt-4o"]


def test_a_failing_tier_model_falls_back(
    client: OpenAI, llm_server: MockOpenAIServer, core: SmartRouter
) -> None:
    # Last on purpose: the failures put gpt-4o in cooldown for the rest of the module.
    llm_server.set_default("gpt-4o", Error(500, "upstream down"))
    headers, body = chat(client, "smart-router", HARD)
    fallback = core.route(user(HARD)).fallbacks[0]
    assert headers["x-smart-router-fallback-used"] == "true"
    assert headers["x-smart-router-model"] == fallback
    assert [r["model"] for r in llm_server.requests][-1] == wire(fallback)
    assert "gpt-4o" in [r["model"] for r in llm_server.requests]
    decision = core.route(user(HARD))
    expected = core.record(decision, fallback, body.usage.model_dump())
    assert float(headers["x-smart-router-cost-usd"]) == pytest.approx(expected["cost_usd"])
