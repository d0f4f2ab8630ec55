"""Glue shared by the LiteLLM front doors (``attach``, the strategy, the proxy hook).

Tier models are ``litellm.Router`` model groups named by their config name (what
``RouterConfig.litellm_model_list()`` builds), or aliases of groups. This module checks
that, reads back which group really answered a response, and builds the routing record.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._config import RouterConfig
from ._exceptions import AllModelsFailedError, ConfigError
from ._router import RouteDecision, SmartRouter

# What the front doors accept for their SmartRouter: one, a config, a YAML path, or None.
SmartRouterSource = SmartRouter | RouterConfig | Mapping[str, Any] | str | Path | None

logger = logging.getLogger("smart_router")
ROUTING_KEY = "smart_router"  # in _hidden_params and request metadata
DEFAULT_NAME = "smart-router"
CONFIG_ENV = "SMART_ROUTER_CONFIG"
# The header LiteLLM's Router stamps on every response and stream: the model group
# that served it, after any fallback.
GROUP_HEADER = "x-litellm-model-group"
HEADER_PREFIX = "x-smart-router-"


def smart_router_from(obj: SmartRouterSource) -> SmartRouter:
    """A ``SmartRouter`` from one, a config (dict, ``RouterConfig``, YAML path) or None.

    None reads ``$SMART_ROUTER_CONFIG`` (a YAML path) when set, else the built-in tiers.
    """
    if isinstance(obj, SmartRouter):
        return obj
    if obj is None and os.environ.get(CONFIG_ENV):
        obj = Path(os.environ[CONFIG_ENV])
    return SmartRouter(obj)


def alias_targets(router: Any) -> dict[str, str]:
    """``model_group_alias`` of ``router`` as name -> group."""
    targets: dict[str, str] = {}
    for name, target in dict(router.registry().aliases() or {}).items():
        group = target.get("model") if isinstance(target, Mapping) else target
        if isinstance(group, str):
            targets[name] = group
    return targets


def check_router(router: Any, sr: SmartRouter, name: str) -> dict[str, str]:
    """Raise ``ConfigError`` unless every tier model and fallback is a group (or alias)
    of ``router`` and ``name`` is not. Returns group -> config name for aliased ones."""
    groups = set(router.registry().names(kind="group_set"))
    aliases = alias_targets(router)
    missing = [m for m in sr.config.routable_models() if m not in groups and m not in aliases]
    if missing:
        raise ConfigError(
            f"smart-router tier model(s) {missing} are not model groups of this litellm.Router "
            f"(it has {sorted(groups)}); add a model_list entry named after each "
            "(RouterConfig.litellm_model_list() builds them) or a model_group_alias"
        )
    if name in groups:
        raise ConfigError(
            f"{name!r} is already a model group of this litellm.Router, so requests to it "
            "could not be routed by tier: choose another name"
        )
    return {aliases[m]: m for m in sr.config.routable_models() if m not in groups}


def check_model(router: Any, model: str) -> None:
    """A per-request override model must be a group of ``router`` too."""
    if model not in router.registry().names(kind="group_set") and model not in alias_targets(
        router
    ):
        raise ConfigError(f"model_override {model!r} is not a model group of this litellm.Router")


def served_group(response: Any) -> str | None:
    """The model group that served ``response`` (a completion or a stream), if it says."""
    hidden = getattr(response, "_hidden_params", None) or {}
    headers = hidden.get("additional_headers") or {}
    group = headers.get(GROUP_HEADER) or hidden.get("model_group")
    return group if isinstance(group, str) and group else None


def answered_model(group: str | None, decision: RouteDecision, back: Mapping[str, str]) -> str:
    """The config model name of the group that answered (the tier model when unknown)."""
    if group is None:
        return decision.model
    return back.get(group, group)


def make_record(
    sr: SmartRouter, decision: RouteDecision, answered: str, usage: Any, response: Any = None
) -> dict[str, Any]:
    """``SmartRouter.record``, also for a group the config cannot price (a Router-level
    fallback outside the tier table): its cost is then LiteLLM's own ``response_cost``."""
    try:
        return sr.record(decision, answered, usage)
    except ValueError:  # no smart-router price for that group
        pass
    from ._cost import Usage, usage_cost

    use = usage if isinstance(usage, Usage) else Usage.from_openai(usage)
    hidden = getattr(response, "_hidden_params", None) or {}
    return {
        "tier": decision.tier,
        "model": answered,
        "score": decision.score,
        "reasons": [*decision.reasons,
                    f"{answered} has no smart-router price: cost_usd is LiteLLM's response_cost"],
        "cost_usd": float(hidden.get("response_cost") or 0.0) + decision.classifier_cost_usd,
        "baseline_cost_usd": usage_cost(sr.config, sr.premium_model, use),
        "fallback_used": True,
    }


