"""ChatSmartRouter pieces that need no server: conversions, tracing params, tools,
structured output, secrets, import cost, and a call through LiteLLM's mock_response."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from smart_router import ConfigError, InvalidMessagesError, SmartRouter
from smart_router._lc_convert import (
    ai_message,
    delta_chunk,
    to_openai_messages,
    tool_choice_param,
    usage_metadata,
)
from smart_router.langchain import DECISION_KEY, ChatSmartRouter

NOWHERE = "http://127.0.0.1:9/v1"
CONFIG: dict[str, Any] = {"api_base": NOWHERE, "classifier": {"type": "heuristic"}}
EASY = "hi, what's the capital of France?"
DESIGN = ("Design a distributed, fault-tolerant payment ledger for multi-region "
          "deployment: explain the consensus trade-offs and how it scales.")


class Weather(BaseModel):
    """Weather report."""

    city: str
    celsius: int


def tools_of(*names: str) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in names]


# -- conversions ------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "sent"), [
    ("any", "required"), ("required", "required"), ("auto", "auto"), ("none", "none"),
    ("lookup", {"type": "function", "function": {"name": "lookup"}}),
    (True, {"type": "function", "function": {"name": "lookup"}}),
    ({"type": "function", "function": {"name": "x"}}, {"type": "function",
                                                       "function": {"name": "x"}}),
])
def test_tool_choice_spellings(given: Any, sent: Any) -> None:
    assert tool_choice_param(given, tools_of("lookup")) == sent


def test_tool_choice_true_needs_one_tool() -> None:
    with pytest.raises(ValueError, match="exactly one tool"):
        tool_choice_param(True, tools_of("a", "b"))


def test_usage_metadata_is_integers_only() -> None:
    usage = {"prompt_tokens": 12.0, "completion_tokens": "5", "total_tokens": None,
             "prompt_tokens_details": {"cached_tokens": 4.0},
             "completion_tokens_details": {"reasoning_tokens": 2}}
    meta = usage_metadata(usage)
    assert meta == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
                    "input_token_details": {"cache_read": 4},
                    "output_token_details": {"reasoning": 2}}
    assert all(type(v) is int for v in (meta["input_tokens"], meta["total_tokens"]))
    assert usage_metadata(None) is None


def test_assistant_blocks_become_text_and_tool_calls() -> None:
    call = {"name": "lookup", "args": {"q": "x"}, "id": "c1", "type": "tool_call"}
    v1 = AIMessage(content=[{"type": "text", "text": "Let me look."},
                            {"type": "tool_call", **{k: call[k] for k in ("id", "name", "args")}},
                            {"type": "reasoning", "reasoning": "hidden"}], tool_calls=[call])
    anthropic = AIMessage(content=[{"type": "text", "text": "Sure."},
                                   {"type": "tool_use", "id": "c1", "name": "lookup",
                                    "input": {"q": "x"}}], tool_calls=[call])
    out = to_openai_messages([SystemMessage("be brief"), HumanMessage("hi", name="ann"), v1,
                              ToolMessage("found", tool_call_id="c1"), anthropic])
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool", "assistant"]
    assert out[1]["name"] == "ann"
    assert out[2]["content"] == "Let me look." and out[4]["content"] == "Sure."
    assert out[2]["tool_calls"][0]["function"] == {"name": "lookup",
                                                    "arguments": json.dumps({"q": "x"})}
    SmartRouter(CONFIG).route(out)  # valid input for the core


def test_response_tool_calls_parsed_and_malformed_kept() -> None:
    message = {"content": None, "tool_calls": [
        {"id": "a", "function": {"name": "ok", "arguments": '{"n": 1}'}},
        {"id": "b", "function": {"name": "bad", "arguments": '{"n": '}}]}
    msg = ai_message(message, {"model_name": "m"}, {"prompt_tokens": 3,
                                                     "completion_tokens": 4}, "id1")
    assert msg.content == ""
    assert msg.tool_calls == [{"name": "ok", "args": {"n": 1}, "id": "a", "type": "tool_call"}]
    assert [c["name"] for c in msg.invalid_tool_calls] == ["bad"]
    assert msg.usage_metadata == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


def test_empty_deltas_are_skipped() -> None:
    assert delta_chunk({"content": "", "tool_calls": None}) is None
    chunk = delta_chunk({"tool_calls": [{"index": 0, "id": "c", "function": {
        "name": "f", "arguments": '{"a"'}}]})
    assert chunk is not None and chunk.tool_call_chunks[0]["args"] == '{"a"'


# -- construction, tracing params, tools ------------------------------------------------

def test_config_forms(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text("api_base: http://127.0.0.1:9/v1\nclassifier: {type: heuristic}\n")
    router = SmartRouter(CONFIG)
    assert ChatSmartRouter(config=router).router is router
    assert ChatSmartRouter(config=str(path)).router.config.api_base == NOWHERE
    assert ChatSmartRouter(config=CONFIG).router.tier_names == ["simple", "moderate", "complex"]
    with pytest.raises(ConfigError, match="tiers"):
        ChatSmartRouter(config={"tiers": {}})


def test_ls_params_name_the_routed_model() -> None:
    llm = ChatSmartRouter(config=CONFIG, temperature=0.2, max_tokens=50, stop=["END"])
    decision = llm.router.route([{"role": "user", "content": DESIGN}])
    params = llm._get_ls_params(**{DECISION_KEY: decision})
    assert params["ls_model_name"] == decision.model == "gpt-4o"
    assert params["ls_provider"] == "openai"
    assert (params["ls_temperature"], params["ls_max_tokens"], params["ls_stop"]) == (
        0.2, 50, ["END"])
    assert llm._get_ls_params(model="deepseek/deepseek-chat")["ls_provider"] == "deepseek"
    invocation = llm._get_invocation_params(**{DECISION_KEY: decision})
    assert DECISION_KEY not in invocation
    assert (invocation["model"], invocation["smart_router_tier"]) == ("gpt-4o", "complex")


def test_bind_tools_formats_and_normalizes_tool_choice() -> None:
    llm = ChatSmartRouter(config=CONFIG)

    def lookup(q: str) -> str:
        """Look something up."""
        return q

    bound = llm.bind_tools([lookup, Weather], tool_choice="any", parallel_tool_calls=False)
    kwargs = bound.kwargs  # type: ignore[attr-defined]
    assert [t["function"]["name"] for t in kwargs["tools"]] == ["lookup", "Weather"]
    assert kwargs["tool_choice"] == "required" and kwargs["parallel_tool_calls"] is False
    named = llm.bind_tools([lookup], tool_choice="lookup").kwargs  # type: ignore[attr-defined]
    assert named["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}


def test_structured_output_methods_bind_what_they_say() -> None:
    llm = ChatSmartRouter(config=CONFIG)
    fc = llm.with_structured_output(Weather).first.kwargs  # type: ignore[attr-defined]
    assert fc["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}
    js = llm.with_structured_output(Weather, method="json_schema", strict=True)
    fmt = js.first.kwargs["response_format"]  # type: ignore[attr-defined]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Weather"
    assert fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"city", "celsius"}
    jm = llm.with_structured_output(Weather, method="json_mode")
    assert jm.first.kwargs["response_format"] == {"type": "json_object"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="method must be one of"):
        llm.with_structured_output(Weather, method="xml")  # type: ignore[arg-type]


def test_api_keys_never_shown() -> None:
    secret, config_secret = "sk-live-chat-model-key", "sk-live-config-key"
    llm = ChatSmartRouter(config={**CONFIG, "api_key": config_secret}, api_key=secret)
    shown = " ".join([repr(llm), str(llm), json.dumps(llm._identifying_params),
                      repr(llm._get_invocation_params()), repr(llm._client)])
    assert secret not in shown and config_secret not in shown
    # ...but both reach LiteLLM: the config's key wins where set, ours fills the rest
    assert llm._client.deployment("gpt-4o")["litellm_params"]["api_key"] == config_secret
    keyless = ChatSmartRouter(config=CONFIG, api_key=secret)
    assert keyless._client.deployment("gpt-4o")["litellm_params"]["api_key"] == secret


def test_importing_the_adapter_does_not_import_litellm() -> None:
    code = ("import sys, smart_router.langchain; "
            "print('litellm' in sys.modules, 'langchain.agents' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


# -- calls through LiteLLM's mock_response (real Router code, no server) ----------------

def test_call_through_litellm_mock_response() -> None:
    llm = ChatSmartRouter(config=CONFIG, max_retries=0,
                          model_kwargs={"mock_response": "Paris."})
    easy, hard = llm.invoke(EASY), llm.invoke(DESIGN)
    assert (easy.content, easy.response_metadata["model_name"]) == (
        "Paris.", "deepseek/deepseek-chat")
    assert hard.response_metadata["smart_router"]["tier"] == "complex"
    assert hard.usage_metadata is not None and hard.usage_metadata["total_tokens"] > 0


def test_bad_messages_fail_inside_the_run() -> None:
    class Errors(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[BaseException] = []

        def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            self.seen.append(error)

    spy = Errors()
    llm = ChatSmartRouter(config=CONFIG)
    bad = HumanMessage(content=[{"type": "hologram", "data": "..."}])
    with pytest.raises(InvalidMessagesError, match="hologram"):
        llm.invoke([bad], config={"callbacks": [spy]})
    assert len(spy.seen) == 1 and isinstance(spy.seen[0], InvalidMessagesError)
    with pytest.raises(ConfigError, match="no price"):
        llm.invoke(EASY, model="my-unpriced-model")


def test_token_counts_work_offline() -> None:
    llm = ChatSmartRouter(config=CONFIG)
    assert llm.get_num_tokens("hello world") == 2
    short = llm.get_num_tokens_from_messages([HumanMessage("hi")])
    longer = llm.get_num_tokens_from_messages([HumanMessage("hi"), AIMessage("hello there")])
    with_tools = llm.get_num_tokens_from_messages([HumanMessage("hi")], tools=[Weather])
    assert 0 < short < longer and short < with_tools
