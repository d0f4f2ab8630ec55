"""Budgets: validated at load time; degrade near the limit, cheapest or refuse at it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from smart_router import (
    BudgetExceededError,
    Classifier,
    ConfigError,
    Conversation,
    SmartRouter,
    load_config,
)
from smart_router._budget import BudgetGuard, budgets_of
from smart_router._ledger import LedgerEntry, SQLiteLedger, to_nano

DAY = 86_400.0


class Fixed(Classifier):
    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, conversation: Conversation) -> float:
        return self.value


HARD = Fixed(0.95)  # complex
MEDIUM = Fixed(0.5)  # moderate
EASY = Fixed(0.05)  # simple


def user(text: str = "a question") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def spend(ledger: SQLiteLedger, usd: float, *, tag: str | None = None,
          ts: float | None = None) -> None:
    """Record ``usd`` of past spend, as another process sharing the ledger would."""
    n = len(ledger) + 1
    ledger.add(LedgerEntry(
        id=f"seed-{n}-{time.monotonic_ns()}", ts=time.time() if ts is None else ts,
        tier="complex", model="gpt-4o", routed_model="gpt-4o", prompt_tokens=1,
        completion_tokens=1, cost_nano=to_nano(usd), baseline_nano=to_nano(usd),
        fallback_used=False, tag=tag,
    ))


def make(budgets: dict[str, Any], classifier: Classifier = HARD,
         ledger: SQLiteLedger | None = None,
         config: dict[str, Any] | None = None) -> tuple[SmartRouter, SQLiteLedger]:
    ledger = SQLiteLedger() if ledger is None else ledger
    budgets = {"refresh_seconds": 0, **budgets}
    cfg = {"budgets": budgets, **(config or {})}
    return SmartRouter(cfg, classifier=classifier, ledger=ledger), ledger


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budgets", "fragment"),
    [
        ({}, "set monthly_usd, daily_usd or tags"),
        ({"monthly_usd": 0}, "budgets.monthly_usd"),
        ({"daily_usd": -5}, "budgets.daily_usd"),
        ({"monthly_usd": 10, "degrade_to": "huge"}, "budgets.degrade_to: 'huge' is not a tier"),
        ({"monthly_usd": 10, "at_limit": "panic"}, "budgets.at_limit"),
        ({"monthly_usd": 10, "degrade_at": 1.5}, "budgets.degrade_at"),
        ({"tags": {"team-a": {}}}, "tags.team-a: set monthly_usd and/or daily_usd"),
        ({"monthly": 10}, "budgets.monthly: unknown field"),
    ],
)
def test_bad_budgets_fail_at_load_time(budgets: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"budgets": budgets})
    assert fragment in str(err.value)


def test_budgets_from_config() -> None:
    cfg = load_config({"budgets": {"monthly_usd": 500, "daily_usd": 30,
                                   "tags": {"team-a": {"daily_usd": 2.5}}}})
    assert cfg.budgets is not None
    assert [(b.name, b.limit_nano) for b in budgets_of(cfg.budgets)] == [
        ("monthly budget", 500 * 10**9), ("daily budget", 30 * 10**9),
        ("daily budget of tag 'team-a'", 2_500_000_000),
    ]


# -- the degradation policy -----------------------------------------------------------------


def test_below_the_threshold_nothing_changes() -> None:
    router, ledger = make({"monthly_usd": 100})
    spend(ledger, 79.99)
    d = router.route(user())
    assert d.tier == "complex"
    assert not any(r.startswith("budget") for r in d.reasons)


def test_above_80_percent_the_tier_is_capped_at_moderate() -> None:
    router, ledger = make({"monthly_usd": 100})
    spend(ledger, 80)
    d = router.route(user())
    assert (d.tier, d.model) == ("moderate", "dashscope/qwen-plus")
    assert "budget: 80% of the monthly budget spent ($80.00 of $100.00): capped at moderate" \
        in d.reasons
    # requests already at or below the cap are untouched, and say nothing
    router.classifier = EASY
    easy = router.route(user())
    assert easy.tier == "simple" and not any(r.startswith("budget") for r in easy.reasons)


def test_degrade_at_and_degrade_to_are_configurable() -> None:
    router, ledger = make({"daily_usd": 10, "degrade_at": 0.5, "degrade_to": "simple"})
    spend(ledger, 5)
    assert router.route(user()).tier == "simple"


def test_at_the_limit_everything_goes_to_the_cheapest_tier() -> None:
    router, ledger = make({"daily_usd": 10})
    spend(ledger, 10)
    for classifier in (HARD, MEDIUM):
        router.classifier = classifier
        d = router.route(user())
        assert (d.tier, d.model) == ("simple", "deepseek/deepseek-chat")
        assert d.reasons[-1] == ("budget: 100% of the daily budget spent ($10.00 of $10.00): "
                                 "routed to the cheapest tier simple")


def test_at_the_limit_refuse_raises_a_clear_error_before_classifying() -> None:
    class Counting(Classifier):
        calls = 0

        def score(self, conversation: Conversation) -> float:
            Counting.calls += 1
            return 0.9

    router, ledger = make({"monthly_usd": 50, "at_limit": "refuse"}, classifier=Counting())
    spend(ledger, 49)
    assert router.route(user()).tier == "moderate"  # degraded, still served
    spend(ledger, 1.5)
    Counting.calls = 0
    with pytest.raises(BudgetExceededError) as err:
        router.route(user())
    assert Counting.calls == 0  # nothing spent on classification either
    assert "monthly budget spent ($50.50 of $50.00)" in str(err.value)
    assert "budgets.at_limit: refuse" in str(err.value)
    assert not isinstance(err.value, ValueError)  # not a caller error: a policy


async def test_aroute_applies_budgets_too() -> None:
    router, ledger = make({"monthly_usd": 10, "at_limit": "refuse"})
    spend(ledger, 9)
    assert (await router.aroute(user())).tier == "moderate"
    spend(ledger, 1)
    with pytest.raises(BudgetExceededError):
        await router.aroute(user())


def test_tag_budgets_apply_to_their_tag_only() -> None:
    router, ledger = make({"tags": {"team-a": {"daily_usd": 1}, "team-b": {"daily_usd": 100}}})
    spend(ledger, 1, tag="team-a")
    spend(ledger, 50, tag="team-b")
    a = router.route(user(), tag="team-a")
    assert a.tier == "simple"
    assert "daily budget of tag 'team-a'" in a.reasons[-1]
    assert router.route(user(), tag="team-b").tier == "complex"
    assert router.route(user(), tag="team-c").tier == "complex"
    assert router.route(user()).tier == "complex"


def test_the_most_spent_budget_wins() -> None:
    router, ledger = make({"monthly_usd": 1000, "tags": {"ops": {"monthly_usd": 10}}})
    spend(ledger, 850)  # overall: 85% -> cap
    spend(ledger, 10, tag="ops")  # ops: 100% -> cheapest
    assert router.route(user(), tag="ops").tier == "simple"
    assert router.route(user(), tag="dev").tier == "moderate"


def test_the_config_tag_is_the_default_tag() -> None:
    router, ledger = make({"tags": {"ops": {"daily_usd": 1}}}, config={"ledger": {"tag": "ops"}})
    spend(ledger, 2, tag="ops")
    assert router.route(user()).tier == "simple"
    assert router.route(user(), tag="dev").tier == "complex"


def test_daily_budgets_reset_each_utc_day() -> None:
    router, ledger = make({"daily_usd": 5, "monthly_usd": 1_000_000})
    spend(ledger, 50, ts=time.time() - 2 * DAY)
    assert router.route(user()).tier == "complex"


def test_overrides_bind_at_the_limit_but_not_below() -> None:
    router, ledger = make({"monthly_usd": 100})
    spend(ledger, 90)
    kept = router.route(user(), model_override="gpt-4o")
    assert kept.model == "gpt-4o"  # degraded: an explicit override still wins
    spend(ledger, 10)
    d = router.route(user(), model_override="gpt-4o")
    assert (d.tier, d.model) == ("simple", "deepseek/deepseek-chat")
    assert "model override gpt-4o not applied: budget: 100% of the monthly budget" in d.reasons[0]


def test_own_spend_counts_at_once_and_shared_spend_after_refresh(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    budgets = {"monthly_usd": 1, "refresh_seconds": 3600}
    a, _ = make(budgets, ledger=SQLiteLedger(path))
    b, _ = make(budgets, ledger=SQLiteLedger(path))
    assert a.route(user()).tier == "complex"  # caches $0 spent for an hour
    d = b.route(user())
    assert d.tier == "complex"
    b.record(d, d.model, {"prompt_tokens": 400_000, "completion_tokens": 10_000})  # $1.10
    assert b.route(user()).tier == "simple"  # its own spend counts at once
    assert a.route(user()).tier == "complex"  # another process's: after refresh_seconds
    c, _ = make(budgets, ledger=SQLiteLedger(path))
    assert c.route(user()).tier == "simple"  # a fresh read sees the shared spend


def test_budget_spend_is_read_at_most_every_refresh_seconds() -> None:
    class CountingLedger(SQLiteLedger):
        reads = 0

        def spend(self, scopes: Any) -> dict[str, int]:
            CountingLedger.reads += 1
            return super().spend(scopes)

    router, _ = make({"monthly_usd": 100, "refresh_seconds": 3600}, ledger=CountingLedger())
    for _ in range(20):
        router.route(user())
    assert CountingLedger.reads == 1


def test_an_unreadable_ledger_does_not_block_requests(caplog: pytest.LogCaptureFixture) -> None:
    class Unreadable(SQLiteLedger):
        def spend(self, scopes: Any) -> dict[str, int]:
            raise OSError("disk gone")

    router, _ = make({"monthly_usd": 1, "at_limit": "refuse"}, ledger=Unreadable())
    assert router.route(user()).tier == "complex"
    assert "budgets not applied" in caplog.text


def test_budget_cap_yields_to_the_context_window() -> None:
    """A capped request whose prompt does not fit the capped tier's model moves back up:
    the budget outranks quality preferences, never feasibility."""
    cfg = {"models": {"dashscope/qwen-plus": {"max_input_tokens": 50}}}
    router, ledger = make({"monthly_usd": 100}, config=cfg)
    spend(ledger, 85)
    d = router.route(user("word " * 400))
    assert d.tier == "complex"
    assert any(r.startswith("budget") for r in d.reasons)
    assert any("exceeds moderate's window" in r for r in d.reasons)


def test_overview_lists_every_budget() -> None:
    ledger = SQLiteLedger()
    cfg = load_config({"budgets": {"monthly_usd": 100, "tags": {"a": {"daily_usd": 4}}}})
    assert cfg.budgets is not None
    spend(ledger, 25)
    spend(ledger, 1, tag="a")
    rows = BudgetGuard(cfg.budgets, ledger, list(cfg.tiers)).overview()
    assert [(r["budget"], r["spent_usd"], r["limit_usd"], r["share"]) for r in rows] == [
        ("monthly budget", 26.0, 100.0, 0.26), ("daily budget of tag 'a'", 1.0, 4.0, 0.25),
    ]


def test_budgets_need_a_ledger() -> None:
    router = SmartRouter({"budgets": {"monthly_usd": 1}}, ledger=False)
    assert router.budget is None
    assert router.route(user()).tier in router.tier_names
