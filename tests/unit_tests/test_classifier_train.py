"""Training, the dev split, thresholds, calibration, APGR, and the shipped model's recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smart_router import DataFileError, SmartRouter
from smart_router._datasets import apgr, pgr_curve, share_for_pgr, split_of
from smart_router._local import LocalClassifier, load_model
from smart_router._train import TrainOptions, calibrate, choose_thresholds, train

ROOT = Path(__file__).resolve().parents[2]
SIMPLE = ["hi there", "what's the capital of France?", "thanks!", "convert 5 km to miles",
          "how do I reset my password", "translate 'good night' into Spanish",
          "what time is it in Tokyo", "spell 'necessary'"]
MODERATE = ["Write an email to my landlord asking to break my lease early, polite but firm.",
            "Explain how TCP congestion control works, with the slow start phase.",
            "Write a SQL query for the top 3 earners per department, ties included.",
            "Compare leasing vs buying a car for someone who drives 9,000 miles a year.",
            "Write a Python function that merges overlapping intervals and test it.",
            "Summarize the pros and cons of a four-day work week for a manager."]
COMPLEX = ["Prove that sqrt(2) is irrational and generalize to sqrt(p) for primes p.",
           "Design a multi-region active-active ledger with consensus, sharding and failover.",
           "Find the race condition in our distributed lock service that only happens under "
           "load in production, and prove the fix is correct.",
           "Derive the Black-Scholes PDE and solve it via the heat equation, rigorously.",
           "Design a scheduler for 50,000 GPU jobs with fairness, preemption and gang "
           "scheduling; analyze the trade-offs."]


def write_labeled(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w") as f:
        for i, (text, label) in enumerate(rows):
            f.write(json.dumps({"id": f"r{i}", "group": f"g{i}", "label": label,
                                "messages": [{"role": "user", "content": text}]}) + "\n")
    return path


@pytest.fixture
def labeled(tmp_path: Path) -> Path:
    rows = [(t, "simple") for t in SIMPLE] + [(t, "moderate") for t in MODERATE]
    rows += [(t, "complex") for t in COMPLEX]
    return write_labeled(tmp_path / "labeled.jsonl", rows * 2)


def test_split_is_deterministic_and_about_a_quarter() -> None:
    groups = [f"group-{i}" for i in range(4000)]
    splits = [split_of(g) for g in groups]
    assert splits == [split_of(g) for g in groups]
    assert 0.22 < splits.count("test") / len(groups) < 0.28


def test_train_writes_a_loadable_model_deterministically(labeled: Path, tmp_path: Path) -> None:
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    report = train(labeled, out1)
    train(labeled, out2)
    assert out1.read_bytes() == out2.read_bytes()
    assert report.examples == 38 and report.features > 10
    assert set(report.oof) == {"accuracy", "top_recall", "under_routed", "over_routed"}
    r = SmartRouter({"classifier": {"type": "local", "model": str(out1)}})
    assert r.thresholds == report.thresholds
    hard = r.route([{"role": "user", "content": "Prove that the halting problem is undecidable "
                                                "and derive Rice's theorem rigorously."}])
    easy = r.route([{"role": "user", "content": "hello!"}])
    assert easy.score < hard.score


def test_train_holdout_and_custom_tiers(tmp_path: Path) -> None:
    rows = [(t, "cheap") for t in SIMPLE] + [(t, "best") for t in COMPLEX]
    path = write_labeled(tmp_path / "two.jsonl", rows * 3)
    report = train(path, tmp_path / "m.json", tiers=["cheap", "best"], holdout=True)
    assert report.tiers == ["cheap", "best"] and len(report.thresholds) == 1
    assert report.examples < 39  # the ~25% test split was left out
    assert load_model(str(tmp_path / "m.json")).tiers == ("cheap", "best")


def test_train_rejects_unknown_labels(tmp_path: Path) -> None:
    path = write_labeled(tmp_path / "bad.jsonl", [("hi", "simple"), ("x", "premium")])
    with pytest.raises(DataFileError, match="premium"):
        train(path, tmp_path / "m.json")


def test_choose_thresholds_meets_the_recall_target() -> None:
    scores = [i / 100 for i in range(100)]
    labels = [0 if s < 0.3 else 1 if s < 0.6 else 2 for s in scores]
    labels[5] = 2  # one complex request that looks simple
    cuts, m = choose_thresholds(scores, labels, 3, recall_target=0.97, max_under=0.05)
    assert len(cuts) == 2 and cuts[0] <= cuts[1]
    assert m["top_recall"] >= 0.97 and m["under_routed"] <= 0.05
    _, m2 = choose_thresholds(scores, labels, 3, recall_target=0.0, max_under=1.0)
    assert m2["accuracy"] >= m["accuracy"] and m2["accuracy"] == 0.99


def test_apgr_matches_its_definition() -> None:
    weak, strong = [0, 1, 0, 1], [1, 1, 1, 0]
    oracle = [3.0, 1.0, 2.0, 0.0]  # the two gains first, the loss last
    assert pgr_curve(oracle, weak, strong, points=5) == [0.0, 1.0, 2.0, 2.0, 1.0]
    assert apgr([1.0] * 4, weak, strong) == pytest.approx(0.5)  # all tied = random
    assert apgr(oracle, weak, strong) > 1.0 > apgr([-x for x in oracle], weak, strong)
    assert share_for_pgr(oracle, weak, strong, 0.5) <= 0.25


@pytest.fixture
def traffic(tmp_path: Path) -> Path:
    texts = SIMPLE + MODERATE + COMPLEX
    path = tmp_path / "traffic.jsonl"
    with path.open("w") as f:
        for i in range(60):
            f.write(json.dumps({"messages": [{"role": "user", "content": texts[i % len(texts)]}],
                                "usage": {"prompt_tokens": 200, "completion_tokens": 300}})
                    + "\n")
    return path


def test_calibrate_premium_share(traffic: Path) -> None:
    config: dict[str, Any] = {"classifier": {"type": "local"}}
    for share in (0.1, 0.3):
        cal = calibrate(traffic, premium_share=share, config=config)
        assert cal.shares["complex"] <= share
        assert cal.shares["complex"] >= share - 0.15
        router = SmartRouter({**config, "classifier": {**config["classifier"],
                                                       "thresholds": cal.thresholds}})
        assert router.thresholds == [cal.thresholds["moderate"], cal.thresholds["complex"]]


def test_calibrate_monthly_budget_is_a_cap(traffic: Path) -> None:
    config: dict[str, Any] = {"classifier": {"type": "local"}}
    free = calibrate(traffic, monthly_budget=1e6, config=config, monthly_requests=100_000)
    assert free.thresholds == dict(zip(["moderate", "complex"],
                                       LocalClassifier().thresholds_for(3), strict=True))
    tight = free.monthly_cost_usd * 0.6
    cal = calibrate(traffic, monthly_budget=tight, config=config, monthly_requests=100_000)
    assert cal.monthly_cost_usd <= tight
    assert cal.shares["complex"] < free.shares["complex"]
    with pytest.raises(ValueError, match="exactly one"):
        calibrate(traffic, config=config)


@pytest.mark.skipif(not (ROOT / "data" / "dev_set").is_dir(), reason="no dev set in this tree")
def test_train_script_reproduces_the_shipped_model() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_local.py"), "--check"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "identical" in run.stdout


def test_default_options_are_the_documented_ones() -> None:
    meta = load_model(None).meta["options"]
    assert meta == TrainOptions().__dict__


def test_second_stage_is_optional_and_matches_scikit_learn(labeled: Path, tmp_path: Path
                                                           ) -> None:
    from smart_router import _train_trees as tt
    from smart_router._data import read_requests
    from smart_router._train import fit_model

    requests = list(read_requests(labeled, require_label=True))
    linear, _ = fit_model(requests, opts=TrainOptions(trees=0))
    assert "stage2" not in linear
    small, _ = fit_model(requests, opts=TrainOptions(trees=20, min_tree_examples=39))
    assert "stage2" not in small  # 38 examples: too few for trees
    model, report = fit_model(requests, opts=TrainOptions(trees=20, tree_depth=2,
                                                          min_tree_examples=38))
    stage2 = model["stage2"]
    assert len(stage2["trees"]) == 20 and stage2["inputs"][-1] == "z"
    assert report.thresholds == model["thresholds"]
    # The export is checked against scikit-learn's own predictions; a tampered leaf fails.
    x = [[float(i % 3)] * len(stage2["inputs"]) for i in range(30)]
    est = tt.fit_trees(x, [i % 3 for i in range(30)], 5, 2, 0.3)
    good = tt.export_trees(est, stage2["inputs"], 0.0, 1.0, 4)
    tt.check_export(good, est, x)
    leaves = good["trees"][0][4]
    leaves[leaves.index(max(leaves, key=abs))] += 1.0
    with pytest.raises(RuntimeError, match="disagree"):
        tt.check_export(good, est, x)


def test_train_without_the_extra_is_one_clear_error(labeled: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from smart_router._cli import main

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not installed
    assert main(["train", str(labeled), "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "sklearn" in err and "pip install 'smart-router[train]'" in err
    assert not (tmp_path / "m.json").exists()
