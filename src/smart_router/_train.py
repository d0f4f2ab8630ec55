"""Train the local classifier on labeled traffic (needs ``smart-router[train]``).

The model (see ``_local``) is an ordinal logistic regression over ``_features`` plus a
hand-designed *difficulty prior* (``PRIOR``: one weight per structural or task-family
feature, added as ``alpha * prior`` to the learned weights). The prior carries what
transfers to unseen topics (proofs, math, code, design, the length of the ask), the
regression learns the rest from labels. Both fold into one weight table, so inference
stays one dictionary lookup per feature. On sets of ``min_tree_examples`` or more, a
second stage of boosted trees (``_train_trees``) takes the structural features and the
linear score (out of fold) and catches interactions a linear model cannot; an ordinal
head on its out-of-fold output sets the cutpoints. Thresholds are chosen on out-of-fold
predictions (folds by group) to meet a top-tier recall and an under-routing limit.

Everything is deterministic: same data, same options -> byte-identical model file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Re-exported: the CLI takes ``train`` and ``calibrate`` from this module.
from ._calibrate import Calibration, calibrate  # noqa: F401
from ._data import Request
from ._datasets import group_of, load_labeled, split_requests
from ._exceptions import ConfigError, DataFileError
from ._features import extract
from ._local import MODEL_FORMAT, _sigmoid, linear_z, load_model
from ._messages import parse_messages

DEFAULT_TIERS = ("simple", "moderate", "complex")

# The hand-designed difficulty prior, in logits per tier step. Kinds of task that are
# hard for a cheap model whatever the topic: proofs, math, multi-step reasoning, code,
# system design; lookups, greetings and rewrites are easy whatever their length.
PRIOR: dict[str, float] = {
    "f:proof": 1.5, "f:math": 0.8, "f:reasoning": 1.0, "f:design": 1.0, "f:scale": 0.6,
    "f:hard_debug": 1.0, "f:code": 0.6, "f:analysis": 0.4, "f:domain": 0.3,
    "f:constraint": 0.4, "f:multi_step": 0.3, "f:lookup": -0.5, "f:greet": -1.5,
    "f:transform": -0.8, "f:support": -0.5, "s:equation": 0.5, "s:math_sym": 0.6,
    "s:numbers": 0.3, "s:code_fence": 0.5, "s:code_lines": 0.3, "s:trace": 0.3,
    "s:len": 1.0, "s:clauses": 0.3, "c:proof": 0.5, "c:design": 0.5, "c:scale": 0.3,
    "c:hard_debug": 0.5, "c:code_block": 0.3,
}


@dataclass(frozen=True)
class TrainOptions:
    """Knobs of :func:`fit_model`. The defaults made the shipped model."""

    c: float = 1.0  # inverse L2 strength of the regression
    min_count: int = 2  # a word/bigram must occur in this many training requests
    word_scale: float = 0.5  # < 1 trusts words less than structure (stronger L2 on them)
    alpha: float = 0.5  # weight of the difficulty prior
    # Thresholds: the most accurate pair with top-tier recall >= recall_target and at most
    # max_under of requests below their true tier (out of fold). 0.97 recall is reachable
    # only by sending nearly everything above "simple" to the top tier (the middle tier
    # empties), so the default keeps the middle tier in use; the cascade buys the rest.
    recall_target: float = 0.90
    max_under: float = 0.05
    folds: int = 5
    precision: int = 4  # decimals kept in the file
    # Second stage (see _train_trees): boosted trees over structure and the linear z;
    # 0 trees = the linear model alone, as for sets smaller than min_tree_examples (too
    # few for trees to learn more than noise).
    trees: int = 100
    tree_depth: int = 4
    tree_rate: float = 0.1
    min_tree_examples: int = 300


@dataclass
class FitReport:
    """What training measured (out of fold on the training data, never the test split)."""

    tiers: list[str]
    examples: int
    features: int
    thresholds: list[float]
    oof: dict[str, float]
    options: dict[str, Any] = field(default_factory=dict)


def featurize(requests: Sequence[Request]) -> list[dict[str, float]]:
    return [extract(parse_messages(r.messages, r.tools)) for r in requests]


def _scaled(f: dict[str, float], word_scale: float) -> dict[str, float]:
    return {k: v * word_scale if k[0] in "wb" else v for k, v in f.items()}


@dataclass
class Head:
    """An ordinal logistic regression: ``z = bias + w.x``; ``P(y >= j) = s(z - cuts[j-1])``."""

    bias: float
    cutpoints: list[float]
    weights: dict[str, float]


def fit_head(feats: Sequence[dict[str, float]], y: Sequence[int], n_tiers: int,
             opts: TrainOptions) -> Head:
    """Proportional-odds regression, fitted as one logistic regression on stacked rows.

    Each request appears once per cutpoint j (is its tier >= j?) with an indicator for
    j, so all cutpoints share one weight per feature and the score orders every tier.
    """
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counts = Counter(k for f in feats for k in f if k[0] in "wb")
    keep = [
        {k: v for k, v in _scaled(f, opts.word_scale).items()
         if k[0] not in "wb" or counts[k] >= opts.min_count}
        for f in feats
    ]
    vec = DictVectorizer(sort=True)
    x = vec.fit_transform(keep)
    n, k = x.shape[0], n_tiers - 1
    cuts = sparse.kron(sparse.eye(k, format="csr"), np.ones((n, 1)), format="csr")[:, 1:]
    stacked = sparse.hstack([sparse.vstack([x] * k), cuts * _CUT_SCALE]).tocsr()
    target = np.concatenate([np.asarray(y) >= j for j in range(1, k + 1)]).astype(int)
    model = LogisticRegression(C=opts.c, max_iter=10_000, tol=1e-8)
    model.fit(stacked, target)
    coef = model.coef_[0]
    m = x.shape[1]
    # P(y >= j) = s(w.x + b + cut_j * scale) with cut_1 = 0: cutpoint j = -(b + ...).
    bias = float(model.intercept_[0])
    cutpoints = [0.0, *(-float(c) * _CUT_SCALE for c in coef[m:])]
    weights = {}
    for j, name in enumerate(vec.feature_names_):
        weights[name] = float(coef[j]) * (opts.word_scale if name[0] in "wb" else 1.0)
    return Head(bias, cutpoints, weights)


_CUT_SCALE = 10.0  # cutpoint indicators are scaled up so L2 barely shrinks them


def fold_prior(weights: dict[str, float], prior: dict[str, float], alpha: float
               ) -> dict[str, float]:
    """Add ``alpha * prior`` to the weights: the hand-designed difficulty, in logits."""
    out = dict(weights)
    for name, d in prior.items():
        out[name] = out.get(name, 0.0) + alpha * d
    return out


def _model(tiers: Sequence[str], linear: Head, weights: dict[str, float], ordinal: Head,
           thresholds: Sequence[float], meta: dict[str, Any], precision: int,
           stage2: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model file. ``ordinal`` gives the cutpoints: the linear head itself, or the
    calibration of the trees' output when there is a second stage."""
    def r(x: float) -> float:
        return round(x, precision) + 0.0  # + 0.0: no "-0.0" in the file

    center = (ordinal.cutpoints[0] + ordinal.cutpoints[-1]) / 2
    return {
        "format": MODEL_FORMAT,
        "tiers": list(tiers),
        "bias": r(linear.bias),
        "center": r(center),
        "cutpoints": [r(c) for c in ordinal.cutpoints],
        "thresholds": [r(t) for t in thresholds],
        "meta": meta,
        "weights": {k: r(w) for k, w in sorted(weights.items()) if r(w) != 0.0},
        **({"stage2": stage2} if stage2 is not None else {}),
    }


