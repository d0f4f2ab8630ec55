"""The configuration: pydantic models for the YAML/dict format in DESIGN.md.

Everything is checked when the config is loaded: unknown fields, tier names,
thresholds, and that every model a request could reach has a non-zero price.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import _models
from ._exceptions import ConfigError

ENV_PREFIX = "os.environ/"


class Secret:
    """An API key: a literal or an ``os.environ/NAME`` reference, never shown."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def env_name(self) -> str | None:
        return self._value[len(ENV_PREFIX) :] if self._value.startswith(ENV_PREFIX) else None

    def resolve(self) -> str | None:
        """The key itself, read from the environment at call time if referenced."""
        name = self.env_name
        return os.environ.get(name) if name is not None else self._value

    def __repr__(self) -> str:
        name = self.env_name
        return f"Secret(os.environ/{name})" if name else "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def to_secret(v: Any) -> Secret:
            if isinstance(v, Secret):
                return v
            if not isinstance(v, str) or not v:
                raise ValueError("must be a non-empty string or os.environ/NAME")
            return cls(v)

        return core_schema.no_info_plain_validator_function(
            to_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(repr),
        )


_SECRET_WORDS = ("key", "secret", "password", "credential")


def _is_secret_name(name: str) -> bool:
    return any(w in name.lower() for w in _SECRET_WORDS)


class _HidesSecrets(BaseModel):
    """Free-form options whose names say "key", "secret", ... are masked in the model
    (reprs and dumps show ``Secret('**********')``); the values live in a private dict."""

    model_config = ConfigDict(extra="allow", frozen=True)
    _secrets: dict[str, Secret] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _hide(self) -> _HidesSecrets:
        extra = self.__pydantic_extra__ or {}
        for name, value in extra.items():
            if _is_secret_name(name) and isinstance(value, str) and value:
                self._secrets[name] = Secret(value)
                extra[name] = repr(self._secrets[name])
        return self

    def secret_extra(self) -> dict[str, Any]:
        """The options, secrets as ``Secret`` objects (resolved when a call is made)."""
        return {**(self.model_extra or {}), **self._secrets}

    def revealed_extra(self) -> dict[str, Any]:
        """The options with secrets resolved: only for the LiteLLM call itself."""
        return {k: v.resolve() if isinstance(v, Secret) else v
                for k, v in self.secret_extra().items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierConfig(_Strict):
    model: str = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list)


class ModelConfig(_HidesSecrets):
    """Per-model LiteLLM params and price overrides; unknown keys go to LiteLLM."""

    model: str | None = None  # the LiteLLM model string, when the name is an alias
    api_base: str | None = None
    api_key: Secret | None = None
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    max_input_tokens: int | None = Field(default=None, gt=0)
    supports_vision: bool | None = None


class ClassifierConfig(_HidesSecrets):
    """``type`` names a registered classifier; other keys are its options."""

    type: str = "local"
    thresholds: dict[str, float] | None = None

    @property
    def options(self) -> dict[str, Any]:
        # Secrets stay wrapped: a classifier resolves its key when it calls a model.
        return self.secret_extra()


class PolicyConfig(_Strict):
    long_conversation_turns: int | None = Field(default=10, ge=1)
    long_conversation_min_tier: str | None = None  # default: the second tier
    tools_min_tier: str | None = None  # default: the second tier
    vision: bool = True
    context_window: bool = True
    agent_loop_escalation: bool = True
    default_tier: str | None = None  # where a request goes when classification fails


class LedgerConfig(_Strict):
    """Where each request's cost record goes (see ``_ledger.py``)."""

    enabled: bool = True
    path: str | None = None  # SQLite file (WAL); None: in memory, this process only
    redis_url: Secret | None = None  # shared across processes/hosts; may hold a password
    redis_prefix: str = Field(default="smart_router", min_length=1)
    store_prompts: bool = False  # opt-in: keep each request's messages in the ledger
    tag: str | None = Field(default=None, min_length=1, max_length=200)  # default user/team
    max_memory_entries: int = Field(default=100_000, ge=1)  # in-memory store only
    redis_retry_seconds: float = Field(default=2.0, gt=0)  # wait between reconnect attempts


class BudgetLimits(_Strict):
    monthly_usd: float | None = Field(default=None, gt=0)
    daily_usd: float | None = Field(default=None, gt=0)


class BudgetsConfig(BudgetLimits):
    """Spend limits (UTC calendar day/month) and how routing degrades near them."""

    tags: dict[str, BudgetLimits] = Field(default_factory=dict)  # per user/team tag
    degrade_at: float = Field(default=0.8, gt=0, le=1)  # share of a budget spent
    degrade_to: str | None = None  # tier cap past degrade_at; default: the second tier
    at_limit: Literal["cheapest", "refuse"] = "cheapest"
    refresh_seconds: float = Field(default=1.0, ge=0)  # how stale shared spend may be

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetsConfig:
        if self.monthly_usd is None and self.daily_usd is None and not self.tags:
            raise ValueError("set monthly_usd, daily_usd or tags: {<tag>: {...}}")
        for tag, limits in self.tags.items():
            if limits.monthly_usd is None and limits.daily_usd is None:
                raise ValueError(f"tags.{tag}: set monthly_usd and/or daily_usd")
        return self


