"""An agent on ChatSmartRouter, offline against the local test server.

    python examples/langchain_agent.py

Every step of an agent run is a separate model call, and most steps only read a tool
result. smart-router routes each step on the task (the human turns), not on the tool
output: the run below starts complex and stays complex while it reads its tool results.
A second run gets stuck repeating the same tool call and is escalated one tier. The
last part does the same with ``SmartRouterMiddleware`` for agents that name their model.

The local server plays the model: its answers are scripted the way a real model would
answer (a tool call, then another, then the final text).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline price map

from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from smart_router.langchain import ChatSmartRouter, SmartRouterMiddleware
from smart_router.testing import MockOpenAIServer, Reply, ToolCall

TIERS = {
    "simple": {"model": "deepseek/deepseek-chat", "fallbacks": ["dashscope/qwen-plus"]},
    "moderate": {"model": "dashscope/qwen-plus", "fallbacks": ["deepseek/deepseek-chat"]},
    "complex": {"model": "gpt-4o", "fallbacks": ["anthropic/claude-opus-4-5"]},
}
DESIGN = ("Design a distributed, fault-tolerant payment ledger for multi-region deployment: "
          "explain the consensus trade-offs and how it scales.")


def local_config(base_url: str) -> dict[str, Any]:
    names = {m for t in TIERS.values() for m in [t["model"], *t["fallbacks"]]}
    return {
        "tiers": TIERS,
        "models": {n: {"model": f"openai/{n.split('/')[-1]}", "api_base": base_url,
                       "api_key": "sk-local"} for n in names},
    }


@tool
def search_docs(query: str) -> str:
    """Search the engineering docs."""
    return f"3 design docs about {query}"


@tool
def get_weather(city: str) -> str:
    """Current weather of a city."""
    return "sunny, 21C"


class NamedModel(GenericFakeChatModel):
    """Stands in for the agent's own model (say ``"openai:gpt-4o-mini"``, which needs
    langchain-openai and a key); the middleware replaces it, so it is never called."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def show(title: str, result: dict[str, Any]) -> None:
    print(title)
    for msg in result["messages"]:
        if isinstance(msg, AIMessage):
            record = msg.response_metadata["smart_router"]
            step = msg.tool_calls[0]["name"] + "(...)" if msg.tool_calls else str(msg.content)
            extra = [r for r in record["reasons"] if "loop" in r or "tools" in r]
            print(f"  {record['tier']:<9}{record['model']:<24}${record['cost_usd']:.6f}  "
                  f"{step[:40]:<42}{'; '.join(extra)}")


def main() -> None:
    with MockOpenAIServer() as server:
        llm = ChatSmartRouter(config=local_config(server.base_url))

        server.script("gpt-4o", ToolCall("search_docs", {"query": "raft consensus"}),
                      ToolCall("search_docs", {"query": "ledger sharding"}),
                      Reply("Raft per shard, sagas across shards, idempotent transfers."))
        agent = create_agent(llm, [search_docs])
        show("A complex task stays complex while it reads tool results:",
             agent.invoke({"messages": [HumanMessage(DESIGN)]}))

        same = ToolCall("get_weather", {"city": "Paris"})
        server.script("*", same, same, Reply("It is sunny in Paris."))
        agent = create_agent(llm, [get_weather])
        show("A run stuck repeating a tool call escalates one tier:",
             agent.invoke({"messages": [HumanMessage("What's the weather in Paris?")]}))

        # Agents that name their model keep it and add the middleware, which replaces it
        # on every step. Tier models go through LiteLLM unless ``models={...}`` maps
        # them to LangChain models (instances or init_chat_model strings).
        server.script("*", same, Reply("Sunny."))
        middleware = SmartRouterMiddleware(local_config(server.base_url))
        agent = create_agent(NamedModel(messages=iter([])), [get_weather],
                             middleware=[middleware])
        show("The same routing as middleware:",
             agent.invoke({"messages": [HumanMessage("What's the weather in Paris?")]}))


if __name__ == "__main__":
    main()
