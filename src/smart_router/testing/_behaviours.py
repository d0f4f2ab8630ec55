"""Scriptable behaviours of :class:`~smart_router.testing.MockOpenAIServer`.

A behaviour decides how the server answers one chat-completions request. Behaviours are
small dataclasses; wrappers (:class:`Slow`, :class:`Fail`) hold another behaviour in ``then``,
where ``None`` means :class:`Default` (the answer synthesized from the request itself).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import tiktoken

__all__ = [
    "Behaviour",
    "Default",
    "Error",
    "Fail",
    "JSONReply",
    "Raw",
    "Reply",
    "Slow",
    "ToolCall",
    "ToolCalls",
    "count_prompt_tokens",
    "count_tokens",
    "example_from_schema",
]


@dataclass(frozen=True)
class Default:
    """The unscripted answer: a tool call, a schema-shaped JSON object or an echo text."""


@dataclass(frozen=True)
class Reply:
    """Answer with ``text``. ``usage`` (``prompt_tokens``/``completion_tokens``, optional
    ``total_tokens`` and extra keys) replaces the computed usage; ``finish_reason`` too."""

    text: str
    usage: Mapping[str, Any] | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """Answer with one tool call (``finish_reason="tool_calls"``)."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ToolCalls:
    """Answer with several parallel tool calls, optionally with some assistant ``text``."""

    calls: Sequence[ToolCall]
    text: str | None = None
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class JSONReply:
    """Answer with ``obj`` serialized as JSON in the message content."""

    obj: Any
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Error:
    """Answer with an OpenAI-style error body and HTTP ``status``.

    ``retry_after`` (seconds) sets a ``Retry-After`` header (use it with 429/503).
    ``type``/``code`` default to what OpenAI sends for that status.
    """

    status: int
    message: str = "mock error"
    retry_after: float | None = None
    type: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Raw:
    """Answer with exactly this body (a dict is sent as JSON), status and headers."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` (asynchronously, before any byte is sent), then answer with ``then``."""

    seconds: float
    then: Behaviour | None = None


@dataclass
class Fail:
    """Make a fixed fraction ``rate`` of the calls that reach this wrapper fail with ``error``.

    Deterministic by a counter local to this instance: call ``k`` (0-based) fails when
    ``floor((k + seed + 1) * rate) > floor((k + seed) * rate)``, so any run of calls fails
    in proportion ``rate`` (off by at most one) and ``seed`` shifts where failures fall.
    The other calls answer with ``then``. One instance keeps counting across requests, so
    use it with :meth:`MockOpenAIServer.set_default` (a scripted one is used once).
    """

    rate: float
    seed: int = 0
    error: Error = field(default_factory=lambda: Error(500, "mock intermittent failure"))
    then: Behaviour | None = None
    calls: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fail.rate must be within [0, 1], got {self.rate!r}")

    def pick(self) -> Behaviour | None:
        """Count one call; return ``self.error`` or ``self.then`` for it."""
        with self._lock:
            k = self.calls + self.seed
            self.calls += 1
            fails = int((k + 1) * self.rate) > int(k * self.rate)
            if fails:
                self.failures += 1
        return self.error if fails else self.then


Behaviour: TypeAlias = (
    Default | Reply | ToolCall | ToolCalls | JSONReply | Error | Raw | Slow | Fail
)

