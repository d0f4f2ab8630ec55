"""The local classifier's second stage: boosted regression trees (training side).

The linear model adds up evidence one feature at a time; it cannot say "code *and* a
scale requirement together mean complex" or "a long paste with a one-line ask is easy".
A small ensemble of shallow trees over the structural features and the linear score
(out of fold, so it learns how far to trust the words) can. scikit-learn fits it; the
trees are exported to plain lists that ``_local.Stage2`` walks in pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._local import Stage2, stage2_row

# Structural, task-family and context features (``s:``, ``f:``, ``c:``), not words.
DENSE_PREFIXES = ("s:", "f:", "c:")


def dense_inputs(feats: Sequence[dict[str, float]]) -> list[str]:
    """The tree inputs: every non-word feature seen in training, then the linear ``z``."""
    return [*sorted({k for f in feats for k in f if k.startswith(DENSE_PREFIXES)}), "z"]


def rows(feats: Sequence[dict[str, float]], z: Sequence[float], inputs: Sequence[str]
         ) -> list[list[float]]:
    return [stage2_row(inputs, f, zi) for f, zi in zip(feats, z, strict=True)]


def fit_trees(x: Sequence[Sequence[float]], y: Sequence[int], n_trees: int, depth: int,
              rate: float) -> Any:
    """Squared-error boosting on the tier index (``fit_model`` runs it on one thread, so
    the same data gives the same trees)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        max_iter=n_trees, max_depth=depth, learning_rate=rate, l2_regularization=1.0,
        early_stopping=False, random_state=0)
    return model.fit(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def predict(model: Any, x: Sequence[Sequence[float]]) -> list[float]:
    import numpy as np

    return [float(v) for v in model.predict(np.asarray(x, dtype=float))]


def export_trees(model: Any, inputs: Sequence[str], offset: float, scale: float,
                 precision: int) -> dict[str, Any]:
    """The ``stage2`` section of a model file; checked against scikit-learn's own output."""
    digits = precision + 2  # leaves are small. Thresholds stay exact: they can equal a
    # feature value, and "<=" must decide the same way here as in scikit-learn.

    def r(v: float, d: int) -> float:
        return round(float(v), d) + 0.0

    trees = []
    for (predictor,) in model._predictors:  # one regressor per boosting iteration
        nodes = predictor.nodes
        leaf = [bool(n["is_leaf"]) for n in nodes]
        trees.append([
            [-1 if lf else int(n["feature_idx"]) for n, lf in zip(nodes, leaf, strict=True)],
            [0.0 if lf else float(n["num_threshold"]) for n, lf in zip(nodes, leaf, strict=True)],
            [0 if lf else int(n["left"]) for n, lf in zip(nodes, leaf, strict=True)],
            [0 if lf else int(n["right"]) for n, lf in zip(nodes, leaf, strict=True)],
            [r(n["value"], digits) if lf else 0.0 for n, lf in zip(nodes, leaf, strict=True)],
        ])
    base = float(model._baseline_prediction.ravel()[0])
    return {"inputs": list(inputs), "base": r(base, digits), "offset": r(offset, precision),
            "scale": r(scale, precision), "trees": trees}


def check_export(stage2: dict[str, Any], model: Any, x: Sequence[Sequence[float]]) -> None:
    """The exported trees must predict what scikit-learn predicts (up to rounding)."""
    mine = Stage2.from_dict(stage2)
    theirs = predict(model, x)
    worst = max((abs(mine.raw(row) - t) for row, t in zip(x, theirs, strict=True)),
                default=0.0)
    if worst > 1e-3:
        raise RuntimeError(f"exported trees disagree with scikit-learn by {worst:.2g}; "
                           "this scikit-learn version stores trees differently")