def _fold_of(group: str, folds: int) -> int:
    return int.from_bytes(hashlib.sha256(f"fold:{group}".encode()).digest()[:8], "big") % folds


def choose_thresholds(scores: Sequence[float], y: Sequence[int], n_tiers: int,
                      recall_target: float, max_under: float) -> tuple[list[float], dict[
                          str, float]]:
    """Thresholds that maximize accuracy with top-tier recall >= ``recall_target`` and
    under-routed share <= ``max_under``; when no pair meets both, the pair that misses
    them least (accuracy minus 2x the shortfalls)."""
    import numpy as np

    s, t = np.asarray(scores), np.asarray(y)
    grid = np.unique(np.quantile(s, np.linspace(0.005, 0.995, 120)))
    top = n_tiers - 1
    best: tuple[float, list[float], dict[str, float]] | None = None

    def consider(cuts: list[float]) -> None:
        nonlocal best
        pred = np.zeros(len(t), dtype=int)
        for c in cuts:
            pred += s >= c
        acc = float((pred == t).mean())
        under = float((pred < t).mean())
        recall = float((pred[t == top] == top).mean()) if (t == top).any() else 1.0
        miss = max(0.0, recall_target - recall) + max(0.0, under - max_under)
        value = acc - 2 * miss - (10.0 if miss > 0 else 0.0)
        if best is None or value > best[0] + 1e-12:
            best = (value, [float(c) for c in cuts],
                    {"accuracy": acc, "top_recall": recall, "under_routed": under,
                     "over_routed": float((pred > t).mean())})

    if n_tiers == 2:
        for c in grid:
            consider([c])
    elif n_tiers == 3:
        for i, lo in enumerate(grid):
            for hi in grid[i:]:
                consider([lo, hi])
    else:  # more tiers: evenly spaced quantiles of the scores, no search
        consider([float(np.quantile(s, q / n_tiers)) for q in range(1, n_tiers)])
    assert best is not None
    return best[1], best[2]


