"""Agent middleware: route every model call of a ``create_agent`` run by tier."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from langchain.agents.middleware.types import (
    AgentMiddleware,
    ModelCallResult,
    ModelRequest,
    ModelResponse,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from ._config import RouterConfig
from ._cost import Usage
from ._exceptions import AllModelsFailedError, ConfigError
from ._lc_convert import to_openai_messages
from ._router import RouteDecision, SmartRouter
from .langchain import DECISION_KEY, PIN_KEY, ChatSmartRouter

Handler = Callable[[ModelRequest[Any]], ModelResponse[Any]]
AsyncHandler = Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]]


class SmartRouterMiddleware(AgentMiddleware):
    """Pick the model of every agent step with smart-router's core.

    For ``langchain.agents.create_agent`` users who keep passing models by name::

        agent = create_agent(
            "openai:gpt-4o", tools,
            middleware=[SmartRouterMiddleware("smart_router.yaml",
                                              models={"gpt-4o": "openai:gpt-4o"})],
        )

    Each model call is routed on the conversation so far, with the core's policies;
    the classifier reads the human turns, not the tool outputs. ``models`` maps config
    model names to LangChain models (instances or ``init_chat_model`` strings); a name
    without a mapping is called through LiteLLM by a ``ChatSmartRouter``
    (``chat_params`` are its parameters) with LiteLLM's retries and fallbacks. A
    mapped model that fails falls back, in the middleware, to the decision's
    fallbacks. Every AIMessage gets ``response_metadata["smart_router"]``, the same
    record ``ChatSmartRouter`` attaches.

    How it differs from LangChain's (beta) ``ModelRouterMiddleware``: that one asks a
    decision model once per run, before the agent starts, on the latest human message,
    and keeps that choice for every step. This one decides per model call with no
    extra model call (unless the config's classifier is an LLM): a run that started
    complex stays complex while it reads tool results (the task did not change), a
    conversation that grows long is raised (``policies.long_conversation_turns``), and
    a run stuck repeating the same tool call escalates one tier, said in ``reasons``. It
    also adds fallbacks and a cost record per step.
    """

    def __init__(
        self,
        config: SmartRouter | RouterConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        models: Mapping[str, str | BaseChatModel] | None = None,
        **chat_params: Any,
    ) -> None:
        super().__init__()
        self.router = config if isinstance(config, SmartRouter) else SmartRouter(config)
        self.chat = ChatSmartRouter(config=self.router, **chat_params)
        known = set(self.router.config.routable_models()) | set(self.router.config.models)
        unknown = sorted(set(models or {}) - known)
        if unknown:
            raise ConfigError(
                f"SmartRouterMiddleware models: {unknown} are not models of the config; "
                f"keys must be config model names such as {sorted(known)[:3]}"
            )
        self.models: dict[str, BaseChatModel] = {}
        for name, model in (models or {}).items():
            if isinstance(model, str):
                from langchain.chat_models import init_chat_model

                model = init_chat_model(model)
            self.models[name] = model

    # -- routing -----------------------------------------------------------------

    def _inputs(self, request: ModelRequest[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``route()``'s arguments: the conversation in OpenAI format, tools, override, tag."""
        history: list[BaseMessage] = list(request.messages)
        if request.system_message is not None:
            history.insert(0, request.system_message)
        tools: list[Any] = []
        for tool in request.tools:
            try:
                tools.append(convert_to_openai_tool(tool))
            except (ValueError, TypeError, NotImplementedError):  # provider built-ins
                tools.append(tool)
        options = self.chat._route_kwargs(None, {"tools": tools or None})
        return to_openai_messages(history), options

    def decide(self, request: ModelRequest[Any]) -> RouteDecision:
        """The core's decision for this model call."""
        messages, options = self._inputs(request)
        return self.router.route(messages, **options)

    async def adecide(self, request: ModelRequest[Any]) -> RouteDecision:
        messages, options = self._inputs(request)
        return await self.router.aroute(messages, **options)

    def _attempts(
        self, request: ModelRequest[Any], decision: RouteDecision
    ) -> list[tuple[str, ModelRequest[Any]]]:
        """(model, request) per model to try. Through LiteLLM, one attempt: LiteLLM
        does the fallbacks itself."""
        if decision.model not in self.models:
            return [(decision.model, self._via_litellm(request, decision))]
        return [
            (name, request.override(model=self.models[name]) if name in self.models
             else self._via_litellm(request, decision, pin=name))
            for name in (decision.model, *decision.fallbacks)
        ]

    def _via_litellm(
        self, request: ModelRequest[Any], decision: RouteDecision, pin: str | None = None
    ) -> ModelRequest[Any]:
        settings = {**request.model_settings, DECISION_KEY: decision}
        if pin is not None:
            settings[PIN_KEY] = pin
        return request.override(model=self.chat, model_settings=settings)

    def _annotate(
        self, response: ModelCallResult[Any], decision: RouteDecision, model: str
    ) -> ModelCallResult[Any]:
        """Attach the routing record to a mapped model's answer (priced on its usage).

        Answers through LiteLLM already carry it: ``ChatSmartRouter`` recorded them.
        """
        messages = response.result if isinstance(response, ModelResponse) else [response]
        for msg in messages:
            if not isinstance(msg, AIMessage) or "smart_router" in msg.response_metadata:
                continue
            usage = msg.usage_metadata
            tokens = Usage(
                usage["input_tokens"] if usage else 0, usage["output_tokens"] if usage else 0
            )
            record = self.router.record(decision, model, tokens)
            msg.response_metadata = {**msg.response_metadata, "smart_router": record}
        return response

    # -- hooks ---------------------------------------------------------------------

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Handler
    ) -> ModelCallResult[Any]:
        decision = self.decide(request)
        failures: list[tuple[str, str]] = []
        attempts = self._attempts(request, decision)
        for model, attempt in attempts:
            try:
                response = handler(attempt)
            except Exception as e:
                if len(attempts) == 1:
                    raise
                failures.append((model, f"{type(e).__name__}: {e}"))
                continue
            return self._annotate(response, decision, model)
        raise AllModelsFailedError(failures)

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: AsyncHandler
    ) -> ModelCallResult[Any]:
        decision = await self.adecide(request)
        failures: list[tuple[str, str]] = []
        attempts = self._attempts(request, decision)
        for model, attempt in attempts:
            try:
                response = await handler(attempt)
            except Exception as e:
                if len(attempts) == 1:
                    raise
                failures.append((model, f"{type(e).__name__}: {e}"))
                continue
            return self._annotate(response, decision, model)
        raise AllModelsFailedError(failures)
