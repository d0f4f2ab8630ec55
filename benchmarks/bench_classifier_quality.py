"""Classifier quality: the dev set's held-out split, and APGR on RouteLLM's test splits.

    python benchmarks/bench_classifier_quality.py [--routellm ../shared/data/routellm]

Side by side, in one run:

- dev set (data/dev_set/*.jsonl), test split only (by group, smart_router._datasets.split_of;
  the shipped model never saw it): accuracy, top-tier (complex) recall, under- and
  over-routed shares, per kind, for the local classifier, our heuristic and LiteLLM's
  built-in complexity_router heuristic (its SIMPLE/MEDIUM/COMPLEX+REASONING tiers mapped
  to simple/moderate/complex). "classifier" = the score cut by the thresholds alone;
  "routed" = SmartRouter's decision with the default policies (tools and long
  conversations raise to at least moderate).
- RouteLLM (strong gpt-4-1106-preview vs weak Mixtral-8x7B outcomes), test splits only:
  APGR of each score (random = 0.5), and the strong-model share needed for PGR 0.5 / 0.8.
  Baselines: LiteLLM's complexity_router score, prompt length (tiktoken tokens of the
  messages), random (mean of 10 seeds).

Used by bench_classifier_report.py, which writes benchmarks/results/classifier.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from smart_router import SmartRouter
from smart_router._classifiers import Classifier, HeuristicClassifier
from smart_router._data import Request
from smart_router._datasets import (
    apgr,
    load_labeled,
    load_routellm,
    share_for_pgr,
    split_requests,
)
from smart_router._local import LocalClassifier
from smart_router._messages import Conversation, parse_messages

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = sorted((ROOT / "data" / "dev_set").glob("part*.jsonl"))
ROUTELLM = ROOT.parent / "shared" / "data" / "routellm"
TIERS = ["simple", "moderate", "complex"]


class LiteLLMHeuristic(Classifier):
    """LiteLLM's complexity_router rule-based scorer, on the newest user message (what its
    proxy scores), as a smart-router classifier with its own tier boundaries."""

    name = "litellm"

    def __init__(self) -> None:
        from litellm.router_strategy.complexity_router import ComplexityRouter

        self.router = ComplexityRouter("bench", ctx=None)
        b = self.router._effective_tier_boundaries()
        # SIMPLE | MEDIUM | COMPLEX+REASONING -> simple | moderate | complex.
        self.cuts = (b["simple_medium"], b["medium_complex"])

    def raw(self, text: str) -> tuple[int, float]:
        tier, score, _ = self.router.classify(text)
        order = {"SIMPLE": 0, "MEDIUM": 1}
        return order.get(str(getattr(tier, "value", tier)), 2), score

    def score(self, conversation: Conversation) -> float:
        return self.raw(conversation.last_user_text)[1]

    def tier(self, conversation: Conversation) -> int:
        return self.raw(conversation.last_user_text)[0]


def _metrics(pred: Sequence[int], true: Sequence[int]) -> dict[str, float]:
    n = len(true)
    top = len(TIERS) - 1
    tops = [p for p, t in zip(pred, true, strict=True) if t == top]
    return {
        "n": n,
        "accuracy": sum(p == t for p, t in zip(pred, true, strict=True)) / n,
        "complex_recall": sum(p == top for p in tops) / len(tops) if tops else 1.0,
        "under_routed": sum(p < t for p, t in zip(pred, true, strict=True)) / n,
        "over_routed": sum(p > t for p, t in zip(pred, true, strict=True)) / n,
    }


def evaluate_dev(name: str, classifier: Classifier, requests: Sequence[Request],
                 tier_of: Callable[[Conversation], int] | None = None) -> dict[str, Any]:
    """Classifier-only and routed tiers of each request, scored against the labels."""
    router = SmartRouter(classifier=classifier, ledger=False)
    rank = {t: i for i, t in enumerate(TIERS)}
    true, clf, routed, kinds, sources = [], [], [], [], []
    for r in requests:
        conv = parse_messages(r.messages, r.tools)
        a = classifier.classify(conv)
        clf.append(tier_of(conv) if tier_of else router.tier_for_score(a.score))
        routed.append(rank[router._decide(conv, a).tier])
        true.append(rank[str(r.label)])
        kinds.append(r.kind or "other")
        sources.append(str(r.id or "").split("-")[0] or "other")
    by_kind, by_source = defaultdict(list), defaultdict(list)
    for i, (k, s) in enumerate(zip(kinds, sources, strict=True)):
        by_kind[k].append(i)
        by_source[s].append(i)
    return {
        "name": name,
        "classifier": _metrics(clf, true),
        "routed": _metrics(routed, true),
        "by_kind": {k: _metrics([clf[i] for i in ix], [true[i] for i in ix])
                    for k, ix in sorted(by_kind.items())},
        # Each part file (id prefix p1, p2, ...) was written in a separate batch: how well
        # the model carries over between batches, not only within one.
        "by_source": {k: _metrics([clf[i] for i in ix], [true[i] for i in ix])
                      for k, ix in sorted(by_source.items())},
        "confusion": {TIERS[t]: dict(Counter(TIERS[p] for p, tt in zip(clf, true, strict=True)
                                             if tt == t)) for t in range(len(TIERS))},
    }


def dev_results(requests: Sequence[Request] | None = None) -> dict[str, Any]:
    if requests is None:
        requests = split_requests(load_labeled(DEV_SET))[1]
    lite = LiteLLMHeuristic()
    return {
        "test_requests": len(requests),
        "labels": dict(Counter(str(r.label) for r in requests)),
        "kinds": dict(Counter(r.kind or "other" for r in requests)),
        "results": [
            evaluate_dev("local", LocalClassifier(), requests),
            evaluate_dev("heuristic", HeuristicClassifier(), requests),
            evaluate_dev("litellm complexity_router", lite, requests, lite.tier),
        ],
    }


AUDIT = ROOT / "data" / "dev_set_audit" / "second_annotator.jsonl"


def agreement_results(requests: Sequence[Request] | None = None) -> dict[str, Any]:
    """On the audited held-out requests: how often a second annotator, blind to the
    labels, agrees with them, beside the classifiers on the same requests. The labels'
    own noise bounds what any classifier can score against them."""
    if requests is None:
        requests = split_requests(load_labeled(DEV_SET))[1]
    with AUDIT.open(encoding="utf-8") as f:
        second = {row["id"]: row["label"] for row in map(json.loads, f)}
    audited = [r for r in requests if r.id in second]
    rank = {t: i for i, t in enumerate(TIERS)}
    true = [rank[str(r.label)] for r in audited]
    out = {"second annotator": _metrics([rank[second[str(r.id)]] for r in audited], true)}
    for name, clf in (("local", LocalClassifier()), ("heuristic", HeuristicClassifier())):
        router = SmartRouter(classifier=clf, ledger=False)
        pred = [router.tier_for_score(clf.score(parse_messages(r.messages, r.tools)))
                for r in audited]
        out[name] = _metrics(pred, true)
    return {"requests": len(audited), "results": out}


def _prompt_tokens(messages: list[dict[str, str]]) -> int:
    from smart_router import _tokens

    return sum(_tokens.count_text(m["content"]) for m in messages)


def apgr_results(root: Path = ROUTELLM) -> dict[str, Any]:
    local, heuristic, lite = LocalClassifier(), HeuristicClassifier(), LiteLLMHeuristic()
    out: dict[str, Any] = {}
    for ds in load_routellm(root, "test"):
        convs = [parse_messages(m) for m in ds.messages]
        scores = {
            "local": [local.score(c) for c in convs],
            "heuristic": [heuristic.score(c) for c in convs],
            "litellm complexity_router": [lite.score(c) for c in convs],
            "prompt length": [float(_prompt_tokens(m)) for m in ds.messages],
        }
        row = {}
        for name, s in scores.items():
            row[name] = {"apgr": apgr(s, ds.weak, ds.strong),
                         "share_pgr50": share_for_pgr(s, ds.weak, ds.strong, 0.5),
                         "share_pgr80": share_for_pgr(s, ds.weak, ds.strong, 0.8)}
        rand = [apgr([random.Random(seed * 7919 + i).random() for i in range(len(ds))],
                     ds.weak, ds.strong) for seed in range(10)]
        row["random"] = {"apgr": sum(rand) / len(rand), "share_pgr50": 0.5,
                         "share_pgr80": 0.8}
        out[ds.name.removesuffix("-test")] = {"n": len(ds), **row}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routellm", type=Path, default=ROUTELLM)
    args = parser.parse_args()
    print(json.dumps({"dev": dev_results(), "apgr": apgr_results(args.routellm)}, indent=1))


if __name__ == "__main__":
    main()
