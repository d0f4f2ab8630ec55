"""``SmartRouterProxyHook``: tier routing inside the LiteLLM proxy, as a proxy callback.

    # config.yaml (the tier models are ordinary model_list groups, named as in
    # smart_router.yaml); start with SMART_ROUTER_CONFIG=smart_router.yaml
    litellm_settings:
      callbacks: ["smart_router.litellm.proxy_hook"]

A chat request for ``model: smart-router`` is classified in ``async_pre_call_hook`` and
re-targeted to its tier's model group, with the tier's fallbacks as request-level
``fallbacks`` (LiteLLM keys fallbacks on the requested name); retries, cooldowns and
pre-call checks are then the proxy Router's own for that group. Other models pass through.
After the call the routing record goes to the response headers (``x-smart-router-tier``,
``-model``, ``-score``, ``-reasons``, ``-cost-usd``, ``-baseline-cost-usd``,
``-fallback-used``), to ``response._hidden_params["smart_router"]`` and to the request
metadata (``metadata["smart_router"]``, which spend logs and logging callbacks keep).
Streams get the decision headers up front (their cost is known only at the end: it goes
to the metadata and the ledger). ``model_override`` in the request body (``extra_body``)
skips classification; the ledger tag is the key's team id, else its user id.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ._exceptions import BudgetExceededError
from ._litellm_common import (
    DEFAULT_NAME,
    ROUTING_KEY,
    SmartRouterSource,
    answered_model,
    check_router,
    decision_summary,
    make_record,
    record_headers,
    served_group,
    smart_router_from,
)
from ._router import RouteDecision, SmartRouter

logger = logging.getLogger("smart_router")
_CHAT_CALLS = frozenset({"completion", "acompletion"})


class SmartRouterProxyHook(CustomLogger):  # type: ignore[misc]
    """Routes ``model: <name>`` chat requests of a LiteLLM proxy by tier."""

    def __init__(
        self,
        smart_router: SmartRouterSource = None,
        name: str = DEFAULT_NAME,
        max_pending: int = 10_000,
    ) -> None:
        super().__init__()
        self._source = smart_router
        self._router: SmartRouter | None = None
        self.name = name
        self._back: dict[str, str] | None = None  # group -> config name, once checked
        # Decisions between the pre-call and post-call hooks, by litellm_call_id; bounded
        # because a request that fails before its post-call hook never collects its own.
        self._pending: OrderedDict[str, RouteDecision] = OrderedDict()
        self._max_pending = max_pending

    def __repr__(self) -> str:
        return f"SmartRouterProxyHook(name={self.name!r})"

    @property
    def smart_router(self) -> SmartRouter:
        if self._router is None:
            self._router = smart_router_from(self._source)
        return self._router

    def _checked(self) -> dict[str, str]:
        """Check the proxy's Router once: every tier model must be one of its groups."""
        if self._back is None:
            from litellm.proxy.proxy_server import llm_router

            self._back = check_router(llm_router, self.smart_router, self.name)
        return self._back

    # -- before the call -------------------------------------------------------------------

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        if data.get("model") != self.name:
            return data
        from fastapi import HTTPException

        if call_type not in _CHAT_CALLS:
            raise HTTPException(400, f"{self.name!r} routes chat completions only, not {call_type}")
        self._checked()
        override = data.pop("model_override", None)
        tag = getattr(user_api_key_dict, "team_id", None) or getattr(
            user_api_key_dict, "user_id", None)
        call_id = data.get("litellm_call_id")
        try:
            decision = await self.smart_router.aroute(
                data.get("messages") or [], data.get("tools"), override,
                tag=tag if isinstance(tag, str) else None,
                request_id=call_id if isinstance(call_id, str) else None,
            )
        except BudgetExceededError as e:
            raise HTTPException(429, str(e)) from None
        except ValueError as e:  # invalid messages, an unpriced override: the caller's error
            raise HTTPException(400, str(e)) from None
        data["model"] = decision.model
        if decision.fallbacks and data.get("fallbacks") is None:
            data["fallbacks"] = list(decision.fallbacks)
        _metadata(data)[ROUTING_KEY] = decision_summary(decision)
        if isinstance(call_id, str):
            self._pending[call_id] = decision
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
        return data

    # -- after the call --------------------------------------------------------------------

    def _take(self, data: Mapping[str, Any]) -> RouteDecision | None:
        call_id = data.get("litellm_call_id")
        return self._pending.pop(call_id, None) if isinstance(call_id, str) else None

    def _record(
        self, data: dict[str, Any], decision: RouteDecision, usage: Any, response: Any
    ) -> dict[str, Any]:
        answered = answered_model(served_group(response), decision, self._checked())
        record = make_record(self.smart_router, decision, answered, usage, response)
        _metadata(data)[ROUTING_KEY] = {**decision_summary(decision), **record}
        hidden = getattr(response, "_hidden_params", None)
        if isinstance(hidden, dict):
            hidden[ROUTING_KEY] = record
        return record

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        decision = self._take(data)
        if decision is not None:
            self._record(data, decision, getattr(response, "usage", None) or {}, response)
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        decision = self._take(request_data)
        if decision is None:
            async for chunk in response:
                yield chunk
            return
        chunks: list[Any] = []
        usage = None
        async for chunk in response:
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            elif usage is None:
                chunks.append(chunk)  # to count the tokens when the provider reports none
            yield chunk
        try:
            if usage is None and chunks:
                import litellm

                built = litellm.stream_chunk_builder(
                    chunks=chunks, messages=request_data.get("messages"))
                usage = getattr(built, "usage", None)
            self._record(request_data, decision, usage or {}, response)
        except Exception as e:  # the answer is already sent: never fail it for the record
            logger.error("smart-router: no record for stream %s (%s: %s)",
                         decision.request_id, type(e).__name__, e)

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, Any] | None = None,
    ) -> dict[str, str] | None:
        routing = _metadata(data).get(ROUTING_KEY)
        if not isinstance(routing, Mapping) or routing.get("request_id") != data.get(
                "litellm_call_id"):
            return None  # not a request this hook routed
        try:
            return record_headers(routing)
        except (KeyError, TypeError, ValueError):
            return None


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    key = "litellm_metadata" if "litellm_metadata" in data else "metadata"
    bucket = data.get(key)
    if not isinstance(bucket, dict):
        bucket = data[key] = {}
    return bucket


proxy_hook = SmartRouterProxyHook()
