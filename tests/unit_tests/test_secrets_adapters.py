"""Keys stay secret through both front doors, with LiteLLM's debug logging on.

The local server demands the key (401 otherwise), so each test proves the key was
really sent, and then that it shows up in no log record (DEBUG, smart_router and
LiteLLM loggers), no stdout/stderr, no response metadata, repr, ledger entry or error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from smart_router import SmartRouter
from smart_router.testing import Error, MockOpenAIServer

CONFIG_KEY = "gw-config-SECRET-a41f07"  # no "sk-" prefix: LiteLLM's own log filter
# redacts sk-style keys, these tests must not depend on it
ENV_KEY = "gw-env-SECRET-93c5be"
SECRETS = (CONFIG_KEY, ENV_KEY)
LOGGERS = ("smart_router", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "openai")
MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]
HARD = "Design a distributed, fault-tolerant, multi-region system and explain the trade-offs."


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text and secret[-8:] not in text, f"key leaked into {where}"


@pytest.fixture
def keyed_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockOpenAIServer]:
    monkeypatch.setenv("SMART_ROUTER_TEST_KEY", ENV_KEY)
    with MockOpenAIServer(api_key=ENV_KEY) as server:
        yield server


def config(server: MockOpenAIServer) -> dict[str, Any]:
    """The config's literal key is wrong for this server; the env key is the real one."""
    models = {m: {"model": f"openai/{m.split('/')[-1]}", "api_base": server.base_url,
                  "api_key": "os.environ/SMART_ROUTER_TEST_KEY"} for m in MODELS}
    return {"api_key": CONFIG_KEY, "models": models}


@pytest.fixture
def litellm_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """LiteLLM's own debug switch plus DEBUG capture for every relevant logger."""
    import litellm

    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    verbose = litellm.set_verbose
    caplog.set_level(logging.DEBUG)  # first: caplog restores the levels it sees here
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    litellm._turn_on_debug()
    litellm.set_verbose = True  # the legacy print_verbose path too (stdout)
    yield caplog
    litellm.set_verbose = verbose
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def check_everything(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
                     *objects: Any) -> None:
    records = caplog.records
    assert records, "nothing was logged: the capture is not working"
    text = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'exc_text', '')}"
                     for r in records)
    assert_clean(text, "log records")
    out = capfd.readouterr()
    assert_clean(out.out + out.err, "stdout/stderr")
    for obj in objects:
        assert_clean(repr(obj), f"repr of {type(obj).__name__}")
        if isinstance(obj, (dict, list)):
            assert_clean(json.dumps(obj, default=repr), "metadata")


async def test_langchain_door(keyed_server: MockOpenAIServer,
                              litellm_debug: pytest.LogCaptureFixture,
                              capfd: pytest.CaptureFixture[str]) -> None:
    from smart_router.langchain import ChatSmartRouter

    llm = ChatSmartRouter(config=config(keyed_server), max_retries=0)
    keyed_server.script("gpt-4o", Error(500, "premium down"))  # exercise the fallback path
    msg = await llm.ainvoke(HARD)
    assert msg.response_metadata["smart_router"]["fallback_used"]  # served: the key worked
    chunks = [c async for c in llm.astream("hello")]
    router = llm.router
    assert router.ledger is not None
    entries = [e.to_json() for e in router.ledger.entries()]
    assert len(entries) == 2
    check_everything(litellm_debug, capfd, llm, router, msg.response_metadata,
                     [c.response_metadata for c in chunks], entries, llm.dict())


async def test_litellm_door(keyed_server: MockOpenAIServer,
                            litellm_debug: pytest.LogCaptureFixture,
                            capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("smart_router.litellm", reason="the LiteLLM integration (issue 4)")
    import litellm

    from smart_router.litellm import attach

    sr = SmartRouter(config(keyed_server))
    router = litellm.Router(model_list=sr.config.litellm_model_list(), num_retries=0)
    attachment = attach(router, sr)
    keyed_server.script("gpt-4o", Error(500, "premium down"))
    resp = await router.acompletion(model="smart-router",
                                    messages=[{"role": "user", "content": HARD}])
    record = resp._hidden_params["smart_router"]
    assert record["fallback_used"]
    assert sr.ledger is not None
    entries = [e.to_json() for e in sr.ledger.entries()]
    check_everything(litellm_debug, capfd, attachment, sr, record, entries)


async def test_a_wrong_key_error_does_not_echo_it(litellm_debug: pytest.LogCaptureFixture,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """The server rejects the config's literal key: the failure names no key."""
    from smart_router.langchain import ChatSmartRouter

    with MockOpenAIServer(api_key="sk-the-right-one") as server:
        cfg = config(server)
        for m in cfg["models"].values():
            m.pop("api_key")  # falls back to the top-level (wrong) CONFIG_KEY
        llm = ChatSmartRouter(config=cfg, max_retries=0)
        with pytest.raises(Exception) as err:
            await llm.ainvoke("hello")
    assert_clean(str(err.value) + repr(err.value), "the error")
    check_everything(litellm_debug, capfd, llm)
