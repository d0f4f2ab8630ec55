"""The tier table, scripted classifiers and helpers the LiteLLM integration tests share."""

from __future__ import annotations

from typing import Any

from smart_router import Classifier, Conversation, SmartRouter
from smart_router.testing import MockOpenAIServer

SIMPLE, MODERATE, COMPLEX = "deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o"
COMPLEX_FALLBACK = "anthropic/claude-opus-4-5"
MODELS = [SIMPLE, MODERATE, COMPLEX, COMPLEX_FALLBACK]
EASY, MID, HARD = "what is 2+2?", "MID: compare two sorting algorithms", "HARD: design a ledger"


def wire(name: str) -> str:
    """The model name the server sees for config model ``name``."""
    return name.split("/")[-1]


class Keyword(Classifier):
    """Deterministic scores: HARD -> complex, MID -> moderate, else simple."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, conversation: Conversation) -> float:
        self.calls += 1
        text = conversation.task_text
        return 0.95 if "HARD" in text else 0.5 if "MID" in text else 0.05


class Broken(Classifier):
    def score(self, conversation: Conversation) -> float:
        raise RuntimeError("classifier model file missing")


def smart(base_url: str, classifier: Classifier | None = None) -> SmartRouter:
    """The case study's tiers, every model served by the local server, no ledger."""
    config = {
        "tiers": {
            "simple": {"model": SIMPLE, "fallbacks": [MODERATE]},
            "moderate": {"model": MODERATE, "fallbacks": [SIMPLE]},
            "complex": {"model": COMPLEX, "fallbacks": [COMPLEX_FALLBACK]},
        },
        "models": {n: {"model": f"openai/{wire(n)}", "api_base": base_url, "api_key": "sk-test"}
                   for n in MODELS},
        "ledger": {"enabled": False},
    }
    return SmartRouter(config, classifier=classifier or Keyword())


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def served(server: MockOpenAIServer) -> list[str]:
    return [r["model"] for r in server.requests]
