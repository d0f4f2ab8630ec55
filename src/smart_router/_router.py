"""SmartRouter: classifier score -> tier -> context policies -> model and fallbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import _tokens
from ._classifiers import Assessment, Classifier, build_classifier
from ._config import RouterConfig, load_config
from ._cost import Usage, usage_cost
from ._exceptions import ConfigError
from ._messages import Conversation, parse_messages

OVERRIDE_TIER = "override"


@dataclass(frozen=True)
class RouteDecision:
    """Where one request goes, and why."""

    tier: str
    score: float
    model: str
    fallbacks: list[str]
    reasons: list[str]
    classifier_cost_usd: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SmartRouter:
    """Decides the tier and model of each chat request.

    ``SmartRouter()`` uses the built-in tier table and a local classifier: no
    network, no key. ``SmartRouter.from_config(path_or_dict)`` for your own.
    """

    def __init__(
        self,
        config: RouterConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        classifier: Classifier | None = None,
    ) -> None:
        self.config = load_config(config)
        cfg = self.config
        self.tier_names: list[str] = list(cfg.tiers)
        self.classifier = classifier or build_classifier(
            cfg.classifier.type, cfg.classifier.options
        )
        th = cfg.classifier.thresholds
        self.thresholds: list[float] = (
            [th[n] for n in self.tier_names[1:]]
            if th
            else self.classifier.thresholds_for(len(self.tier_names))
        )
        second = self.tier_names[min(1, len(self.tier_names) - 1)]
        p = cfg.policies
        self._long_min = self._index(p.long_conversation_min_tier or second)
        self._tools_min = self._index(p.tools_min_tier or second)
        self._default = self._index(p.default_tier or second)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | Path) -> SmartRouter:
        return cls(config)

    def __repr__(self) -> str:
        tiers = ", ".join(f"{n}={t.model}" for n, t in self.config.tiers.items())
        return f"SmartRouter({tiers}; classifier={self.classifier.name})"

    @property
    def premium_model(self) -> str:
        """The most capable tier's model: the all-premium baseline."""
        return self.config.tiers[self.tier_names[-1]].model

    def _index(self, tier: str) -> int:
        return self.tier_names.index(tier)

    def tier_for_score(self, score: float) -> int:
        return sum(score >= t for t in self.thresholds)

    # -- routing -----------------------------------------------------------

    def route(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        model_override: str | None = None,
    ) -> RouteDecision:
        conv = parse_messages(messages, tools)
        if model_override:
            return self._override(model_override)
        return self._decide(conv, self._assess(conv))

    async def aroute(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        model_override: str | None = None,
    ) -> RouteDecision:
        conv = parse_messages(messages, tools)
        if model_override:
            return self._override(model_override)
        try:
            assessment = await self.classifier.aclassify(conv)
        except Exception as e:  # a classifier fault must never fail the request
            assessment = self._failed(e)
        return self._decide(conv, assessment)

    def _assess(self, conv: Conversation) -> Assessment:
        try:
            return self.classifier.classify(conv)
        except Exception as e:  # a classifier fault must never fail the request
            return self._failed(e)

    def _failed(self, error: Exception) -> Assessment:
        low = self.thresholds[self._default - 1] if self._default > 0 else 0.0
        tier = self.tier_names[self._default]
        return Assessment(
            low, (f"classifier failed ({type(error).__name__}); default tier {tier}",)
        )

    def _override(self, model: str) -> RouteDecision:
        cfg = self.config
        tier = next((n for n, t in cfg.tiers.items() if t.model == model), None)
        if tier is None:
            info = cfg.model_info(model)
            if info is None or not info.priced:
                raise ConfigError(
                    f"model_override {model!r} has no price; add it under models: with "
                    "input_cost_per_token and output_cost_per_token"
                )
            top = cfg.tiers[self.tier_names[-1]]
            fallbacks = [m for m in (top.model, *top.fallbacks) if m != model]
        else:
            fallbacks = list(cfg.tiers[tier].fallbacks)
        score = 1.0 if tier is None else self._tier_floor(self._index(tier))
        return RouteDecision(
            tier=tier or OVERRIDE_TIER,
            score=score,
            model=model,
            fallbacks=fallbacks,
            reasons=[f"model override: {model} (classification skipped)"],
        )

    def _tier_floor(self, index: int) -> float:
        return self.thresholds[index - 1] if index > 0 else 0.0

    def _decide(self, conv: Conversation, assessment: Assessment) -> RouteDecision:
        reasons = list(assessment.reasons)
        if conv.directives_removed:
            reasons.append(f"ignored {conv.directives_removed} routing instruction(s) in the text")
        index = self.tier_for_score(assessment.score)
        index = self._apply_policies(conv, index, reasons)
        tier = self.config.tiers[self.tier_names[index]]
        return RouteDecision(
            tier=self.tier_names[index],
            score=assessment.score,
            model=tier.model,
            fallbacks=list(tier.fallbacks),
            reasons=reasons,
            classifier_cost_usd=assessment.cost_usd,
            extra=dict(assessment.extra),
        )

    def _raise_to(self, index: int, floor: int, why: str, reasons: list[str]) -> int:
        if floor > index:
            reasons.append(f"{why}: raised to {self.tier_names[floor]}")
            return floor
        return index

    def _apply_policies(self, conv: Conversation, index: int, reasons: list[str]) -> int:
        p = self.config.policies
        top = len(self.tier_names) - 1
        if p.long_conversation_turns is not None and conv.turns > p.long_conversation_turns:
            why = f"long conversation ({conv.turns} turns > {p.long_conversation_turns})"
            index = self._raise_to(index, self._long_min, why, reasons)
        if conv.tools:
            index = self._raise_to(index, self._tools_min, "request has tools", reasons)
        if p.agent_loop_escalation and conv.repeated_tool_call and index < top:
            index = self._raise_to(index, index + 1, "agent loop (a tool call repeated)", reasons)
        if p.vision and conv.has_images:
            index = self._vision(index, reasons)
        if p.context_window:
            index = self._context_window(conv, index, reasons)
        return index

    def _model_supports_vision(self, index: int) -> bool:
        info = self.config.model_info(self.config.tiers[self.tier_names[index]].model)
        return bool(info and info.supports_vision)

    def _vision(self, index: int, reasons: list[str]) -> int:
        if self._model_supports_vision(index):
            return index
        order: list[int] = [*range(index + 1, len(self.tier_names)), *range(index - 1, -1, -1)]
        for i in order:
            if self._model_supports_vision(i):
                reasons.append(f"request has images: moved to {self.tier_names[i]} (vision model)")
                return i
        reasons.append("request has images but no tier model supports vision")
        return index

    def _context_window(self, conv: Conversation, index: int, reasons: list[str]) -> int:
        def window(i: int) -> int | None:
            info = self.config.model_info(self.config.tiers[self.tier_names[i]].model)
            return info.max_input_tokens if info else None

        limit = window(index)
        if limit is None or _tokens.rough_prompt_tokens(conv) < 0.5 * limit:
            return index  # far from the limit: skip the tokenizer
        tokens = _tokens.count_prompt(conv)
        if tokens <= limit:
            return index
        for i in range(index + 1, len(self.tier_names)):
            if (w := window(i)) is None or tokens <= w:
                reasons.append(
                    f"prompt of {tokens} tokens exceeds {self.tier_names[index]}'s window "
                    f"({limit}): moved to {self.tier_names[i]}"
                )
                return i
        reasons.append(f"prompt of {tokens} tokens exceeds every tier's context window")
        return index

    # -- cost --------------------------------------------------------------

    def record(
        self, decision: RouteDecision, answered_by: str, usage: Usage | Mapping[str, Any] | Any
    ) -> dict[str, Any]:
        """The routing record attached to a response (``response_metadata["smart_router"]``).

        ``answered_by`` is the model that really answered; ``usage`` its reported usage.
        """
        if not isinstance(usage, Usage):
            usage = Usage.from_openai(usage)
        cost = usage_cost(self.config, answered_by, usage) + decision.classifier_cost_usd
        return {
            "tier": decision.tier,
            "model": answered_by,
            "score": decision.score,
            "reasons": list(decision.reasons),
            "cost_usd": cost,
            "baseline_cost_usd": usage_cost(self.config, self.premium_model, usage),
            "fallback_used": answered_by != decision.model,
        }
