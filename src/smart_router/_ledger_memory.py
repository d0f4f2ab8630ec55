"""The default ledger when no file or Redis is configured: plain Python, in memory.

It sits on every request's path, so it avoids SQLite: an in-memory SQLite write
releases the GIL, and under LiteLLM's background success-handler thread the
request thread then waited milliseconds to get it back. Totals are exact integer
sums; only the newest ``max_entries`` entries are kept for reports.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence

from ._ledger import LedgerEntry, Totals, scopes_for


class MemoryLedger:
    """Entries and per-scope totals in dicts, guarded by one lock."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, LedgerEntry] = OrderedDict()
        self._counters: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "memory"

    def __repr__(self) -> str:
        return "MemoryLedger(memory)"

    def add(self, entry: LedgerEntry) -> bool:
        return self.add_many([entry]) == 1

    def add_many(self, entries: Iterable[LedgerEntry]) -> int:
        added = 0
        with self._lock:
            for e in entries:
                if e.id in self._entries:
                    continue
                self._entries[e.id] = e
                self._count(e, 1)
                added += 1
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return added

    def _count(self, e: LedgerEntry, sign: int) -> None:
        for scope in scopes_for(e.ts, e.tag):
            c = self._counters.setdefault(scope, [0, 0, 0])
            c[0] += sign * e.cost_nano
            c[1] += sign * e.baseline_nano
            c[2] += sign

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        with self._lock:
            for i in ids:
                e = self._entries.pop(i, None)
                if e is not None:
                    self._count(e, -1)
                    removed += 1
        return removed

    def totals(self, scope: str = "all") -> Totals:
        with self._lock:
            c = self._counters.get(scope)
            return Totals(*c) if c else Totals()

    def spend(self, scopes: Sequence[str]) -> dict[str, int]:
        with self._lock:
            return {s: self._counters.get(s, [0])[0] for s in scopes}

    def entries(
        self, since: float | None = None, until: float | None = None, tag: str | None = None
    ) -> Iterator[LedgerEntry]:
        lo = since if since is not None else float("-inf")
        hi = until if until is not None else float("inf")
        with self._lock:
            found = [e for e in self._entries.values()
                     if lo <= e.ts < hi and (tag is None or e.tag == tag)]
        return iter(sorted(found, key=lambda e: (e.ts, e.id)))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
