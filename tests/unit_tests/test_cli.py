"""The smart-router command line, run in-process and as the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smart_router._cli import main

DESIGN = (
    "Design a multi-region active-active payments platform at scale: consensus protocol, "
    "sharding the ledger, failure modes during a region outage, and latency vs consistency "
    "trade-offs, plus a migration strategy from a single Postgres primary."
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_route_hello_and_design(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "route", "hello")
    assert code == 0 and "simple" in out and "deepseek/deepseek-chat" in out
    code, out, _ = run(capsys, "route", DESIGN, "--json")
    d = json.loads(out)
    assert code == 0 and d["tier"] == "complex" and d["model"] == "gpt-4o"
    assert set(d) >= {"tier", "score", "model", "fallbacks", "reasons"}


def test_route_with_config_and_override(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tiers:\n  only: {model: gpt-4o-mini, fallbacks: [gpt-4o]}\n")
    code, out, _ = run(capsys, "route", "hi", "--config", str(cfg), "--json")
    assert code == 0 and json.loads(out)["model"] == "gpt-4o-mini"
    code, out, _ = run(capsys, "route", DESIGN, "--model", "deepseek/deepseek-chat", "--json")
    assert code == 0 and json.loads(out)["tier"] == "simple"


def test_bad_config_is_one_error_line(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tiers:\n  a: {model: not-a-real-model}\n")
    code, out, err = run(capsys, "route", "hi", "--config", str(cfg))
    assert code == 2 and out == ""
    assert "not-a-real-model" in err and "no price" in err


def test_simulate_reports_what_it_measured(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    traffic = write_jsonl(tmp_path / "t.jsonl", [
        {"messages": [{"role": "user", "content": "hello"}],
         "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}},
        {"messages": [{"role": "user", "content": DESIGN}],
         "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}},
    ])
    code, out, _ = run(capsys, "simulate", str(traffic), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["requests"] == 2 and rep["usage_source"] == "recorded"
    tiers = {r["tier"]: r for r in rep["tiers"]}
    assert tiers["simple"]["queries"] == tiers["complex"]["queries"] == 1
    simple_cost = 1000 * 0.28e-6 + 1000 * 0.42e-6
    premium_cost = 1000 * 2.5e-6 + 1000 * 10e-6
    assert rep["routed_cost_usd"] == pytest.approx(simple_cost + premium_cost)
    assert rep["baseline_cost_usd"] == pytest.approx(2 * premium_cost)
    assert rep["ratio"] == pytest.approx(2 * premium_cost / (simple_cost + premium_cost))
    code, out, _ = run(capsys, "simulate", str(traffic))
    assert "Traffic by tier" in out and "all-premium" in out and "cheaper" in out


def test_simulate_estimates_usage_and_says_how(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    traffic = write_jsonl(tmp_path / "t.jsonl", [{"messages": [{"role": "user",
                                                                 "content": "hi"}]}])
    code, out, _ = run(capsys, "simulate", str(traffic), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["usage_source"] == "estimated"
    assert "tiktoken" in rep["notes"][0]
    row = rep["tiers"][0]
    assert row["completion_tokens"] == 215 and 5 < row["prompt_tokens"] < 20
    code, out, _ = run(capsys, "simulate", str(traffic), "--json", "--output-tokens", "1000")
    assert json.loads(out)["tiers"][0]["completion_tokens"] == 1000


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"messages": [{"role": "user", "content": "ok"}]}\n{oops\n', "line 2: not valid JSON"),
        ('[1, 2]\n', "line 1: each line must be a JSON object"),
        ('{"msgs": []}\n', "line 1: missing 'messages'"),
        ('{"messages": [{"role": "bot", "content": "x"}]}\n', "line 1: messages[0] has unknown"),
        ('{"messages": [{"role": "user", "content": "x"}], "usage": {"prompt_tokens": -1}}\n',
         "usage.prompt_tokens"),
        ("\n\n", "holds no requests"),
    ],
)
def test_bad_traffic_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                          content: str, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    code, out, err = run(capsys, "simulate", str(path))
    assert code == 2 and out == ""  # nothing half-printed as if it were a result
    assert fragment in err and str(path) in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "eval", str(tmp_path / "nope.jsonl"))
    assert code == 2 and out == "" and "no such file" in err


def test_eval_metrics(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    labeled = write_jsonl(tmp_path / "l.jsonl", [
        {"id": "1", "messages": [{"role": "user", "content": "hello"}], "label": "simple"},
        {"id": "2", "messages": [{"role": "user", "content": DESIGN}], "label": "complex"},
        # under-routed on purpose: a trivial text labeled complex
        {"id": "3", "messages": [{"role": "user", "content": "thanks!"}], "label": "complex",
         "kind": "trap"},
        # over-routed: a design prompt labeled simple
        {"id": "4", "messages": [{"role": "user", "content": DESIGN}], "label": "simple",
         "kind": "trap"},
    ])
    code, out, _ = run(capsys, "eval", str(labeled), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["total"] == 4
    assert rep["accuracy"] == pytest.approx(0.5)
    assert rep["complex_recall"] == pytest.approx(0.5)
    assert rep["under_routed_share"] == pytest.approx(0.25)
    assert rep["over_routed_share"] == pytest.approx(0.25)
    assert rep["confusion"]["complex"] == {"simple": 1, "moderate": 0, "complex": 1}
    assert rep["by_kind"]["trap"]["accuracy"] == 0.0
    code, out, _ = run(capsys, "eval", str(labeled))
    assert "Confusion matrix" in out and "By kind" in out


def test_eval_rejects_unknown_labels(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    labeled = write_jsonl(tmp_path / "l.jsonl", [
        {"messages": [{"role": "user", "content": "hi"}], "label": "easy"}])
    code, out, err = run(capsys, "eval", str(labeled))
    assert code == 2 and out == "" and "line 1: label 'easy' is not a tier" in err
    nolabel = write_jsonl(tmp_path / "n.jsonl", [{"messages": [{"role": "user",
                                                                 "content": "hi"}]}])
    code, _, err = run(capsys, "eval", str(nolabel))
    assert code == 2 and "missing 'label'" in err


def test_console_script_is_installed() -> None:
    exe = shutil.which("smart-router")
    assert exe is not None, "pip install -e . installs the smart-router console script"
    done = subprocess.run([exe, "route", "hello", "--json"], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout)["tier"] == "simple"


def test_simulate_bundled_sample(capsys: pytest.CaptureFixture[str]) -> None:
    from smart_router._data import read_requests, sample_traffic_path

    sample = read_requests(sample_traffic_path(), require_label=True)
    assert 300 <= len(sample) <= 1000
    labels = [r.label for r in sample]
    # roughly the case study's mix (about 62/28/10), labeled by the true task
    assert 0.5 < labels.count("simple") / len(sample) < 0.7
    assert 0.05 < labels.count("complex") / len(sample) < 0.2
    code, out, _ = run(capsys, "simulate", "--json")
    rep = json.loads(out)
    assert code == 0 and rep["requests"] == len(sample)
    assert sum(r["queries"] for r in rep["tiers"]) == len(sample)
    assert rep["routed_cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rep["tiers"]))
    assert rep["baseline_cost_usd"] > rep["routed_cost_usd"] > 0


def test_calibrate_then_simulate_respects_the_premium_share(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from smart_router._data import sample_traffic_path

    code, out, _ = run(capsys, "calibrate", str(sample_traffic_path()),
                       "--premium-share", "0.05", "--json")
    assert code == 0
    thresholds = json.loads(out)["thresholds"]
    assert set(thresholds) == {"moderate", "complex"}
    cfg = tmp_path / "c.yaml"
    cfg.write_text("classifier:\n  type: local\n  thresholds: " + json.dumps(thresholds) + "\n")
    code, out, _ = run(capsys, "simulate", "--config", str(cfg), "--json")
    rep = json.loads(out)
    complex_share = sum(r["query_share"] for r in rep["tiers"] if r["tier"] == "complex")
    assert code == 0 and complex_share <= 0.05 + 1e-9
    code, _, err = run(capsys, "calibrate", str(sample_traffic_path()), "--premium-share", "2")
    assert code == 2 and "--premium-share must be within [0, 1]" in err


def test_train_writes_a_model_the_config_accepts(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    rows = []
    for i in range(12):
        rows.append({"id": f"s{i}", "group": f"s{i}", "label": "simple",
                     "messages": [{"role": "user", "content": f"hi there number {i}, thanks!"}]})
        rows.append({"id": f"c{i}", "group": f"c{i}", "label": "complex",
                     "messages": [{"role": "user", "content": DESIGN + f" Variant {i}."}]})
        rows.append({"id": f"m{i}", "group": f"m{i}", "label": "moderate",
                     "messages": [{"role": "user", "content":
                                   f"Write a Python function that parses CSV row {i}"}]})
    labeled = write_jsonl(tmp_path / "l.jsonl", rows)
    model = tmp_path / "model.json"
    code, out, _ = run(capsys, "train", str(labeled), "-o", str(model), "--json")
    assert code == 0 and model.is_file() and json.loads(out)["examples"] == 36
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"classifier: {{type: local, model: {model}}}\n")
    code, out, _ = run(capsys, "eval", str(labeled), "--config", str(cfg), "--json")
    assert code == 0 and json.loads(out)["accuracy"] > 0.9  # it learned its own data
