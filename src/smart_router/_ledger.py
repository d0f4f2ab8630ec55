"""The cost ledger: one entry per answered request, plus exact running totals.

Money is stored as integer nano-dollars (``to_nano``), so totals are exact sums
however many processes add to them. Every entry has an id (the request id) and
adding the same id twice counts once, so a retried write never double-counts.

Stores: ``SQLiteLedger`` (a file in WAL mode shared by the processes of one host,
or in memory when no path is given) and ``RedisLedger`` (``_ledger_redis.py``,
shared across hosts). Totals are kept per *scope*: ``all``, ``m:YYYY-MM``,
``d:YYYY-MM-DD`` (UTC), each also per tag as ``<period>|<tag>``; budgets read them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._config import LedgerConfig

from ._exceptions import ConfigError, SmartRouterError

NANO_PER_USD = 10**9


class LedgerUnavailableError(SmartRouterError, ConnectionError):
    """The ledger's store cannot be read (e.g. Redis is down) for a report."""


def to_nano(usd: float) -> int:
    """USD -> integer nano-dollars, rounding the float's shortest decimal form."""
    return int((Decimal(repr(float(usd))) * NANO_PER_USD).to_integral_value())


def from_nano(nano: int) -> float:
    return float(Decimal(nano) / NANO_PER_USD)


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def period_scopes(ts: float) -> list[str]:
    """The periods an entry made at ``ts`` counts toward: all time, its month, its day."""
    day = day_of(ts)
    return ["all", f"m:{day[:7]}", f"d:{day}"]


def scopes_for(ts: float, tag: str | None) -> list[str]:
    """Every counter scope an entry increments (periods, and periods per tag)."""
    periods = period_scopes(ts)
    return periods + ([f"{p}|{tag}" for p in periods] if tag else [])


@dataclass(frozen=True)
class LedgerEntry:
    """One answered request. ``model`` answered it; ``routed_model`` was the tier's pick."""

    id: str
    ts: float  # unix time (UTC) when the answer was recorded
    tier: str
    model: str
    routed_model: str
    prompt_tokens: int
    completion_tokens: int
    cost_nano: int
    baseline_nano: int
    fallback_used: bool
    score: float = 0.0
    latency_ms: float | None = None
    tag: str | None = None
    reasons: tuple[str, ...] = field(default=())
    prompt: str | None = None  # only with ledger.store_prompts

    @property
    def cost_usd(self) -> float:
        return from_nano(self.cost_nano)

    @property
    def baseline_cost_usd(self) -> float:
        return from_nano(self.baseline_nano)

    @property
    def day(self) -> str:
        return day_of(self.ts)

    def to_json(self) -> str:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> LedgerEntry:
        data: dict[str, Any] = json.loads(text)
        data["reasons"] = tuple(data.get("reasons") or ())
        return cls(**data)


@dataclass(frozen=True)
class Totals:
    cost_nano: int = 0
    baseline_nano: int = 0
    count: int = 0

    @property
    def cost_usd(self) -> float:
        return from_nano(self.cost_nano)

    @property
    def baseline_cost_usd(self) -> float:
        return from_nano(self.baseline_nano)


@runtime_checkable
class Ledger(Protocol):
    """What the router, budgets and ``smart-router report`` need from a store."""

    def add(self, entry: LedgerEntry) -> bool:
        """Store ``entry`` and add it to the totals, once per id. False: a duplicate."""

    def totals(self, scope: str = "all") -> Totals:
        """Exact totals of one scope (see ``scopes_for``)."""

    def spend(self, scopes: Sequence[str]) -> dict[str, int]:
        """Cost in nano-dollars per scope, for budgets."""

    def entries(
        self, since: float | None = None, until: float | None = None, tag: str | None = None
    ) -> Iterator[LedgerEntry]:
        """Stored entries with ``since <= ts < until``, optionally of one tag."""

    def flush(self) -> None:
        """Push anything held back (e.g. spend kept locally while Redis was down)."""

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where the ledger lives, without secrets."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, tag TEXT, tier TEXT NOT NULL, model TEXT NOT NULL,
    routed_model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, cost_nano INTEGER NOT NULL,
    baseline_nano INTEGER NOT NULL, fallback_used INTEGER NOT NULL, score REAL NOT NULL,
    latency_ms REAL, reasons TEXT NOT NULL, prompt TEXT);
CREATE INDEX IF NOT EXISTS entries_ts ON entries (ts);
CREATE TABLE IF NOT EXISTS counters (
    scope TEXT PRIMARY KEY, cost_nano INTEGER NOT NULL, baseline_nano INTEGER NOT NULL,
    count INTEGER NOT NULL);
