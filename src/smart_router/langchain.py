"""LangChain chat model that sends every call to the cheapest tier that can answer it.

    from smart_router.langchain import ChatSmartRouter

    llm = ChatSmartRouter(config="smart_router.yaml", temperature=0)
    msg = llm.invoke("What is the capital of France?")
    msg.response_metadata["model_name"]     # the model that really answered
    msg.response_metadata["smart_router"]   # tier, model, score, reasons, cost_usd, ...

The routing itself is ``SmartRouter.route``; calls go through a ``litellm.Router``
(retries, cooldowns, per-tier fallbacks). ``SmartRouterMiddleware`` (for
``langchain.agents.create_agent`` with models given by name) loads on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from . import _lc_structured, _models, _tokens
from ._exceptions import SmartRouterError
from ._lc_client import LiteLLMClient
from ._lc_convert import (
    StreamReader,
    chat_result,
    get,
    to_openai_messages,
    tool_choice_param,
)
from ._messages import parse_messages
from ._router import RouteDecision, SmartRouter

if TYPE_CHECKING:
    from ._lc_middleware import SmartRouterMiddleware

__all__ = [
    "CONFIGURABLE_MODEL_KEY",
    "CONFIGURABLE_TAG_KEY",
    "ChatSmartRouter",
    "SmartRouterMiddleware",
]

# The call kwarg that carries a decision made before the run started (so tracing
# names the routed model) into _generate/_stream. Never sent to a provider.
DECISION_KEY = "smart_router_decision"
# With a decision: call this one model, no fallbacks (the agent middleware's own order).
PIN_KEY = "smart_router_pin"
# ``config={"configurable": {CONFIGURABLE_MODEL_KEY: "gpt-4o"}}`` pins the model of every
# call in that run. Namespaced: configurable dicts flow through whole LangGraph runs.
CONFIGURABLE_MODEL_KEY = "smart_router_model"
# ``{"configurable": {CONFIGURABLE_TAG_KEY: "team-a"}}``: the user/team the run is billed to.
CONFIGURABLE_TAG_KEY = "smart_router_tag"


class _Call(NamedTuple):
    decision: RouteDecision
    request: dict[str, Any]  # Router.completion kwargs: may hold an API key, never log it
    pin: str | None


class ChatSmartRouter(BaseChatModel):
    """A chat model that routes each call to a tier of models by how hard it is.

    Args:
        config: a smart-router config (dict or YAML path), a ``RouterConfig``, or a
            ``SmartRouter`` (pass one ``SmartRouter`` to several chat models to share its
            cost ledger and budgets); None uses the built-in tiers.
        temperature, max_tokens, stop, timeout, max_retries, streaming: LangChain's
            standard parameters, passed to whichever tier model answers.
        api_key, base_url: used for every model whose config sets none.
        model_kwargs: extra LiteLLM parameters for every call.
        router_settings: extra ``litellm.Router`` settings (``cooldown_time``, ...).
        tag: the user/team calls are billed to in the cost ledger (default: the
            config's ``ledger.tag``); per run: ``configurable={"smart_router_tag": ...}``.

    Per call, ``model="<config model name>"`` (or ``config={"configurable":
    {"smart_router_model": ...}}``) skips classification. Every ``AIMessage`` carries
    ``response_metadata["model_name"]`` (the model that answered, after any fallback)
    and ``response_metadata["smart_router"]`` (the routing and cost record).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    # May hold literal API keys: never dumped, never in repr.
    config: Any = Field(default=None, exclude=True, repr=False)
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens")
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    timeout: float | None = Field(default=None, alias="request_timeout")
    max_retries: int | None = 2
    streaming: bool = False
    api_key: SecretStr | None = Field(default=None, exclude=True)
    base_url: str | None = Field(default=None, alias="api_base")
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    router_settings: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)
    tag: str | None = None

    _router: SmartRouter = PrivateAttr()
    _client: LiteLLMClient = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Built here, not in a validator, so a bad config raises smart-router's own
        # ConfigError (naming the field) rather than a wrapped pydantic error.
        cfg = self.config
        self._router = cfg if isinstance(cfg, SmartRouter) else SmartRouter(cfg)
        self._client = LiteLLMClient(
            self._router,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            api_base=self.base_url,
            num_retries=self.max_retries,
            timeout=self.timeout,
            router_kwargs=self.router_settings,
        )

    @property
    def router(self) -> SmartRouter:
        """The ``SmartRouter`` that decides each call's tier."""
        return self._router

    @property
    def litellm_router(self) -> Any:
        """The ``litellm.Router`` that makes the calls (built on first use)."""
        return self._client.client

    @property
    def _llm_type(self) -> str:
        return "smart-router-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        cfg = self._router.config
        return {
            "tiers": {name: tier.model for name, tier in cfg.tiers.items()},
            "classifier": self._router.classifier.name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }

    # -- tracing: name the routed model -------------------------------------

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        decision = kwargs.get(DECISION_KEY)
        model = kwargs.get("model")
        if isinstance(decision, RouteDecision):
            model = decision.model
        elif not isinstance(model, str):
            model = "smart-router"  # routed inside the run: the model is not known yet
        params = LangSmithParams(
            ls_provider=self._provider(model), ls_model_name=model, ls_model_type="chat"
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop := stop or self.stop:
            params["ls_stop"] = stop
        return params

    def _provider(self, model: str) -> str:
        entry = _models.lookup(self._router.config.price_model(model))
        provider = entry.get("litellm_provider") if entry else None
        return provider if isinstance(provider, str) else "smart_router"

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        decision = kwargs.pop(DECISION_KEY, None)
        params = super()._get_invocation_params(stop=stop, **kwargs)
        if isinstance(decision, RouteDecision):
            params["model"] = decision.model
            params["smart_router_tier"] = decision.tier
        return params

    # -- route before the run starts (so callbacks see the routed model) -----

    def _route_kwargs(
        self, config: RunnableConfig | None, kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``route()``'s keyword arguments: tools, the model override and the tag."""
        configurable = ensure_config(config).get("configurable", {})
        model = kwargs.get("model") or configurable.get(CONFIGURABLE_MODEL_KEY)
        tag = configurable.get(CONFIGURABLE_TAG_KEY) or self.tag
        return {
            "tools": kwargs.get("tools"),
            "model_override": model if isinstance(model, str) else None,
            "tag": tag if isinstance(tag, str) else None,
        }

    def _with_decision(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if DECISION_KEY in kwargs:
            return kwargs
        try:
            messages = to_openai_messages(self._convert_input(input).to_messages())
            decision = self._router.route(messages, **self._route_kwargs(config, kwargs))
        except (SmartRouterError, ValueError):
            return kwargs  # routed (and raised) again inside the run, where callbacks see it
        return {**kwargs, DECISION_KEY: decision}

    async def _awith_decision(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if DECISION_KEY in kwargs:
            return kwargs
        try:
            messages = to_openai_messages(self._convert_input(input).to_messages())
            decision = await self._router.aroute(messages, **self._route_kwargs(config, kwargs))
        except (SmartRouterError, ValueError):
            return kwargs
        return {**kwargs, DECISION_KEY: decision}

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs = self._with_decision(input, config, kwargs)
        return super().invoke(input, config, stop=stop, **kwargs)

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs = await self._awith_decision(input, config, kwargs)
        return await super().ainvoke(input, config, stop=stop, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        kwargs = self._with_decision(input, config, kwargs)
        yield from super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        kwargs = await self._awith_decision(input, config, kwargs)
        async for chunk in super().astream(input, config, stop=stop, **kwargs):
            yield chunk

    # -- the call --------------------------------------------------------------

    def _params(
        self, messages: list[dict[str, Any]], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"messages": messages, **self.model_kwargs}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if stop := stop or self.stop:
            params["stop"] = stop
        for key in ("model", "stream", DECISION_KEY, PIN_KEY):
            kwargs.pop(key, None)
        if (choice := kwargs.get("tool_choice")) is not None:
            kwargs["tool_choice"] = tool_choice_param(choice, kwargs.get("tools") or [])
        params.update(kwargs)
        return params

    def _call(
        self, oai: list[dict[str, Any]], decision: RouteDecision, stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> _Call:
        pin = kwargs.get(PIN_KEY)
        request = self._client.request(decision, self._params(oai, stop, dict(kwargs)), pin)
        return _Call(decision, request, pin)

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Call:
        oai = to_openai_messages(messages)
        decision = kwargs.get(DECISION_KEY)
        if not isinstance(decision, RouteDecision):  # not routed before the run started
            decision = self._router.route(oai, **self._route_kwargs(None, kwargs))
        return self._call(oai, decision, stop, kwargs)

    async def _aprepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Call:
        oai = to_openai_messages(messages)
        decision = kwargs.get(DECISION_KEY)
        if not isinstance(decision, RouteDecision):
            decision = await self._router.aroute(oai, **self._route_kwargs(None, kwargs))
        return self._call(oai, decision, stop, kwargs)

    def _result(self, response: Any, call: _Call) -> ChatResult:
        answered = self._client.answered_by(response, call.decision, call.pin)
        record = self._router.record(call.decision, answered, get(response, "usage") or {})
        return chat_result(response, answered, record)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        with self._client.converting(call.decision, call.pin):
            response = self._client.client.completion(**call.request)
        return self._result(response, call)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = await self._aprepare(messages, stop, kwargs)
        with self._client.converting(call.decision, call.pin):
            response = await self._client.client.acompletion(**call.request)
        return self._result(response, call)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        reader = StreamReader()
        with self._client.converting(call.decision, call.pin):
            stream = self._client.client.completion(
                **call.request, stream=True, stream_options={"include_usage": True}
            )
            for raw in stream:
                yield from reader.feed(raw)
        answered = self._client.answered_by(stream, call.decision, call.pin)
        yield reader.last(answered, self._router.record(call.decision, answered, reader.usage))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = await self._aprepare(messages, stop, kwargs)
        reader = StreamReader()
        with self._client.converting(call.decision, call.pin):
            stream = await self._client.client.acompletion(
                **call.request, stream=True, stream_options={"include_usage": True}
            )
            async for raw in stream:
                for chunk in reader.feed(raw):
                    yield chunk
        answered = self._client.answered_by(stream, call.decision, call.pin)
        yield reader.last(answered, self._router.record(call.decision, answered, reader.usage))

    # -- token counts (trim_messages, summarization): cl100k, never downloaded ----

    def get_num_tokens(self, text: str) -> int:
        return _tokens.count_text(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        oai_tools = [convert_to_openai_tool(t) for t in tools] if tools else None
        return _tokens.count_prompt(parse_messages(to_openai_messages(messages), oai_tools))

    # -- tools and structured output -------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool form); ``tool_choice`` takes "auto", "none",
        "any"/"required", a tool name, True (the only tool) or an OpenAI dict."""
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice_param(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: _lc_structured.Method = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Return output shaped by ``schema`` (pydantic class, TypedDict or JSON schema).

        ``method``: "function_calling" (default: every common tier model supports tool
        calls), "json_schema" (``response_format`` with the schema) or "json_mode".
        """
        return _lc_structured.with_structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict, kwargs=kwargs
        )


def __getattr__(name: str) -> Any:
    if name == "SmartRouterMiddleware":  # imports langchain.agents: only when asked for
        from ._lc_middleware import SmartRouterMiddleware

        return SmartRouterMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

