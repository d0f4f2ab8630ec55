"""A LangChain chain on ChatSmartRouter, offline against the local test server.

    python examples/langchain_chain.py

Each question goes to the cheapest tier that can answer it; every answer carries the
model that answered and what it cost (and would have cost on the premium tier). The
local server stands in for the providers: it answers "[model] answer: ..." so you can
see which model got each question. Point the config at real providers to use it for real.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline price map

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from smart_router.langchain import ChatSmartRouter
from smart_router.testing import MockOpenAIServer

TIERS = {
    "simple": {"model": "deepseek/deepseek-chat", "fallbacks": ["dashscope/qwen-plus"]},
    "moderate": {"model": "dashscope/qwen-plus", "fallbacks": ["deepseek/deepseek-chat"]},
    "complex": {"model": "gpt-4o", "fallbacks": ["anthropic/claude-opus-4-5"]},
}
QUESTIONS = [
    "What's the capital of France?",
    "Summarize the pros and cons of using SQL views for a reporting API.",
    "Design a distributed, fault-tolerant payment ledger for multi-region deployment: "
    "explain the consensus trade-offs and how it scales.",
]


def local_config(base_url: str) -> dict[str, object]:
    """The tier table, every model served by the local server in OpenAI format.
    With real providers, drop ``models:`` (or set keys there as os.environ/NAME)."""
    names = {m for t in TIERS.values() for m in [t["model"], *t["fallbacks"]]}
    return {
        "tiers": TIERS,
        "models": {n: {"model": f"openai/{n.split('/')[-1]}", "api_base": base_url,
                       "api_key": "sk-local"} for n in names},
    }


class Answer(BaseModel):
    """A short answer and how sure the model is."""

    answer: str = Field(description="the answer")
    confidence: float = Field(description="0 to 1")


def main() -> None:
    with MockOpenAIServer() as server:
        llm = ChatSmartRouter(config=local_config(server.base_url), temperature=0)
        prompt = ChatPromptTemplate.from_messages(
            [("system", "You are a concise assistant."), ("human", "{question}")]
        )
        chain = prompt | llm

        total = baseline = 0.0
        print(f"{'tier':<9}{'model':<25}{'cost $':>11}{'premium $':>11}  answer")
        for question in QUESTIONS:
            msg = chain.invoke({"question": question})
            record = msg.response_metadata["smart_router"]
            total += record["cost_usd"]
            baseline += record["baseline_cost_usd"]
            print(f"{record['tier']:<9}{msg.response_metadata['model_name']:<25}"
                  f"{record['cost_usd']:>11.6f}{record['baseline_cost_usd']:>11.6f}  "
                  f"{str(msg.content)[:50]}")
        print(f"routed ${total:.6f} vs all-premium ${baseline:.6f}: "
              f"{baseline / total:.1f}x cheaper\n")

        print("streaming:", end=" ")
        for token in (prompt | llm | StrOutputParser()).stream({"question": QUESTIONS[0]}):
            print(token, end="", flush=True)
        print()

        structured = llm.with_structured_output(Answer)
        print("structured:", structured.invoke(QUESTIONS[0]))

        pinned = llm.invoke(QUESTIONS[0], model="gpt-4o")  # per-request override
        print("override:", pinned.response_metadata["smart_router"]["reasons"])


if __name__ == "__main__":
    main()