"""
_COLUMNS = (
    "id, ts, tag, tier, model, routed_model, prompt_tokens, completion_tokens, cost_nano, "
    "baseline_nano, fallback_used, score, latency_ms, reasons, prompt"
)
_UPSERT = (
    "INSERT INTO counters (scope, cost_nano, baseline_nano, count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (scope) DO UPDATE SET cost_nano = cost_nano + excluded.cost_nano, "
    "baseline_nano = baseline_nano + excluded.baseline_nano, count = count + excluded.count"
)


def _row(e: LedgerEntry) -> tuple[Any, ...]:
    return (
        e.id, e.ts, e.tag, e.tier, e.model, e.routed_model, e.prompt_tokens,
        e.completion_tokens, e.cost_nano, e.baseline_nano, int(e.fallback_used), e.score,
        e.latency_ms, json.dumps(list(e.reasons), ensure_ascii=False), e.prompt,
    )


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=row[0], ts=row[1], tag=row[2], tier=row[3], model=row[4], routed_model=row[5],
        prompt_tokens=row[6], completion_tokens=row[7], cost_nano=row[8],
        baseline_nano=row[9], fallback_used=bool(row[10]), score=row[11], latency_ms=row[12],
        reasons=tuple(json.loads(row[13])), prompt=row[14],
    )


class SQLiteLedger:
    """SQLite store: a file in WAL mode (several processes may share it) or in memory.

    The entry insert and the counter updates happen in one transaction, and the
    insert is ``OR IGNORE`` on the id, so totals always equal the stored entries.
    In memory, only the newest ``max_entries`` entries are kept (totals stay exact).
    """

    def __init__(self, path: str | Path | None = None, *, max_entries: int | None = None) -> None:
        self.path = None if path in (None, ":memory:") else Path(path)  # type: ignore[arg-type]
        self._max = max_entries if self.path is None else None
        target = str(self.path) if self.path is not None else ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode with explicit BEGIN IMMEDIATE: writers queue on the file lock
        # (busy timeout) instead of failing, and a transaction never half-applies.
        self._db = sqlite3.connect(
            target, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._adds = 0
        with self._lock:
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def describe(self) -> str:
        return f"sqlite:{self.path}" if self.path is not None else "memory"

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.describe()})"

    def add(self, entry: LedgerEntry) -> bool:
        return self.add_many([entry]) == 1

    def add_many(self, entries: Iterable[LedgerEntry]) -> int:
        """Add entries in one transaction; returns how many were new."""
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for e in entries:
                    cur = self._db.execute(
                        f"INSERT OR IGNORE INTO entries ({_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _row(e),
                    )
                    if cur.rowcount == 1:
                        added += 1
                        self._count(e, 1)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._adds += added
            if self._max is not None and self._adds >= min(1000, self._max):
                self._adds = 0
                self._db.execute(
                    "DELETE FROM entries WHERE id IN (SELECT id FROM entries "
                    "ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                    (self._max,),
                )
        return added

    def _count(self, e: LedgerEntry, sign: int) -> None:
        rows = [(s, sign * e.cost_nano, sign * e.baseline_nano, sign)
                for s in scopes_for(e.ts, e.tag)]
        self._db.executemany(_UPSERT, rows)

    def remove(self, ids: Sequence[str]) -> int:
        """Delete entries and take them out of the totals (the Redis spool drains this way)."""
        removed = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for i in ids:
                    row = self._db.execute(
                        f"SELECT {_COLUMNS} FROM entries WHERE id = ?", (i,)
                    ).fetchone()
                    if row is None:
                        continue
                    self._db.execute("DELETE FROM entries WHERE id = ?", (i,))
                    self._count(_entry(row), -1)
                    removed += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return removed

    def totals(self, scope: str = "all") -> Totals:
        with self._lock:
            row = self._db.execute(
                "SELECT cost_nano, baseline_nano, count FROM counters WHERE scope = ?", (scope,)
            ).fetchone()
        return Totals(*row) if row else Totals()

    def spend(self, scopes: Sequence[str]) -> dict[str, int]:
        if not scopes:
            return {}
        marks = ", ".join("?" * len(scopes))
        with self._lock:
            rows = self._db.execute(
                f"SELECT scope, cost_nano FROM counters WHERE scope IN ({marks})", tuple(scopes)
            ).fetchall()
        found = dict(rows)
        return {s: int(found.get(s, 0)) for s in scopes}

    def entries(
        self, since: float | None = None, until: float | None = None, tag: str | None = None
    ) -> Iterator[LedgerEntry]:
        sql = f"SELECT {_COLUMNS} FROM entries WHERE ts >= ? AND ts < ?"
        args: list[Any] = [since if since is not None else float("-inf"),
                           until if until is not None else float("inf")]
        if tag is not None:
            sql += " AND tag = ?"
            args.append(tag)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY ts, id", args).fetchall()
        return (_entry(r) for r in rows)

    def oldest(self, limit: int) -> list[LedgerEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries ORDER BY ts, id LIMIT ?", (limit,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def flush(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_ledger(cfg: LedgerConfig) -> Ledger:
    """The store the config asks for: Redis (with a local spool), a SQLite file, or memory."""
    if cfg.redis_url is not None:
        from ._ledger_redis import RedisLedger

        url = cfg.redis_url.resolve()
        if not url:
            raise ConfigError(
                f"ledger.redis_url: environment variable {cfg.redis_url.env_name} is not set"
            )
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ConfigError(
                "ledger.redis_url needs the redis client: pip install 'smart-router[redis]'"
            ) from None
        try:
            ledger = RedisLedger(url, prefix=cfg.redis_prefix, spool=SQLiteLedger(cfg.path),
                                 retry_seconds=cfg.redis_retry_seconds)
        except ValueError:  # redis-py's message may quote the URL: keep the password out
            raise ConfigError(
                "ledger.redis_url: not a Redis URL (redis://[[user]:password@]host[:port][/db], "
                "rediss://... or unix://...)"
            ) from None
        return ledger
    if cfg.path is None:
        from ._ledger_memory import MemoryLedger

        return MemoryLedger(max_entries=cfg.max_memory_entries)
    return SQLiteLedger(cfg.path)
