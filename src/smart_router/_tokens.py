"""Token counts with tiktoken, using LiteLLM's bundled encodings (no download)."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from ._messages import Conversation
from ._models import use_bundled_tiktoken

if TYPE_CHECKING:
    import tiktoken

_PER_MESSAGE = 3  # role and separators, as in OpenAI's counting recipe
_PER_REPLY = 3


@cache
def _encoding() -> tiktoken.Encoding:
    use_bundled_tiktoken()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_prompt(conversation: Conversation) -> int:
    """Prompt tokens of a request: every message's text plus tool schemas."""
    parts = [conversation.system_text, *conversation.user_texts, *conversation.assistant_texts]
    for msg in conversation.messages:
        if msg.get("role") in ("tool", "function") and isinstance(msg.get("content"), str):
            parts.append(msg["content"])
        for call in msg.get("tool_calls") or ():
            parts.append(json.dumps(call.get("function", {})))
    if conversation.tools:
        parts.append(json.dumps(list(conversation.tools)))
    tokens = sum(count_text(p) for p in parts if p)
    return tokens + _PER_MESSAGE * len(conversation.messages) + _PER_REPLY


def rough_prompt_tokens(conversation: Conversation) -> int:
    """An upper-leaning estimate without the tokenizer (~3 characters a token)."""
    extra = sum(len(json.dumps(t)) for t in conversation.tools)
    tool_text = sum(
        len(m["content"]) for m in conversation.messages
        if m.get("role") == "tool" and isinstance(m.get("content"), str)
    )
    return (conversation.text_chars + extra + tool_text) // 3 + 4 * len(conversation.messages)


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