def stream_usage(chunks: list[Any], messages: Any) -> Any:
    """The usage of a finished stream: reported by the provider, else counted by LiteLLM."""
    for chunk in reversed(chunks):
        if getattr(chunk, "usage", None):
            return chunk.usage
    if not chunks:
        return {}
    import litellm

    built = litellm.stream_chunk_builder(chunks=chunks, messages=messages)
    return getattr(built, "usage", None) or {}


_RECORDING: dict[type, type] = {}


def on_stream_end(stream: Any, finish: Callable[[Any, list[Any]], None]) -> Any:
    """Make ``stream`` (a LiteLLM stream wrapper) call ``finish(stream, chunks)`` once, when
    it is exhausted. Its class is swapped for a subclass that also keeps the chunks it
    yields (LiteLLM's sync stream keeps none), so ``isinstance`` checks still hold."""
    base = type(stream)
    sub = _RECORDING.get(base)
    if sub is None:
        sub = _RECORDING[base] = type(f"Recording{base.__name__}", (base,), {
            "__slots__": (), "__next__": _next, "__anext__": _anext, "__module__": __name__})
    stream.__dict__["_smart_router_finish"] = finish
    stream.__dict__["_smart_router_chunks"] = []
    stream.__class__ = sub
    return stream


def _done(stream: Any) -> None:
    finish = stream.__dict__.pop("_smart_router_finish", None)
    if finish is None:
        return
    try:
        finish(stream, stream.__dict__.pop("_smart_router_chunks", []))
    except Exception as e:  # the answer is already delivered: never fail it for the record
        logger.error("smart-router: no routing record for a stream (%s: %s)",
                     type(e).__name__, e)


def _next(self: Any) -> Any:
    try:
        chunk = super(type(self), self).__next__()
    except StopIteration:
        _done(self)
        raise
    self.__dict__.get("_smart_router_chunks", []).append(chunk)
    return chunk


async def _anext(self: Any) -> Any:
    try:
        chunk = await super(type(self), self).__anext__()
    except StopAsyncIteration:
        _done(self)
        raise
    self.__dict__.get("_smart_router_chunks", []).append(chunk)
    return chunk


def decision_summary(decision: RouteDecision) -> dict[str, Any]:
    """What a request's metadata carries for logging callbacks and spend logs."""
    return {
        "tier": decision.tier,
        "model": decision.model,
        "score": decision.score,
        "reasons": list(decision.reasons),
        "fallbacks": list(decision.fallbacks),
        "request_id": decision.request_id,
    }


_UNSAFE = re.compile(r"[^\x20-\x7e]")


def record_headers(record: Mapping[str, Any]) -> dict[str, str]:
    """HTTP response headers for a routing record (or a decision summary, for streams)."""

    def text(value: Any) -> str:
        return _UNSAFE.sub("?", str(value))[:512]

    headers = {f"{HEADER_PREFIX}tier": text(record["tier"]),
               f"{HEADER_PREFIX}model": text(record["model"]),
               f"{HEADER_PREFIX}score": f"{float(record['score']):.4f}",
               f"{HEADER_PREFIX}reasons": text("; ".join(record.get("reasons") or []))}
    if "cost_usd" in record:
        headers[f"{HEADER_PREFIX}cost-usd"] = f"{record['cost_usd']:.10f}"
        headers[f"{HEADER_PREFIX}baseline-cost-usd"] = f"{record['baseline_cost_usd']:.10f}"
        headers[f"{HEADER_PREFIX}fallback-used"] = str(bool(record["fallback_used"])).lower()
    return headers


_EXPLAINED = "\n\nLiteLLM: model group"
_FALLBACKS_FAILED = re.compile(r"Fallback to (?P<targets>.+?) also failed: (?P<detail>.*)\Z", re.S)


def all_models_failed(error: BaseException, first_model: str) -> AllModelsFailedError | None:
    """LiteLLM's final error after its fallbacks failed too -> ``AllModelsFailedError``
    listing each model tried (None when no fallback was tried: the error stands).

    LiteLLM's text names every fallback it tried but quotes only the first one's error.
    """
    text = str(getattr(error, "message", None) or error)
    primary, marker, explanation = text.partition(_EXPLAINED)
    found = _FALLBACKS_FAILED.search(explanation) if marker else None
    if found is None:
        return None
    attempts = [(first_model, primary.strip())]
    unquoted = "failed too (LiteLLM quotes only the first fallback's error)"
    for i, target in enumerate(t.strip() for t in found["targets"].split(", ")):
        attempts.append((target, found["detail"].strip() if i == 0 else unquoted))
    return AllModelsFailedError(attempts)
