"""The Redis ledger against a real redis-server: atomic, idempotent, and outage-proof."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from smart_router import Classifier, Conversation, SmartRouter
from smart_router._ledger import LedgerEntry, LedgerUnavailableError, SQLiteLedger, Totals, to_nano
from smart_router._ledger_redis import RedisLedger

pytestmark = pytest.mark.redis

T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z


def entry(i: int | str, cost: int = 1_000, *, tag: str | None = None,
          ts: float = T0) -> LedgerEntry:
    return LedgerEntry(
        id=str(i), ts=ts, tier="simple", model="deepseek/deepseek-chat",
        routed_model="deepseek/deepseek-chat", prompt_tokens=10, completion_tokens=5,
        cost_nano=cost, baseline_nano=3 * cost, fallback_used=False, tag=tag,
    )


def cost_of(i: int) -> int:
    return 1_000 + (i * 7_919) % 100_003  # varied, deterministic nano-dollar costs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Fixed(Classifier):
    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, conversation: Conversation) -> float:
        return self.value


@pytest.fixture
def ledger(redis_url: str) -> Iterator[RedisLedger]:
    led = RedisLedger(redis_url, prefix="test")
    yield led
    led.close()


def test_add_totals_entries(ledger: RedisLedger) -> None:
    assert ledger.add(entry(1, 100, tag="a"))
    assert ledger.add(entry(2, 200))
    assert ledger.add(entry(3, 400, ts=T0 + 86_400, tag="a"))
    assert ledger.totals() == Totals(700, 2100, 3)
    assert ledger.totals("d:2026-01-01") == Totals(300, 900, 2)
    assert ledger.totals("all|a") == Totals(500, 1500, 2)
    assert ledger.spend(["m:2026-01", "d:2026-01-02|a", "d:2026-01-03"]) == {
        "m:2026-01": 700, "d:2026-01-02|a": 400, "d:2026-01-03": 0,
    }
    assert [e.id for e in ledger.entries()] == ["1", "2", "3"]
    assert [e.id for e in ledger.entries(since=T0 + 1)] == ["3"]
    assert [e.id for e in ledger.entries(tag="a")] == ["1", "3"]
    assert next(ledger.entries()) == entry(1, 100, tag="a")
    assert ledger.describe().startswith("redis:redis://127.0.0.1:")


def test_a_retried_write_counts_once(ledger: RedisLedger) -> None:
    assert ledger.add(entry("req", 100))
    assert not ledger.add(entry("req", 100))
    assert not ledger.add(entry("req", 555))
    assert ledger.totals() == Totals(100, 300, 1)


def test_prefixes_keep_ledgers_apart(redis_url: str, ledger: RedisLedger) -> None:
    other = RedisLedger(redis_url, prefix="other")
    ledger.add(entry(1, 100))
    other.add(entry(1, 900))
    assert ledger.totals().cost_nano == 100 and other.totals().cost_nano == 900
    other.close()


def _writer(url: str, ids: range, barrier: Any) -> None:
    led = RedisLedger(url, prefix="race")
    barrier.wait()
    for i in ids:
        assert led.add(entry(i, cost_of(i), tag=("even" if i % 2 == 0 else "odd"))) in (True,
                                                                                          False)
    assert led.pending == 0
    led.close()


def test_two_processes_10000_records_exact_totals(redis_url: str) -> None:
    # 10,000 distinct records; ids 4,500..5,499 are written by both processes at once
    # (a retry storm), and must count once.
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(redis_url, range(0, 5_500), barrier)),
             ctx.Process(target=_writer, args=(redis_url, range(4_500, 10_000), barrier))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    led = RedisLedger(redis_url, prefix="race")
    expected = sum(cost_of(i) for i in range(10_000))
    assert led.totals() == Totals(expected, 3 * expected, 10_000)
    assert led.totals("all|even").count == 5_000
    assert led.totals("d:2026-01-01|odd").cost_nano == sum(cost_of(i) for i in range(1, 10_000, 2))
    assert len({e.id for e in led.entries()}) == 10_000
    led.close()


def test_unreachable_redis_keeps_spend_locally_then_reconciles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
    service_launcher: Callable[..., AbstractContextManager[Any]],
) -> None:
    port = free_port()
    url = f"redis://:s3cret-pass@127.0.0.1:{port}/0"
    spool = SQLiteLedger(tmp_path / "spool.sqlite")
    led = RedisLedger(url, prefix="outage", spool=spool, retry_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="smart_router"):
        for i in range(50):
            assert led.add(entry(i, cost_of(i)))  # nothing listens: served from the spool
        assert not led.add(entry(7, cost_of(7)))  # still idempotent while down
    assert led.pending == 50
    assert led.spend(["all"]) == {"all": sum(cost_of(i) for i in range(50))}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0] and "kept locally" in warnings[0]
    assert "s3cret" not in caplog.text
    with pytest.raises(LedgerUnavailableError):
        led.totals()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--requirepass", "s3cret-pass", "--dir", str(tmp_path)]
    with service_launcher("redis-server", argv, port=port, install_hint="apt-get install "
                          "redis-server"):
        time.sleep(0.06)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="smart_router"):
            assert led.add(entry(50, cost_of(50)))  # the first write back pushes the spool
        assert led.pending == 0 and len(spool) == 0
        assert "reconciled 50" in caplog.text
        expected = sum(cost_of(i) for i in range(51))
        assert led.totals() == Totals(expected, 3 * expected, 51)
        led.close()


def test_a_spool_left_by_a_crash_is_pushed_once(tmp_path: Path, redis_url: str) -> None:
    """Entries whose write reached Redis before the connection broke, and were spooled
    anyway, count once when the spool is pushed (here: by a restarted process)."""
    first = RedisLedger(redis_url, prefix="crash")
    for i in range(10):
        first.add(entry(i, cost_of(i)))
    first.close()
    spool = SQLiteLedger(tmp_path / "spool.sqlite")
    for i in range(5, 15):  # 5..9 are already in Redis
        spool.add(entry(i, cost_of(i)))
    spool.close()
    restarted = RedisLedger(redis_url, prefix="crash",
                            spool=SQLiteLedger(tmp_path / "spool.sqlite"))
    assert restarted.pending == 10
    restarted.flush()
    assert restarted.pending == 0
    expected = sum(cost_of(i) for i in range(15))
    assert restarted.totals() == Totals(expected, 3 * expected, 15)
    restarted.close()


def test_spend_kept_locally_is_pushed_when_the_process_exits(redis_url: str) -> None:
    """A process that exits while holding spend in its in-memory spool pushes it first."""
    import subprocess
    import sys

    code = (
        "import time\n"
        "from smart_router._ledger import LedgerEntry\n"
        "from smart_router._ledger_redis import RedisLedger\n"
        f"led = RedisLedger({redis_url!r}, prefix='exit', retry_seconds=3600)\n"
        "led._failed(ConnectionError('simulated outage'))  # back off for an hour\n"
        "for i in range(5):\n"
        "    led.add(LedgerEntry(id=str(i), ts=time.time(), tier='simple', model='m',\n"
        "        routed_model='m', prompt_tokens=1, completion_tokens=1, cost_nano=10 + i,\n"
        "        baseline_nano=20, fallback_used=False))\n"
        "assert led.pending == 5\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    led = RedisLedger(redis_url, prefix="exit")
    assert led.totals() == Totals(10 + 11 + 12 + 13 + 14, 100, 5)
    led.close()


def _kill(process: Any) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_redis_killed_mid_run_loses_no_request_and_no_record(
    tmp_path: Path, service_launcher: Callable[..., AbstractContextManager[Any]],
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    # appendfsync always: what Redis acknowledged survives SIGKILL, as in production setups
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path)]
    hint = "apt-get install redis-server"
    router = SmartRouter(
        {"ledger": {"redis_url": url, "redis_prefix": "kill", "redis_retry_seconds": 0.05,
                    "path": str(tmp_path / "spool.sqlite")},
         "budgets": {"monthly_usd": 1_000_000, "refresh_seconds": 0}},
        classifier=Fixed(0.9),
    )
    costs: list[int] = []
    baselines: list[int] = []

    def serve(n: int) -> None:
        for _ in range(n):
            d = router.route([{"role": "user", "content": "design a payment system"}])
            record = router.record(d, d.model, {"prompt_tokens": 321, "completion_tokens": 45})
            costs.append(to_nano(record["cost_usd"]))
            baselines.append(to_nano(record["baseline_cost_usd"]))

    with service_launcher("redis-server", argv, port=port, install_hint=hint) as first:
        serve(100)
        _kill(first.process)
        serve(100)  # Redis is gone: every request is still routed and recorded
    assert isinstance(router.ledger, RedisLedger) and router.ledger.pending > 0
    with service_launcher("redis-server", argv, port=port, install_hint=hint):
        time.sleep(0.06)
        serve(100)  # back: the spool is pushed with the next write
        assert router.ledger.pending == 0
        fresh = RedisLedger(url, prefix="kill")  # what another instance sees
        assert fresh.totals() == Totals(sum(costs), sum(baselines), 300)
        assert len(list(fresh.entries())) == 300
        fresh.close()
    router.ledger.close()


def test_budgets_hold_across_instances(redis_url: str) -> None:
    cfg = {"ledger": {"redis_url": redis_url, "redis_prefix": "budget"},
           "budgets": {"daily_usd": 0.01, "refresh_seconds": 0}}
    a = SmartRouter(cfg, classifier=Fixed(0.9))
    b = SmartRouter(cfg, classifier=Fixed(0.9))
    assert b.route([{"role": "user", "content": "x"}]).tier == "complex"
    d = a.route([{"role": "user", "content": "x"}])
    a.record(d, d.model, {"prompt_tokens": 4_000, "completion_tokens": 100})  # $0.011
    d = b.route([{"role": "user", "content": "x"}])
    assert d.tier == "simple" and "daily budget" in d.reasons[-1]


def test_redis_password_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_url: str,
) -> None:
    monkeypatch.setenv("TEST_LEDGER_REDIS", redis_url)
    router = SmartRouter({"ledger": {"redis_url": "os.environ/TEST_LEDGER_REDIS"}})
    assert isinstance(router.ledger, RedisLedger)
    assert "TEST_LEDGER_REDIS" in repr(router.config.ledger)


MODELS = ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o", "anthropic/claude-opus-4-5"]
PROMPTS = ["hello, what is the capital of France?",
           "Design a distributed, multi-region, fault-tolerant payments platform at scale.",
           "Explain the difference between a list and a tuple in Python"]


@pytest.mark.parametrize("door", ["langchain", "litellm"])
async def test_redis_killed_mid_run_through_a_front_door(
    tmp_path: Path, door: str, llm_server: Any,
    service_launcher: Callable[..., AbstractContextManager[Any]],
) -> None:
    """Concurrent requests through a front door while Redis is killed (SIGKILL) and
    restarted: every request answered, every record in Redis afterwards, none twice."""
    import asyncio

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path)]
    hint = "apt-get install redis-server"
    models = {m: {"model": f"openai/{m.split('/')[-1]}", "api_base": llm_server.base_url,
                  "api_key": "sk-test"} for m in MODELS}
    router = SmartRouter({"models": models, "ledger": {
        "redis_url": url, "redis_prefix": door, "redis_retry_seconds": 0.05}})
    if door == "langchain":
        from smart_router.langchain import ChatSmartRouter

        llm = ChatSmartRouter(config=router, max_retries=0)

        async def send(text: str) -> dict[str, Any]:
            record: dict[str, Any] = (await llm.ainvoke(text)).response_metadata["smart_router"]
            return record
    else:
        pytest.importorskip("smart_router.litellm")
        import litellm

        from smart_router.litellm import attach

        lrouter = litellm.Router(model_list=router.config.litellm_model_list(), num_retries=0)
        attach(lrouter, router)

        async def send(text: str) -> dict[str, Any]:
            resp = await lrouter.acompletion(model="smart-router",
                                             messages=[{"role": "user", "content": text}])
            record: dict[str, Any] = resp._hidden_params["smart_router"]
            return record

    records: list[dict[str, Any]] = []

    async def burst(n: int) -> None:
        records.extend(await asyncio.gather(*(send(f"{PROMPTS[i % 3]} #{len(records) + i}")
                                              for i in range(n))))

    with service_launcher("redis-server", argv, port=port, install_hint=hint) as first:
        await burst(60)
        _kill(first.process)
        await burst(60)  # Redis is gone
    assert isinstance(router.ledger, RedisLedger) and router.ledger.pending == 60
    with service_launcher("redis-server", argv, port=port, install_hint=hint):
        await asyncio.sleep(0.06)
        await burst(60)
        assert router.ledger.pending == 0
        fresh = RedisLedger(url, prefix=door)
        assert fresh.totals() == Totals(sum(to_nano(r["cost_usd"]) for r in records),
                                        sum(to_nano(r["baseline_cost_usd"]) for r in records),
                                        180)
        fresh.close()
    router.ledger.close()
