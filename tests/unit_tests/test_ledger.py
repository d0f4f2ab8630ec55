"""The cost ledger: exact integer totals, idempotent ids, SQLite WAL, the router's hook."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_router import Classifier, Conversation, SmartRouter
from smart_router._ledger import (
    Ledger,
    LedgerEntry,
    SQLiteLedger,
    Totals,
    day_of,
    from_nano,
    scopes_for,
    to_nano,
)
from smart_router._ledger_memory import MemoryLedger

DAY = 86_400.0
T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z


def entry(i: int | str, cost: int = 1_000, *, ts: float = T0, tag: str | None = None,
          tier: str = "simple", model: str = "deepseek/deepseek-chat",
          routed: str | None = None) -> LedgerEntry:
    return LedgerEntry(
        id=str(i), ts=ts, tier=tier, model=model, routed_model=routed or model,
        prompt_tokens=100, completion_tokens=20, cost_nano=cost, baseline_nano=10 * cost,
        fallback_used=routed is not None and routed != model, tag=tag,
    )


class Fixed(Classifier):
    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, conversation: Conversation) -> float:
        return self.value


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(params=["sqlite-memory", "python-memory"])
def mem(request: pytest.FixtureRequest) -> Iterator[SQLiteLedger]:
    # Both in-memory stores keep the same contract; the Python one is the default.
    ledger: Any = SQLiteLedger() if request.param == "sqlite-memory" else MemoryLedger()
    yield ledger
    ledger.close()


# -- money --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "nano"),
    [(0.0, 0), (3.6400000000000004e-05, 36_400), (0.1, 100_000_000), (2.5e-06, 2_500),
     (1e-09, 1), (4e-10, 0), (6e-10, 1), (123.456789012, 123_456_789_012)],
)
def test_to_nano_rounds_the_decimal_value(usd: float, nano: int) -> None:
    assert to_nano(usd) == nano


def test_nano_sums_are_exact_where_float_sums_are_not() -> None:
    costs = [0.1] * 10
    assert sum(costs) != 1.0  # floats drift ...
    assert sum(map(to_nano, costs)) == to_nano(1.0)  # ... integers do not
    assert from_nano(to_nano(0.3)) == 0.3


# -- the SQLite store -----------------------------------------------------------------------


def test_sqlite_ledger_satisfies_the_protocol(mem: SQLiteLedger) -> None:
    assert isinstance(mem, Ledger)
    assert mem.describe() == "memory"


def test_totals_per_scope_and_tag(mem: SQLiteLedger) -> None:
    assert mem.add(entry(1, 100, tag="team-a"))
    assert mem.add(entry(2, 200, tag="team-b"))
    assert mem.add(entry(3, 400, ts=T0 + DAY))  # next day, no tag
    assert mem.add(entry(4, 800, ts=T0 - 32 * DAY, tag="team-a"))  # previous month
    assert mem.totals() == Totals(1500, 15000, 4)
    assert mem.totals("m:2026-01") == Totals(700, 7000, 3)
    assert mem.totals("d:2026-01-01") == Totals(300, 3000, 2)
    assert mem.totals("d:2026-01-01|team-a") == Totals(100, 1000, 1)
    assert mem.totals("all|team-a") == Totals(900, 9000, 2)
    assert mem.totals("m:2025-11") == Totals(800, 8000, 1)
    assert mem.totals("m:2025-10") == Totals()
    assert mem.spend(["m:2026-01|team-a", "d:2026-01-02", "d:1999-01-01"]) == {
        "m:2026-01|team-a": 100, "d:2026-01-02": 400, "d:1999-01-01": 0,
    }


def test_scopes_are_utc_calendar_periods() -> None:
    late = 1_767_225_599.0  # 2025-12-31T23:59:59Z
    assert day_of(late) == "2025-12-31" and day_of(late + 1) == "2026-01-01"
    assert scopes_for(late, None) == ["all", "m:2025-12", "d:2025-12-31"]
    assert scopes_for(late, "a|b") == [
        "all", "m:2025-12", "d:2025-12-31", "all|a|b", "m:2025-12|a|b", "d:2025-12-31|a|b",
    ]


def test_the_same_id_counts_once(mem: SQLiteLedger) -> None:
    assert mem.add(entry("req-1", 500))
    assert not mem.add(entry("req-1", 500))  # a retried write
    assert not mem.add(entry("req-1", 999))  # even with other figures: the first one stands
    assert mem.totals() == Totals(500, 5000, 1)
    assert [e.cost_nano for e in mem.entries()] == [500]


def test_entries_round_trip_and_filter(mem: SQLiteLedger) -> None:
    full = LedgerEntry(
        id="x", ts=T0, tier="complex", model="anthropic/claude-opus-4-5", routed_model="gpt-4o",
        prompt_tokens=12, completion_tokens=34, cost_nano=56, baseline_nano=78,
        fallback_used=True, score=0.9, latency_ms=12.5, tag="ops", reasons=("a", "b"),
        prompt='[{"role": "user"}]',
    )
    mem.add(full)
    mem.add(entry("y", ts=T0 + 10))
    mem.add(entry("z", ts=T0 + 20, tag="ops"))
    assert next(mem.entries()) == full
    assert LedgerEntry.from_json(full.to_json()) == full
    assert [e.id for e in mem.entries(since=T0 + 5)] == ["y", "z"]
    assert [e.id for e in mem.entries(until=T0 + 20)] == ["x", "y"]
    assert [e.id for e in mem.entries(tag="ops")] == ["x", "z"]


def test_remove_takes_entries_out_of_the_totals(mem: SQLiteLedger) -> None:
    for i in range(5):
        mem.add(entry(i, 10 * (i + 1)))
    assert mem.remove(["1", "3", "nope"]) == 2
    assert mem.totals() == Totals(10 + 30 + 50, 900, 3)
    assert len(mem) == 3


@pytest.mark.parametrize("store", [SQLiteLedger, MemoryLedger])
def test_in_memory_store_is_bounded_but_totals_stay_exact(store: Any) -> None:
    ledger = store(max_entries=10)
    for i in range(1_005):
        ledger.add(entry(i, 7, ts=T0 + i))
    assert len(ledger) <= 20
    assert ledger.totals() == Totals(7 * 1_005, 70 * 1_005, 1_005)
    assert max(e.ts for e in ledger.entries()) == T0 + 1_004  # the newest are kept


def test_sqlite_file_uses_wal_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite"
    ledger = SQLiteLedger(path)
    ledger.add(entry(1, 5))
    ledger.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SQLiteLedger(path)
    assert again.add(entry(2, 6)) and not again.add(entry(1, 5))
    assert again.totals() == Totals(11, 110, 2)
    assert again.describe() == f"sqlite:{path}"
    again.close()


def _write_many(path: str, start: int, count: int) -> None:
    ledger = SQLiteLedger(path)
    for i in range(start, start + count):
        ledger.add(entry(i, cost=i % 97 + 1))
    ledger.close()


def test_two_processes_share_one_sqlite_file_exactly(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    SQLiteLedger(path).close()
    ctx = multiprocessing.get_context("spawn")
    # Overlapping ranges: ids 1000..1499 are written by both processes and must count once.
    procs = [ctx.Process(target=_write_many, args=(path, 0, 1500)),
             ctx.Process(target=_write_many, args=(path, 1000, 1500))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ledger = SQLiteLedger(path)
    ids = range(2500)
    assert ledger.totals() == Totals(sum(i % 97 + 1 for i in ids),
                                     10 * sum(i % 97 + 1 for i in ids), 2500)
    assert len(ledger) == 2500
    ledger.close()


# -- the router writes one entry per recorded answer ----------------------------------------


def test_record_writes_one_exact_entry_per_request() -> None:
    router = SmartRouter({"ledger": {"tag": "default-team"}}, classifier=Fixed(0.9))
    assert isinstance(router.ledger, MemoryLedger)  # the default: no file, no Redis
    d = router.route(user("design a system"), tag="search-team")
    assert d.tag == "search-team" and len(d.request_id) == 32
    record = router.record(d, "anthropic/claude-opus-4-5",
                           {"prompt_tokens": 1234, "completion_tokens": 567})
    [e] = list(router.ledger.entries())
    assert (e.id, e.tier, e.model, e.routed_model) == (
        d.request_id, "complex", "anthropic/claude-opus-4-5", "gpt-4o")
    assert (e.prompt_tokens, e.completion_tokens) == (1234, 567)
    assert e.cost_nano == to_nano(record["cost_usd"]) > 0
    assert e.baseline_nano == to_nano(record["baseline_cost_usd"]) > 0
    assert e.fallback_used and record["fallback_used"]
    assert e.tag == "search-team" and e.reasons == tuple(d.reasons)
    assert e.latency_ms is not None and e.latency_ms >= 0
    assert abs(e.ts - time.time()) < 60
    assert e.prompt is None  # prompts are not stored unless asked for
    # the config's tag is the default
    d2 = router.route(user("hi"))
    assert d2.tag == "default-team"


def test_recording_the_same_decision_twice_counts_once() -> None:
    router = SmartRouter(classifier=Fixed(0.1))
    d = router.route(user("hi"))
    first = router.record(d, d.model, {"prompt_tokens": 10, "completion_tokens": 5})
    router.record(d, d.model, {"prompt_tokens": 10, "completion_tokens": 5})
    assert router.ledger is not None
    assert router.ledger.totals() == Totals(to_nano(first["cost_usd"]),
                                            to_nano(first["baseline_cost_usd"]), 1)


def test_request_id_can_be_given() -> None:
    router = SmartRouter(classifier=Fixed(0.1))
    d = router.route(user("hi"), request_id="litellm-call-42")
    router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})
    assert router.ledger is not None
    assert [e.id for e in router.ledger.entries()] == ["litellm-call-42"]


def test_store_prompts_is_opt_in() -> None:
    router = SmartRouter({"ledger": {"store_prompts": True}}, classifier=Fixed(0.1))
    d = router.route(user("what is the capital of Peru?"))
    assert "capital of Peru" not in repr(d) and "prompt" not in d.to_dict()
    router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})
    assert router.ledger is not None
    [e] = list(router.ledger.entries())
    assert e.prompt is not None and "capital of Peru" in e.prompt


async def test_aroute_records_like_route() -> None:
    router = SmartRouter(classifier=Fixed(0.5))
    d = await router.aroute(user("compare two databases"), tag="t")
    router.record(d, d.model, {"prompt_tokens": 3, "completion_tokens": 4})
    assert router.ledger is not None
    assert router.ledger.totals("all|t").count == 1


def test_ledger_can_be_disabled_or_injected(tmp_path: Path) -> None:
    assert SmartRouter(ledger=False).ledger is None
    assert SmartRouter({"ledger": {"enabled": False}}).ledger is None
    mine = SQLiteLedger(tmp_path / "mine.sqlite")
    router = SmartRouter(ledger=mine, classifier=Fixed(0.1))
    d = router.route(user("hi"))
    router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})
    assert mine.totals().count == 1
    router_from_path = SmartRouter({"ledger": {"path": str(tmp_path / "cfg.sqlite")}})
    assert router_from_path.ledger is not None
    assert router_from_path.ledger.describe().endswith("cfg.sqlite")


class _BrokenLedger(SQLiteLedger):
    def add(self, entry: LedgerEntry) -> bool:
        raise sqlite3.OperationalError("disk I/O error")


def test_a_ledger_fault_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    router = SmartRouter(ledger=_BrokenLedger(), classifier=Fixed(0.1))
    d = router.route(user("hi"))
    with caplog.at_level(logging.ERROR, logger="smart_router"):
        record = router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})
    assert record["cost_usd"] > 0
    assert any("ledger write failed" in r.getMessage() and d.request_id in r.getMessage()
               for r in caplog.records)
