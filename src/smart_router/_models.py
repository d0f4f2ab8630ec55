"""Model facts (prices, context window, vision) without importing LiteLLM.

LiteLLM ships its price map as a JSON file inside the wheel. Reading that file
directly costs ~40 ms where ``import litellm`` costs seconds, so config
validation and ``smart-router route`` use it; real request costs still go
through LiteLLM's own cost functions (see ``_cost.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_PRICE_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class ModelInfo:
    """What routing needs to know about one model."""

    input_cost_per_token: float
    output_cost_per_token: float
    max_input_tokens: int | None
    supports_vision: bool
    supports_tools: bool

    @property
    def priced(self) -> bool:
        return self.input_cost_per_token > 0 or self.output_cost_per_token > 0


def litellm_package_dir() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("litellm is not installed: pip install smart-router")
    return Path(spec.origin).parent


@cache
def bundled_price_map() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(
        (litellm_package_dir() / _PRICE_FILE).read_text(encoding="utf-8")
    )
    data.pop("sample_spec", None)
    return data


def lookup(model: str) -> dict[str, Any] | None:
    """The bundled price-map entry for ``model`` the way LiteLLM resolves it.

    LiteLLM accepts ``provider/model`` where the map may key the bare name
    (``anthropic/claude-opus-4-5`` -> ``claude-opus-4-5``), so try both.
    """
    prices = bundled_price_map()
    if model in prices:
        return prices[model]
    provider, _, bare = model.partition("/")
    entry = prices.get(bare) if bare else None
    if entry is not None and entry.get("litellm_provider", "").startswith(provider):
        return entry
    return None


def model_info(model: str, overrides: dict[str, Any] | None = None) -> ModelInfo | None:
    """Merge the bundled entry with config overrides; None if neither knows the model."""
    entry = dict(lookup(model) or {})
    entry.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if "input_cost_per_token" not in entry and "output_cost_per_token" not in entry:
        return None
    return ModelInfo(
        input_cost_per_token=float(entry.get("input_cost_per_token") or 0.0),
        output_cost_per_token=float(entry.get("output_cost_per_token") or 0.0),
        max_input_tokens=_int_or_none(entry.get("max_input_tokens")),
        supports_vision=bool(entry.get("supports_vision")),
        supports_tools=bool(entry.get("supports_function_calling", True)),
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def use_bundled_tiktoken() -> None:
    """Point tiktoken at LiteLLM's bundled encodings so nothing is downloaded."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(
            litellm_package_dir() / "litellm_core_utils" / "tokenizers"
        )
