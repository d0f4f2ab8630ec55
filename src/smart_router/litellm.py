"""LiteLLM integration: a virtual model name on a ``litellm.Router`` that routes by tier.

    import litellm
    from smart_router import SmartRouter
    from smart_router.litellm import attach

    sr = SmartRouter("smart_router.yaml")
    router = litellm.Router(model_list=sr.config.litellm_model_list(), num_retries=2)
    attach(router, sr)                                   # name="smart-router"
    resp = await router.acompletion(model="smart-router", messages=[...])
    resp._hidden_params["smart_router"]  # tier, model, score, reasons, cost_usd, ...

How ``attach`` works, and why: it wraps this Router instance's ``completion`` and
``acompletion``. A request naming ``name`` is classified first (``SmartRouter.route``),
then handed to the Router under its tier's model group name, so LiteLLM treats it as a
direct call to that group:

- retries: the tier group's ``num_retries``/retry policy apply (a virtual name that is no
  group and no alias would get none);
- fallbacks: LiteLLM keys them on the requested name, so the tier's fallbacks from the
  smart-router config are sent as request-level ``fallbacks`` (a caller's own wins);
- cooldowns and pre-call checks: the Router's own pick among the group's healthy
  deployments runs unchanged (a custom routing strategy would replace it);
- any other model name passes through untouched.

The response's ``_hidden_params["smart_router"]`` is the routing record; its ``model`` is
the config model whose group really answered. Streams get it when they are exhausted.
``model_override="<config model>"`` skips classification for one request; ``user=``
is the ledger tag. A tier model missing from the Router is a ``ConfigError`` at attach.

Also here: ``SmartRoutingStrategy`` (the classic ``CustomRoutingStrategyBase`` API),
``SmartRouterClassifier`` and ``complexity_classifier`` (a classifier plugin for LiteLLM's
``auto_router/complexity_router``), ``SmartRouterProxyHook`` and ``proxy_hook`` (a LiteLLM
proxy callback). The module-level instances read ``$SMART_ROUTER_CONFIG`` on first use.
"""

from __future__ import annotations

from typing import Any

from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

from ._litellm_common import (
    DEFAULT_NAME,
    ROUTING_KEY,
    SmartRouterSource,
    all_models_failed,
    answered_model,
    check_model,
    check_router,
    decision_summary,
    make_record,
    on_stream_end,
    served_group,
    smart_router_from,
    stream_usage,
)
from ._litellm_plugin import SmartRouterClassifier, complexity_classifier
from ._litellm_proxy import SmartRouterProxyHook, proxy_hook
from ._litellm_strategy import SmartRoutingStrategy
from ._router import RouteDecision, SmartRouter

__all__ = [
    "Attachment",
    "SmartRouterClassifier",
    "SmartRouterProxyHook",
    "SmartRoutingStrategy",
    "attach",
    "complexity_classifier",
    "proxy_hook",
]

_OVERRIDE_KWARG = "model_override"


def attach(
    router: Any,
    smart_router: SmartRouterSource = None,
    name: str = DEFAULT_NAME,
) -> Attachment:
    """Route ``router.completion(model=name, ...)`` / ``acompletion`` by tier.

    ``smart_router``: a ``SmartRouter``, a config (dict or YAML path), or None
    (``$SMART_ROUTER_CONFIG``, else the built-in tiers). Every tier model and fallback
    must be a model group (or alias) of ``router``: else ``ConfigError`` naming them.
    Attaching the same name again replaces the earlier attachment.
    """
    previous = getattr(router.acompletion, "__self__", None)
    if isinstance(previous, Attachment) and previous.name == name:
        previous.detach()
    attachment = Attachment(router, smart_router_from(smart_router), name)
    router.completion = attachment.completion
    router.acompletion = attachment.acompletion
    return attachment


class Attachment:
    """One ``attach``: the wrapped Router methods and the ``SmartRouter`` behind them."""

    def __init__(self, router: Any, smart_router: SmartRouter, name: str) -> None:
        self.router = router
        self.smart_router = smart_router
        self.name = name
        self._back = check_router(router, smart_router, name)  # group -> config name
        self._completion = router.completion
        self._acompletion = router.acompletion

    def __repr__(self) -> str:
        return f"Attachment(name={self.name!r}, {self.smart_router!r})"

    def detach(self) -> None:
        """Give the Router back its own ``completion``/``acompletion``."""
        if getattr(self.router.acompletion, "__self__", None) is not self:
            raise RuntimeError(f"{self!r} is not the outermost attachment of this Router")
        self.router.completion = self._completion
        self.router.acompletion = self._acompletion

    # -- the wrapped methods -----------------------------------------------------------

    def completion(self, model: str, messages: Any = None, *args: Any, **kwargs: Any) -> Any:
        if model != self.name:
            return self._completion(model, messages, *args, **kwargs)
        decision = self.smart_router.route(
            messages, kwargs.get("tools"), kwargs.pop(_OVERRIDE_KWARG, None), tag=kwargs.get("user")
        )
        call = self._call(decision, kwargs)
        try:
            response = self._completion(decision.model, messages, *args, **call)
        except Exception as e:
            raise all_models_failed(e, decision.model) or e from e
        return self._finish(decision, response, messages)

    async def acompletion(self, model: str, messages: Any = None, *args: Any, **kwargs: Any) -> Any:
        if model != self.name:
            return await self._acompletion(model, messages, *args, **kwargs)
        decision = await self.smart_router.aroute(
            messages, kwargs.get("tools"), kwargs.pop(_OVERRIDE_KWARG, None), tag=kwargs.get("user")
        )
        call = self._call(decision, kwargs)
        try:
            response = await self._acompletion(decision.model, messages, *args, **call)
        except Exception as e:
            raise all_models_failed(e, decision.model) or e from e
        return self._finish(decision, response, messages)

    def _call(self, decision: RouteDecision, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The Router call's kwargs: per-tier fallbacks and the decision in metadata."""
        if decision.model not in self.smart_router.config.routable_models():
            check_model(self.router, decision.model)  # an override outside the tier table
        call = dict(kwargs)
        if decision.fallbacks and call.get("fallbacks") is None:
            call["fallbacks"] = list(decision.fallbacks)
        metadata = dict(call.get("metadata") or {})
        metadata[ROUTING_KEY] = decision_summary(decision)  # for logging callbacks
        call["metadata"] = metadata
        return call

    def _finish(self, decision: RouteDecision, response: Any, messages: Any) -> Any:
        if isinstance(response, CustomStreamWrapper):
            return on_stream_end(response, lambda stream, chunks: self._record(
                decision, stream, stream_usage(chunks, messages)))
        self._record(decision, response, getattr(response, "usage", None) or {})
        return response

    def _record(self, decision: RouteDecision, response: Any, usage: Any) -> None:
        hidden = getattr(response, "_hidden_params", None)
        if not isinstance(hidden, dict):
            return
        answered = answered_model(served_group(response), decision, self._back)
        hidden[ROUTING_KEY] = make_record(self.smart_router, decision, answered, usage, response)
