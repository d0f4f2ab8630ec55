"""Replay traffic through the router and price it: the case study's tables.

Each request is routed, then its usage is priced twice with LiteLLM's cost
functions: on the model it was routed to, and on the most capable tier's model
(the all-premium baseline). Without recorded usage, prompt tokens are counted
with tiktoken and the answer length is a fixed estimate (``SmartRouter.estimate``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ._cost import DEFAULT_OUTPUT_TOKENS, Usage
from ._data import Request
from ._router import SmartRouter


@dataclass
class TierRow:
    tier: str
    model: str
    queries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    input_usd_per_1m: float = 0.0
    output_usd_per_1m: float = 0.0
    query_share: float = 0.0
    budget_share: float = 0.0


@dataclass
class SimulationReport:
    requests: int
    rows: list[TierRow]
    routed_cost_usd: float
    baseline_cost_usd: float
    baseline_model: str
    monthly_requests: int
    usage_source: str  # "recorded", "estimated" or "mixed"
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.baseline_cost_usd / self.routed_cost_usd if self.routed_cost_usd else 0.0

    @property
    def savings_share(self) -> float:
        return 1 - self.routed_cost_usd / self.baseline_cost_usd if self.baseline_cost_usd else 0.0

    def monthly(self, cost: float) -> float:
        return cost / self.requests * self.monthly_requests

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "tiers": [asdict(r) for r in self.rows],
            "routed_cost_usd": self.routed_cost_usd,
            "baseline_cost_usd": self.baseline_cost_usd,
            "baseline_model": self.baseline_model,
            "ratio": self.ratio,
            "savings_share": self.savings_share,
            "monthly_requests": self.monthly_requests,
            "monthly_routed_usd": self.monthly(self.routed_cost_usd),
            "monthly_baseline_usd": self.monthly(self.baseline_cost_usd),
            "usage_source": self.usage_source,
            "notes": self.notes,
        }


def simulate(
    router: SmartRouter,
    requests: Sequence[Request],
    *,
    monthly_requests: int = 100_000,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    progress: Callable[[], None] | None = None,
) -> SimulationReport:
    cfg = router.config
    rows: dict[tuple[str, str], TierRow] = {}
    routed = baseline = 0.0
    recorded = 0
    for req in requests:
        decision = router.route(req.messages, req.tools)
        if req.usage is not None:
            usage = Usage(*req.usage)
            record = router.price(decision, decision.model, usage)
            recorded += 1
        else:
            record = router.estimate(decision, req.messages, req.tools,
                                     output_tokens=output_tokens)
            usage = Usage(record["prompt_tokens"], record["completion_tokens"])
        key = (decision.tier, decision.model)
        row = rows.get(key) or rows.setdefault(key, TierRow(decision.tier, decision.model))
        row.queries += 1
        row.prompt_tokens += usage.prompt_tokens
        row.completion_tokens += usage.completion_tokens
        row.cost_usd += record["cost_usd"]
        routed += record["cost_usd"]
        baseline += record["baseline_cost_usd"]
        if progress is not None:
            progress()
    order = {name: i for i, name in enumerate(router.tier_names)}
    out = sorted(rows.values(), key=lambda r: (order.get(r.tier, len(order)), r.model))
    for row in out:
        info = cfg.model_info(row.model)
        if info is not None:
            row.input_usd_per_1m = info.input_cost_per_token * 1e6
            row.output_usd_per_1m = info.output_cost_per_token * 1e6
        row.query_share = row.queries / len(requests)
        row.budget_share = row.cost_usd / routed if routed else 0.0
    source = "recorded" if recorded == len(requests) else "estimated" if not recorded else "mixed"
    notes = []
    if recorded < len(requests):
        notes.append(
            f"{len(requests) - recorded} request(s) had no recorded usage: prompt tokens counted "
            f"with tiktoken (cl100k_base); answers assumed {output_tokens} tokens each (mean "
            "response length in LMSYS-Chat-1M; set --output-tokens); input and output tokens "
            "priced separately at each model's LiteLLM prices"
        )
    return SimulationReport(
        requests=len(requests),
        rows=out,
        routed_cost_usd=routed,
        baseline_cost_usd=baseline,
        baseline_model=router.premium_model,
        monthly_requests=monthly_requests,
        usage_source=source,
        notes=notes,
    )
