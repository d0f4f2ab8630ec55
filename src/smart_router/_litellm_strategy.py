"""``SmartRoutingStrategy``: smart-router as a classic LiteLLM custom routing strategy.

    strategy = SmartRoutingStrategy(router, "smart_router.yaml").install()
    router.completion(model="smart-router", messages=[...])   # sync and async

A custom strategy *replaces* the Router's deployment pick for every request, so this
one does what that pick did, per request:

- requests naming ``name`` are classified once (the decision is kept in the request's
  metadata under ``"smart_router"``, where logging callbacks see it); other names pass
  through to a weighted-random pick among their group's healthy deployments;
- only healthy deployments are picked: not cooling down, not blocked, and passing the
  Router's pre-call checks when it enables them (``enable_pre_call_checks``); a tier
  group with none left hands over to the next group of the tier's chain;
- retries: LiteLLM counts none for a name that is no group, so ``install`` aliases
  ``name`` to the first tier's group, whose retry settings then apply;
- fallbacks: LiteLLM keys them on the requested name, so they cannot differ by tier;
  instead each retry moves along the tier's chain (its group's untried deployments, then
  its fallback groups'), so give the Router enough ``num_retries``.

Limits: the Router's own strategy (latency-, usage-based...) is not consulted, and the
response carries no ``_hidden_params["smart_router"]`` record (nor a ledger entry): the
strategy never sees responses. ``smart_router.litellm.attach`` has neither limit.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from litellm.exceptions import BadRequestError
from litellm.router_api import ChangeSet, RoutingContext
from litellm.types.router import CustomRoutingStrategyBase

from ._litellm_common import (
    DEFAULT_NAME,
    ROUTING_KEY,
    SmartRouterSource,
    check_router,
    decision_summary,
    smart_router_from,
)

_TRIED_KEY = "smart_router_tried"  # deployment ids this request was already sent to


class SmartRoutingStrategy(CustomRoutingStrategyBase):  # type: ignore[misc]
    """Picks a deployment of the request's tier group (see the module docstring)."""

    def __init__(
        self,
        router: Any,
        smart_router: SmartRouterSource = None,
        name: str = DEFAULT_NAME,
    ) -> None:
        self.router = router
        self.smart_router = smart_router_from(smart_router)
        self.name = name
        check_router(router, self.smart_router, name)
        self._context = RoutingContext(router)
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"SmartRoutingStrategy(name={self.name!r}, {self.smart_router!r})"

    def install(self) -> SmartRoutingStrategy:
        """Alias ``name`` to the first tier's group (for retries) and register this strategy."""
        aliases = dict(self.router.registry().aliases() or {})
        if self.name not in aliases:
            first = self.smart_router.config.tiers[self.smart_router.tier_names[0]].model
            aliases[self.name] = first
            self.router.apply(ChangeSet(settings={"model_group_alias": aliases}))
        self.router.register_plugin(self)
        return self

    # -- the strategy API ----------------------------------------------------------------

    # The base class declares ``-> None``; LiteLLM uses the deployment they return.
    async def async_get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        input: Any = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        request = request_kwargs if request_kwargs is not None else {}
        if model != self.name:
            healthy = await self._ahealthy(model, request, bool(specific_deployment))
            return self._choose(self._prechecked(model, healthy, request, messages, input))
        chain, tried = self._state(request)
        msgs = messages if messages is not None else request.get("messages")
        if chain is None:
            decision = await self.smart_router.aroute(msgs or [], request.get("tools"))
            chain = self._remember(request, decision_summary(decision))
        seen: dict[str, list[Mapping[str, Any]] | None] = {}
        for group in chain:  # stop at the first group with an untried healthy deployment
            seen[group] = await self._ahealthy_or_none(group, request, msgs)
            if (chosen := self._fresh(seen[group], tried)) is not None:
                return chosen
        return self._again(seen)

    def get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        input: Any = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        request = request_kwargs if request_kwargs is not None else {}
        if model != self.name:
            if specific_deployment:
                found = self.router.registry().deployment_dict(model)
                if found is not None:
                    return dict(found)
            healthy = self._healthy(model)
            return self._choose(self._prechecked(model, healthy, request, messages, input))
        chain, tried = self._state(request)
        msgs = messages if messages is not None else request.get("messages")
        if chain is None:
            decision = self.smart_router.route(msgs or [], request.get("tools"))
            chain = self._remember(request, decision_summary(decision))
        seen: dict[str, list[Mapping[str, Any]] | None] = {}
        for group in chain:
            seen[group] = self._checked(group, self._healthy(group), request, msgs)
            if (chosen := self._fresh(seen[group], tried)) is not None:
                return chosen
        return self._again(seen)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _metadata(request: dict[str, Any]) -> dict[str, Any]:
        key = "litellm_metadata" if "litellm_metadata" in request else "metadata"
        bucket = request.get(key)
        if not isinstance(bucket, dict):
            bucket = request[key] = {}
        return bucket

    def _state(self, request: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
        """The request's tier chain (None before its first pick) and the ids it tried.
        The request dict is the same object on every retry of one call."""
        metadata = self._metadata(request)
        summary = metadata.get(ROUTING_KEY)
        tried = metadata.setdefault(_TRIED_KEY, [])
        if not isinstance(summary, Mapping):
            return None, tried
        return [summary["model"], *summary["fallbacks"]], tried

    def _remember(self, request: dict[str, Any], summary: dict[str, Any]) -> list[str]:
        self._metadata(request)[ROUTING_KEY] = summary
        return [summary["model"], *summary["fallbacks"]]

    def _fresh(
        self, healthy: Sequence[Mapping[str, Any]] | None, tried: list[str]
    ) -> Mapping[str, Any] | None:
        """A healthy deployment this request was not sent to yet (noted as tried)."""
        fresh = [d for d in healthy or () if _id(d) not in tried]
        if not fresh:
            return None
        chosen = self._choose(fresh)
        tried.append(_id(chosen))
        return chosen

    def _again(self, seen: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> Mapping[str, Any]:
        """Every healthy deployment of the chain was tried: retry along it from the start."""
        for healthy in seen.values():
            if healthy:
                return self._choose(healthy)
        raise ValueError(f"No deployments available for {self.name!r}: every deployment of "
                         f"{list(seen)} is cooling down or blocked")

    def _choose(self, deployments: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """simple-shuffle: weighted by ``litellm_params.weight`` (default 1)."""
        if not deployments:
            raise ValueError("No deployments available")
        weights = [float((d.get("litellm_params") or {}).get("weight") or 1) for d in deployments]
        return self._random.choices(list(deployments), weights=weights)[0]

    async def _ahealthy(
        self, group: str, request: dict[str, Any], specific: bool = False
    ) -> list[Mapping[str, Any]]:
        # A copy: select pops the request's narrowing keys, which the Router's own walk reads.
        found = await self.router.select(
            group, dict(request), kind="healthy", specific_deployment=specific or None
        )
        return [found] if isinstance(found, Mapping) else list(found)

    async def _ahealthy_or_none(
        self, group: str, request: dict[str, Any], messages: Any
    ) -> list[Mapping[str, Any]] | None:
        try:
            healthy = await self._ahealthy(group, request)
        except ValueError:  # RouterRateLimitError: every deployment is cooling down
            return None
        return self._checked(group, healthy, request, messages)

    def _prechecked(
        self,
        group: str,
        healthy: list[Mapping[str, Any]],
        request: dict[str, Any],
        messages: Any,
        input: Any = None,
    ) -> list[Mapping[str, Any]]:
        """The Router's pre-call checks (context window, ...), when it enables them; raises
        as the Router does (e.g. ``ContextWindowExceededError``) when none is left."""
        if not healthy or not self.router.settings().enable_pre_call_checks:
            return healthy
        kept = self._context.pre_call_checks(group, list(healthy), messages, input,
                                             request_kwargs=request)
        return [d for d in kept if isinstance(d, Mapping)]

    def _checked(
        self, group: str, healthy: list[Mapping[str, Any]], request: dict[str, Any], messages: Any
    ) -> list[Mapping[str, Any]] | None:
        """``_prechecked`` for one group of a tier's chain: None when no deployment is left,
        so the chain's next group gets its turn."""
        try:
            return self._prechecked(group, healthy, request, messages) or None
        except BadRequestError:  # e.g. ContextWindowExceededError: no deployment fits
            return None

    def _healthy(self, group: str) -> list[Mapping[str, Any]]:
        """The sync path: the group's deployments that are neither cooling down nor blocked."""
        registry = self.router.registry()
        health = self.router.health()
        ids = list(registry.names(group, kind="ids"))
        cooling = {i for i, _ in health.cooldowns.get_active_cooldowns(ids, None)}
        healthy = []
        for i in ids:
            deployment = registry.deployment(i)
            if i in cooling or deployment is None or health.is_blocked(deployment):
                continue
            found = registry.deployment_dict(i)
            if found is not None:
                healthy.append(found)
        return healthy


def _id(deployment: Mapping[str, Any]) -> str:
    return str((deployment.get("model_info") or {}).get("id"))
