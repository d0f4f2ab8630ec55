"""smart-router's classifier as a plugin of LiteLLM's built-in complexity router.

For LiteLLM proxy users who already route with ``auto_router/complexity_router``: put
our classifier into the existing config.yaml, no code::

    model_list:
      - model_name: smart-router
        litellm_params:
          model: auto_router/complexity_router
          complexity_router_config:
            classifier_type: custom
            classifier_plugin: smart_router.litellm.complexity_classifier
            classifier_fallback: default_model    # a custom tier set needs it
            default_model: qwen-plus              # where an undecided request goes
            tiers: {simple: deepseek-chat, moderate: qwen-plus, complex: gpt-4o}

``complexity_classifier`` loads ``$SMART_ROUTER_CONFIG`` (else the built-in tiers) on
first use and answers smart-router's tier *name*, so the ``tiers`` keys must be those
names (or build ``SmartRouterClassifier(config, tier_map={"moderate": "MEDIUM", ...})``
in a module next to config.yaml to target LiteLLM's built-in tiers).

The interface (LiteLLM 1.110.2, ``litellm.types.router.ClassifierPlugin``): LiteLLM
awaits ``classify(context)`` with a ``RoutingContext`` and routes to the tier named by
the returned string; ``None`` declines and ``classifier_fallback`` decides.

Limits, all LiteLLM's:

- async path only: LiteLLM runs the complexity router as a pre-routing step of async
  calls (``Router.acompletion``, the proxy); ``Router.completion`` never runs it and fails
  with ``BadRequestError`` ("no pre-routing strategy selected a deployment");
- the plugin sees the messages and metadata, not ``tools``: smart-router's tools policy
  (a request with tools goes to at least ``moderate``) cannot apply here;
- it only names the tier: retries, cooldowns and fallbacks are LiteLLM's for the routed
  group, the complexity router's own behaviours stay on (e.g. ``max_tokens_from_tier_model``
  replaces the caller's ``max_tokens`` by default), and there is no smart-router cost
  record or ledger entry (LiteLLM reports ``x-litellm-complexity-router-tier``);
- ``classifier_plugin_timeout_ms`` (3 s by default) bounds each call; a classifier
  failure or an invalid request declines (``None``) rather than failing the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ._litellm_common import SmartRouterSource, smart_router_from
from ._router import SmartRouter

logger = logging.getLogger("smart_router")


class SmartRouterClassifier:
    """A ``ClassifierPlugin``: ``classify(context)`` -> the smart-router tier's name."""

    def __init__(
        self,
        smart_router: SmartRouterSource = None,
        tier_map: Mapping[str, str] | None = None,
    ) -> None:
        self._source = smart_router
        self._router: SmartRouter | None = None
        self.tier_map = dict(tier_map or {})

    def __repr__(self) -> str:
        return f"SmartRouterClassifier(tier_map={self.tier_map})"

    # LiteLLM copies the complexity router's config; one shared (lazily loaded) classifier
    # is enough, and cheaper than copying a loaded one.
    def __copy__(self) -> SmartRouterClassifier:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SmartRouterClassifier:
        return self

    @property
    def smart_router(self) -> SmartRouter:
        if self._router is None:
            self._router = smart_router_from(self._source)
        return self._router

    async def classify(self, context: Any) -> str | None:
        messages = list(getattr(context, "structured_messages", None) or ())
        if not messages:
            messages = list(getattr(context, "raw_messages", None) or ())
        try:
            decision = await self.smart_router.aroute(messages)
        except Exception as e:  # decline: LiteLLM's classifier_fallback decides instead
            logger.warning("smart-router classifier plugin declined (%s: %s)", type(e).__name__, e)
            return None
        return self.tier_map.get(decision.tier, decision.tier)


complexity_classifier = SmartRouterClassifier()
