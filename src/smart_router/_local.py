"""The learned local classifier: a small model over ``_features``, pure Python.

The model is a JSON file (``data/local_classifier.json`` ships in the package; train your
own with ``smart-router train``): an ordinal logistic regression. Per feature it holds
one weight; ``z = bias + sum(weight * value)`` is the request's difficulty, and
``P(tier >= j) = sigmoid(z - cutpoints[j-1])``. An optional second stage (``stage2``, a
small boosted-tree ensemble over the structural features and that linear ``z``) catches
what a linear model cannot, such as code *and* scale together; it replaces ``z`` with
``offset + scale * (base + sum of tree leaves)``, on the same ordinal scale. The score
is ``sigmoid(z - center)``, so it is monotone in ``z`` and the router's thresholds cut it
into tiers. A file is read once per process, on first use, and shared by every
classifier that names it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._classifiers import Assessment, Classifier, register_classifier
from ._exceptions import ConfigError
from ._features import extract
from ._messages import Conversation

MODEL_FORMAT = "smart-router-local-classifier/1"
DEFAULT_MODEL = "local_classifier.json"
# Human-readable names of the features that may appear in reasons.
_SIGNALS = {
    "f:proof": "proof", "f:math": "math", "f:reasoning": "reasoning", "f:design": "design",
    "f:scale": "scale/distributed", "f:hard_debug": "hard debugging", "f:code": "code",
    "f:analysis": "analysis", "f:domain": "expert domain", "f:constraint": "constraints",
    "f:multi_step": "multi-step", "f:explain": "explanation", "f:write": "writing",
    "f:lookup": "lookup", "f:greet": "greeting", "f:transform": "rewrite/translate",
    "f:support": "account/support", "s:code_fence": "code block", "s:trace": "error trace",
    "s:math_sym": "math notation", "s:equation": "equations", "s:long": "long request",
    "s:clauses": "many requirements", "s:tools": "tools", "s:followup": "follow-up",
    "s:payload": "pasted material", "s:short": "short ask",
}


@dataclass(frozen=True)
class LocalModel:
    """A loaded model file."""

    tiers: tuple[str, ...]
    bias: float
    center: float
    cutpoints: tuple[float, ...]
    thresholds: tuple[float, ...]
    weights: dict[str, float]
    source: str
    meta: dict[str, Any]
    stage2: Stage2 | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str) -> LocalModel:
        def bad(why: str) -> ConfigError:
            return ConfigError(f"classifier model {source} is not a smart-router model: {why}")

        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise bad(f"expected format {MODEL_FORMAT!r}")
        try:
            tiers = tuple(str(t) for t in data["tiers"])
            cutpoints = tuple(float(c) for c in data["cutpoints"])
            thresholds = tuple(float(t) for t in data["thresholds"])
            bias, center = float(data["bias"]), float(data["center"])
            weights = {str(k): float(v) for k, v in data["weights"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise bad(f"missing or malformed field ({e})") from None
        k = len(tiers) - 1
        if k < 1 or len(cutpoints) != k or len(thresholds) != k:
            raise bad("tiers, cutpoints and thresholds disagree in length")
        if list(thresholds) != sorted(thresholds) or not all(0 <= t <= 1 for t in thresholds):
            raise bad("thresholds must rise and lie in [0, 1]")
        meta = data.get("meta")
        stage2 = None
        if data.get("stage2") is not None:
            try:
                stage2 = Stage2.from_dict(data["stage2"])
            except (KeyError, TypeError, ValueError, IndexError) as e:
                raise bad(f"malformed stage2 ({e})") from None
        return cls(tiers, bias, center, cutpoints, thresholds, weights, source,
                   dict(meta) if isinstance(meta, dict) else {}, stage2)

    def linear_z(self, features: dict[str, float]) -> float:
        return linear_z(self.bias, self.weights, features)

    def z(self, features: dict[str, float]) -> float:
        z = self.linear_z(features)
        return z if self.stage2 is None else self.stage2.z(features, z)

    def score(self, z: float) -> float:
        return _sigmoid(z - self.center)

    def probabilities(self, z: float) -> list[float]:
        """P(true tier = i) for each tier, from the ordinal model's cutpoints."""
        above = [1.0, *(_sigmoid(z - c) for c in self.cutpoints), 0.0]
        return [max(0.0, above[i] - above[i + 1]) for i in range(len(self.tiers))]


