"""A local, scriptable, OpenAI-compatible chat-completions server for tests and benchmarks.

It runs an aiohttp application on its own event loop in a daemon thread, bound to a loopback
address, so synchronous and asynchronous code (the ``openai`` client, LiteLLM, LangChain)
can call it like a real provider. See :class:`MockOpenAIServer`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from ._behaviours import (
    Behaviour,
    Default,
    Error,
    Fail,
    JSONReply,
    Raw,
    Reply,
    Slow,
    ToolCall,
    ToolCalls,
    count_prompt_tokens,
    count_tokens,
    encoding,
    synthesize,
)

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_BEHAVIOUR_TYPES = (Default, Reply, ToolCall, ToolCalls, JSONReply, Error, Raw, Slow, Fail)


@dataclass
class _Answer:
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Mapping[str, Any] | None = None


class MockOpenAIServer:
    """OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` on a loopback port.

    Use as a context manager or call :meth:`start`/:meth:`stop`. Per model name (as sent in
    the body, so ``"openai/foo"`` through LiteLLM is ``"foo"`` here), answers come from
    behaviours queued with :meth:`script` (one per request), else the one set with
    :meth:`set_default`, else :class:`Default`. ``"*"`` scripts or defaults any model.
    ``api_key`` makes requests without ``Authorization: Bearer <api_key>`` fail with 401.
    Headers are never recorded, logged or echoed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 models: Iterable[str] = ()) -> None:
        self.host = host
        self._requested_port = port
        self._port = port
        self._api_key = api_key
        self._models = set(models)
        self._lock = threading.Lock()
        self._scripts: dict[str, collections.deque[Behaviour]] = {}
        self._defaults: dict[str, Behaviour] = {}
        self._requests: list[dict[str, Any]] = []
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._thread is None:
            raise RuntimeError("MockOpenAIServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``: the ``api_base``/``base_url`` to give a client."""
        return f"{self.url}/v1"

    def start(self) -> MockOpenAIServer:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="MockOpenAIServer", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._setup(), loop).result(timeout=30)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        stopping, runner = self._stopping, self._runner
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)  # wake Slow sleepers
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        self._loop = self._thread = self._runner = self._stopping = None

    def __enter__(self) -> MockOpenAIServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _setup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._list_models)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        await web.SockSite(runner, sock, backlog=4096).start()
        self._port = sock.getsockname()[1]
        self._runner, self._stopping = runner, asyncio.Event()

    # -- scripting ---------------------------------------------------------------------
    def script(self, model: str, *behaviours: Behaviour | str | Sequence[ToolCall]) -> None:
        """Queue behaviours for ``model``, consumed one per request in order. A ``str`` is
        shorthand for :class:`Reply`, a list of :class:`ToolCall` for :class:`ToolCalls`."""
        items = [_normalize(b) for b in behaviours]
        with self._lock:
            self._scripts.setdefault(model, collections.deque()).extend(items)

    def set_default(self, model: str, behaviour: Behaviour | str | Sequence[ToolCall]) -> None:
        """Answer every unscripted request to ``model`` (``"*"``: any model) this way."""
        item = _normalize(behaviour)
        with self._lock:
            self._defaults[model] = item

    def reset(self) -> None:
        """Forget scripts, defaults and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self._requests.clear()

    def pending(self, model: str) -> int:
        """How many scripted behaviours for ``model`` are not consumed yet."""
        with self._lock:
            return len(self._scripts.get(model, ()))

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every chat-completions JSON body received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self._requests if r.get("model") == model]

    # -- HTTP handlers -------------------------------------------------------------------
    async def _list_models(self, request: web.Request) -> web.Response:
        with self._lock:
            names = self._models | set(self._scripts) | set(self._defaults)
            names |= {r["model"] for r in self._requests if isinstance(r.get("model"), str)}
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "smart-router-testing"}
                for n in sorted(names - {"*"})]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error_response(Error(400, "request body is not valid JSON"), 0)
        if not isinstance(body, dict):
            return _error_response(Error(400, "request body must be a JSON object"), 0)
        with self._lock:
            self._requests.append(body)
            self._seq += 1
            seq = self._seq
        if self._api_key is not None and (
                request.headers.get("Authorization") != f"Bearer {self._api_key}"):
            return _error_response(Error(401, "Incorrect API key provided."), seq)
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not all(
                isinstance(m, dict) for m in messages):
            return _error_response(Error(400, "'model' and 'messages' are required"), seq)
        with self._lock:
            behaviour = self._next_behaviour(model)
        while not isinstance(behaviour, (Error, Raw, Reply, ToolCall, ToolCalls, JSONReply)):
            if isinstance(behaviour, Slow):
                await self._sleep(behaviour.seconds)
                behaviour = behaviour.then
            elif isinstance(behaviour, Fail):
                behaviour = behaviour.pick()
            else:  # None or Default
                behaviour = synthesize(body)
        if isinstance(behaviour, Error):
            return _error_response(behaviour, seq)
        if isinstance(behaviour, Raw):
            raw, headers = behaviour.body, dict(behaviour.headers or {})
            if not any(key.lower() == "content-type" for key in headers):
                headers["Content-Type"] = ("text/plain" if isinstance(raw, str)
                                           else "application/json")
            text = raw if isinstance(raw, str) else json.dumps(raw)
            return web.Response(body=text.encode(), status=behaviour.status, headers=headers)
        answer = _finish(_answer_of(behaviour, seq), body)
        if body.get("stream"):
            return await _stream(request, body, answer, seq)
        return web.json_response(_completion(body, answer, seq),
                                 headers={"x-request-id": f"req_mock_{seq}"})

    def _next_behaviour(self, model: str) -> Behaviour | None:
        for key in (model, "*"):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return self._defaults.get(model, self._defaults.get("*"))

    async def _sleep(self, seconds: float) -> None:
        assert self._stopping is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _normalize(behaviour: Any) -> Behaviour:
    if isinstance(behaviour, str):
        return Reply(behaviour)
    if isinstance(behaviour, (list, tuple)) and all(isinstance(b, ToolCall) for b in behaviour):
        return ToolCalls(list(behaviour))
    if not isinstance(behaviour, _BEHAVIOUR_TYPES):
        raise TypeError(f"not a behaviour: {behaviour!r}")
    return behaviour


def _answer_of(behaviour: Behaviour, seq: int) -> _Answer:
    if isinstance(behaviour, Reply):
        return _Answer(behaviour.text, [], behaviour.finish_reason or "stop", behaviour.usage)
    if isinstance(behaviour, JSONReply):
        return _Answer(json.dumps(behaviour.obj), usage=behaviour.usage)
    if isinstance(behaviour, ToolCall):
        calls, text, usage = [behaviour], None, behaviour.usage
    elif isinstance(behaviour, ToolCalls):
        calls, text, usage = list(behaviour.calls), behaviour.text, behaviour.usage
    else:
        raise TypeError(f"cannot answer with {behaviour!r}")
    tool_calls = [{"id": f"call_mock{seq}x{i}", "type": "function",
                   "function": {"name": c.name,
                                "arguments": json.dumps(dict(c.arguments), separators=(",", ":"))}}
                  for i, c in enumerate(calls)]
    return _Answer(text, tool_calls, "tool_calls", usage)


def _finish(answer: _Answer, body: Mapping[str, Any]) -> _Answer:
    """Apply ``stop`` (truncate) and ``max_tokens``/``max_completion_tokens`` (finish
    ``"length"``) to the text content."""
    if answer.content:
        stop = body.get("stop")
        for seq in [stop] if isinstance(stop, str) else (stop or []):
            if seq and seq in answer.content:
                answer.content = answer.content[: answer.content.index(seq)]
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        tokens = encoding().encode(answer.content, disallowed_special=())
        if isinstance(limit, int) and len(tokens) > limit:
            answer.content = encoding().decode(tokens[:limit])
            answer.finish_reason = "length"
    return answer


def _usage(body: Mapping[str, Any], answer: _Answer) -> dict[str, Any]:
    override = dict(answer.usage or {})
    n = max(1, int(body.get("n") or 1))
    prompt = override.pop("prompt_tokens", None)
    completion = override.pop("completion_tokens", None)
    if prompt is None:
        prompt = count_prompt_tokens(body["messages"], body.get("tools"))
    if completion is None:
        completion = count_tokens(answer.content or "") + sum(
            count_tokens(c["function"]["name"]) + count_tokens(c["function"]["arguments"])
            for c in answer.tool_calls)
        completion *= n
    total = override.pop("total_tokens", prompt + completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total,
            **override}


def _completion(body: Mapping[str, Any], answer: _Answer, seq: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    choices = [{"index": i, "message": message, "logprobs": None,
                "finish_reason": answer.finish_reason}
               for i in range(max(1, int(body.get("n") or 1)))]
    return {"id": f"chatcmpl-mock{seq}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "system_fingerprint": "fp_mock", "choices": choices, "usage": _usage(body, answer)}


async def _stream(request: web.Request, body: Mapping[str, Any], answer: _Answer,
                  seq: int) -> web.StreamResponse:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {"id": f"chatcmpl-mock{seq}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body["model"], "system_fingerprint": "fp_mock"}
    if include_usage:
        base["usage"] = None
    chunks: list[dict[str, Any]] = []

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> None:
        chunks.append({**base, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                            "finish_reason": finish}]})

    for index in range(max(1, int(body.get("n") or 1))):
        chunk(index, {"role": "assistant", "content": "" if answer.content is not None else None,
                      "refusal": None})
        for piece in re.findall(r"\s*\S+|\s+$", answer.content or ""):
            chunk(index, {"content": piece})
        for i, call in enumerate(answer.tool_calls):
            function = call["function"]
            chunk(index, {"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                          "function": {"name": function["name"],
                                                       "arguments": ""}}]})
            args = function["arguments"]
            for start in range(0, len(args), 8):
                chunk(index, {"tool_calls": [{"index": i,
                                              "function": {"arguments": args[start:start + 8]}}]})
        chunk(index, {}, answer.finish_reason)
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _usage(body, answer)})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "x-request-id": f"req_mock_{seq}"})
    await response.prepare(request)
    try:
        for item in chunks:
            await response.write(f"data: {json.dumps(item)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except (ConnectionResetError, RuntimeError):  # the client went away mid-stream
        pass
    return response


def _error_response(error: Error, seq: int) -> web.Response:
    kind, code = _ERROR_KINDS.get(error.status, ("server_error", None))
    headers = {"x-request-id": f"req_mock_{seq}"}
    if error.retry_after is not None:
        retry = error.retry_after
        headers["Retry-After"] = str(int(retry)) if float(retry).is_integer() else str(retry)
    payload = {"error": {"message": error.message, "type": error.type or kind, "param": None,
                         "code": error.code if error.code is not None else code}}
    return web.json_response(payload, status=error.status, headers=headers)
