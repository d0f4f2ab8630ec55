"""Score routing decisions against labeled requests."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._data import Request
from ._exceptions import DataFileError
from ._router import SmartRouter


@dataclass
class EvalReport:
    tiers: list[str]
    total: int
    correct: int
    confusion: dict[str, dict[str, int]]  # true tier -> chosen tier -> count
    under_routed: int  # chosen tier below the true tier: answers at risk
    over_routed: int  # chosen tier above the true tier: money wasted
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def recall(self, tier: str) -> float:
        row = self.confusion[tier]
        n = sum(row.values())
        return row[tier] / n if n else 0.0

    @property
    def top_tier_recall(self) -> float:
        return self.recall(self.tiers[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": self.accuracy,
            "complex_recall": self.top_tier_recall,
            "under_routed_share": self.under_routed / self.total,
            "over_routed_share": self.over_routed / self.total,
            "recall": {t: self.recall(t) for t in self.tiers},
            "confusion": self.confusion,
            "by_kind": self.by_kind,
        }


def evaluate(
    router: SmartRouter,
    requests: Sequence[Request],
    *,
    source: str = "labeled set",
    progress: Callable[[], None] | None = None,
) -> EvalReport:
    tiers = router.tier_names
    rank = {t: i for i, t in enumerate(tiers)}
    for req in requests:
        if req.label not in rank:
            raise DataFileError(
                source, req.line, f"label {req.label!r} is not a tier; tiers are {tiers}"
            )
    confusion = {t: dict.fromkeys(tiers, 0) for t in tiers}
    kind_total: Counter[str] = Counter()
    kind_ok: Counter[str] = Counter()
    kind_under: Counter[str] = Counter()
    under = over = correct = 0
    for req in requests:
        assert req.label is not None
        chosen = router.route(req.messages, req.tools).tier
        confusion[req.label][chosen] += 1
        diff = rank[chosen] - rank[req.label]
        correct += diff == 0
        under += diff < 0
        over += diff > 0
        kind = req.kind or "all"
        kind_total[kind] += 1
        kind_ok[kind] += diff == 0
        kind_under[kind] += diff < 0
        if progress is not None:
            progress()
    by_kind: dict[str, dict[str, float]] = defaultdict(dict)
    for kind, n in sorted(kind_total.items()):
        by_kind[kind] = {
            "n": n,
            "accuracy": kind_ok[kind] / n,
            "under_routed_share": kind_under[kind] / n,
        }
    return EvalReport(tiers, len(requests), correct, confusion, under, over, dict(by_kind))
