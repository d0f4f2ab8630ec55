"""Reproduce the shipped local classifier, src/smart_router/data/local_classifier.json.

    python scripts/train_local.py [--check]

Trains on the train split (by group, see smart_router._datasets.split_of) of the
project's labeled dev set, data/dev_set/*.jsonl, with the default TrainOptions. The
held-out test split is never read here. Deterministic: running it again writes the same
bytes; --check fails if the shipped file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from smart_router._data import read_requests
from smart_router._datasets import split_requests
from smart_router._local import default_model_path
from smart_router._train import PRIOR, TrainOptions, _describe, fit_model, write_model

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = sorted((ROOT / "data" / "dev_set").glob("part*.jsonl"))


def build(out: Path) -> None:
    requests = [r for f in DEV_SET for r in read_requests(f, require_label=True)]
    train, _ = split_requests(requests)
    meta = {"trained_on": [*_describe(DEV_SET, holdout=True)],
            "script": "scripts/train_local.py"}
    model, report = fit_model(train, opts=TrainOptions(), prior=PRIOR, meta=meta)
    write_model(model, out)
    print(f"{out}: {report.examples} examples, {report.features} weights, "
          f"thresholds {report.thresholds}, out-of-fold {report.oof}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temp file and compare with the shipped one")
    parser.add_argument("-o", "--out", type=Path, default=default_model_path())
    args = parser.parse_args()
    if not args.check:
        build(args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "model.json"
        build(fresh)
        same = fresh.read_bytes() == args.out.read_bytes()
    print("identical" if same else f"DIFFERS from {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
