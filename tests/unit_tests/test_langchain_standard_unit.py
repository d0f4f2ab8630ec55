"""LangChain's standard unit suite for ChatSmartRouter (no calls are made)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from smart_router.langchain import ChatSmartRouter

_NOWHERE = "http://127.0.0.1:9/v1"  # never called: unit tests make no requests


class TestChatSmartRouterUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatSmartRouter]:
        return ChatSmartRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"config": {"api_base": _NOWHERE, "classifier": {"type": "heuristic"}}}

    @property
    def model_override_value(self) -> str:
        return "gpt-4o"
