"""The cascade: how much traffic it sends to the LLM classifier, and what that buys.

    python benchmarks/bench_classifier_cascade.py

On the dev set's test split, the cascade (local classifier first; the LLM classifier
only when the local one's probability for its tier is below ``confidence``) runs through
real LiteLLM calls to the local MockOpenAIServer playing ``gpt-4o-mini``. There is no
real LLM here, so the server's answers are *simulated*: the true tier for a share
``llm_accuracy`` of requests (0.97, the case study's LLM classifier) and a neighbouring
tier for the rest, chosen by a hash of the request id (deterministic, independent of
the local classifier). Confidence 0 is the local classifier alone; "llm" (1.01 in the
JSON) is the LLM classifier alone. Reported per setting: escalated share, accuracy, complex recall,
under-routed share, and the mean classification cost per request (the server's token
counts priced as gpt-4o-mini by LiteLLM; the classifier's prompt is real).

A second, grounded variant: on the 300 held-out requests of data/dev_set_audit/, the
server answers with the tier a second annotator gave each request blind to the labels
(a strong LLM applying data/README.md's rubric): what a good LLM classifier buys, with
its real mistakes instead of simulated ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bench_classifier_quality import DEV_SET, TIERS, _metrics

from smart_router import SmartRouter
from smart_router._classifiers import Classifier
from smart_router._data import Request
from smart_router._datasets import load_labeled, split_requests
from smart_router._llm_classifier import CascadeClassifier, LLMClassifier
from smart_router._messages import parse_messages
from smart_router.testing import JSONReply, MockOpenAIServer

CONFIDENCES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def simulated_answer(request: Request, accuracy: float) -> str:
    """The true tier for ``accuracy`` of requests, else a neighbouring one (by hash)."""
    h = int.from_bytes(hashlib.sha256(f"llm:{request.id}".encode()).digest()[:8], "big") / 2**64
    true = TIERS.index(str(request.label))
    if h < accuracy:
        return TIERS[true]
    if true == 0 or true == len(TIERS) - 1:
        return TIERS[1]
    return TIERS[0] if h < accuracy + (1 - accuracy) / 2 else TIERS[2]


AUDIT = Path(__file__).resolve().parent.parent / "data" / "dev_set_audit" / "second_annotator.jsonl"


def annotator_answers() -> dict[str, str]:
    with AUDIT.open(encoding="utf-8") as f:
        return {row["id"]: row["label"] for row in map(json.loads, f)}


def run(server: MockOpenAIServer, requests: Sequence[Request], confidence: float,
        accuracy: float, answer: Callable[[Request], str] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"model": "openai/gpt-4o-mini", "api_base": server.base_url,
                               "api_key": "sk-bench", "timeout": 5, "cache_size": 0}
    cascade: Classifier = (CascadeClassifier(confidence=confidence, **options)
                           if confidence <= 1 else LLMClassifier(**options))
    router = SmartRouter(classifier=cascade, ledger=False)
    pred, true, cost, escalated, lat = [], [], [], 0, []
    for r in requests:
        tier = answer(r) if answer else simulated_answer(r, accuracy)
        server.set_default("gpt-4o-mini", JSONReply({"tier": tier}))
        conv = parse_messages(r.messages, r.tools)
        t = time.perf_counter()
        a = cascade.classify(conv)
        lat.append(time.perf_counter() - t)
        pred.append(router.tier_for_score(a.score))
        true.append(TIERS.index(str(r.label)))
        cost.append(a.cost_usd)
        escalated += bool(a.extra.get("escalated", confidence > 1))
        if a.extra.get("llm_error"):
            raise RuntimeError(f"LLM classifier failed in the benchmark: {a.reasons}")
    return {"confidence": confidence, "llm_accuracy": accuracy,
            "escalated_share": escalated / len(requests), **_metrics(pred, true),
            "mean_cost_usd": sum(cost) / len(cost),
            "mean_cost_per_escalation_usd": sum(cost) / escalated if escalated else 0.0,
            "p50_ms": statistics.median(lat) * 1e3}


def cascade_results(requests: Sequence[Request] | None = None) -> dict[str, Any]:
    if requests is None:
        requests = split_requests(load_labeled(DEV_SET))[1]
    rows, audit_rows = [], []
    labels = annotator_answers()
    audited = [r for r in requests if r.id in labels]
    with MockOpenAIServer() as server:
        for conf in CONFIDENCES:
            rows.append(run(server, requests, conf, 0.97))
        rows.append(run(server, requests, 0.7, 0.90))
        for conf in CONFIDENCES:
            audit_rows.append(run(server, audited, conf, -1.0, lambda r: labels[str(r.id)]))
    return {"requests": len(requests), "rows": rows, "audit_requests": len(audited),
            "audit_rows": audit_rows}


if __name__ == "__main__":
    print(json.dumps(cascade_results(), indent=1))
