"""The learned local classifier: model file, features, scores, tiers, confidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smart_router import ConfigError, SmartRouter, parse_messages
from smart_router._classifiers import CLASSIFIERS, classifier_class
from smart_router._features import extract, split_instruction
from smart_router._local import MODEL_FORMAT, LocalClassifier, LocalModel, load_model

PROOF = ("Prove that there are infinitely many primes of the form 4k+3, and explain why the "
         "same argument fails for primes of the form 4k+1.")
DESIGN = ("Design a multi-region active-active payment ledger that never double-spends, "
          "survives the loss of a whole region, and reconciles daily with the card networks. "
          "Cover the consensus protocol, sharding and the failure modes.")


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def local() -> LocalClassifier:
    return LocalClassifier()


def test_registered_and_lazy() -> None:
    assert classifier_class("local") is LocalClassifier
    assert CLASSIFIERS["local"] is LocalClassifier
    load_model.cache_clear()
    clf = LocalClassifier()  # construction reads nothing
    assert load_model.cache_info().currsize == 0
    clf.score(parse_messages(user("hi")))
    assert load_model.cache_info().currsize == 1


def test_shipped_model_is_small_and_valid() -> None:
    m = load_model(None)
    assert m.tiers == ("simple", "moderate", "complex")
    # ~24k word weights and 100 small trees: read once per process, in about 25 ms.
    assert Path(m.source).stat().st_size < 1_000_000
    assert list(m.thresholds) == sorted(m.thresholds)
    assert list(m.cutpoints) == sorted(m.cutpoints)
    assert m.meta["trained_on"] and "oof" in m.meta


def test_router_uses_the_model_thresholds(local: LocalClassifier) -> None:
    r = SmartRouter({"classifier": {"type": "local"}})
    assert r.thresholds == list(load_model(None).thresholds)
    two = SmartRouter({"classifier": {"type": "local"},
                       "tiers": {"cheap": {"model": "gpt-4o-mini"}, "best": {"model": "gpt-4o"}}})
    assert two.thresholds == [0.5]  # another tier count: evenly spaced


@pytest.mark.parametrize(("text", "tier"), [
    ("hi", "simple"),
    # One-word traffic is everywhere in production; shortness alone must not cost a tier.
    *[(t, "simple") for t in ("hello", "ok", "test", "lol", "thanks!", "你好", "merci")],
    ("thanks, that's all for today!", "simple"),
    ("what's the capital of Peru?", "simple"),
    (PROOF, "complex"),
    (DESIGN, "complex"),
])
def test_clear_cases(text: str, tier: str) -> None:
    d = SmartRouter({"classifier": {"type": "local"}}).route(user(text))
    assert d.tier == tier, d.reasons


def test_score_confidence_and_reasons(local: LocalClassifier) -> None:
    easy = local.classify(parse_messages(user("hello there")))
    hard = local.classify(parse_messages(user(PROOF)))
    assert 0.0 <= easy.score < hard.score <= 1.0
    for a in (easy, hard):
        probs = a.extra["probabilities"]
        assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-3
        assert 0.0 <= a.extra["confidence"] <= 1.0
        assert a.cost_usd == 0.0
        assert a.reasons[0].startswith("local classifier scored")
    assert "proof" in hard.reasons[0]


def test_follow_up_inherits_the_thread(local: LocalClassifier) -> None:
    thread = [
        {"role": "user", "content": DESIGN},
        {"role": "assistant", "content": "Use Raft per shard, a global sequencer for ..."},
        {"role": "user", "content": "why?"},
    ]
    alone = local.score(parse_messages(user("why?")))
    assert local.score(parse_messages(thread)) > alone


def test_pasted_material_does_not_make_an_easy_ask_hard(local: LocalClassifier) -> None:
    doc = ("Our distributed consensus layer uses Raft with sharding, replication and failover "
           "across regions; the architecture handles concurrency and latency budgets. ") * 12
    ask = "Fix the typos in this paragraph, nothing else:\n\n" + doc
    instruction, payload = split_instruction(ask)
    assert instruction.startswith("Fix the typos") and payload.startswith("Our distributed")
    words = [k for k in extract(parse_messages(user(ask))) if k.startswith("w:")]
    assert "w:typos" in words and "w:raft" not in words  # pasted words are not read as the ask
    assert local.score(parse_messages(user(ask))) < local.score(parse_messages(user(doc)))


def test_features_are_deterministic_and_never_router_words() -> None:
    conv = parse_messages(user("Use the premium tier model: design a simple router for gpt-4o"))
    f1, f2 = extract(conv), extract(conv)
    assert f1 == f2
    for word in ("premium", "tier", "model", "simple", "router", "gpt", "4o"):
        assert f"w:{word}" not in f1


def test_cjk_text_becomes_character_bigrams() -> None:
    f = extract(parse_messages(user("请证明根号二是无理数")))
    assert "w:证明" in f and f.get("f:proof") == 1.0 and f.get("s:cjk") == 1.0


def _model_dict(**over: Any) -> dict[str, Any]:
    base = {"format": MODEL_FORMAT, "tiers": ["a", "b"], "bias": 0.0, "center": 0.0,
            "cutpoints": [0.0], "thresholds": [0.5], "weights": {"s:len": 1.0}, "meta": {}}
    return {**base, **over}


@pytest.mark.parametrize(("over", "fragment"), [
    ({"format": "other/1"}, "expected format"),
    ({"thresholds": [0.2, 0.4]}, "disagree in length"),
    ({"thresholds": [1.5]}, "thresholds must rise"),
    ({"weights": ["x"]}, "malformed"),
])
def test_bad_model_files_are_config_errors(over: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        LocalModel.from_dict(_model_dict(**over), "m.json")


def test_model_option_loads_another_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_model_dict(weights={"s:len": 20.0})))
    r = SmartRouter({"classifier": {"type": "local", "model": str(path)},
                     "tiers": {"cheap": {"model": "gpt-4o-mini"}, "best": {"model": "gpt-4o"}}})
    assert r.thresholds == [0.5]
    assert r.route(user("x" * 400)).tier == "best"
    with pytest.raises(ConfigError, match="cannot read"):
        SmartRouter({"classifier": {"type": "local", "model": str(tmp_path / "none.json")}})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        SmartRouter({"classifier": {"type": "local", "model": str(tmp_path / "bad.json")}})


def _stage2(**over: Any) -> dict[str, Any]:
    # One tree: s:len <= 1.5 -> leaf -1.0, else split on the linear z at 0.0.
    tree = [[0, -1, 1, -1, -1], [1.5, 0.0, 0.0, 0.0, 0.0], [1, 0, 3, 0, 0],
            [2, 0, 4, 0, 0], [0.0, -1.0, 0.0, 0.5, 2.0]]
    return {"inputs": ["s:len", "z"], "base": 1.0, "offset": -1.0, "scale": 2.0,
            "trees": [tree], **over}


def test_stage2_trees_replace_the_linear_z() -> None:
    m = LocalModel.from_dict(_model_dict(stage2=_stage2()), "m.json")
    assert m.stage2 is not None
    # s:len 1.0 -> left leaf -1.0: z = -1 + 2 * (1 + -1) = -1; "<=" goes left at equality.
    assert m.z({"s:len": 1.0}) == -1.0 and m.z({"s:len": 1.5}) == -1.0
    # s:len 2.0 -> linear z = 2.0 > 0 -> leaf 2.0: z = -1 + 2 * (1 + 2) = 5.
    assert m.z({"s:len": 2.0}) == 5.0
    # A linear z of exactly 0.0 goes left, to the leaf 0.5.
    assert m.stage2.z({"s:len": 2.0}, 0.0) == -1.0 + 2.0 * (1.0 + 0.5)
    plain = LocalModel.from_dict(_model_dict(), "m.json")
    assert plain.stage2 is None and plain.z({"s:len": 2.0}) == plain.linear_z({"s:len": 2.0})


@pytest.mark.parametrize("tree", [
    [[0, -1], [1.0, 0.0], [0, 0], [1, 0], [0.0, 1.0]],  # points at itself: would never end
    [[0, -1], [1.0, 0.0], [1, 0], [5, 0], [0.0, 1.0]],  # a child outside the tree
    [[0, -1, -1], [1.0, 0.0], [1, 0, 0], [2, 0, 0], [0.0, 1.0, 2.0]],  # lists disagree
    [[7, -1, -1], [1.0, 0.0, 0.0], [1, 0, 0], [2, 0, 0], [0.0, 1.0, 2.0]],  # no input 7
    [],  # an empty tree
])
def test_bad_stage2_trees_are_config_errors(tree: list[Any]) -> None:
    with pytest.raises(ConfigError, match="stage2"):
        LocalModel.from_dict(_model_dict(stage2=_stage2(trees=[tree])), "m.json")


def test_shipped_model_has_both_stages() -> None:
    m = load_model(None)
    assert m.stage2 is not None and m.stage2.inputs[-1] == "z"
    assert all(name[:2] in ("s:", "f:", "c:") for name in m.stage2.inputs[:-1])
    assert len(m.stage2.trees) == m.meta["options"]["trees"]
