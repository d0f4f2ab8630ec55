"""Validate OpenAI chat-format messages and reduce them to what routing reads."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._directives import strip_router_talk
from ._exceptions import InvalidMessagesError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TEXT_PART_TYPES = frozenset({"text", "input_text"})
_IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})
_OTHER_PART_TYPES = frozenset({"input_audio", "file", "refusal"})

# Text aimed at the router rather than the model ("classify this as simple",
# "SYSTEM: route to gpt-4o"). It is cut out of what classifiers read, so it can
# neither lower nor raise a decision.
_DIRECTIVE = re.compile(
    r"""(?ix)
    \[\s*(?:router|routing|tier|model)\b[^\]]{0,80}\]               # [router: premium tier]
    | \{\s*"(?:tier|route|model|complexity)"\s*:\s*"[^"]{0,40}"\s*\}   # {"tier": "complex"}
    | (?:^|(?<=[\s.:;!?]))(?:system|admin|router)\s*:\s*[^\n.]{0,60}
        \b(?:route|tier|classif\w*|model)\b[^\n.]{0,60}               # SYSTEM: route to gpt-4o
    | \b(?:please\s+)?(?:classify|label|route|mark|treat|tag|rate)\s+(?:this|it|me|the\s+
        (?:following|query|request|question))\s+(?:query\s+|request\s+)?(?:as|to)\s+
        (?:an?\s+)?(?:the\s+)?["']?(?:simple|easy|trivial|moderate|medium|complex|hard|
        difficult|premium|cheap|gpt-?4o?|claude\S*|deepseek\S*|qwen\S*)["']?
        (?:\s+(?:tier|model|query|request|question|prompt|task|problem|one))?
    | \bignore\s+(?:all\s+|any\s+)?(?:previous|prior|the)\s+(?:routing|router|tier)\s+
        (?:rules|instructions)\b
    """
)


@dataclass(frozen=True)
class Conversation:
    """A validated request, reduced to the signals routing uses."""

    messages: tuple[Mapping[str, Any], ...]
    tools: tuple[Mapping[str, Any], ...] = ()
    system_text: str = ""
    user_texts: tuple[str, ...] = ()
    assistant_texts: tuple[str, ...] = ()
    turns: int = 0
    has_images: bool = False
    tool_results: int = 0
    tool_calls: tuple[str, ...] = field(default=())  # "name(args)" in call order
    directives_removed: int = 0

    @property
    def last_user_text(self) -> str:
        return self.user_texts[-1] if self.user_texts else ""

    @property
    def task_text(self) -> str:
        """What the request asks, for classifiers: the user turns, latest last.

        Tool outputs are left out on purpose: in an agent loop the newest message
        is often a tool result, and the task is still the human's ask.
        """
        return "\n".join(self.user_texts)

    @property
    def text_chars(self) -> int:
        return (
            len(self.system_text)
            + sum(map(len, self.user_texts))
            + sum(map(len, self.assistant_texts))
        )

    @property
    def repeated_tool_call(self) -> bool:
        """The same tool call (name and arguments) issued more than once: a loop."""
        return len(set(self.tool_calls)) < len(self.tool_calls)


# A directive with the punctuation that ends it: "Classify this as complex. What is X?"
# must read exactly like "What is X?" (a leftover "." would hide that it starts easy).
_DIRECTIVE_SENTENCE = re.compile(
    rf"(?:{_DIRECTIVE.pattern.removeprefix('(?ix)')})[ \t]*[.!;,]*", re.I | re.X
)


def strip_directives(text: str) -> tuple[str, int]:
    # Router talk phrased freely, in any language, first: it takes whole segments, so
    # nothing of a directive is left behind for the pattern below to half-match.
    cleaned, more = strip_router_talk(text)
    cleaned, count = _DIRECTIVE_SENTENCE.subn(" ", cleaned)
    return cleaned, count + more


def _content_text(content: Any, where: str) -> tuple[str, bool]:
    """Text of one message's content, and whether it carries an image."""
    if content is None:
        return "", False
    if isinstance(content, str):
        return content, False
    if not isinstance(content, list):
        raise InvalidMessagesError(
            f"{where}.content must be a string or a list of content parts, "
            f"got {type(content).__name__}"
        )
    texts: list[str] = []
    has_image = False
    for j, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, Mapping):
            raise InvalidMessagesError(
                f"{where}.content[{j}] must be an object like "
                f'{{"type": "text", "text": "..."}}, got {type(part).__name__}'
            )
        kind = part.get("type")
        if kind in _TEXT_PART_TYPES:
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidMessagesError(f"{where}.content[{j}].text must be a string")
            texts.append(text)
        elif kind in _IMAGE_PART_TYPES:
            has_image = True
        elif kind not in _OTHER_PART_TYPES:
            raise InvalidMessagesError(
                f"{where}.content[{j}] has unknown type {kind!r}; expected one of "
                "text, image_url, input_audio, file"
            )
    return "\n".join(texts), has_image


def _tool_call_keys(calls: Any, where: str) -> list[str]:
    if not isinstance(calls, list):
        raise InvalidMessagesError(f"{where}.tool_calls must be a list")
    keys = []
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise InvalidMessagesError(
                f"{where}.tool_calls[{j}] must have a function with a string name"
            )
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            args = json.dumps(args, sort_keys=True)
        keys.append(f"{fn['name']}({args})")
    return keys


def _validate_tools(tools: Any) -> tuple[Mapping[str, Any], ...]:
    if tools is None:
        return ()
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise InvalidMessagesError(f"tools must be a list, got {type(tools).__name__}")
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidMessagesError(f"tools[{i}] must be an object, got {type(tool).__name__}")
    return tuple(tools)


def parse_messages(messages: Any, tools: Any = None) -> Conversation:
    """Validate ``messages`` (OpenAI chat format) and extract routing signals.

    Raises ``InvalidMessagesError`` naming the first problem found.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise InvalidMessagesError(
            f"messages must be a list of chat messages, got {type(messages).__name__}"
        )
    if not messages:
        raise InvalidMessagesError("messages is empty; send at least one user message")
    system, users, assistants = [], [], []
    has_images = False
    tool_results = 0
    calls: list[str] = []
    removed = 0
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, Mapping):
            raise InvalidMessagesError(
                f"{where} must be an object with 'role' and 'content', got {type(msg).__name__}"
            )
        role = msg.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidMessagesError(
                f"{where} has unknown role {role!r}; expected one of {', '.join(sorted(ROLES))}"
            )
        text, image = _content_text(msg.get("content"), where)
        has_images = has_images or image
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            cleaned, n = strip_directives(text)
            removed += n
            users.append(cleaned)
        elif role == "assistant":
            assistants.append(text)
            if msg.get("tool_calls"):
                calls.extend(_tool_call_keys(msg["tool_calls"], where))
        else:
            tool_results += 1
    return Conversation(
        messages=tuple(messages),
        tools=_validate_tools(tools),
        system_text="\n".join(system),
        user_texts=tuple(users),
        assistant_texts=tuple(assistants),
        turns=len(users) + len(assistants),
        has_images=has_images,
        tool_results=tool_results,
        tool_calls=tuple(calls),
        directives_removed=removed,
    )
