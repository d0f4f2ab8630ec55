"""Tier thresholds from your own traffic: a top-tier share or a monthly budget.

``smart-router calibrate traffic.jsonl --premium-share 0.10`` (or ``--monthly-budget``)
prints thresholds for ``classifier.thresholds`` in the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ._cost import DEFAULT_OUTPUT_TOKENS, Usage, usage_cost
from ._data import Request
from ._exceptions import ConfigError
from ._messages import parse_messages


@dataclass
class Calibration:
    """Thresholds for ``classifier.thresholds`` and what they do on the traffic given."""

    thresholds: dict[str, float]
    shares: dict[str, float]  # tier -> share of requests, policies applied
    monthly_cost_usd: float
    monthly_requests: int
    requests: int
    target: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(
    traffic_path: str | Path,
    *,
    premium_share: float | None = None,
    monthly_budget: float | None = None,
    config: Any = None,
    monthly_requests: int | None = None,
    output_tokens: int | None = None,
) -> Calibration:
    """``smart-router calibrate``: thresholds that send at most ``premium_share`` of the
    traffic to the top tier, or keep its monthly cost within ``monthly_budget`` USD (a cap:
    thresholds that already fit are kept; otherwise the top one rises first).

    The traffic file is scored once with the config's classifier; the routing policies
    (long conversations, tools, ...) are applied, so the shares are what the router will
    really do. With a budget, ``monthly_requests`` (default: the file's size, i.e. the
    file is a month) scales the cost; requests without usage are priced as in
    ``simulate`` (tiktoken prompt, a fixed answer length). Lower thresholds are kept
    from the config or model, raised only if the budget needs it.
    """
    from ._data import read_requests
    from ._router import SmartRouter

    if (premium_share is None) == (monthly_budget is None):
        raise ConfigError("calibrate: give exactly one of --premium-share or --monthly-budget")
    if premium_share is not None and not 0.0 <= premium_share <= 1.0:
        raise ConfigError("calibrate: --premium-share must be within [0, 1]")
    if monthly_budget is not None and monthly_budget < 0:
        raise ConfigError("calibrate: --monthly-budget must be >= 0")
    router = SmartRouter(config, ledger=False)
    requests = read_requests(traffic_path)
    convs = [parse_messages(r.messages, r.tools) for r in requests]
    scores = [router.classifier.classify(c).score for c in convs]
    names = router.tier_names
    n = len(requests)
    months = monthly_requests or n
    cost = _tier_costs(router, requests, convs, output_tokens)

    def route(cuts: list[float]) -> list[int]:
        out = []
        for conv, s in zip(convs, scores, strict=True):
            index = sum(s >= t for t in cuts)
            out.append(router._apply_policies(conv, index, []))
        return out

    def monthly(tiers: list[int]) -> float:
        return sum(cost[i][t] for i, t in enumerate(tiers)) * months / n

    base = list(router.thresholds)
    cands = _candidates(scores)
    notes: list[str] = []
    if premium_share is not None:
        top = len(names) - 1
        cut = _lowest(cands, lambda t: sum(x == top for x in route(_with(base, -1, t))) / n
                      <= premium_share)
        cuts = _with(base, -1, cut)
        target = f"top tier ({names[-1]}) share <= {premium_share:.1%}"
    else:
        assert monthly_budget is not None
        cuts = list(base)
        if monthly(route(cuts)) > monthly_budget:
            for level in range(len(cuts) - 1, -1, -1):  # raise the top threshold first
                higher = [c for c in cands if c >= cuts[level]]
                cut = _lowest(higher, lambda t, lv=level, c=cuts: monthly(route(_with(c, lv, t)))
                              <= monthly_budget)
                cuts = _with(cuts, level, cut)
                if monthly(route(cuts)) <= monthly_budget:
                    break
            else:
                notes.append("the budget is below the cost of sending everything to the "
                             "cheapest tier the policies allow")
        else:
            notes.append("the current thresholds already fit the budget: kept")
        target = f"monthly cost <= ${monthly_budget:,.2f} at {months:,} requests/month"
    tiers = route(cuts)
    if any(r.usage is None for r in requests):
        notes.append("requests without usage: prompt tokens counted with tiktoken, answers "
                     f"assumed {output_tokens or DEFAULT_OUTPUT_TOKENS} tokens")
    return Calibration(
        thresholds={name: round(t, 6) for name, t in zip(names[1:], cuts, strict=True)},
        shares={name: sum(t == i for t in tiers) / n for i, name in enumerate(names)},
        monthly_cost_usd=monthly(tiers), monthly_requests=months, requests=n,
        target=target, notes=notes)


def _tier_costs(router: Any, requests: Sequence[Request], convs: Sequence[Any],
                output_tokens: int | None) -> list[list[float]]:
    """Per request, its cost on each tier's model."""
    from . import _tokens

    models = [router.config.tiers[name].model for name in router.tier_names]
    out = []
    for req, conv in zip(requests, convs, strict=True):
        if req.usage is not None:
            usage = Usage(*req.usage)
        else:
            usage = Usage(_tokens.count_prompt(conv), output_tokens or DEFAULT_OUTPUT_TOKENS)
        out.append([usage_cost(router.config, m, usage) for m in models])
    return out


def _candidates(scores: Sequence[float]) -> list[float]:
    """Thresholds worth trying: 0, midpoints between distinct scores, and 1."""
    xs = sorted(set(scores))
    return [0.0, *((a + b) / 2 for a, b in pairwise(xs)), 1.0]


def _with(cuts: Sequence[float], level: int, value: float) -> list[float]:
    """``cuts`` with ``cuts[level] = value``, the others clamped to stay sorted."""
    out = list(cuts)
    level %= len(out)
    out[level] = value
    for i in range(level):
        out[i] = min(out[i], value)
    for i in range(level + 1, len(out)):
        out[i] = max(out[i], value)
    return out


def _lowest(cands: Sequence[float], ok: Any) -> float:
    """The lowest candidate for which ``ok`` holds (``ok`` is monotone: once true, stays)."""
    lo, hi = 0, len(cands) - 1
    if not ok(cands[hi]):
        return cands[hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(cands[mid]):
            hi = mid
        else:
            lo = mid + 1
    return cands[lo]
