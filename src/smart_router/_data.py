"""Readers for the JSONL files of DESIGN.md: labeled sets and traffic.

A file is read and validated whole before anything uses it, so a bad line 900
never leaves 899 lines of output that look like a result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._exceptions import DataFileError, InvalidMessagesError
from ._messages import parse_messages

SAMPLE_TRAFFIC = "sample_traffic.jsonl"


@dataclass(frozen=True)
class Request:
    """One line of a labeled or traffic file."""

    line: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    id: str | None = None
    label: str | None = None
    kind: str | None = None
    group: str | None = None
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens)


def _usage(value: Any, path: str, line: int) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise DataFileError(path, line, "usage must be an object with prompt_tokens and "
                            "completion_tokens")
    out = []
    for key in ("prompt_tokens", "completion_tokens"):
        n = value.get(key)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise DataFileError(path, line, f"usage.{key} must be a non-negative integer")
        out.append(n)
    return out[0], out[1]


def _optional_str(obj: Mapping[str, Any], key: str, path: str, line: int) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise DataFileError(path, line, f"{key} must be a string, got {type(value).__name__}")
    return value


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as f:
            yield from enumerate(f, start=1)
    except FileNotFoundError:
        raise DataFileError(str(path), None, "no such file") from None
    except UnicodeDecodeError as e:
        raise DataFileError(str(path), None, f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise DataFileError(str(path), None, f"cannot read: {e.strerror}") from None


def read_requests(path: str | Path, *, require_label: bool = False) -> list[Request]:
    """Parse and validate a JSONL file of requests; raises DataFileError with the line."""
    path = Path(path)
    name = str(path)
    out: list[Request] = []
    for line_no, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataFileError(name, line_no, f"not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataFileError(name, line_no, "each line must be a JSON object")
        if "messages" not in obj:
            raise DataFileError(name, line_no, "missing 'messages'")
        try:
            parse_messages(obj["messages"], obj.get("tools"))
        except InvalidMessagesError as e:
            raise DataFileError(name, line_no, str(e)) from None
        label = _optional_str(obj, "label", name, line_no)
        if require_label and not label:
            raise DataFileError(name, line_no, "missing 'label' (the true tier name)")
        raw_id = obj.get("id")
        out.append(
            Request(
                line=line_no,
                messages=obj["messages"],
                tools=obj.get("tools"),
                id=None if raw_id is None else str(raw_id),
                label=label,
                kind=_optional_str(obj, "kind", name, line_no),
                group=_optional_str(obj, "group", name, line_no),
                usage=_usage(obj.get("usage"), name, line_no),
            )
        )
    if not out:
        raise DataFileError(name, None, "the file holds no requests")
    return out


def sample_traffic_path() -> Path:
    return Path(str(resources.files("smart_router") / "data" / SAMPLE_TRAFFIC))
