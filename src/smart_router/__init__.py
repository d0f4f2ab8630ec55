"""smart-router: send each LLM chat request to the cheapest tier that can answer it.

The names below load on first use, so ``import smart_router`` stays cheap and
never imports LiteLLM or LangChain. The adapters are submodules:
``smart_router.langchain`` and ``smart_router.litellm``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._classifiers import (
        CLASSIFIERS,
        Assessment,
        Classifier,
        HeuristicClassifier,
        register_classifier,
    )
    from ._config import RouterConfig, load_config
    from ._cost import Usage
    from ._exceptions import (
        AllModelsFailedError,
        BudgetExceededError,
        ConfigError,
        DataFileError,
        InvalidMessagesError,
        SmartRouterError,
    )
    from ._llm_classifier import CascadeClassifier, LLMClassifier
    from ._local import LocalClassifier
    from ._messages import Conversation, parse_messages
    from ._router import RouteDecision, SmartRouter

__version__ = "0.1.0"

_EXPORTS = {
    "AllModelsFailedError": "._exceptions",
    "Assessment": "._classifiers",
    "BudgetExceededError": "._exceptions",
    "CLASSIFIERS": "._classifiers",
    "CascadeClassifier": "._llm_classifier",
    "Classifier": "._classifiers",
    "ConfigError": "._exceptions",
    "Conversation": "._messages",
    "DataFileError": "._exceptions",
    "HeuristicClassifier": "._classifiers",
    "InvalidMessagesError": "._exceptions",
    "LLMClassifier": "._llm_classifier",
    "LocalClassifier": "._local",
    "RouteDecision": "._router",
    "RouterConfig": "._config",
    "SmartRouter": "._router",
    "SmartRouterError": "._exceptions",
    "Usage": "._cost",
    "load_config": "._config",
    "parse_messages": "._messages",
    "register_classifier": "._classifiers",
}

__all__ = [
    "CLASSIFIERS",
    "AllModelsFailedError",
    "Assessment",
    "BudgetExceededError",
    "CascadeClassifier",
    "Classifier",
    "ConfigError",
    "Conversation",
    "DataFileError",
    "HeuristicClassifier",
    "InvalidMessagesError",
    "LLMClassifier",
    "LocalClassifier",
    "RouteDecision",
    "RouterConfig",
    "SmartRouter",
    "SmartRouterError",
    "Usage",
    "__version__",
    "load_config",
    "parse_messages",
    "register_classifier",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smart_router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
