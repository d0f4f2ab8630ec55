"""``smart-router report``: the case study's tables computed from the ledger, exactly."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from smart_router import ConfigError, DataFileError
from smart_router._ledger import LedgerEntry, SQLiteLedger, from_nano
from smart_router._report import add_report_arguments, build_report, cmd_report, ledger_report

T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z
DAY = 86_400.0


def e(i: int, tier: str, model: str, cost: int, base: int, *, routed: str | None = None,
      ts: float = T0, tag: str | None = None, tokens: tuple[int, int] = (900, 100),
      latency: float | None = 100.0) -> LedgerEntry:
    return LedgerEntry(
        id=f"r{i}", ts=ts, tier=tier, model=model, routed_model=routed or model,
        prompt_tokens=tokens[0], completion_tokens=tokens[1], cost_nano=cost,
        baseline_nano=base, fallback_used=routed is not None, tag=tag, latency_ms=latency,
    )


ENTRIES = [
    e(1, "simple", "deepseek/deepseek-chat", 300, 6_000, tag="web"),
    e(2, "simple", "deepseek/deepseek-chat", 300, 6_000, tag="web", ts=T0 + DAY),
    e(3, "simple", "dashscope/qwen-plus", 500, 6_000, routed="deepseek/deepseek-chat"),
    e(4, "moderate", "dashscope/qwen-plus", 500, 6_000, tag="web", latency=None),
    e(5, "complex", "gpt-4o", 6_000, 6_000, ts=T0 + DAY, tag="ops"),
    e(6, "complex", "anthropic/claude-opus-4-5", 12_000, 6_000, routed="gpt-4o", tag="ops"),
]


def filled(path: Path | None = None) -> SQLiteLedger:
    ledger = SQLiteLedger(path)
    for x in ENTRIES:
        ledger.add(x)
    return ledger


def test_report_tables_from_entries() -> None:
    ledger = filled()
    r = build_report(ledger.entries(), tiers=["simple", "moderate", "complex"],
                     source=ledger.describe())
    total = ledger.totals()
    s = r["summary"]
    assert r["requests"] == total.count == 6
    assert s["cost_usd"] == from_nano(total.cost_nano) == from_nano(19_600)
    assert s["baseline_cost_usd"] == from_nano(36_000)
    assert s["ratio"] == 36_000 / 19_600
    assert s["savings_usd"] == from_nano(36_000 - 19_600)
    assert (s["fallbacks"], s["fallback_share"]) == (2, 2 / 6)
    assert (s["prompt_tokens"], s["completion_tokens"]) == (5_400, 600)
    assert s["latency_ms_p50"] == 100.0
    tiers = {t["tier"]: t for t in r["by_tier"]}
    assert [t["tier"] for t in r["by_tier"]] == ["simple", "moderate", "complex"]
    assert tiers["simple"]["requests"] == 3 and tiers["simple"]["share_of_requests"] == 0.5
    assert tiers["complex"]["share_of_cost"] == 18_000 / 19_600
    assert tiers["complex"]["usd_per_1m_tokens"] == from_nano(18_000) * 1e6 / 2_000
    assert tiers["complex"]["fallbacks"] == 1
    assert sum(t["share_of_requests"] for t in r["by_tier"]) == pytest.approx(1.0)
    models = {m["model"]: m for m in r["by_model"]}
    assert r["by_model"][0]["model"] == "anthropic/claude-opus-4-5"  # biggest spend first
    assert models["dashscope/qwen-plus"]["answered_as_fallback"] == 1
    assert r["fallbacks"] == [
        {"routed_model": "deepseek/deepseek-chat", "answered_by": "dashscope/qwen-plus",
         "requests": 1},
        {"routed_model": "gpt-4o", "answered_by": "anthropic/claude-opus-4-5", "requests": 1},
    ]
    days = {d["day"]: d for d in r["by_day"]}
    assert list(days) == ["2026-01-01", "2026-01-02"]
    assert days["2026-01-02"]["requests"] == 2
    assert days["2026-01-02"]["cost_usd"] == from_nano(6_300)
    assert {t["tag"]: t["requests"] for t in r["by_tag"]} == {"ops": 2, "web": 3, "(none)": 1}
    assert r["first"].startswith("2026-01-01T12:00:00") and r["last"].startswith("2026-01-02")


def test_report_of_an_empty_ledger() -> None:
    r = build_report([])
    assert r["requests"] == 0 and r["summary"]["ratio"] is None and r["by_tier"] == []


def test_ledger_report_filters_and_budgets() -> None:
    from smart_router import load_config

    ledger = filled()
    cfg = load_config({"budgets": {"monthly_usd": 10}})
    r = ledger_report(ledger, cfg, since=T0 + DAY / 2)
    assert r["requests"] == 2
    r = ledger_report(ledger, cfg, tag="web")
    assert r["requests"] == 3
    assert [b["budget"] for b in r["budgets"]] == ["monthly budget"]


# -- the command ----------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    """The lead's wiring: ``report`` with the CLI's common --config/--json options."""
    parser = argparse.ArgumentParser(prog="smart-router report")
    parser.add_argument("--config")
    parser.add_argument("--json", action="store_true")
    add_report_arguments(parser)
    return parser.parse_args(argv)


def test_report_command_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    filled(path).close()
    cmd_report(parse("--ledger", str(path), "--json"))
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 6 and out["ledger"] == f"sqlite:{path}"
    cmd_report(parse("--ledger", str(path), "--json", "--since", "2026-01-02"))
    assert json.loads(capsys.readouterr().out)["requests"] == 2
    cmd_report(parse("--ledger", str(path), "--json", "--until", "2026-01-01"))
    assert json.loads(capsys.readouterr().out)["requests"] == 4


def test_report_command_reads_the_configs_ledger(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    filled(path).close()
    cfg = tmp_path / "smart_router.yaml"
    cfg.write_text(f"ledger: {{path: '{path}'}}\nbudgets: {{daily_usd: 5}}\n")
    cmd_report(parse("--config", str(cfg)))
    out = capsys.readouterr().out
    for title in ("Cost by tier", "Cost by model", "Actual vs all-premium", "Fallbacks",
                  "By day (UTC)", "By tag", "Budgets (current period)"):
        assert title in out
    assert "6 requests" in out and "1.8x cheaper" in out


def test_report_last_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = SQLiteLedger(path)
    now = time.time()
    ledger.add(e(1, "simple", "deepseek/deepseek-chat", 1, 1, ts=now))
    ledger.add(e(2, "simple", "deepseek/deepseek-chat", 1, 1, ts=now - 10 * DAY))
    ledger.close()
    cmd_report(parse("--ledger", str(path), "--json", "--days", "1"))
    assert json.loads(capsys.readouterr().out)["requests"] == 1


@pytest.mark.parametrize(
    ("argv", "error", "fragment"),
    [
        (("--ledger", "{tmp}/missing.sqlite"), DataFileError, "no ledger file here"),
        (("--ledger", "{tmp}/notes.txt"), DataFileError, "not a SQLite ledger"),
        (("--ledger", "{tmp}/other.sqlite"), DataFileError, "not a smart-router ledger"),
        ((), ConfigError, "ledger is in memory"),
        (("--ledger", "{tmp}/ok.sqlite", "--since", "yesterday"), ConfigError, "--since"),
        (("--ledger", "{tmp}/ok.sqlite", "--days", "0"), ConfigError, "--days"),
        (("--redis", "http://nope"), ConfigError, "not a Redis URL"),
    ],
)
def test_report_command_errors_are_clear(tmp_path: Path, argv: tuple[str, ...],
                                         error: type[Exception], fragment: str) -> None:
    import sqlite3

    (tmp_path / "notes.txt").write_text("not a database, just text " * 50)
    with sqlite3.connect(tmp_path / "other.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
    filled(tmp_path / "ok.sqlite").close()
    before = (tmp_path / "other.sqlite").read_bytes()
    with pytest.raises(error) as err:
        cmd_report(parse(*(a.replace("{tmp}", str(tmp_path)) for a in argv)))
    assert fragment in str(err.value)
    assert not (tmp_path / "missing.sqlite").exists()  # a report never creates a ledger
    assert (tmp_path / "other.sqlite").read_bytes() == before  # nor touches other files


def test_report_does_not_import_litellm(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    filled(path).close()
    code = (
        "import sys, argparse\n"
        "from smart_router._report import add_report_arguments, cmd_report\n"
        "p = argparse.ArgumentParser(); p.add_argument('--config'); "
        "p.add_argument('--json', action='store_true'); add_report_arguments(p)\n"
        f"cmd_report(p.parse_args(['--ledger', {str(path)!r}, '--json']))\n"
        "assert 'litellm' not in sys.modules, 'litellm imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    assert data["requests"] == 6
