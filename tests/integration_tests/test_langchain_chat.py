"""ChatSmartRouter end to end: real LiteLLM code against the local MockOpenAIServer.

Tiers, fallbacks, agent loops (``create_agent``, LangGraph's prebuilt agent and the
middleware), streaming metadata, async, and cost figures checked against the usage the
server reported, priced independently from the config.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from smart_router import AllModelsFailedError, RouterConfig, SmartRouter
from smart_router.langchain import ChatSmartRouter, SmartRouterMiddleware
from smart_router.testing import Error, MockOpenAIServer, Reply, ToolCall

SIMPLE, MODERATE, COMPLEX = "deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o"
COMPLEX_FALLBACK = "anthropic/claude-opus-4-5"
MODELS = [SIMPLE, MODERATE, COMPLEX, COMPLEX_FALLBACK, "gpt-4o-mini"]
EASY = "hi, what's the capital of France?"
DESIGN = ("Design a distributed, fault-tolerant payment ledger for multi-region "
          "deployment: explain the consensus trade-offs and how it scales.")


def wire(name: str) -> str:
    """The model name the server sees for config model ``name``."""
    return name.split("/")[-1]


def routing_config(base_url: str) -> dict[str, Any]:
    return {
        "tiers": {
            "simple": {"model": SIMPLE, "fallbacks": [MODERATE]},
            "moderate": {"model": MODERATE, "fallbacks": [SIMPLE]},
            "complex": {"model": COMPLEX, "fallbacks": [COMPLEX_FALLBACK]},
        },
        "models": {n: {"model": f"openai/{wire(n)}", "api_base": base_url, "api_key": "sk-test"}
                   for n in MODELS},
        "classifier": {"type": "heuristic"},
    }


@pytest.fixture
def config(llm_server: MockOpenAIServer) -> dict[str, Any]:
    return routing_config(llm_server.base_url)


@pytest.fixture
def llm(config: dict[str, Any]) -> ChatSmartRouter:
    return ChatSmartRouter(config=config, max_retries=0)


def served(server: MockOpenAIServer) -> list[str]:
    return [r["model"] for r in server.requests]


def price(config: dict[str, Any], model: str, prompt: int, completion: int) -> float:
    info = RouterConfig.model_validate(config).model_info(model)
    assert info is not None
    return prompt * info.input_cost_per_token + completion * info.output_cost_per_token


# -- tier choice -------------------------------------------------------------------

@pytest.mark.parametrize(("prompt", "tier", "model"),
                         [(EASY, "simple", SIMPLE), (DESIGN, "complex", COMPLEX)])
def test_prompt_reaches_its_tier_model(llm: ChatSmartRouter, llm_server: MockOpenAIServer,
                                       prompt: str, tier: str, model: str) -> None:
    msg = llm.invoke(prompt)
    assert served(llm_server) == [wire(model)]
    record = msg.response_metadata["smart_router"]
    assert (record["tier"], record["model"], record["fallback_used"]) == (tier, model, False)
    assert msg.response_metadata["model_name"] == model
    assert msg.response_metadata["finish_reason"] == "stop"
    assert record["reasons"] and 0.0 <= record["score"] <= 1.0
    assert msg.content == f"[{wire(model)}] answer: {prompt[:60]}"


def test_tracing_names_the_routed_model(llm: ChatSmartRouter) -> None:
    class Spy(BaseCallbackHandler):
        def __init__(self) -> None:
            self.metadata: list[dict[str, Any]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.metadata.append(kwargs.get("metadata") or {})

    spy = Spy()
    llm.invoke(EASY, config={"callbacks": [spy]})
    list(llm.stream(DESIGN, config={"callbacks": [spy]}))
    assert [m["ls_model_name"] for m in spy.metadata] == [SIMPLE, COMPLEX]
    assert [m["ls_provider"] for m in spy.metadata] == ["deepseek", "openai"]


def test_model_override_skips_classification(llm: ChatSmartRouter,
                                             llm_server: MockOpenAIServer) -> None:
    pinned = llm.invoke(EASY, model=COMPLEX)
    configured = llm.invoke(EASY, config={"configurable": {"smart_router_model": "gpt-4o-mini"}})
    assert served(llm_server) == [wire(COMPLEX), "gpt-4o-mini"]
    assert pinned.response_metadata["smart_router"]["tier"] == "complex"
    assert "classification skipped" in pinned.response_metadata["smart_router"]["reasons"][0]
    # a priced model outside the tier table gets a deployment on demand
    assert configured.response_metadata["model_name"] == "gpt-4o-mini"
    assert configured.response_metadata["smart_router"]["tier"] == "override"


# -- fallbacks and retries -------------------------------------------------------------

def test_fallback_when_complex_model_returns_500(llm: ChatSmartRouter,
                                                 llm_server: MockOpenAIServer) -> None:
    llm_server.set_default(wire(COMPLEX), Error(500, "upstream outage"))
    msg = llm.invoke(DESIGN)
    assert served(llm_server) == [wire(COMPLEX), wire(COMPLEX_FALLBACK)]
    record = msg.response_metadata["smart_router"]
    assert msg.response_metadata["model_name"] == record["model"] == COMPLEX_FALLBACK
    assert record["tier"] == "complex" and record["fallback_used"] is True
    assert msg.content.startswith(f"[{wire(COMPLEX_FALLBACK)}]")

    full = None
    for chunk in llm.stream(DESIGN):
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.response_metadata["model_name"] == COMPLEX_FALLBACK
    assert full.response_metadata["smart_router"]["fallback_used"] is True


async def test_when_every_model_fails_one_error_lists_each(
    llm: ChatSmartRouter, config: dict[str, Any], llm_server: MockOpenAIServer,
) -> None:
    llm_server.set_default(wire(COMPLEX), Error(500, "premium is down"))
    llm_server.set_default(wire(COMPLEX_FALLBACK), Error(503, "fallback is down too"))
    calls = {
        "invoke": lambda: llm.invoke(DESIGN),
        "stream": lambda: list(llm.stream(DESIGN)),
        "ainvoke": lambda: asyncio.run(llm.ainvoke(DESIGN)),
    }
    for name, call in calls.items():
        with pytest.raises(AllModelsFailedError) as err:
            await asyncio.to_thread(call)
        assert [model for model, _ in err.value.attempts] == [COMPLEX, COMPLEX_FALLBACK], name
        assert "premium is down" in err.value.attempts[0][1]
        assert "fallback is down too" in err.value.attempts[1][1]
        assert err.value.__cause__ is not None  # LiteLLM's own error, for status codes

    # with no fallback to try, LiteLLM's error stands as it is (its type, its status)
    import openai

    lone = {**config, "tiers": {"only": {"model": SIMPLE}}}
    llm_server.set_default(wire(SIMPLE), Error(429, "slow down"))
    with pytest.raises(openai.RateLimitError):
        ChatSmartRouter(config=lone, max_retries=0).invoke(EASY)


def test_retry_on_the_same_model_is_not_a_fallback(config: dict[str, Any],
                                                   llm_server: MockOpenAIServer) -> None:
    llm_server.script(wire(SIMPLE), Error(500, "blip"))
    msg = ChatSmartRouter(config=config, max_retries=1).invoke(EASY)
    assert served(llm_server) == [wire(SIMPLE), wire(SIMPLE)]
    assert msg.response_metadata["smart_router"]["fallback_used"] is False


# -- streaming, async, cost -----------------------------------------------------------

def test_streaming_metadata_arrives_once(llm: ChatSmartRouter,
                                         llm_server: MockOpenAIServer) -> None:
    llm_server.set_default("*", Reply("Paris is the capital of France.",
                                      usage={"prompt_tokens": 21, "completion_tokens": 7}))
    chunks = list(llm.stream(EASY))
    with_record = [c for c in chunks if "smart_router" in c.response_metadata]
    with_usage = [c for c in chunks if c.usage_metadata]
    with_model = [c for c in chunks if "model_name" in c.response_metadata]
    with_finish = [c for c in chunks if "finish_reason" in c.response_metadata]
    assert len(with_record) == len(with_usage) == len(with_model) == len(with_finish) == 1
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.content == "Paris is the capital of France."
    assert full.response_metadata["model_name"] == SIMPLE  # not "SIMPLESIMPLE..."
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["smart_router"] == with_record[0].response_metadata[
        "smart_router"]
    assert full.usage_metadata == {"input_tokens": 21, "output_tokens": 7, "total_tokens": 28}


def test_usage_and_cost_match_the_server(llm: ChatSmartRouter, config: dict[str, Any],
                                         llm_server: MockOpenAIServer) -> None:
    llm_server.set_default("*", Reply("A long design answer.",
                                      usage={"prompt_tokens": 1200, "completion_tokens": 345}))
    msg = llm.invoke(DESIGN)
    assert msg.usage_metadata == {"input_tokens": 1200, "output_tokens": 345,
                                  "total_tokens": 1545}
    assert all(type(v) is int for v in msg.usage_metadata.values())
    record = msg.response_metadata["smart_router"]
    assert record["cost_usd"] == pytest.approx(price(config, COMPLEX, 1200, 345), rel=1e-9)
    assert record["baseline_cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-9)

    cheap = llm.invoke(EASY)
    cheap_usage = cheap.usage_metadata
    assert cheap_usage is not None
    cheap_record = cheap.response_metadata["smart_router"]
    p, c = cheap_usage["input_tokens"], cheap_usage["output_tokens"]
    assert (p, c) == (1200, 345)
    assert cheap_record["cost_usd"] == pytest.approx(price(config, SIMPLE, p, c), rel=1e-9)
    assert cheap_record["baseline_cost_usd"] == pytest.approx(price(config, COMPLEX, p, c))
    assert cheap_record["cost_usd"] < cheap_record["baseline_cost_usd"]


async def test_async_invoke_stream_and_batch(llm: ChatSmartRouter,
                                             llm_server: MockOpenAIServer) -> None:
    easy = await llm.ainvoke(EASY)
    hard = None
    async for chunk in llm.astream(DESIGN):
        hard = chunk if hard is None else hard + chunk
    both = await llm.abatch([EASY, DESIGN])
    assert easy.response_metadata["smart_router"]["tier"] == "simple"
    assert hard is not None and hard.response_metadata["smart_router"]["tier"] == "complex"
    assert [m.response_metadata["model_name"] for m in both] == [SIMPLE, COMPLEX]
    assert sorted(served(llm_server)) == sorted([wire(SIMPLE), wire(COMPLEX)] * 2)
    results = await asyncio.gather(*(llm.ainvoke(p) for p in [EASY, DESIGN, EASY]))
    assert [m.response_metadata["model_name"] for m in results] == [SIMPLE, COMPLEX, SIMPLE]


# -- agent loops ------------------------------------------------------------------------

@tool
def search_docs(query: str) -> str:
    """Search the engineering docs."""
    return f"3 documents about {query}"


@tool
def get_weather(city: str) -> str:
    """Current weather of a city."""
    return "sunny, 21C"


def ai_records(messages: list[Any]) -> list[dict[str, Any]]:
    return [m.response_metadata["smart_router"] for m in messages if isinstance(m, AIMessage)]


def test_agent_run_that_started_complex_stays_complex(llm: ChatSmartRouter,
                                                      llm_server: MockOpenAIServer) -> None:
    llm_server.script(wire(COMPLEX), ToolCall("search_docs", {"query": "raft consensus"}),
                      ToolCall("search_docs", {"query": "ledger sharding"}),
                      Reply("Use Raft per shard and a saga for cross-shard transfers."))
    agent = create_agent(llm, [search_docs])
    out = agent.invoke({"messages": [HumanMessage(DESIGN)]})
    assert served(llm_server) == [wire(COMPLEX)] * 3
    assert [r["tier"] for r in ai_records(out["messages"])] == ["complex"] * 3
    assert sum(isinstance(m, ToolMessage) for m in out["messages"]) == 2
    assert out["messages"][-1].content.startswith("Use Raft")


def test_langgraph_prebuilt_agent_keeps_the_tier(llm: ChatSmartRouter,
                                                 llm_server: MockOpenAIServer) -> None:
    from langgraph.prebuilt import create_react_agent

    llm_server.script(wire(COMPLEX), ToolCall("search_docs", {"query": "raft"}),
                      Reply("Raft it is."))
    with pytest.warns(Warning):  # deprecated in favour of create_agent, still supported
        agent = create_react_agent(llm, [search_docs])
    out = agent.invoke({"messages": [HumanMessage(DESIGN)]})
    assert served(llm_server) == [wire(COMPLEX)] * 2
    assert [r["tier"] for r in ai_records(out["messages"])] == ["complex", "complex"]


def test_stuck_agent_loop_escalates_one_tier(llm: ChatSmartRouter,
                                             llm_server: MockOpenAIServer) -> None:
    same = ToolCall("get_weather", {"city": "Paris"})
    llm_server.script("*", same, same, Reply("It is sunny in Paris."))
    agent = create_agent(llm, [get_weather])
    out = agent.invoke({"messages": [HumanMessage("What's the weather in Paris?")]})
    records = ai_records(out["messages"])
    # tools raise the easy ask to moderate; the repeated call escalates the third step
    assert [r["tier"] for r in records] == ["moderate", "moderate", "complex"]
    assert served(llm_server) == [wire(MODERATE), wire(MODERATE), wire(COMPLEX)]
    assert any("agent loop" in reason for reason in records[-1]["reasons"])
    assert not any("agent loop" in reason for reason in records[0]["reasons"])


async def test_async_agent_loop(llm: ChatSmartRouter, llm_server: MockOpenAIServer) -> None:
    llm_server.script(wire(COMPLEX), ToolCall("search_docs", {"query": "raft"}),
                      Reply("Raft per shard."))
    out = await create_agent(llm, [search_docs]).ainvoke({"messages": [HumanMessage(DESIGN)]})
    assert [r["tier"] for r in ai_records(out["messages"])] == ["complex", "complex"]


# -- the middleware ----------------------------------------------------------------------

class ToolReadyFake(GenericFakeChatModel):
    """A LangChain model that takes bind_tools (the fake core model does not)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def placeholder() -> ToolReadyFake:
    """The agent's own model: the middleware must replace it at every step."""
    return ToolReadyFake(messages=iter([]))  # raises if it is ever called


