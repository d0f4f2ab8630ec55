"""LangChain <-> OpenAI/LiteLLM conversions for ``ChatSmartRouter``.

Requests go out in OpenAI chat format (LiteLLM translates for every provider);
LiteLLM responses come back as ``AIMessage``/``AIMessageChunk``. LiteLLM objects
are read by attribute, so this module never imports LiteLLM.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

# Content parts an assistant message may send back to a chat-completions API; other
# blocks (v1 "tool_call", Anthropic "tool_use", reasoning) are carried by tool_calls
# or are provider-private.
_ASSISTANT_TEXT_PARTS = frozenset({"text", "output_text"})


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` or ``obj.key``: LiteLLM objects are pydantic models and dicts at once."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages -> OpenAI chat dicts, with assistant content reduced to text.

    ``convert_to_openai_messages`` keeps blocks such as v1 ``tool_call`` in an assistant's
    content list; those calls are already in ``tool_calls``, and chat-completions APIs
    reject them inside content.
    """
    converted = convert_to_openai_messages(list(messages))
    out = converted if isinstance(converted, list) else [converted]
    for msg in out:
        content = msg.get("content")
        if msg.get("role") == "assistant" and isinstance(content, list):
            msg["content"] = "".join(
                part if isinstance(part, str) else str(part.get("text") or "")
                for part in content
                if isinstance(part, str)
                or (isinstance(part, Mapping) and part.get("type") in _ASSISTANT_TEXT_PARTS)
            )
    return out


def tool_choice_param(tool_choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    """LangChain's ``tool_choice`` spellings -> the OpenAI parameter LiteLLM expects."""
    if tool_choice is None or isinstance(tool_choice, Mapping):
        return tool_choice
    if isinstance(tool_choice, bool):
        if not tool_choice:
            return None
        if len(tools) != 1:
            raise ValueError(
                f"tool_choice=True needs exactly one tool, got {len(tools)}; name the tool instead"
            )
        tool_choice = tools[0]["function"]["name"]
    if tool_choice in ("any", "required"):
        return "required"
    if tool_choice in ("auto", "none"):
        return tool_choice
    if isinstance(tool_choice, str):
        return {"type": "function", "function": {"name": tool_choice}}
    raise ValueError(f"unsupported tool_choice {tool_choice!r}")


def _int(value: Any) -> int | None:
    """An integer token count, or None: usage_metadata holds integers only."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def usage_metadata(usage: Any) -> UsageMetadata | None:
    """OpenAI/LiteLLM usage -> LangChain ``UsageMetadata`` (integers only)."""
    if usage is None:
        return None
    prompt = _int(get(usage, "prompt_tokens")) or 0
    completion = _int(get(usage, "completion_tokens")) or 0
    total = _int(get(usage, "total_tokens")) or prompt + completion
    meta = UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=total)
    cached = _int(get(get(usage, "prompt_tokens_details"), "cached_tokens"))
    if cached is not None:
        meta["input_token_details"] = InputTokenDetails(cache_read=cached)
    reasoning = _int(get(get(usage, "completion_tokens_details"), "reasoning_tokens"))
    if reasoning:
        meta["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return meta


def _raw_tool_call(call: Any) -> dict[str, Any]:
    fn = get(call, "function")
    args = get(fn, "arguments")
    return {
        "id": get(call, "id"),
        "type": "function",
        "function": {
            "name": get(fn, "name"),
            "arguments": args if isinstance(args, str) else json.dumps(args or {}),
        },
    }


def ai_message(message: Any, metadata: dict[str, Any], usage: Any, msg_id: str | None) -> AIMessage:
    """A LiteLLM choice message -> ``AIMessage`` with parsed (and invalid) tool calls."""
    tool_calls, invalid = [], []
    for call in get(message, "tool_calls") or []:
        raw = _raw_tool_call(call)
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except Exception as e:  # a model's malformed JSON arguments: keep them, flagged
            invalid.append(make_invalid_tool_call(raw, str(e)))
        else:
            if parsed is not None:
                tool_calls.append(parsed)
    extra: dict[str, Any] = {}
    if reasoning := get(message, "reasoning_content"):
        extra["reasoning_content"] = reasoning
    return AIMessage(
        content=get(message, "content") or "",
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs=extra,
        response_metadata=metadata,
        usage_metadata=usage_metadata(usage),
        id=msg_id,
    )


def delta_chunk(delta: Any) -> AIMessageChunk | None:
    """One streamed LiteLLM delta -> ``AIMessageChunk`` (None when it carries nothing)."""
    content = get(delta, "content") or ""
    chunks = []
    for call in get(delta, "tool_calls") or []:
        fn = get(call, "function")
        chunks.append(
            tool_call_chunk(
                name=get(fn, "name"),
                args=get(fn, "arguments"),
                id=get(call, "id"),
                index=get(call, "index"),
            )
        )
    extra: dict[str, Any] = {}
    if reasoning := get(delta, "reasoning_content"):
        extra["reasoning_content"] = reasoning
    if not content and not chunks and not extra:
        return None
    return AIMessageChunk(content=content, tool_call_chunks=chunks, additional_kwargs=extra)


def chat_result(response: Any, answered: str, record: dict[str, Any]) -> ChatResult:
    """A LiteLLM completion -> ``ChatResult``; ``answered`` is the model that served it."""
    usage = get(response, "usage")
    generations = []
    for choice in get(response, "choices") or []:
        meta = {
            "model_name": answered,
            "finish_reason": get(choice, "finish_reason"),
            "smart_router": record,
        }
        if fingerprint := get(response, "system_fingerprint"):
            meta["system_fingerprint"] = fingerprint
        msg = ai_message(get(choice, "message"), meta, usage, get(response, "id"))
        generations.append(ChatGeneration(message=msg))
    return ChatResult(generations=generations, llm_output={"model_name": answered})


class StreamReader:
    """LiteLLM stream chunks -> ``ChatGenerationChunk``s, keeping the finish reason and
    usage for the one last chunk that carries all the metadata."""

    def __init__(self) -> None:
        self.finish: str | None = None
        self.usage: Any = None

    def feed(self, raw: Any) -> Iterator[ChatGenerationChunk]:
        self.usage = get(raw, "usage") or self.usage
        for choice in get(raw, "choices") or []:
            self.finish = get(choice, "finish_reason") or self.finish
            if (msg := delta_chunk(get(choice, "delta"))) is not None:
                yield ChatGenerationChunk(message=msg)

    def last(self, answered: str, record: dict[str, Any]) -> ChatGenerationChunk:
        """Model name, finish reason, usage and record, each on this chunk only, so adding
        the chunks never duplicates a string or adds up a float."""
        meta = {"model_name": answered, "finish_reason": self.finish, "smart_router": record}
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata=meta,
                usage_metadata=usage_metadata(self.usage),
                chunk_position="last",
            )
        )
