"""The mock OpenAI-compatible server, exercised for real over loopback HTTP through the
``openai`` client and LiteLLM, plus the shared fixtures of ``tests/conftest.py``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import litellm
import openai
import pytest
import redis
from pytest_socket import SocketConnectBlockedError

from smart_router.testing import (
    Error,
    Fail,
    JSONReply,
    MockOpenAIServer,
    Raw,
    Reply,
    Slow,
    ToolCall,
    ToolCalls,
    count_prompt_tokens,
    count_tokens,
    example_from_schema,
)

USER = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 3},
                "verbose": {"type": "boolean"},
            },
            "required": ["city", "unit", "days"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"},
                           "filters": {"type": "object",
                                       "properties": {"tags": {"type": "array",
                                                               "items": {"type": "string"}}},
                                       "required": ["tags"]}},
            "required": ["query", "filters"],
        },
    },
}


def client(server: MockOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, **kwargs)


def llm_kwargs(server: MockOpenAIServer, model: str = "gpt-4o") -> dict[str, Any]:
    return {"model": f"openai/{model}", "api_base": server.base_url, "api_key": "sk-test"}


def http(method: str, url: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, lower(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, lower(error.headers), error.read()


def lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def sse_events(raw: bytes) -> list[Any]:
    events = []
    for block in raw.decode().split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            payload = block[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


# --- the server over plain HTTP and the openai client ----------------------------------------
def test_base_url_models_and_both_paths(llm_server: MockOpenAIServer) -> None:
    assert llm_server.base_url == f"http://127.0.0.1:{llm_server.port}/v1"
    llm_server.script("model-a", Reply("one"))
    llm_server.set_default("model-b", Reply("two"))
    status, _, body = http("POST", f"{llm_server.url}/chat/completions",
                           {"model": "model-c", "messages": USER})
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"].startswith("[model-c] answer:")
    status, _, body = http("GET", f"{llm_server.base_url}/models")
    assert status == 200
    assert [m["id"] for m in json.loads(body)["data"]] == ["model-a", "model-b", "model-c"]


def test_default_text_reply_and_usage(llm_server: MockOpenAIServer) -> None:
    response = client(llm_server).chat.completions.create(model="gpt-4o", messages=USER)
    text = "[gpt-4o] answer: " + USER[0]["content"][:60]
    assert response.model == "gpt-4o"
    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert len(response.choices) == 1
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == text
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.prompt_tokens == count_prompt_tokens(USER) == 3 + 3 + 1 + 12
    assert response.usage.completion_tokens == count_tokens(text)
    assert response.usage.total_tokens == response.usage.prompt_tokens + count_tokens(text)
    assert llm_server.requests == [{"model": "gpt-4o", "messages": USER}]


def test_scripts_are_consumed_in_order_then_default(llm_server: MockOpenAIServer) -> None:
    llm_server.script("m", Reply("first", usage={"prompt_tokens": 7, "completion_tokens": 2}),
                      "second")
    llm_server.set_default("*", Reply("fallback"))
    openai_client = client(llm_server)
    answers = [openai_client.chat.completions.create(model=name, messages=USER)
               for name in ("m", "other", "m", "m")]
    assert [a.choices[0].message.content for a in answers] == [
        "first", "fallback", "second", "fallback"]
    assert answers[0].usage is not None
    assert (answers[0].usage.prompt_tokens, answers[0].usage.completion_tokens,
            answers[0].usage.total_tokens) == (7, 2, 9)
    assert len(llm_server.requests_for("m")) == 3
    assert [r["model"] for r in llm_server.requests] == ["m", "other", "m", "m"]
    assert llm_server.pending("m") == 0
    llm_server.script("m", "left over")
    llm_server.reset()
    assert (llm_server.requests, llm_server.pending("m")) == ([], 0)
    again = openai_client.chat.completions.create(model="m", messages=USER)
    assert again.choices[0].message.content.startswith("[m] answer:")


def test_stop_max_tokens_and_n(llm_server: MockOpenAIServer) -> None:
    openai_client = client(llm_server)
    llm_server.set_default("m", Reply("alpha beta gamma. delta epsilon"))
    stopped = openai_client.chat.completions.create(model="m", messages=USER, stop=[". ", "zz"])
    assert stopped.choices[0].message.content == "alpha beta gamma"
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage is not None and stopped.usage.completion_tokens == 3
    for key in ("max_tokens", "max_completion_tokens"):
        cut = openai_client.chat.completions.create(model="m", messages=USER, **{key: 2})
        assert cut.choices[0].message.content == "alpha beta"
        assert cut.choices[0].finish_reason == "length"
        assert cut.usage is not None and cut.usage.completion_tokens == 2
    two = openai_client.chat.completions.create(model="m", messages=USER, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    assert {c.message.content for c in two.choices} == {"alpha beta gamma. delta epsilon"}


def test_default_tool_calls_follow_tool_choice(llm_server: MockOpenAIServer) -> None:
    openai_client = client(llm_server)
    tools: Any = [WEATHER_TOOL, SEARCH_TOOL]
    first = openai_client.chat.completions.create(model="m", messages=USER, tools=tools)
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None
    (call,) = first.choices[0].message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "unit": "celsius",
                                                   "days": 3}
    named = openai_client.chat.completions.create(
        model="m", messages=USER, tools=tools,
        tool_choice={"type": "function", "function": {"name": "search"}})
    (call,) = named.choices[0].message.tool_calls or []
    assert call.function.name == "search"
    assert json.loads(call.function.arguments) == {"query": "example",
                                                   "filters": {"tags": ["example"]}}
    none = openai_client.chat.completions.create(model="m", messages=USER, tools=tools,
                                                 tool_choice="none")
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content == "[m] answer: " + USER[0]["content"][:60]
    after_tool: Any = [*USER, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    final = openai_client.chat.completions.create(model="m", messages=after_tool, tools=tools)
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == "[m] answer: " + USER[0]["content"][:60]
    assert final.usage is not None
    assert final.usage.prompt_tokens == count_prompt_tokens(after_tool, tools)


def test_scripted_parallel_tool_calls(llm_server: MockOpenAIServer) -> None:
    llm_server.script("m", [ToolCall("a", {"x": 1}), ToolCall("b", {"y": [1, 2]})],
                      ToolCalls([ToolCall("c")], text="calling c"))
    openai_client = client(llm_server)
    first = openai_client.chat.completions.create(model="m", messages=USER)
    calls = first.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("a", {"x": 1}), ("b", {"y": [1, 2]})]
    assert len({c.id for c in calls}) == 2
    second = openai_client.chat.completions.create(model="m", messages=USER)
    assert second.choices[0].message.content == "calling c"
    assert [c.function.name for c in second.choices[0].message.tool_calls or []] == ["c"]
    assert second.usage is not None
    assert second.usage.completion_tokens == count_tokens("calling c") + count_tokens(
        "c") + count_tokens("{}")


def test_json_response_formats(llm_server: MockOpenAIServer) -> None:
    openai_client = client(llm_server)
    schema = {"type": "object",
              "properties": {"tier": {"type": "string", "enum": ["simple", "complex"]},
                             "score": {"type": "number", "minimum": 0, "maximum": 1},
                             "note": {"type": "string"}},
              "required": ["tier", "score"], "additionalProperties": False}
    structured = openai_client.chat.completions.create(
        model="m", messages=USER,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "r", "schema": schema, "strict": True}})
    assert json.loads(structured.choices[0].message.content or "") == {"tier": "simple",
                                                                       "score": 0.0}
    loose = openai_client.chat.completions.create(model="m", messages=USER,
                                                  response_format={"type": "json_object"})
    assert json.loads(loose.choices[0].message.content or "") == {
        "model": "m", "answer": USER[0]["content"][:60]}
    llm_server.script("m", JSONReply({"a": [1, None]}))
    scripted = openai_client.chat.completions.create(model="m", messages=USER)
    assert json.loads(scripted.choices[0].message.content or "") == {"a": [1, None]}


def test_example_from_schema_covers_common_shapes() -> None:
    schema = {
        "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}},
                           "required": ["n"]},
                  "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}},
                           "required": ["next"]}},
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": -5}]},
            "kind": {"type": ["null", "string"], "format": "date"},
            "code": {"type": "string", "minLength": 9, "maxLength": 9},
            "flag": {"type": "boolean"}, "fixed": {"const": "x"},
            "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}},
                                "required": ["a"]},
                               {"type": "object", "properties": {"b": {"type": "boolean"}},
                                "required": ["b"]}]},
            "node": {"$ref": "#/$defs/Node"}, "optional": {"type": "string"},
        },
        "required": ["items", "maybe", "kind", "code", "flag", "fixed", "both", "node"],
    }
    value = example_from_schema(schema)
    node = value.pop("node")
    assert value == {"items": [{"n": 1}, {"n": 1}], "maybe": -5, "kind": "2024-01-01",
                     "code": "examplexx", "flag": True, "fixed": "x",
                     "both": {"a": 1, "b": True}}
    depth = 0
    while node:  # a recursive schema ends in an empty object instead of recursing forever
        node, depth = node["next"], depth + 1
    assert 5 < depth < 20


def test_streaming_chunks_match_openai_format(llm_server: MockOpenAIServer) -> None:
    llm_server.script("m", Reply("one two three four"), [ToolCall("get_weather",
                                                                  {"city": "Paris, France"})])
    body = {"model": "m", "messages": USER, "stream": True,
            "stream_options": {"include_usage": True}}
    status, headers, raw = http("POST", f"{llm_server.base_url}/chat/completions", body)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                "refusal": None}
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert pieces == ["one", " two", " three", " four"]
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": count_prompt_tokens(USER),
                                   "completion_tokens": 4,
                                   "total_tokens": count_prompt_tokens(USER) + 4}

    del body["stream_options"]
    _, _, raw = http("POST", f"{llm_server.base_url}/chat/completions", body)
    chunks = sse_events(raw)[:-1]
    assert all("usage" not in c for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[1]["tool_calls"][0] == {"index": 0, "id": deltas[1]["tool_calls"][0]["id"],
                                          "type": "function",
                                          "function": {"name": "get_weather", "arguments": ""}}
    argument_pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[2:-1]]
    assert len(argument_pieces) > 1
    assert json.loads("".join(argument_pieces)) == {"city": "Paris, France"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_client_streaming(llm_server: MockOpenAIServer) -> None:
    stream = client(llm_server).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[gpt-4o] answer: " + USER[0]["content"][:60]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(text)


def test_errors_statuses_and_headers(llm_server: MockOpenAIServer) -> None:
    url = f"{llm_server.base_url}/chat/completions"
    llm_server.script("m", Error(429, "slow down", retry_after=7), Error(500, "boom"),
                      Raw("not json", status=200), Raw({"weird": True}, status=418),
                      Raw("event: x", headers={"content-type": "text/event-stream"}))
    status, headers, body = http("POST", url, {"model": "m", "messages": USER})
    assert (status, headers["retry-after"]) == (429, "7")
    assert json.loads(body) == {"error": {"message": "slow down", "type": "requests",
                                          "param": None, "code": "rate_limit_exceeded"}}
    status, headers, body = http("POST", url, {"model": "m", "messages": USER})
    assert status == 500 and "retry-after" not in headers
    assert json.loads(body)["error"]["type"] == "server_error"
    assert http("POST", url, {"model": "m", "messages": USER})[::2] == (200, b"not json")
    assert http("POST", url, {"model": "m", "messages": USER})[::2] == (418, b'{"weird": true}')
    status, headers, body = http("POST", url, {"model": "m", "messages": USER})
    assert (status, headers["content-type"], body) == (200, "text/event-stream", b"event: x")
    assert http("POST", url, b"{not json")[0] == 400
    assert http("POST", url, {"model": "m"})[0] == 400
    with pytest.raises(openai.RateLimitError):
        llm_server.script("m", Error(429, "again", retry_after=1))
        client(llm_server).chat.completions.create(model="m", messages=USER)


def test_api_key_is_checked_but_never_echoed_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret, wrong = "sk-secret-7f3a91", "sk-wrong-c0ffee"
    with MockOpenAIServer(api_key=secret) as server:
        url = f"{server.base_url}/chat/completions"
        status, headers, body = http("POST", url, {"model": "m", "messages": USER},
                                     {"Authorization": f"Bearer {wrong}"})
        assert status == 401
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
        everything = body.decode() + json.dumps(headers) + json.dumps(server.requests)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.base_url, api_key=wrong, max_retries=0
                          ).chat.completions.create(model="m", messages=USER)
        ok = openai.OpenAI(base_url=server.base_url, api_key=secret, max_retries=0
                           ).chat.completions.create(model="m", messages=USER)
        assert ok.choices[0].message.content is not None
    everything += caplog.text
    assert secret not in everything and wrong not in everything


def test_fail_wrapper_is_deterministic(llm_server: MockOpenAIServer) -> None:
    def outcomes(fail: Fail) -> list[int]:
        llm_server.reset()
        llm_server.set_default("premium", fail)
        url = f"{llm_server.base_url}/chat/completions"
        return [http("POST", url, {"model": "premium", "messages": USER})[0] for _ in range(10)]

    first = outcomes(Fail(0.3))
    assert first.count(500) == 3 and first.count(200) == 7
    assert first == outcomes(Fail(0.3))
    shifted = outcomes(Fail(0.3, seed=1, error=Error(503, "overloaded"), then=Reply("ok")))
    assert shifted.count(503) == 3 and shifted != [503 if s == 500 else s for s in first]
    assert outcomes(Fail(0.0)) == [200] * 10 and outcomes(Fail(1.0)) == [500] * 10
    with pytest.raises(ValueError):
        Fail(1.5)


def test_slow_waits_asynchronously_and_stop_is_prompt() -> None:
    server = MockOpenAIServer().start()
    try:
        server.script("m", Slow(0.3, then=Reply("late")), Slow(60))
        started = time.monotonic()
        response = client(server).chat.completions.create(model="m", messages=USER)
        assert response.choices[0].message.content == "late"
        assert time.monotonic() - started >= 0.3
        with pytest.raises(openai.APITimeoutError):
            client(server, timeout=0.3).chat.completions.create(model="m", messages=USER)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 5  # the 60 s sleeper was woken up
    with pytest.raises(RuntimeError):
        _ = server.port


def test_script_rejects_non_behaviours(llm_server: MockOpenAIServer) -> None:
    with pytest.raises(TypeError):
        llm_server.script("m", 42)  # type: ignore[arg-type]


# --- LiteLLM's openai-compatible path --------------------------------------------------------
def test_litellm_completion_content_and_usage(llm_server: MockOpenAIServer) -> None:
    response = litellm.completion(**llm_kwargs(llm_server), messages=USER)
    text = "[gpt-4o] answer: " + USER[0]["content"][:60]
    assert response.choices[0].message.content == text
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == count_prompt_tokens(USER)
    assert response.usage.completion_tokens == count_tokens(text)
    assert llm_server.requests_for("gpt-4o")[0]["messages"] == USER


def test_litellm_tool_calls_are_parsed(llm_server: MockOpenAIServer) -> None:
    response = litellm.completion(**llm_kwargs(llm_server), messages=USER,
                                  tools=[WEATHER_TOOL])
    assert response.choices[0].finish_reason == "tool_calls"
    (call,) = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "unit": "celsius",
                                                   "days": 3}
    assert llm_server.requests[0]["tools"] == [WEATHER_TOOL]


async def test_litellm_acompletion(llm_server: MockOpenAIServer) -> None:
    llm_server.script("cheap", Reply("async hello", usage={"prompt_tokens": 11,
                                                           "completion_tokens": 5}))
    response = await litellm.acompletion(**llm_kwargs(llm_server, "cheap"), messages=USER)
    assert response.choices[0].message.content == "async hello"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 5)


async def test_litellm_streaming_yields_usage(llm_server: MockOpenAIServer) -> None:
    # Distinctive numbers: LiteLLM counts tokens itself when a stream carries no usage.
    llm_server.script("m", Reply("streamed words arrive in pieces",
                                 usage={"prompt_tokens": 1234, "completion_tokens": 56}))
    stream = await litellm.acompletion(**llm_kwargs(llm_server, "m"), messages=USER,
                                       stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed words arrive in pieces"
    usages = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usages
    assert (usages[-1].prompt_tokens, usages[-1].completion_tokens) == (1234, 56)
    rebuilt = litellm.stream_chunk_builder(chunks, messages=USER)
    assert (rebuilt.usage.prompt_tokens, rebuilt.usage.completion_tokens) == (1234, 56)


def test_litellm_streaming_tool_calls(llm_server: MockOpenAIServer) -> None:
    llm_server.script("m", [ToolCall("get_weather", {"city": "Paris", "days": 3}),
                            ToolCall("search", {"query": "Eiffel tower height"})])
    stream = litellm.completion(**llm_kwargs(llm_server, "m"), messages=USER, stream=True,
                                tools=[WEATHER_TOOL, SEARCH_TOOL])
    rebuilt = litellm.stream_chunk_builder(list(stream), messages=USER)
    calls = rebuilt.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "days": 3}),
        ("search", {"query": "Eiffel tower height"})]
    assert rebuilt.choices[0].finish_reason == "tool_calls"


def test_litellm_maps_errors(llm_server: MockOpenAIServer) -> None:
    kwargs = {**llm_kwargs(llm_server, "m"), "messages": USER, "max_retries": 0}
    llm_server.script("m", Error(500, "boom"), Error(429, "slow down", retry_after=1),
                      Error(401, "bad key"))
    with pytest.raises(litellm.InternalServerError, match="boom"):
        litellm.completion(**kwargs)
    with pytest.raises(litellm.RateLimitError, match="slow down"):
        litellm.completion(**kwargs)
    with pytest.raises(litellm.AuthenticationError):
        litellm.completion(**kwargs)
    assert len(llm_server.requests_for("m")) == 3


def test_litellm_openai_sdk_retries_by_default(llm_server: MockOpenAIServer) -> None:
    """LiteLLM 1.110.2's openai path lets the openai SDK retry twice unless max_retries=0;
    the server honours that by answering each retry from the script."""
    llm_server.set_default("m", Error(500, "boom", retry_after=0.01))
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(**llm_kwargs(llm_server, "m"), messages=USER)
    assert len(llm_server.requests_for("m")) == 3


def test_litellm_slow_response_times_out(llm_server: MockOpenAIServer) -> None:
    llm_server.script("m", Slow(5))
    started = time.monotonic()
    with pytest.raises(litellm.Timeout):
        litellm.completion(**llm_kwargs(llm_server, "m"), messages=USER, timeout=0.3,
                           max_retries=0)
    assert time.monotonic() - started < 3


# --- concurrency -----------------------------------------------------------------------------
async def test_200_concurrent_openai_requests(llm_server: MockOpenAIServer) -> None:
    async_client = openai.AsyncOpenAI(base_url=llm_server.base_url, api_key="sk-test",
                                      max_retries=0)

    async def ask(i: int) -> str:
        response = await async_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {i}"}])
        return response.choices[0].message.content or ""

    answers = await asyncio.gather(*(ask(i) for i in range(200)))
    await async_client.close()
    assert answers == [f"[gpt-4o-mini] answer: question {i}" for i in range(200)]
    assert len(llm_server.requests_for("gpt-4o-mini")) == 200


async def test_1000_requests_are_served_concurrently(llm_server: MockOpenAIServer) -> None:
    llm_server.set_default("m", Slow(1.0, then=Reply("ok")))
    connector = aiohttp.TCPConnector(limit=0)
    url = f"{llm_server.base_url}/chat/completions"
    async with aiohttp.ClientSession(connector=connector) as session:

        async def ask(i: int) -> str:
            async with session.post(url, json={"model": "m", "messages": USER}) as response:
                assert response.status == 200
                body = await response.json()
                return str(body["choices"][0]["message"]["content"])

        started = time.monotonic()
        answers = await asyncio.gather(*(ask(i) for i in range(1000)))
        elapsed = time.monotonic() - started
    assert answers == ["ok"] * 1000
    assert elapsed < 30  # one after another would take 1,000 s


# --- the environment the shared conftest sets up ---------------------------------------------
def test_offline_environment_is_set() -> None:
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    cache = os.environ["TIKTOKEN_CACHE_DIR"]
    assert cache.startswith(os.path.dirname(litellm.__file__))
    assert os.path.isfile(os.path.join(cache, "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"))


def test_non_loopback_connections_are_blocked() -> None:
    # Check the guard is installed before trying anything, so that nothing can leave the
    # machine if it were not. 192.0.2.1 is TEST-NET-1, never routed anyway.
    assert socket.socket.connect.__name__ == "guarded_connect"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(
            SocketConnectBlockedError):
        sock.connect(("192.0.2.1", 80))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # loopback is allowed
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        socket.create_connection(sock.getsockname(), timeout=2).close()


def test_redis_server_fixture(redis_server: str) -> None:
    assert redis_server.startswith("redis://127.0.0.1:") and redis_server.endswith("/0")
    r = redis.Redis.from_url(redis_server)
    try:
        assert r.ping() is True
        r.set("smart-router-test", "1")
        assert r.get("smart-router-test") == b"1"
        assert r.config_get("save") == {"save": ""}
        assert r.config_get("appendonly") == {"appendonly": "no"}
    finally:
        r.close()


def test_redis_url_fixture_flushes(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    try:
        assert r.dbsize() == 0
        r.set("left-behind", "1")
    finally:
        r.close()


def test_service_launcher_runs_and_stops_a_process(service_launcher: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with service_launcher("http.server", argv, port=port, install_hint="-") as service:
        assert service.process.poll() is None
        assert http("GET", f"http://127.0.0.1:{port}/")[0] == 200
    assert service.process.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_service_launcher_missing_binary(service_launcher: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["smart-router-no-such-binary"]
    monkeypatch.delenv("SMART_ROUTER_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nothing"), \
            service_launcher("ghost", argv, port=1, install_hint="apt-get install nothing"):
        pass
    monkeypatch.setenv("SMART_ROUTER_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="forbids skipping"), \
            service_launcher("ghost", argv, port=1, install_hint="apt-get install nothing"):
        pass


def test_service_launcher_reports_an_early_exit(service_launcher: Any) -> None:
    argv = [sys.executable, "-c", "print('cannot start'); raise SystemExit(3)"]
    with pytest.raises(pytest.fail.Exception, match=r"exited with code 3(.|\n)*cannot start"), \
            service_launcher("broken", argv, port=1, install_hint="-"):
        pass
