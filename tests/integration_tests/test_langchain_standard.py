"""LangChain's standard integration suite for ChatSmartRouter, offline.

Every call goes through real LiteLLM code to the local MockOpenAIServer. The server's
default answers (a tool call shaped by the request's schema, a schema-shaped JSON
object, an echo) pass most tests as they are; the few tests that check specific
argument values are scripted below, per test, the way a real model would answer, and the
suite's media downloads are answered with small files made here.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard_suite

from smart_router.langchain import ChatSmartRouter
from smart_router.testing import JSONReply, MockOpenAIServer, Reply, ToolCall

TIERS = {
    "simple": {"model": "deepseek/deepseek-chat", "fallbacks": ["dashscope/qwen-plus"]},
    "moderate": {"model": "dashscope/qwen-plus", "fallbacks": ["deepseek/deepseek-chat"]},
    "complex": {"model": "gpt-4o", "fallbacks": ["anthropic/claude-opus-4-5"]},
}
MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]


def routing_config(base_url: str) -> dict[str, Any]:
    """The case study's tiers, every model served by the local server (OpenAI format)."""
    return {
        "tiers": TIERS,
        "models": {
            name: {"model": f"openai/{name.split('/')[-1]}", "api_base": base_url,
                   "api_key": "sk-test"}
            for name in MODELS
        },
        "classifier": {"type": "heuristic"},
    }


# What a real model answers where a test checks values, not just shapes.
_SCRIPTS: dict[str, Any] = {
    "test_tool_calling": ToolCall("magic_function", {"input": 3}),
    "test_tool_calling_async": ToolCall("magic_function", {"input": 3}),
    "test_json_mode": JSONReply({"setup": "Why did the cat sit on the laptop?",
                                 "punchline": "To keep an eye on the mouse."}),
}
_QUEUES: dict[str, list[Any]] = {
    "test_unicode_tool_call_integration": [
        ToolCall("unicode_customer", {"customer_name": "你好啊集团",
                                      "description": "a Chinese technology company"}),
        ToolCall("unicode_customer", {"customer_name": "こんにちは株式会社",
                                      "description": "a Japanese company"}),
    ],
}
_DETAILED_USAGE = {"prompt_tokens": 120, "completion_tokens": 30,
                   "prompt_tokens_details": {"cached_tokens": 64},
                   "completion_tokens_details": {"reasoning_tokens": 12}}


def _png() -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


_PDF = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n"
        b"%%EOF\n")


def _local_download(url: str, **kwargs: Any) -> SimpleNamespace:
    """Stands in for the suite's media downloads: a small local file of the same kind."""
    if url.endswith(".png"):
        return SimpleNamespace(content=_png())
    if url.endswith(".pdf"):
        return SimpleNamespace(content=_PDF)
    raise AssertionError(f"unexpected download in an offline test: {url}")


class TestChatSmartRouterStandard(ChatModelIntegrationTests):
    server: MockOpenAIServer

    @pytest.fixture(autouse=True)
    def _script_server(self, llm_server: MockOpenAIServer, request: pytest.FixtureRequest,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setattr(standard_suite.httpx, "get", _local_download)
        self.server = llm_server
        name = request.node.originalname
        if name in _SCRIPTS:
            llm_server.set_default("*", _SCRIPTS[name])
        llm_server.script("*", *_QUEUES.get(name, []))
        yield

    @property
    def chat_model_class(self) -> type[ChatSmartRouter]:
        return ChatSmartRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"config": routing_config(self.server.base_url)}

    @property
    def model_override_value(self) -> str:
        return "gpt-4o"  # the complex tier's model: the override skips classification

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True  # converted to OpenAI format; without images it needs no download

    # Images and PDFs: the standard tests download their media; here the download is
    # answered with small files made locally (tests never reach the internet), and the
    # request goes through for real. Images move the request to a vision-capable tier.
    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    # Opted out, because it depends on the tier model and routing cannot guarantee it:
    # no routing policy picks an audio-capable model, and chat-completions providers
    # reject images and files inside tool messages.
    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[Any]]:
        both = ["cache_read_input", "reasoning_output"]
        return {"invoke": both, "stream": both}

    def _detailed(self, stream: bool) -> AIMessage:
        self.server.set_default("*", Reply("Detailed usage.", usage=_DETAILED_USAGE))
        llm = ChatSmartRouter(**self.chat_model_params)
        if not stream:
            return llm.invoke("hello")
        full: Any = None
        for chunk in llm.stream("hello"):
            full = chunk if full is None else full + chunk
        assert isinstance(full, AIMessage)
        return full

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._detailed(stream)

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._detailed(stream)