_CL100K_CACHE_KEY = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"  # sha1 of cl100k_base's URL
_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def example_from_schema(schema: Mapping[str, Any] | None, *, _root: Any = None,
                        _depth: int = 0) -> Any:
    """A deterministic value that satisfies a JSON schema (the subset tools and structured
    outputs use): ``const``, then the first ``enum`` value, then ``default``; ``$ref`` into
    ``$defs``/``definitions``; the first non-null branch of ``anyOf``/``oneOf``; ``allOf``
    merged; objects get their *required* properties; arrays ``max(1, minItems)`` items;
    strings ``"example"`` (or a sample of their ``format``) fitted to min/maxLength;
    numbers their minimum (else 1, capped by maximum); booleans ``True``.
    """
    if not isinstance(schema, Mapping):
        return "example"
    root = schema if _root is None else _root
    if _depth > 12:  # recursive schemas: stop with the smallest value of the type
        return {"object": {}, "array": [], "string": ""}.get(_type_of(schema))
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return example_from_schema(target, _root=root, _depth=_depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if branches:
            non_null = [b for b in branches if _type_of(b) != "null"]
            return example_from_schema((non_null or branches)[0], _root=root, _depth=_depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_from_schema(part, _root=root, _depth=_depth + 1)
            if isinstance(value, dict):
                merged.update(value)
            else:
                return value
        return merged
    kind = _type_of(schema)
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example_from_schema(props.get(name, {}), _root=root, _depth=_depth + 1)
                for name in schema.get("required") or []}
    if kind == "array":
        count = 0 if schema.get("maxItems") == 0 else max(1, int(schema.get("minItems", 1)))
        items = schema.get("items")
        if isinstance(items, list):  # tuple form
            return [example_from_schema(i, _root=root, _depth=_depth + 1) for i in items]
        return [example_from_schema(items or {}, _root=root, _depth=_depth + 1)
                for _ in range(count)]
    if kind in ("integer", "number"):
        number: float = 1
        if "minimum" in schema:
            number = schema["minimum"]
        elif "exclusiveMinimum" in schema:
            number = schema["exclusiveMinimum"] + 1
        if "maximum" in schema and number > schema["maximum"]:
            number = schema["maximum"]
        return int(number) if kind == "integer" else float(number)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRING_FORMATS.get(str(schema.get("format")), "example")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def _type_of(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "string"
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


@functools.lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """cl100k_base, loaded from a local file only."""
    # Never download: use LiteLLM's bundled copy of cl100k_base unless a cache already has it.
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    if not cache or not (Path(cache) / _CL100K_CACHE_KEY).is_file():
        spec = importlib.util.find_spec("litellm")
        for root in (spec.submodule_search_locations or []) if spec else []:
            bundled = Path(root) / "litellm_core_utils" / "tokenizers"
            if (bundled / _CL100K_CACHE_KEY).is_file():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
                break
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in ``text`` (special tokens are counted as text)."""
    return len(encoding().encode(text, disallowed_special=())) if text else 0


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content
                       if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def count_prompt_tokens(messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Any] | None = None) -> int:
    """The server's prompt-token rule (OpenAI's cookbook rule over cl100k_base)::

        3 + sum over messages of (3 + tokens(role) + tokens(text content)
                                  + [1 + tokens(name)] + tokens(each tool call's name
                                  and arguments)) + tokens(compact sorted JSON of tools)

    Only ``text`` parts of list contents count (images are free here).
    """
    total = 3
    for message in messages:
        total += 3 + count_tokens(str(message.get("role", "")))
        total += count_tokens(_text(message.get("content")))
        if message.get("name"):
            total += 1 + count_tokens(str(message["name"]))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += count_tokens(str(function.get("name", "")))
            total += count_tokens(str(function.get("arguments", "")))
    if tools:
        total += count_tokens(json.dumps(tools, sort_keys=True, separators=(",", ":")))
    return total


def synthesize(body: Mapping[str, Any]) -> Behaviour:
    """The :class:`Default` answer for a request."""
    messages = body["messages"]
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping)]
    choice = body.get("tool_choice")
    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], Mapping) else None
    if tools and choice != "none" and last_role != "tool":
        wanted = choice.get("function", {}).get("name") if isinstance(choice, Mapping) else None
        tool = next((t for t in tools if (t.get("function") or {}).get("name") == wanted),
                    tools[0])
        function = tool.get("function") or {}
        args = example_from_schema(function.get("parameters") or {"type": "object"})
        return ToolCall(str(function.get("name", "tool")), args if isinstance(args, dict) else {})
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        return JSONReply(example_from_schema(schema))
    user = next((_text(m.get("content")) for m in reversed(messages)
                 if isinstance(m, Mapping) and m.get("role") == "user"), "")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
        return JSONReply({"model": body["model"], "answer": user[:60]})
    return Reply(f"[{body['model']}] answer: {user[:60]}")
