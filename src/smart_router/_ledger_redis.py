"""The Redis ledger: shared by every process and host that routes, exact under concurrency.

One Lua script stores an entry and increments its totals in a single atomic step,
and stores nothing if the entry's id is already there (``HSETNX``), so concurrent
writers never lose an update and a retried write never double-counts.

Redis being unreachable never fails a request: the entry goes to a local spool (a
``SQLiteLedger``, durable when ``ledger.path`` is set), a warning is logged, and
the spool is pushed to Redis when it answers again. Pushing is idempotent too, so
an entry whose first write reached Redis before the connection broke counts once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._ledger import (
    LedgerEntry,
    LedgerUnavailableError,
    SQLiteLedger,
    Totals,
    day_of,
    scopes_for,
)

logger = logging.getLogger("smart_router.ledger")

# KEYS: entries hash of the entry's day, counters hash, set of days.
# ARGV: id, entry JSON, cost, baseline, day, scope...
_ADD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[5])
for i = 6, #ARGV do
  redis.call('HINCRBY', KEYS[2], 'cost:' .. ARGV[i], ARGV[3])
  redis.call('HINCRBY', KEYS[2], 'base:' .. ARGV[i], ARGV[4])
  redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[i], 1)
end
return 1
"""
_DRAIN_BATCH = 500


