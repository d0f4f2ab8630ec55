"""Budgets: spend limits per UTC day and/or month, overall and per user/team tag.

The degradation policy (``budgets:`` in the config), applied by the router after
the classifier and the quality policies, before the vision/context-window checks
(a request must still fit the model it is sent to):

- below ``degrade_at`` (default 80%) of every budget that applies: no change;
- at or above ``degrade_at`` of any: the tier is capped at ``degrade_to``
  (default: the second tier, e.g. moderate), so premium traffic stops first;
- at or above 100% of any: ``at_limit: cheapest`` (default) sends every request,
  model overrides included, to the cheapest tier; ``at_limit: refuse`` raises
  ``BudgetExceededError`` before anything is spent.

A request counts toward the overall budgets and its tag's. Spend comes from the
ledger, so with a Redis ledger a budget holds across every instance; it is re-read
at most every ``refresh_seconds`` (this process's own spend counts immediately),
and requests in flight are not counted until they are answered, so concurrent
traffic can overshoot a limit by what is in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._exceptions import BudgetExceededError
from ._ledger import Ledger, LedgerEntry, day_of, from_nano, scopes_for, to_nano

if TYPE_CHECKING:
    from ._config import BudgetsConfig

logger = logging.getLogger("smart_router.budget")

Level = Literal["ok", "degraded", "exhausted"]


@dataclass(frozen=True)
class Budget:
    period: Literal["monthly", "daily"]
    limit_nano: int
    tag: str | None = None

    @property
    def name(self) -> str:
        return f"{self.period} budget" + (f" of tag {self.tag!r}" if self.tag else "")

    def scope(self, ts: float) -> str:
        day = day_of(ts)
        period = f"m:{day[:7]}" if self.period == "monthly" else f"d:{day}"
        return f"{period}|{self.tag}" if self.tag else period


@dataclass(frozen=True)
class BudgetStatus:
    """The most-spent budget that applies to a request."""

    level: Level
    budget: Budget
    spent_nano: int

    @property
    def share(self) -> float:
        return self.spent_nano / self.budget.limit_nano

    def describe(self) -> str:
        spent, limit = from_nano(self.spent_nano), from_nano(self.budget.limit_nano)
        return f"{self.share:.0%} of the {self.budget.name} spent ({usd(spent)} of {usd(limit)})"


def usd(value: float) -> str:
    """Cents for real budgets, four significant digits for tiny ones."""
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4g}"


def budgets_of(cfg: BudgetsConfig) -> list[Budget]:
    out: list[Budget] = []
    for tag, limits in [(None, cfg), *cfg.tags.items()]:
        if limits.monthly_usd is not None:
            out.append(Budget("monthly", to_nano(limits.monthly_usd), tag))
        if limits.daily_usd is not None:
            out.append(Budget("daily", to_nano(limits.daily_usd), tag))
    return out


class BudgetGuard:
    """Reads spend from the ledger and turns it into a routing constraint."""

    def __init__(self, cfg: BudgetsConfig, ledger: Ledger, tier_names: Sequence[str]) -> None:
        self.config = cfg
        self.ledger = ledger
        self.budgets = budgets_of(cfg)
        self.tier_names = list(tier_names)
        self.cap_index = (
            self.tier_names.index(cfg.degrade_to)
            if cfg.degrade_to
            else min(1, len(self.tier_names) - 1)
        )
        self._cache: dict[str, tuple[int, float]] = {}  # scope -> (nano, read at)
        self._lock = threading.Lock()

    def applicable(self, tag: str | None) -> list[Budget]:
        return [b for b in self.budgets if b.tag is None or b.tag == tag]

    def _spend(self, scopes: list[str]) -> dict[str, int]:
        now = time.monotonic()
        with self._lock:
            fresh = {s: v for s, (v, at) in self._cache.items()
                     if s in scopes and now - at < self.config.refresh_seconds}
        missing = [s for s in scopes if s not in fresh]
        if missing:
            read = self.ledger.spend(missing)
            with self._lock:
                self._cache.update({s: (v, now) for s, v in read.items()})
            fresh.update(read)
        return fresh

    def status(self, tag: str | None, now: float | None = None) -> BudgetStatus | None:
        """The worst-off applicable budget (highest share spent); None if none applies."""
        budgets = self.applicable(tag)
        if not budgets:
            return None
        ts = time.time() if now is None else now
        try:
            spend = self._spend([b.scope(ts) for b in budgets])
        except Exception as e:  # an unreadable ledger must not take requests down
            logger.warning("budget spend unavailable (%s): budgets not applied", e)
            return None
        worst = max(budgets, key=lambda b: spend[b.scope(ts)] / b.limit_nano)
        spent = spend[worst.scope(ts)]
        share = spent / worst.limit_nano
        level: Level = (
            "exhausted" if share >= 1 else "degraded" if share >= self.config.degrade_at else "ok"
        )
        return BudgetStatus(level, worst, spent)

    def check(self, tag: str | None) -> BudgetStatus | None:
        """The status for a new request; raises when spent and the policy is to refuse."""
        status = self.status(tag)
        if status is not None and status.level == "exhausted" and self.config.at_limit == "refuse":
            raise BudgetExceededError(
                f"budget exceeded: {status.describe()}; the policy is to refuse "
                "(budgets.at_limit: refuse). Raise the limit or wait for the next "
                f"{'month' if status.budget.period == 'monthly' else 'day'} (UTC)"
            )
        return status

    def apply(self, status: BudgetStatus | None, index: int, reasons: list[str]) -> int:
        """The tier index after degradation; says why in ``reasons`` when it changes."""
        if status is None or status.level == "ok":
            return index
        if status.level == "exhausted":
            if index > 0:
                reasons.append(f"budget: {status.describe()}: routed to the cheapest tier "
                               f"{self.tier_names[0]}")
            return 0
        if index > self.cap_index:
            reasons.append(f"budget: {status.describe()}: capped at "
                           f"{self.tier_names[self.cap_index]}")
            return self.cap_index
        return index

    def note(self, entry: LedgerEntry) -> None:
        """Count this process's own new spend at once, between ledger re-reads."""
        with self._lock:
            for s in scopes_for(entry.ts, entry.tag):
                if s in self._cache:
                    value, at = self._cache[s]
                    self._cache[s] = (value + entry.cost_nano, at)

    def overview(self, now: float | None = None) -> list[dict[str, object]]:
        """Every budget with its spend in the current period, for reports."""
        ts = time.time() if now is None else now
        scopes = [b.scope(ts) for b in self.budgets]
        spend = self.ledger.spend(scopes)
        return [
            {
                "budget": b.name, "period": b.period, "tag": b.tag, "scope": b.scope(ts),
                "limit_usd": from_nano(b.limit_nano), "spent_usd": from_nano(spend[s]),
                "share": spend[s] / b.limit_nano,
            }
            for b, s in zip(self.budgets, scopes, strict=True)
        ]
