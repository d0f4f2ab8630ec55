"""Test helpers for smart-router and its users: a local OpenAI-compatible server.

Import this subpackage only in tests, examples and benchmarks: it needs ``aiohttp``.

    from smart_router.testing import MockOpenAIServer, Reply, Error

    with MockOpenAIServer() as server:
        server.script("gpt-4o", Reply("hi"), Error(429, retry_after=1))
        litellm.completion(model="openai/gpt-4o", api_base=server.base_url, api_key="sk-test",
                           messages=[{"role": "user", "content": "hello"}])
"""

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
    example_from_schema,
)
from ._server import MockOpenAIServer

__all__ = [
    "Behaviour",
    "Default",
    "Error",
    "Fail",
    "JSONReply",
    "MockOpenAIServer",
    "Raw",
    "Reply",
    "Slow",
    "ToolCall",
    "ToolCalls",
    "count_prompt_tokens",
    "count_tokens",
    "example_from_schema",
]