def default_tiers() -> dict[str, TierConfig]:
    return {
        "simple": TierConfig(model="deepseek/deepseek-chat", fallbacks=["dashscope/qwen-plus"]),
        "moderate": TierConfig(model="dashscope/qwen-plus", fallbacks=["deepseek/deepseek-chat"]),
        "complex": TierConfig(model="gpt-4o", fallbacks=["anthropic/claude-opus-4-5"]),
    }


class RouterConfig(_Strict):
    api_base: str | None = None
    api_key: Secret | None = None
    tiers: dict[str, TierConfig] = Field(default_factory=default_tiers)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    policies: PolicyConfig = Field(default_factory=PolicyConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    budgets: BudgetsConfig | None = None

    @field_validator("tiers")
    @classmethod
    def _tiers_not_empty(cls, tiers: dict[str, TierConfig]) -> dict[str, TierConfig]:
        if not tiers:
            raise ValueError("needs at least one tier, ordered cheapest -> most capable")
        return tiers

    @model_validator(mode="after")
    def _check(self) -> RouterConfig:
        names = list(self.tiers)
        p = self.policies
        for fld in ("long_conversation_min_tier", "tools_min_tier", "default_tier"):
            value = getattr(p, fld)
            if value is not None and value not in self.tiers:
                raise ValueError(f"policies.{fld}: {value!r} is not a tier; tiers are {names}")
        b = self.budgets
        if b is not None and b.degrade_to is not None and b.degrade_to not in self.tiers:
            raise ValueError(
                f"budgets.degrade_to: {b.degrade_to!r} is not a tier; tiers are {names}"
            )
        th = self.classifier.thresholds
        if th is not None:
            expected = names[1:]
            if sorted(th) != sorted(expected):
                raise ValueError(
                    f"classifier.thresholds must give a minimum score for each tier after "
                    f"the first: {expected}; got {sorted(th)}"
                )
            values = [th[n] for n in expected]
            if any(not 0.0 <= v <= 1.0 for v in values) or values != sorted(values):
                raise ValueError(
                    f"classifier.thresholds must rise with the tiers and lie in [0, 1]; got {th}"
                )
        for name in self.routable_models():
            info = self.model_info(name)
            if info is None or not info.priced:
                raise ValueError(
                    f"model {name!r} has no price: it is not in LiteLLM's bundled price map. "
                    f"Add models: {{{name}: {{input_cost_per_token: ..., "
                    f"output_cost_per_token: ...}}}} so its cost is not reported as $0"
                )
        return self

    def routable_models(self) -> list[str]:
        """Every tier model and fallback, each once, cheapest tier first."""
        seen: dict[str, None] = {}
        for tier in self.tiers.values():
            seen.update(dict.fromkeys([tier.model, *tier.fallbacks]))
        return list(seen)

    def litellm_model(self, name: str) -> str:
        mc = self.models.get(name)
        return mc.model if mc is not None and mc.model else name

    def price_model(self, name: str) -> str:
        """The name LiteLLM's price map knows this model by.

        An alias such as ``{model: openai/deepseek-chat, api_base: <gateway>}`` is
        still priced as ``deepseek/deepseek-chat``, the config's own name.
        """
        target = self.litellm_model(name)
        return target if _models.lookup(target) is not None or target == name else name

    def model_info(self, name: str) -> _models.ModelInfo | None:
        mc = self.models.get(name)
        overrides = mc.model_dump(exclude={"model", "api_base", "api_key"}) if mc else {}
        return _models.model_info(self.price_model(name), overrides)

    def litellm_params(self, name: str) -> dict[str, Any]:
        """Keyword arguments for ``litellm.completion`` for model ``name``.

        API keys are resolved here, at call time; never log this dict.
        """
        mc = self.models.get(name)
        params: dict[str, Any] = {"model": self.litellm_model(name)}
        api_base = (mc.api_base if mc else None) or self.api_base
        key = (mc.api_key if mc else None) or self.api_key
        if api_base:
            params["api_base"] = api_base
        if key is not None and (resolved := key.resolve()):
            params["api_key"] = resolved
        if mc is not None:
            params.update(mc.revealed_extra())
            for fld in ("input_cost_per_token", "output_cost_per_token"):
                if (value := getattr(mc, fld)) is not None:
                    params[fld] = value
        return params

    def litellm_model_list(self) -> list[dict[str, Any]]:
        """A ``litellm.Router`` model_list with one group per routable model."""
        return [
            {"model_name": name, "litellm_params": self.litellm_params(name)}
            for name in self.routable_models()
        ]


def _format_validation_error(err: ValidationError, source: str) -> str:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the config reference)"
        problems.append(f"{loc}: {msg}")
    return f"invalid smart-router config ({source}): " + "; ".join(problems)


def load_config(config: RouterConfig | Mapping[str, Any] | str | Path | None) -> RouterConfig:
    """Build a validated ``RouterConfig`` from a dict, a YAML path, or None (defaults)."""
    if isinstance(config, RouterConfig):
        return config
    source = "dict"
    if config is None:
        data: Any = {}
    elif isinstance(config, (str, Path)):
        source = str(config)
        try:
            data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"cannot read config file {source}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {source} is not valid YAML: {e}") from None
    else:
        data = config
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"invalid smart-router config ({source}): expected a mapping of settings, "
            f"got {type(data).__name__}"
        )
    try:
        return RouterConfig.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, source)) from None
