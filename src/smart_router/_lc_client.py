"""The ``litellm.Router`` behind ``ChatSmartRouter``: one group per config model.

LiteLLM does every provider call, retry, cooldown and fallback. This module builds
the Router from the config (lazily: importing LiteLLM costs seconds), makes sure a
per-request override model has a deployment, and reads back which model group
really answered.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._exceptions import AllModelsFailedError
from ._litellm_common import all_models_failed

if TYPE_CHECKING:
    from ._router import RouteDecision, SmartRouter

# The header LiteLLM's Router sets on every response (and stream) it returns: the
# model group that served it, after any fallback. Groups are config model names.
_GROUP_HEADER = "x-litellm-model-group"
# LiteLLM's Router re-raises the primary group's error with this explanation appended
# when its fallbacks failed too; the error carries no structured list of the attempts.


class LiteLLMClient:
    """Owns one lazily built ``litellm.Router`` for one ``SmartRouter`` config."""

    def __init__(
        self,
        router: SmartRouter,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        num_retries: int | None = None,
        timeout: float | None = None,
        router_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.router = router
        self._api_key = api_key
        self._api_base = api_base
        self._settings: dict[str, Any] = dict(router_kwargs or {})
        if num_retries is not None:
            self._settings.setdefault("num_retries", num_retries)
        if timeout is not None:
            self._settings.setdefault("timeout", timeout)
        self._client: Any = None
        self._groups: set[str] = set()
        self._table = self.fallback_table()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show deployments: they hold API keys
        return f"LiteLLMClient(groups={sorted(self._groups)})"

    def deployment(self, name: str) -> dict[str, Any]:
        """A Router model_list entry for config model ``name``."""
        params = self.router.config.litellm_params(name)
        return self._fill({"model_name": name, "litellm_params": params})

    def _fill(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The chat model's ``api_key``/``base_url`` fill in what the config leaves unset."""
        params = entry["litellm_params"]
        if self._api_base and "api_base" not in params:
            params["api_base"] = self._api_base
        if self._api_key and "api_key" not in params:
            params["api_key"] = self._api_key
        return entry

    def fallback_table(self) -> dict[str, list[str]]:
        """Per-tier fallbacks: each tier model's group falls back to its tier's fallbacks."""
        table: dict[str, list[str]] = {}
        for tier in self.router.config.tiers.values():
            merged = table.setdefault(tier.model, [])
            merged.extend(m for m in tier.fallbacks if m not in merged and m != tier.model)
        return {model: fbs for model, fbs in table.items() if fbs}

    @property
    def client(self) -> Any:
        """The ``litellm.Router``, built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from litellm.router import Router  # deferred: seconds to import

                    model_list = [self._fill(e) for e in self.router.config.litellm_model_list()]
                    self._client = Router(
                        model_list=model_list,
                        fallbacks=[{m: fbs} for m, fbs in self._table.items()],
                        **self._settings,
                    )
                    self._groups = {e["model_name"] for e in model_list}
        return self._client

    def ensure_group(self, name: str) -> None:
        """Give an override model outside the tier table its own deployment."""
        client = self.client
        if name in self._groups:
            return
        with self._lock:
            if name not in self._groups:
                from litellm.types.router import Deployment

                client.add_deployment(Deployment(**self.deployment(name)))
                self._groups.add(name)

    def request(
        self, decision: RouteDecision, params: dict[str, Any], pin: str | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for ``Router.completion``: the decision's model and fallbacks.

        ``pin`` calls that one model, without fallbacks (the agent middleware's own
        fallback order), while the record still reports against ``decision``.
        """
        model = pin or decision.model
        fallbacks = [] if pin else list(decision.fallbacks)
        for name in (model, *fallbacks):
            self.ensure_group(name)
        request = {"model": model, **params}
        # The Router's own table already holds a tier model's fallbacks; naming them per
        # request costs LiteLLM ~0.4 ms, so only send a list that differs (an override
        # outside the tier table, a pin, a model shared by tiers).
        if fallbacks != self._table.get(model, []):
            request["fallbacks"] = fallbacks
        return request

    def answered_by(self, response: Any, decision: RouteDecision, pin: str | None = None) -> str:
        """The config model whose group served ``response`` (a completion or a stream)."""
        hidden = getattr(response, "_hidden_params", None) or {}
        headers = hidden.get("additional_headers") or {}
        group = headers.get(_GROUP_HEADER) or hidden.get("model_group")
        if isinstance(group, str) and group in self._groups:
            return group
        return pin or decision.model

    def all_failed(
        self, error: BaseException, decision: RouteDecision, pin: str | None = None
    ) -> AllModelsFailedError | None:
        """``AllModelsFailedError`` when LiteLLM's fallbacks failed too, else None."""
        return all_models_failed(error, pin or decision.model)

    @contextlib.contextmanager
    def converting(self, decision: RouteDecision, pin: str | None = None) -> Iterator[None]:
        """Raise ``AllModelsFailedError`` (from LiteLLM's error) when every model failed."""
        try:
            yield
        except Exception as e:
            converted = self.all_failed(e, decision, pin)
            if converted is None:
                raise
            raise converted from e
