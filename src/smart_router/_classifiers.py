"""Classifiers score how hard a request is; the router turns scores into tiers.

A classifier implements one method, ``score(conversation) -> float`` in [0, 1]
(higher = harder). Thresholds and tier selection live in the router, so any
classifier works with any tier table. ``CLASSIFIERS`` maps the config's
``classifier.type`` to a class; entries given as ``"module:Class"`` strings are
imported on first use, so heavy classifiers cost nothing until chosen.
"""

from __future__ import annotations

import importlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ._exceptions import ConfigError
from ._messages import Conversation


@dataclass(frozen=True)
class Assessment:
    """A classifier's verdict: the score plus why, and what classifying cost."""

    score: float
    reasons: tuple[str, ...] = ()
    cost_usd: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Classifier(ABC):
    """Scores requests. Subclasses implement ``score``; the rest has defaults."""

    name: ClassVar[str] = "classifier"
    # Minimum scores of the 2nd, 3rd, ... tier when the config sets none;
    # evenly spaced for other tier counts.
    default_thresholds: ClassVar[tuple[float, ...]] = (1 / 3, 2 / 3)

    @abstractmethod
    def score(self, conversation: Conversation) -> float:
        """Difficulty of the request in [0, 1]."""

    def classify(self, conversation: Conversation) -> Assessment:
        s = min(1.0, max(0.0, float(self.score(conversation))))
        return Assessment(s, (f"{self.name} classifier scored {s:.2f}",))

    async def aclassify(self, conversation: Conversation) -> Assessment:
        return self.classify(conversation)

    def bind(self, tier_names: Sequence[str], thresholds: Sequence[float]) -> None:
        """Called once by the router with its tier names and score thresholds.

        Classifiers that answer with a tier (the LLM classifier) or judge their own
        confidence per tier (the cascade) need them; the default ignores them.
        """
        return None

    def thresholds_for(self, n_tiers: int) -> list[float]:
        if n_tiers - 1 == len(self.default_thresholds):
            return list(self.default_thresholds)
        return [i / n_tiers for i in range(1, n_tiers)]


C = TypeVar("C", bound=type[Classifier])
CLASSIFIERS: dict[str, type[Classifier] | str] = {}


def register_classifier(name: str) -> Callable[[C], C]:
    """Class decorator: make a classifier available as ``classifier: {type: name}``."""

    def deco(cls: C) -> C:
        cls.name = name
        CLASSIFIERS[name] = cls
        return cls

    return deco


def classifier_class(name: str) -> type[Classifier]:
    entry = CLASSIFIERS.get(name)
    if entry is None:
        raise ConfigError(
            f"classifier.type: unknown classifier {name!r}; choose one of {sorted(CLASSIFIERS)}"
        )
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module, __package__), attr)
        assert isinstance(entry, type) and issubclass(entry, Classifier)
        CLASSIFIERS[name] = entry
    return entry


def build_classifier(name: str, options: dict[str, Any]) -> Classifier:
    cls = classifier_class(name)
    try:
        return cls(**options)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"classifier: bad options for {name!r}: {e}") from None


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Weighted cue families. Weights are in log-odds units of "needs a stronger tier".
_CUES: tuple[tuple[re.Pattern[str], float], ...] = (
    (_words(r"\b(design|architect)\w*\b.{0,60}\b(system|service|platform|pipeline|scal\w+)"), 2.2),
    (_words(r"\b(distributed|concurren\w*|race condition|deadlock|consensus|lock-free|"
            r"multi-region|fault[- ]toleran\w*|high availability|sharding|exactly-once)\b"), 1.6),
    (_words(r"\b(prove|proof|theorem|lemma|derive|derivation|rigorous\w*|formally)\b"), 1.8),
    (_words(r"\b(trade-?offs?|threat model|security (review|audit)|vulnerabilit\w+|"
            r"at scale|scalab\w+|throughput|latency budget|migration (plan|strategy))\b"), 1.2),
    (_words(r"\b(in-depth|comprehensive|end-to-end|step[- ]by[- ]step|detailed analysis|"
            r"root cause|optimi[sz]e|complexity analysis)\b"), 0.8),
    (_words(r"\b(implement|refactor|debug|traceback|exception|stack trace|unit tests?|"
            r"function|class|script|regex|sql|query|schema|api|endpoint)\b"), 0.9),
    (_words(r"\b(explain|compare|difference between|pros and cons|summari[sz]e|analy[sz]e|"
            r"review|draft|rewrite .{0,20} (to|for)|plan|strategy|why does)\b"), 0.7),
)
_EASY = _words(
    r"^\s*(hi|hello|hey|thanks|thank you|ok|okay|good (morning|night)|what is|what's|who is|"
    r"when (is|was|did)|where is|define|spell|translate|how do i (reset|change|cancel|update)|"
    r"how many|convert)\b"
)
_CODE = re.compile(r"```|^\s{4,}\S|\bdef |\bclass |\breturn\b|;\s*$|[{}]\s*$", re.MULTILINE)
_MATH = re.compile(r"[∑∫√≤≥≡∀∃]|\\frac|\\sum|\bmod\b|\^\d|\d\s*[*/^]\s*\d")
_LIST = re.compile(r"^\s*(\d+[.)]|[-*•])\s+", re.MULTILINE)


@register_classifier("heuristic")
class HeuristicClassifier(Classifier):
    """Keyword, structure and length cues. Free, fast, and only a baseline."""

    default_thresholds = (0.40, 0.75)

    def score(self, conversation: Conversation) -> float:
        text = conversation.last_user_text
        context = conversation.task_text
        words = len(text.split())
        z = -1.6 + 0.35 * math.log1p(words)
        z += sum(w for pattern, w in _CUES if pattern.search(text))
        if context is not text and len(conversation.user_texts) > 1:
            z += 0.5 * sum(w for pattern, w in _CUES[:4] if pattern.search(context))
        if _CODE.search(text):
            z += 0.6
        if _MATH.search(text):
            z += 0.6
        if len(_LIST.findall(text)) >= 3:
            z += 0.5
        if text.count("?") >= 3:
            z += 0.3
        if _EASY.search(text) and words < 25:
            z -= 1.2
        return 1.0 / (1.0 + math.exp(-z))


# Defined in their own modules, imported when chosen.
CLASSIFIERS.setdefault("local", "._local:LocalClassifier")
CLASSIFIERS.setdefault("llm", "._llm_classifier:LLMClassifier")
CLASSIFIERS.setdefault("cascade", "._llm_classifier:CascadeClassifier")
