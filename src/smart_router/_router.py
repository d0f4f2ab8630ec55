"""SmartRouter: classifier score -> tier -> context policies -> model and fallbacks."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _tokens
from ._classifiers import Assessment, Classifier, build_classifier
from ._config import RouterConfig, load_config
from ._cost import DEFAULT_OUTPUT_TOKENS, Usage, usage_cost
from ._exceptions import ConfigError
from ._ledger import Ledger, LedgerEntry, open_ledger, to_nano
from ._messages import Conversation, parse_messages

if TYPE_CHECKING:
    from ._budget import BudgetGuard, BudgetStatus

OVERRIDE_TIER = "override"
logger = logging.getLogger("smart_router")


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
    # For the ledger: the request's id (a repeated record of it counts once), its
    # user/team tag, when routing started, and its messages if store_prompts is on.
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tag: str | None = None
    started: float = field(default_factory=time.monotonic, repr=False, compare=False)
    prompt: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["started"], data["prompt"]
        return data


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
        ledger: Ledger | bool | None = None,
    ) -> None:
        """``ledger``: None/True opens the config's ledger, False records nothing (and
        disables budgets), or pass any ``Ledger``."""
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
        self.classifier.bind(self.tier_names, self.thresholds)
        second = self.tier_names[min(1, len(self.tier_names) - 1)]
        p = cfg.policies
        self._long_min = self._index(p.long_conversation_min_tier or second)
        self._tools_min = self._index(p.tools_min_tier or second)
        self._default = self._index(p.default_tier or second)
        use = cfg.ledger.enabled if ledger is None or ledger is True else ledger is not False
        self.ledger: Ledger | None = (
            ledger if isinstance(ledger, Ledger) else open_ledger(cfg.ledger) if use else None
        )
        self.budget: BudgetGuard | None = None
        if cfg.budgets is not None and self.ledger is not None:
            from ._budget import BudgetGuard

            self.budget = BudgetGuard(cfg.budgets, self.ledger, self.tier_names)

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
        *,
        tag: str | None = None,
        request_id: str | None = None,
    ) -> RouteDecision:
        """``tag``: the user/team the request is billed to (default: ``ledger.tag``);
        ``request_id``: the ledger id (default: a new one)."""
        started, conv, tag, budget = self._prepare(messages, tools, tag)
        if model_override:
            decision = self._override(model_override, budget)
        else:
            decision = self._decide(conv, self._assess(conv), budget)
        return self._stamp(decision, conv, tag, request_id, started)

    async def aroute(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        model_override: str | None = None,
        *,
        tag: str | None = None,
        request_id: str | None = None,
    ) -> RouteDecision:
        """``route`` for async code: an LLM classifier is awaited, not blocked on."""
        started, conv, tag, budget = self._prepare(messages, tools, tag)
        if model_override:
            decision = self._override(model_override, budget)
        else:
            try:
                assessment = await self.classifier.aclassify(conv)
            except Exception as e:  # a classifier fault must never fail the request
                assessment = self._failed(e)
            decision = self._decide(conv, assessment, budget)
        return self._stamp(decision, conv, tag, request_id, started)

    def _prepare(
        self, messages: Any, tools: Any, tag: str | None
    ) -> tuple[float, Conversation, str | None, BudgetStatus | None]:
        started = time.monotonic()
        conv = parse_messages(messages, tools)
        tag = tag or self.config.ledger.tag
        budget = self.budget.check(tag) if self.budget is not None else None
        return started, conv, tag, budget

    def _stamp(
        self,
        d: RouteDecision,
        conv: Conversation,
        tag: str | None,
        request_id: str | None,
        started: float,
    ) -> RouteDecision:
        prompt = None
        if self.config.ledger.store_prompts:
            prompt = json.dumps(list(conv.messages), ensure_ascii=False, default=str)
        return replace(
            d, tag=tag, request_id=request_id or d.request_id, prompt=prompt, started=started
        )

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

    def _override(self, model: str, budget: BudgetStatus | None = None) -> RouteDecision:
        cfg = self.config
        if budget is not None and budget.level == "exhausted":  # a spent budget binds overrides
            cheapest = cfg.tiers[self.tier_names[0]]
            return RouteDecision(
                tier=self.tier_names[0], score=0.0, model=cheapest.model,
                fallbacks=list(cheapest.fallbacks),
                reasons=[f"model override {model} not applied: budget: {budget.describe()}: "
                         f"routed to the cheapest tier {self.tier_names[0]}"],
            )
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

    def _decide(
        self, conv: Conversation, assessment: Assessment, budget: BudgetStatus | None = None
    ) -> RouteDecision:
        reasons = list(assessment.reasons)
        if conv.directives_removed:
            reasons.append(f"ignored {conv.directives_removed} routing instruction(s) in the text")
        index = self.tier_for_score(assessment.score)
        index = self._apply_policies(conv, index, reasons, budget)
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

    def _apply_policies(
        self,
        conv: Conversation,
        index: int,
        reasons: list[str],
        budget: BudgetStatus | None = None,
    ) -> int:
        p = self.config.policies
        top = len(self.tier_names) - 1
        if p.long_conversation_turns is not None and conv.turns > p.long_conversation_turns:
            why = f"long conversation ({conv.turns} turns > {p.long_conversation_turns})"
            index = self._raise_to(index, self._long_min, why, reasons)
        if conv.tools:
            index = self._raise_to(index, self._tools_min, "request has tools", reasons)
        if p.agent_loop_escalation and conv.repeated_tool_call and index < top:
            index = self._raise_to(index, index + 1, "agent loop (a tool call repeated)", reasons)
        if self.budget is not None:  # cost limits beat quality preferences, not feasibility
            index = self.budget.apply(budget, index, reasons)
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

    def price(
        self,
        decision: RouteDecision,
        answered_by: str,
        usage: Usage | Mapping[str, Any] | Any,
        *,
        cost_usd: float | None = None,
    ) -> dict[str, Any]:
        """The routing record for ``usage`` answered by ``answered_by``, written nowhere.

        ``cost_usd``: the answer's cost when the caller knows it and smart-router cannot
        price ``answered_by`` (e.g. LiteLLM's ``response_cost`` for a group outside the
        config); otherwise the usage is priced here with LiteLLM's cost functions.
        """
        if not isinstance(usage, Usage):
            usage = Usage.from_openai(usage)
        answer = usage_cost(self.config, answered_by, usage) if cost_usd is None else cost_usd
        return {
            "tier": decision.tier,
            "model": answered_by,
            "score": decision.score,
            "reasons": list(decision.reasons),
            "cost_usd": answer + decision.classifier_cost_usd,
            "baseline_cost_usd": usage_cost(self.config, self.premium_model, usage),
            "fallback_used": answered_by != decision.model,
        }

    def estimate(
        self,
        decision: RouteDecision,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    ) -> dict[str, Any]:
        """A pre-call estimate: prompt tokens counted with tiktoken, the answer assumed
        ``output_tokens`` long (input and output each at their own price)."""
        usage = Usage(_tokens.count_prompt(parse_messages(messages, tools)), output_tokens)
        return {**self.price(decision, decision.model, usage),
                "prompt_tokens": usage.prompt_tokens, "completion_tokens": output_tokens}

    def record(
        self,
        decision: RouteDecision,
        answered_by: str,
        usage: Usage | Mapping[str, Any] | Any,
        *,
        cost_usd: float | None = None,
    ) -> dict[str, Any]:
        """The routing record attached to a response (``response_metadata["smart_router"]``),
        also written to the cost ledger (once per ``decision.request_id``).

        ``answered_by`` is the model that really answered; ``usage`` its reported usage.
        """
        if not isinstance(usage, Usage):
            usage = Usage.from_openai(usage)
        record = self.price(decision, answered_by, usage, cost_usd=cost_usd)
        if self.ledger is not None:
            self._log(decision, usage, record)
        return record

    def _log(self, decision: RouteDecision, usage: Usage, record: Mapping[str, Any]) -> None:
        """Write the ledger entry; a ledger fault is logged, never raised to the caller."""
        assert self.ledger is not None
        entry = LedgerEntry(
            id=decision.request_id, ts=time.time(), tier=decision.tier,
            model=record["model"], routed_model=decision.model,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cost_nano=to_nano(record["cost_usd"]),
            baseline_nano=to_nano(record["baseline_cost_usd"]),
            fallback_used=record["fallback_used"], score=decision.score,
            latency_ms=round((time.monotonic() - decision.started) * 1000, 3),
            tag=decision.tag, reasons=tuple(decision.reasons), prompt=decision.prompt,
        )
        try:
            added = self.ledger.add(entry)
        except Exception as e:
            logger.error("cost ledger write failed (%s: %s); request %s not recorded",
                         type(e).__name__, e, entry.id)
            return
        if added and self.budget is not None:
            self.budget.note(entry)