def redact_url(url: str) -> str:
    """``redis://user:secret@host:6379/0`` -> ``redis://host:6379/0``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "redis://(unparsable url)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _flush_at_exit(ref: weakref.ref[RedisLedger]) -> None:
    ledger = ref()
    if ledger is not None and ledger.pending:
        ledger.flush()


class RedisLedger:
    """Ledger in Redis under ``{prefix}:*`` keys (one hash slot, so Redis Cluster works)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "smart_router",
        spool: SQLiteLedger | None = None,
        retry_seconds: float = 2.0,
        socket_timeout: float = 1.0,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One quick retry (a pooled connection may be stale after a Redis restart),
        # not redis-py's default of ten with backoff: an outage must not stall requests.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._script = self._client.register_script(_ADD)
        self._where = redact_url(url)
        self._key = f"{{{prefix}}}"  # a hash tag: every key in one cluster slot
        self._spool = spool if spool is not None else SQLiteLedger()
        self._retry = retry_seconds
        self._state = threading.Lock()
        self._drain_lock = threading.Lock()
        self._down = False
        self._down_until = 0.0
        self._pending = len(self._spool)  # a durable spool may hold a previous run's spend
        self._snapshot: dict[str, int] = {}
        # A last push at exit: an in-memory spool would otherwise die with the process.
        atexit.register(_flush_at_exit, weakref.ref(self))

    def describe(self) -> str:
        return f"redis:{self._where} (prefix {self._key})"

    def __repr__(self) -> str:
        return f"RedisLedger({self.describe()}, pending={self._pending})"

    @property
    def pending(self) -> int:
        """Entries kept locally, not yet in Redis."""
        return self._pending

    # -- availability -----------------------------------------------------------------

    def _usable(self) -> bool:
        """False while inside the back-off after a failure; otherwise push the spool first."""
        with self._state:
            if self._down and time.monotonic() < self._down_until:
                return False
        if self._pending:
            try:
                self._drain()
            except self._errors as e:
                self._failed(e)
                return False
        return True

    def _failed(self, error: BaseException) -> None:
        with self._state:
            first = not self._down
            self._down = True
            self._down_until = time.monotonic() + self._retry
        if first:
            logger.warning(
                "Redis ledger %s is unreachable (%s); requests are still served and their "
                "spend is kept locally until Redis is back",
                self._where, type(error).__name__,
            )

    def _recovered(self) -> None:
        with self._state:
            was_down, self._down = self._down, False
        if was_down:
            logger.warning("Redis ledger %s is reachable again", self._where)

    def _drain(self) -> None:
        with self._drain_lock:
            pushed = 0
            while batch := self._spool.oldest(_DRAIN_BATCH):
                pipe = self._client.pipeline(transaction=False)
                for e in batch:
                    self._script(keys=self._keys(e), args=self._args(e), client=pipe)
                pipe.execute()
                self._spool.remove([e.id for e in batch])
                pushed += len(batch)
            with self._state:
                self._pending = len(self._spool)
        self._recovered()
        if pushed:
            logger.warning("Redis ledger %s: reconciled %d locally kept record(s)",
                           self._where, pushed)

    # -- writes -----------------------------------------------------------------------

    def _keys(self, e: LedgerEntry) -> list[str]:
        return [f"{self._key}:entries:{e.day}", f"{self._key}:counters", f"{self._key}:days"]

    def _args(self, e: LedgerEntry) -> list[Any]:
        return [e.id, e.to_json(), e.cost_nano, e.baseline_nano, e.day, *scopes_for(e.ts, e.tag)]

    def add(self, entry: LedgerEntry) -> bool:
        if self._usable():
            try:
                added = bool(self._script(keys=self._keys(entry), args=self._args(entry)))
            except self._errors as e:
                self._failed(e)
            else:
                self._recovered()
                return added
        added = self._spool.add(entry)
        with self._state:
            self._pending += added
        return added

    def flush(self) -> None:
        """Push the local spool to Redis now, if Redis answers (never raises)."""
        try:
            self._drain()
        except self._errors as e:
            self._failed(e)

    # -- reads ------------------------------------------------------------------------

    def _hmget(self, fields: list[str]) -> list[int] | None:
        if not self._usable():
            return None
        try:
            values = self._client.hmget(f"{self._key}:counters", fields)
        except self._errors as e:
            self._failed(e)
            return None
        return [int(v or 0) for v in values]

    def spend(self, scopes: Sequence[str]) -> dict[str, int]:
        remote = self._hmget([f"cost:{s}" for s in scopes])
        if remote is None:  # unreachable: the last spend seen, plus what is kept locally
            remote = [self._snapshot.get(s, 0) for s in scopes]
        else:
            self._snapshot.update(zip(scopes, remote, strict=True))
        local = self._spool.spend(scopes)
        return {s: r + local[s] for s, r in zip(scopes, remote, strict=True)}

    def totals(self, scope: str = "all") -> Totals:
        local = self._spool.totals(scope)
        remote = self._hmget([f"cost:{scope}", f"base:{scope}", f"n:{scope}"])
        if remote is None:
            raise LedgerUnavailableError(f"Redis ledger {self._where} is unreachable")
        return Totals(remote[0] + local.cost_nano, remote[1] + local.baseline_nano,
                      remote[2] + local.count)

    def entries(
        self, since: float | None = None, until: float | None = None, tag: str | None = None
    ) -> Iterator[LedgerEntry]:
        if not self._usable():
            raise LedgerUnavailableError(f"Redis ledger {self._where} is unreachable")
        local = list(self._spool.entries(since, until, tag))
        seen = {e.id for e in local}
        lo = "" if since is None else day_of(since)
        hi = "9999" if until is None else day_of(until)
        out = list(local)
        members = self._client.smembers(f"{self._key}:days")
        days = sorted(d.decode() if isinstance(d, bytes) else d for d in members)
        for day in days:
            if not lo <= day <= hi:
                continue
            for _, raw in self._client.hscan_iter(f"{self._key}:entries:{day}", count=1000):
                e = LedgerEntry.from_json(raw)
                if e.id in seen or (tag is not None and e.tag != tag):
                    continue
                if (since is None or e.ts >= since) and (until is None or e.ts < until):
                    out.append(e)
        out.sort(key=lambda e: (e.ts, e.id))
        return iter(out)

    def close(self) -> None:
        self.flush()
        self._client.close()
        self._spool.close()