def test_middleware_routes_each_step_through_litellm(config: dict[str, Any],
                                                     llm_server: MockOpenAIServer) -> None:
    same = ToolCall("get_weather", {"city": "Paris"})
    llm_server.script("*", same, same, Reply("Sunny."))
    middleware = SmartRouterMiddleware(config, max_retries=0)
    agent = create_agent(placeholder(), [get_weather], middleware=[middleware])
    out = agent.invoke({"messages": [HumanMessage("What's the weather in Paris?")]})
    records = ai_records(out["messages"])
    assert [r["tier"] for r in records] == ["moderate", "moderate", "complex"]
    assert served(llm_server) == [wire(MODERATE), wire(MODERATE), wire(COMPLEX)]
    assert any("agent loop" in reason for reason in records[-1]["reasons"])


def test_middleware_uses_mapped_models_and_falls_back(config: dict[str, Any],
                                                      llm_server: MockOpenAIServer) -> None:
    class Broken(ToolReadyFake):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("provider down")

    cheap = ToolReadyFake(messages=iter([AIMessage("Paris.", usage_metadata={
        "input_tokens": 10, "output_tokens": 2, "total_tokens": 12})]))
    router = SmartRouter(config)
    middleware = SmartRouterMiddleware(
        router, models={SIMPLE: cheap, COMPLEX: Broken(messages=iter([]))}, max_retries=0)
    agent = create_agent(placeholder(), [], middleware=[middleware])

    easy = agent.invoke({"messages": [HumanMessage(EASY)]})["messages"][-1]
    assert easy.content == "Paris."
    record = easy.response_metadata["smart_router"]
    assert (record["tier"], record["model"], record["fallback_used"]) == ("simple", SIMPLE, False)
    assert record["cost_usd"] == pytest.approx(price(config, SIMPLE, 10, 2))
    assert served(llm_server) == []  # the mapped model answered

    hard = agent.invoke({"messages": [HumanMessage(DESIGN)]})["messages"][-1]
    record = hard.response_metadata["smart_router"]
    assert (record["tier"], record["model"], record["fallback_used"]) == (
        "complex", COMPLEX_FALLBACK, True)
    assert served(llm_server) == [wire(COMPLEX_FALLBACK)]