@dataclass(frozen=True)
class Stage2:
    """Boosted regression trees over named features plus the linear ``z`` (input "z").

    Each tree is five parallel lists (feature index, threshold, left, right, leaf value);
    feature index -1 marks a leaf. A value ``<= threshold`` goes left, as in scikit-learn.
    """

    inputs: tuple[str, ...]
    base: float
    offset: float
    scale: float
    trees: tuple[tuple[list[int], list[float], list[int], list[int], list[float]], ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stage2:
        trees = tuple((list(map(int, t[0])), list(map(float, t[1])), list(map(int, t[2])),
                       list(map(int, t[3])), list(map(float, t[4]))) for t in data["trees"])
        inputs = tuple(str(n) for n in data["inputs"])
        for feat, thr, left, right, value in trees:
            n = len(feat)
            if not n or not (len(thr) == len(left) == len(right) == len(value) == n) or any(
                    f >= len(inputs) or (f >= 0 and not (i < a < n and i < b < n))
                    for i, (f, a, b) in enumerate(zip(feat, left, right, strict=True))):
                raise ValueError("a tree's node lists disagree or point backwards")
        return cls(inputs, float(data["base"]), float(data["offset"]), float(data["scale"]),
                   trees)

    def raw(self, x: Sequence[float]) -> float:
        total = self.base
        for feat, thr, left, right, value in self.trees:
            i = 0
            while feat[i] >= 0:  # children always come after their parent: no cycles
                i = left[i] if x[feat[i]] <= thr[i] else right[i]
            total += value[i]
        return total

    def z(self, features: dict[str, float], linear: float) -> float:
        return self.offset + self.scale * self.raw(stage2_row(self.inputs, features, linear))


def linear_z(bias: float, weights: dict[str, float], features: dict[str, float]) -> float:
    get = weights.get
    return bias + sum(get(name, 0.0) * value for name, value in features.items())


def stage2_row(inputs: Sequence[str], features: dict[str, float], linear: float
               ) -> list[float]:
    """The trees' input vector: each named feature, and the linear z where "z" stands."""
    get = features.get
    return [linear if name == "z" else get(name, 0.0) for name in inputs]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def default_model_path() -> Path:
    return Path(str(resources.files("smart_router") / "data" / DEFAULT_MODEL))


@cache
def load_model(path: str | None = None) -> LocalModel:
    """The model at ``path`` (default: the shipped one), read once per process."""
    p = Path(path) if path else default_model_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"classifier.model: cannot read {p}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"classifier.model: {p} is not valid JSON ({e.msg})") from None
    return LocalModel.from_dict(data, str(p))


def tier_index(score: float, thresholds: Sequence[float]) -> int:
    return sum(score >= t for t in thresholds)


def tier_confidence(probabilities: Sequence[float], score: float,
                    thresholds: Sequence[float]) -> float:
    """The model's probability that the tier the thresholds pick is the true one (its
    largest tier probability when the router has another number of tiers)."""
    if len(thresholds) != len(probabilities) - 1:
        return max(probabilities)
    return probabilities[tier_index(score, thresholds)]


@register_classifier("local")
class LocalClassifier(Classifier):
    """The learned default: free, offline, well under a millisecond per request.

    Options (``classifier:`` in the config): ``model`` (path of a model file written by
    ``smart-router train``; default: the one shipped in the package).
    """

    def __init__(self, model: str | None = None) -> None:
        self.model_path = str(model) if model else None
        self._bound: tuple[float, ...] | None = None

    @property
    def model(self) -> LocalModel:
        return load_model(self.model_path)

    def thresholds_for(self, n_tiers: int) -> list[float]:
        m = self.model
        if n_tiers == len(m.tiers):
            return list(m.thresholds)
        return super().thresholds_for(n_tiers)

    def bind(self, tier_names: Sequence[str], thresholds: Sequence[float]) -> None:
        self._bound = tuple(thresholds)

    def assess(self, conversation: Conversation) -> tuple[float, list[float], dict[str, float]]:
        """(score, tier probabilities, features) of one request."""
        m = self.model
        features = extract(conversation)
        z = m.z(features)
        return m.score(z), m.probabilities(z), features

    def score(self, conversation: Conversation) -> float:
        return self.assess(conversation)[0]

    def confidence(self, score: float, probabilities: Sequence[float]) -> float:
        thresholds = self._bound if self._bound is not None else self.model.thresholds
        return tier_confidence(probabilities, score, thresholds)

    def classify(self, conversation: Conversation) -> Assessment:
        s, probs, features = self.assess(conversation)
        conf = self.confidence(s, probs)
        reason = f"local classifier scored {s:.2f} (confidence {conf:.2f})"
        signals = self._signals(features)
        if signals:
            reason += "; signals: " + ", ".join(signals)
        return Assessment(s, (reason,), 0.0, {"confidence": conf,
                                              "probabilities": [round(p, 4) for p in probs]})

    def _signals(self, features: dict[str, float], limit: int = 3) -> list[str]:
        """The structural features that pushed hardest toward the top tier."""
        weights = self.model.weights
        pushes = []
        for name, value in features.items():
            label = _SIGNALS.get(name)
            push = weights.get(name, 0.0) * value
            if label is not None and push > 0.2:
                pushes.append((push, label))
        pushes.sort(reverse=True)
        return [label for _, label in pushes[:limit]]
