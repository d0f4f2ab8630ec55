"""``smart-router report``: the case study's tables, computed from the cost ledger.

Everything is summed in integer nano-dollars and converted once, so the report's
totals equal the ledger's totals exactly. Reading a report never imports LiteLLM.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigError, DataFileError
from ._ledger import Ledger, LedgerEntry, SQLiteLedger, from_nano, open_ledger

if TYPE_CHECKING:
    from rich.console import Console

    from ._config import RouterConfig


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _ratio(baseline: int, cost: int) -> float | None:
    return baseline / cost if cost else None


def _per_1m(cost: int, tokens: int) -> float | None:
    return from_nano(cost) * 1_000_000 / tokens if tokens else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class _Sum:
    __slots__ = ("base", "cost", "fallbacks", "n", "tokens")

    def __init__(self) -> None:
        self.n = self.cost = self.base = self.tokens = self.fallbacks = 0

    def add(self, e: LedgerEntry) -> None:
        self.n += 1
        self.cost += e.cost_nano
        self.base += e.baseline_nano
        self.tokens += e.prompt_tokens + e.completion_tokens
        self.fallbacks += e.fallback_used


def build_report(
    entries: Iterable[LedgerEntry],
    *,
    tiers: Sequence[str] = (),
    source: str = "",
    budgets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints). ``tiers`` orders the tier table."""
    total = _Sum()
    by_tier: dict[str, _Sum] = defaultdict(_Sum)
    by_model: dict[str, _Sum] = defaultdict(_Sum)
    by_day: dict[str, _Sum] = defaultdict(_Sum)
    by_tag: dict[str, _Sum] = defaultdict(_Sum)
    routes: Counter[tuple[str, str]] = Counter()
    prompt = completion = 0
    latencies: list[float] = []
    first = last = None
    for e in entries:
        for s in (total, by_tier[e.tier], by_model[e.model], by_day[e.day],
                  by_tag[e.tag or "(none)"]):
            s.add(e)
        prompt += e.prompt_tokens
        completion += e.completion_tokens
        if e.fallback_used:
            routes[(e.routed_model, e.model)] += 1
        if e.latency_ms is not None:
            latencies.append(e.latency_ms)
        first = e.ts if first is None else min(first, e.ts)
        last = e.ts if last is None else max(last, e.ts)
    order = [t for t in tiers if t in by_tier] + sorted(set(by_tier) - set(tiers))

    def iso(ts: float | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()

    return {
        "ledger": source,
        "first": iso(first),
        "last": iso(last),
        "requests": total.n,
        "summary": {
            "cost_usd": from_nano(total.cost),
            "baseline_cost_usd": from_nano(total.base),
            "savings_usd": from_nano(total.base - total.cost),
            "savings_share": _share(total.base - total.cost, total.base),
            "ratio": _ratio(total.base, total.cost),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "fallbacks": total.fallbacks,
            "fallback_share": _share(total.fallbacks, total.n),
            "latency_ms_p50": _percentile(latencies, 0.5),
            "latency_ms_p95": _percentile(latencies, 0.95),
        },
        "by_tier": [
            {"tier": t, "requests": s.n, "share_of_requests": _share(s.n, total.n),
             "cost_usd": from_nano(s.cost), "share_of_cost": _share(s.cost, total.cost),
             "baseline_cost_usd": from_nano(s.base), "usd_per_1m_tokens": _per_1m(s.cost, s.tokens),
             "fallbacks": s.fallbacks}
            for t in order for s in [by_tier[t]]
        ],
        "by_model": [
            {"model": m, "requests": s.n, "share_of_requests": _share(s.n, total.n),
             "cost_usd": from_nano(s.cost), "share_of_cost": _share(s.cost, total.cost),
             "usd_per_1m_tokens": _per_1m(s.cost, s.tokens), "answered_as_fallback": s.fallbacks}
            for m, s in sorted(by_model.items(), key=lambda kv: -kv[1].cost)
        ],
        "fallbacks": [
            {"routed_model": r, "answered_by": a, "requests": n}
            for (r, a), n in routes.most_common()
        ],
        "by_day": [
            {"day": d, "requests": s.n, "cost_usd": from_nano(s.cost),
             "baseline_cost_usd": from_nano(s.base), "ratio": _ratio(s.base, s.cost),
             "fallbacks": s.fallbacks}
            for d, s in sorted(by_day.items())
        ],
        "by_tag": [
            {"tag": t, "requests": s.n, "cost_usd": from_nano(s.cost),
             "share_of_cost": _share(s.cost, total.cost)}
            for t, s in sorted(by_tag.items(), key=lambda kv: -kv[1].cost)
        ],
        "budgets": budgets or [],
    }


def ledger_report(
    ledger: Ledger,
    config: RouterConfig | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """``build_report`` over a ledger's entries, with budget status when configured."""
    budgets = None
    if config is not None and config.budgets is not None:
        from ._budget import BudgetGuard

        budgets = BudgetGuard(config.budgets, ledger, list(config.tiers)).overview()
    return build_report(
        ledger.entries(since, until, tag),
        tiers=list(config.tiers) if config is not None else (),
        source=ledger.describe(),
        budgets=budgets,
    )


def _money(v: float) -> str:
    return f"${v:,.4f}" if v < 100 else f"${v:,.2f}"


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    out = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    n = report["requests"]
    out.print(f"[bold]{n} requests[/bold] in {report['ledger']}"
              + (f", {report['first'][:19]} to {report['last'][:19]} UTC" if n else ""))
    if not n:
        return

    def table(title: str, cols: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        t = Table(title=title)
        for i, c in enumerate(cols):
            t.add_column(c, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        out.print(t)

    def opt(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    table("Cost by tier", ("tier", "queries", "% queries", "cost", "% of spend", "$/1M tokens",
                           "fallbacks"),
          [(r["tier"], str(r["requests"]), f"{r['share_of_requests']:.0%}",
            _money(r["cost_usd"]), f"{r['share_of_cost']:.0%}",
            opt(r["usd_per_1m_tokens"], ".2f"), str(r["fallbacks"])) for r in report["by_tier"]])
    table("Cost by model (the model that answered)",
          ("model", "queries", "% queries", "cost", "% of spend", "$/1M tokens", "as fallback"),
          [(r["model"], str(r["requests"]), f"{r['share_of_requests']:.0%}",
            _money(r["cost_usd"]), f"{r['share_of_cost']:.0%}",
            opt(r["usd_per_1m_tokens"], ".2f"), str(r["answered_as_fallback"]))
           for r in report["by_model"]])
    s = report["summary"]
    table("Actual vs all-premium", ("", "cost"),
          [("actual (routed)", _money(s["cost_usd"])),
           ("all-premium baseline", _money(s["baseline_cost_usd"])),
           ("saved", f"{_money(s['savings_usd'])} ({s['savings_share']:.0%})")])
    ratio = s["ratio"]
    out.print(f"[bold]ratio[/bold] {opt(ratio, '.1f')}x cheaper than all-premium; "
              f"fallbacks {s['fallbacks']} ({s['fallback_share']:.1%}); latency p50 "
              f"{opt(s['latency_ms_p50'], '.0f')} ms, p95 {opt(s['latency_ms_p95'], '.0f')} ms")
    if report["fallbacks"]:
        table("Fallbacks", ("routed to", "answered by", "queries"),
              [(r["routed_model"], r["answered_by"], str(r["requests"]))
               for r in report["fallbacks"]])
    table("By day (UTC)", ("day", "queries", "cost", "all-premium", "ratio", "fallbacks"),
          [(r["day"], str(r["requests"]), _money(r["cost_usd"]), _money(r["baseline_cost_usd"]),
            opt(r["ratio"], ".1f") + "x", str(r["fallbacks"])) for r in report["by_day"]])
    if len(report["by_tag"]) > 1:
        table("By tag", ("tag", "queries", "cost", "% of spend"),
              [(r["tag"], str(r["requests"]), _money(r["cost_usd"]), f"{r['share_of_cost']:.0%}")
               for r in report["by_tag"]])
    if report["budgets"]:
        table("Budgets (current period)", ("budget", "spent", "limit", "used"),
              [(b["budget"], _money(b["spent_usd"]), _money(b["limit_usd"]), f"{b['share']:.0%}")
               for b in report["budgets"]])


# -- the command line -------------------------------------------------------------------


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smart-router report`` (``--config``/``--json`` come from the CLI)."""
    parser.add_argument("--ledger", help="SQLite ledger file (default: the config's ledger)")
    parser.add_argument("--redis", help="Redis ledger URL, or os.environ/NAME to read it "
                        "from the environment (default: the config's ledger.redis_url)")
    parser.add_argument("--since", help="first UTC day to include, YYYY-MM-DD")
    parser.add_argument("--until", help="last UTC day to include, YYYY-MM-DD")
    parser.add_argument("--days", type=int, help="only the last N days (UTC, today included)")
    parser.add_argument("--tag", help="only requests with this user/team tag")


def _day(value: str, flag: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"{flag}: expected a date YYYY-MM-DD, got {value!r}") from None


def _open_sqlite(path: str) -> SQLiteLedger:
    """Open an existing ledger file; never create one (or tables in someone else's file)."""
    if not Path(path).is_file():
        raise DataFileError(path, None, "no ledger file here (set ledger.path or --ledger)")
    try:
        with sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as e:
        raise DataFileError(path, None, f"not a SQLite ledger ({e})") from None
    if not {"entries", "counters"} <= tables:
        raise DataFileError(path, None, "not a smart-router ledger (no entries table)")
    return SQLiteLedger(path)


def open_report_ledger(args: argparse.Namespace, config: RouterConfig) -> Ledger:
    if args.redis:
        from ._config import Secret

        update = {"redis_url": Secret(args.redis), "path": args.ledger}
        return open_ledger(config.ledger.model_copy(update=update))
    if args.ledger:
        return _open_sqlite(args.ledger)
    if config.ledger.redis_url is not None:
        return open_ledger(config.ledger)
    if config.ledger.path:
        return _open_sqlite(config.ledger.path)
    raise ConfigError("report: the config's ledger is in memory (gone when its process ended); "
                      "set ledger.path or ledger.redis_url, or pass --ledger / --redis")


def cmd_report(args: argparse.Namespace) -> None:
    """``smart-router report``: prints the tables (or ``--json``)."""
    from ._config import load_config

    config = load_config(args.config)
    since = _day(args.since, "--since").timestamp() if args.since else None
    until = (_day(args.until, "--until") + timedelta(days=1)).timestamp() if args.until else None
    if args.days is not None:
        if args.days < 1:
            raise ConfigError(f"--days: expected a positive number of days, got {args.days}")
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        since = max(since or 0.0, (today - timedelta(days=args.days - 1)).timestamp())
    ledger = open_report_ledger(args, config)
    try:
        report = ledger_report(ledger, config, since=since, until=until, tag=args.tag)
    finally:
        ledger.close()
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        print_report(report)
