"""Cost of a request: real usage priced with LiteLLM's cost functions.

Prices come from LiteLLM's price map unless the config overrides them. Input and
output tokens are priced separately (output is 2-5x dearer on most models).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config import RouterConfig

# Answer tokens assumed before a call (or for traffic without usage): the mean
# response length of real chat traffic in LMSYS-Chat-1M (214.5 tokens). The same for
# every request, so an estimate never depends on the routing it is used to judge.
DEFAULT_OUTPUT_TOKENS = 215


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def from_openai(cls, usage: Any) -> Usage:
        """Read an OpenAI/LiteLLM usage dict or object; missing fields count as 0."""

        def get(obj: Any, key: str) -> Any:
            return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)

        return cls(
            prompt_tokens=int(get(usage, "prompt_tokens") or 0),
            completion_tokens=int(get(usage, "completion_tokens") or 0),
        )


def _custom_prices(config: RouterConfig, model: str) -> dict[str, float] | None:
    mc = config.models.get(model)
    if mc is None or (mc.input_cost_per_token is None and mc.output_cost_per_token is None):
        return None
    info = config.model_info(model)
    assert info is not None  # the config validated every routable model's price
    return {
        "input_cost_per_token": info.input_cost_per_token,
        "output_cost_per_token": info.output_cost_per_token,
    }


def usage_cost(config: RouterConfig, model: str, usage: Usage) -> float:
    """USD cost of ``usage`` on ``model`` (a config model name), via LiteLLM."""
    custom = _custom_prices(config, model)
    if custom is None and config.model_info(model) is None:
        raise ValueError(f"no price for model {model!r}")
    import litellm  # deferred: seconds to import

    kwargs: dict[str, Any] = {}
    if custom is not None:
        kwargs["custom_cost_per_token"] = custom
    prompt, completion = litellm.cost_per_token(
        model=config.price_model(model),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        **kwargs,
    )
    return float(prompt) + float(completion)
