"""Datasets for training and benchmarks: labeled JSONL, the dev split, RouteLLM outcomes.

The train/test split of the labeled dev set lives here, once, so training and every
benchmark agree on it: a request belongs to the test split when the SHA-256 of its
``group`` (variants of one request share a group) falls in the lowest quarter.
The RouteLLM splits follow ``data/routellm/README.md`` (MMLU: subjects at odd
alphabetical positions are test; GSM8K: odd rows are test; MT-Bench: test only).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._data import Request, read_requests

TEST_FRACTION = 0.25
_SPLIT_SALT = "smart-router-dev-split-v1"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def split_of(group: str) -> str:
    """``"test"`` for ~25% of groups (deterministic hash of the group id), else ``"train"``."""
    digest = hashlib.sha256(f"{_SPLIT_SALT}:{group}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < TEST_FRACTION else "train"


def load_labeled(paths: str | Path | Sequence[str | Path]) -> list[Request]:
    """Labeled requests (``eval`` format) from one or more JSONL files, validated."""
    files = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return [r for f in files for r in read_requests(f, require_label=True)]


def group_of(request: Request) -> str:
    """The split key: the group, else the id, else the text of the last message."""
    if request.group or request.id:
        return str(request.group or request.id)
    return json.dumps(request.messages[-1], sort_keys=True)


def split_requests(requests: Sequence[Request]) -> tuple[list[Request], list[Request]]:
    """(train, test) by :func:`split_of` on each request's group."""
    train = [r for r in requests if split_of(group_of(r)) == "train"]
    return train, [r for r in requests if split_of(group_of(r)) == "test"]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


# -- RouteLLM strong-vs-weak outcomes -----------------------------------------------


@dataclass
class Outcomes:
    """Per query: the messages, and how well the weak and the strong model did."""

    name: str
    messages: list[list[dict[str, str]]] = field(default_factory=list)
    weak: list[float] = field(default_factory=list)
    strong: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # MMLU subject, GSM8K row, MT-Bench question

    def add(self, messages: list[dict[str, str]], weak: float, strong: float, group: str) -> None:
        self.messages.append(messages)
        self.weak.append(weak)
        self.strong.append(strong)
        self.groups.append(group)

    def __len__(self) -> int:
        return len(self.messages)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def mmlu_subjects(root: Path) -> list[str]:
    return sorted(p.name[len("mmlu_"):-len(".csv")] for p in (root / "mmlu").glob("mmlu_*.csv"))


def load_mmlu(root: str | Path, split: str) -> Outcomes:
    root = Path(root)
    out = Outcomes(f"mmlu-{split}")
    for i, subject in enumerate(mmlu_subjects(root)):
        if (i % 2 == 1) != (split == "test"):
            continue
        with (root / "mmlu" / f"mmlu_{subject}.csv").open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                out.add(_user(row["prompt"]), float(row[WEAK] == "True"),
                        float(row[STRONG] == "True"), subject)
    return out


def load_gsm8k(root: str | Path, split: str) -> Outcomes:
    out = Outcomes(f"gsm8k-{split}")
    path = Path(root) / "gsm8k" / "gsm8k_responses.csv"
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if (i % 2 == 1) == (split == "test"):
                out.add(_user(row["prompt"]), float(row[WEAK] == "True"),
                        float(row[STRONG] == "True"), f"gsm8k-{i}")
    return out


def load_mt_bench(root: str | Path) -> Outcomes:
    """The 160 MT-Bench turns (test only); performance is the GPT-4 judge score."""
    root = Path(root) / "mt_bench"
    scores: dict[tuple[int, int, str], float] = {}
    for j in read_jsonl(root / "judgements.jsonl"):
        scores[(int(j["question_id"]), int(j["turn"]), j["model"])] = float(j["score"])
    out = Outcomes("mt_bench-test")
    for q in read_jsonl(root / "question.jsonl"):
        qid, turns = int(q["question_id"]), q["turns"]
        convs = [
            _user(turns[0]),
            [*_user(turns[0]), {"role": "assistant", "content": "(previous answer)"},
             *_user(turns[1])],
        ]
        for t, messages in enumerate(convs, 1):
            out.add(messages, scores[(qid, t, WEAK)], scores[(qid, t, STRONG)], f"mt-{qid}")
    return out


def load_routellm(root: str | Path, split: str) -> list[Outcomes]:
    """The datasets of one split: train = MMLU + GSM8K; test adds MT-Bench."""
    sets = [load_mmlu(root, split), load_gsm8k(root, split)]
    return [*sets, load_mt_bench(root)] if split == "test" else sets


# -- APGR (average performance gap recovered), as in the RouteLLM paper ----------------


def pgr_curve(scores: list[float], weak: list[float], strong: list[float],
              points: int = 21) -> list[float]:
    """PGR at strong-model shares 0, 1/(points-1), ..., 1; ties count as their average."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: -scores[i])
    gain = [0.0]  # cumulative strong-minus-weak gain of the top-k, ties spread evenly
    i = 0
    while i < n:
        j = i
        while j < n and scores[order[j]] == scores[order[i]]:
            j += 1
        mean = sum(strong[order[t]] - weak[order[t]] for t in range(i, j)) / (j - i)
        base = gain[-1]
        gain.extend([base + mean * (t - i + 1) for t in range(i, j)])
        i = j
    gap = gain[n]
    if gap == 0:
        return [0.0] * points
    return [gain[round(c * n / (points - 1))] / gap for c in range(points)]


def apgr(scores: list[float], weak: list[float], strong: list[float]) -> float:
    """Mean PGR over strong-model shares 0, 0.05, ..., 1 (random = 0.5)."""
    curve = pgr_curve(scores, weak, strong)
    return sum(curve) / len(curve)


def share_for_pgr(scores: list[float], weak: list[float], strong: list[float],
                  target: float) -> float:
    """The smallest strong-model share (1% steps) whose PGR reaches ``target``."""
    curve = pgr_curve(scores, weak, strong, points=101)
    return next((c / 100 for c, p in enumerate(curve) if p >= target), 1.0)