def fit_model(
    requests: Sequence[Request],
    tiers: Sequence[str] = DEFAULT_TIERS,
    opts: TrainOptions | None = None,
    prior: dict[str, float] | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], FitReport]:
    """Fit on ``requests``: out-of-fold thresholds, then the final fit on all of them."""
    opts = opts or TrainOptions()
    prior = PRIOR if prior is None else prior
    _require_training_extra()
    rank = {t: i for i, t in enumerate(tiers)}
    for r in requests:
        if r.label not in rank:
            raise DataFileError("labeled set", r.line, f"label {r.label!r} is not one of {tiers}")
    if len({r.label for r in requests}) < 2:
        raise DataFileError("labeled set", None, "needs requests of at least two tiers")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # one thread: the same data gives the same bytes
        return _fit(requests, tiers, opts, prior, meta, rank)


def _require_training_extra() -> None:
    try:
        import scipy  # noqa: F401
        import sklearn  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ModuleNotFoundError as e:
        raise ConfigError(f"training needs {e.name}, which is not installed: "
                          "pip install 'smart-router[train]'") from None


def _fit(requests: Sequence[Request], tiers: Sequence[str], opts: TrainOptions,
         prior: dict[str, float], meta: dict[str, Any] | None, rank: dict[str, int]
         ) -> tuple[dict[str, Any], FitReport]:
    feats = featurize(requests)
    y = [rank[str(r.label)] for r in requests]
    n_tiers = len(tiers)
    folds = [_fold_of(group_of(r), opts.folds) for r in requests]
    splits = [([i for i in range(len(y)) if folds[i] != k],
               [i for i in range(len(y)) if folds[i] == k]) for k in range(opts.folds)]
    splits = [(tr, te) for tr, te in splits if te and len({y[i] for i in tr}) >= 2]
    # Out of fold: the linear z of each request from a model that never saw its group.
    z_oof = [0.0] * len(y)
    for tr, te in splits:
        h = fit_head([feats[i] for i in tr], [y[i] for i in tr], n_tiers, opts)
        w = fold_prior(h.weights, prior, opts.alpha)
        for i in te:
            z_oof[i] = linear_z(h.bias, w, feats[i])
    linear = fit_head(feats, y, n_tiers, opts)
    ordinal, stage2, final_z = linear, None, z_oof
    if opts.trees > 0 and len(y) >= opts.min_tree_examples:
        ordinal, stage2, final_z = _fit_stage2(feats, y, z_oof, splits, n_tiers, opts)
    center = (ordinal.cutpoints[0] + ordinal.cutpoints[-1]) / 2
    oof_scores = [_sigmoid(z - center) for z in final_z]
    thresholds, oof = choose_thresholds(oof_scores, y, n_tiers, opts.recall_target,
                                        opts.max_under)
    info = {"examples": len(y), "options": asdict(opts), "prior": dict(sorted(prior.items())),
            "oof": {k: round(v, 4) for k, v in oof.items()}, **(meta or {})}
    if stage2 is not None:  # the trees are reproducible only with the same release
        from importlib.metadata import version

        info["scikit_learn"] = version("scikit-learn")
    model = _model(tiers, linear, fold_prior(linear.weights, prior, opts.alpha), ordinal,
                   thresholds, info, opts.precision, stage2)
    report = FitReport(list(tiers), len(y), len(model["weights"]), model["thresholds"], oof,
                       asdict(opts))
    return model, report