def test_middleware_rejects_unknown_model_names(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not models of the config"):
        SmartRouterMiddleware(config, models={"gpt-5-turbo-max": placeholder()})


# -- the cost ledger -----------------------------------------------------------------------

def test_each_call_is_one_ledger_entry_with_its_tag(llm: ChatSmartRouter,
                                                    llm_server: MockOpenAIServer) -> None:
    llm_server.set_default(wire(COMPLEX), Error(500, "outage"))
    llm.invoke(EASY, config={"configurable": {"smart_router_tag": "team-a"}})
    list(llm.stream(DESIGN, config={"configurable": {"smart_router_tag": "team-b"}}))
    tagged = ChatSmartRouter(config=llm.router, tag="team-c", max_retries=0)
    tagged.invoke(EASY)
    ledger = llm.router.ledger
    assert ledger is not None
    entries = list(ledger.entries())
    assert [(e.tag, e.tier, e.model, e.fallback_used) for e in entries] == [
        ("team-a", "simple", SIMPLE, False),
        ("team-b", "complex", COMPLEX_FALLBACK, True),
        ("team-c", "simple", SIMPLE, False),
    ]
    assert entries[1].routed_model == COMPLEX


def test_middleware_fallback_is_one_ledger_entry(config: dict[str, Any],
                                                 llm_server: MockOpenAIServer) -> None:
    class Broken(ToolReadyFake):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("provider down")

    router = SmartRouter(config)
    middleware = SmartRouterMiddleware(router, models={COMPLEX: Broken(messages=iter([]))},
                                       max_retries=0)
    create_agent(placeholder(), [], middleware=[middleware]).invoke(
        {"messages": [HumanMessage(DESIGN)]})
    assert router.ledger is not None
    entries = list(router.ledger.entries())
    assert [(e.model, e.routed_model, e.fallback_used) for e in entries] == [
        (COMPLEX_FALLBACK, COMPLEX, True)]


# -- structured output and streaming=True --------------------------------------------------

class Verdict(BaseModel):
    """Whether a design holds up."""

    sound: bool
    risks: list[str]


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output_with_raw(llm: ChatSmartRouter, llm_server: MockOpenAIServer,
                                    method: str) -> None:
    out = llm.with_structured_output(Verdict, method=method, include_raw=True).invoke(DESIGN)
    assert isinstance(out["parsed"], Verdict) and out["parsing_error"] is None
    raw = out["raw"]
    assert raw.response_metadata["smart_router"]["tier"] == "complex"
    sent = llm_server.requests[-1]
    if method == "json_schema":
        assert sent["response_format"]["json_schema"]["name"] == "Verdict"
    else:
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "Verdict"}}


def test_streaming_flag_streams_under_invoke(config: dict[str, Any],
                                             llm_server: MockOpenAIServer) -> None:
    msg = ChatSmartRouter(config=config, streaming=True, max_retries=0).invoke(EASY)
    assert llm_server.requests[-1]["stream"] is True
    assert msg.response_metadata["model_name"] == SIMPLE
    assert msg.response_metadata["smart_router"]["tier"] == "simple"
    assert msg.content == f"[{wire(SIMPLE)}] answer: {EASY}"


def test_image_request_moves_to_a_vision_tier(llm: ChatSmartRouter,
                                              llm_server: MockOpenAIServer) -> None:
    pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4"
             "nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")
    msg = llm.invoke([HumanMessage([{"type": "text", "text": "What colour is this?"},
                                    {"type": "image_url", "image_url": {"url": pixel}}])])
    record = msg.response_metadata["smart_router"]
    assert record["tier"] == "complex" and any("vision" in r for r in record["reasons"])
    sent = llm_server.requests_for(wire(COMPLEX))[0]["messages"][0]["content"]
    assert sent[1] == {"type": "image_url", "image_url": {"url": pixel}}