def _fit_stage2(feats: Sequence[dict[str, float]], y: Sequence[int], z_oof: Sequence[float],
                splits: Sequence[tuple[list[int], list[int]]], n_tiers: int,
                opts: TrainOptions) -> tuple[Head, dict[str, Any], list[float]]:
    """Trees on (structure, out-of-fold linear z) -> tier; then an ordinal head on their
    out-of-fold output gives the cutpoints. Returns (that head, stage2, final z oof)."""
    from . import _train_trees as tt

    inputs = tt.dense_inputs(feats)
    # Rounded: the trees' split points on z must not depend on the last bits of sums.
    x = tt.rows(feats, [round(z, 6) for z in z_oof], inputs)
    raw_oof = [0.0] * len(y)
    for tr, te in splits:
        est = tt.fit_trees([x[i] for i in tr], [y[i] for i in tr], opts.trees,
                           opts.tree_depth, opts.tree_rate)
        for i, v in zip(te, tt.predict(est, [x[i] for i in te]), strict=True):
            raw_oof[i] = v
    cal = fit_head([{"r": v} for v in raw_oof], y, n_tiers, opts)
    scale = cal.weights.get("r", 0.0)
    est = tt.fit_trees(x, y, opts.trees, opts.tree_depth, opts.tree_rate)
    stage2 = tt.export_trees(est, inputs, cal.bias, scale, opts.precision)
    tt.check_export(stage2, est, x)
    return cal, stage2, [cal.bias + scale * v for v in raw_oof]


def write_model(model: dict[str, Any], path: str | Path) -> Path:
    """Write deterministically (sorted keys, fixed separators) and check it loads."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(model, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                 + "\n", encoding="utf-8")
    load_model.cache_clear()
    load_model(str(p))
    return p


def train(
    labeled_path: str | Path | Sequence[str | Path],
    out_path: str | Path,
    *,
    tiers: Sequence[str] | None = None,
    holdout: bool = False,
    options: TrainOptions | None = None,
) -> FitReport:
    """``smart-router train``: fit a model on a labeled JSONL file and write it.

    ``tiers``: the tier names, cheapest first (default: simple, moderate, complex; the
    labels must use them). ``holdout``: train on the ~75% train split only (by ``group``,
    see ``_datasets.split_of``) so the rest can be evaluated honestly. The difficulty
    prior is the shipped model's, so a small labeled set still learns from structure.
    """
    requests = load_labeled(labeled_path)
    if holdout:
        requests = split_requests(requests)[0]
    prior = shipped_prior()
    model, report = fit_model(requests, tuple(tiers or DEFAULT_TIERS), options, prior,
                              {"trained_on": _describe(labeled_path, holdout)})
    write_model(model, out_path)
    return report


def shipped_prior() -> dict[str, float]:
    """The difficulty prior stored in the shipped model (``PRIOR`` if it has none)."""
    try:
        prior = load_model(None).meta.get("prior")
    except Exception:  # no shipped model yet (while building it)
        prior = None
    return {str(k): float(v) for k, v in prior.items()} if isinstance(prior, dict) else PRIOR


def _describe(paths: str | Path | Sequence[str | Path], holdout: bool) -> list[str]:
    files = [paths] if isinstance(paths, (str, Path)) else list(paths)
    out = []
    for f in files:
        digest = hashlib.sha256(Path(f).read_bytes()).hexdigest()[:16]
        out.append(f"{Path(f).name} sha256:{digest}" + (" (train split)" if holdout else ""))
    return out


