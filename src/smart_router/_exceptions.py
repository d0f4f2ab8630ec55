"""Errors raised by smart-router.

Every error a caller can cause is a ``ValueError`` subclass, so code that already
guards against bad input keeps working; runtime failures of the models are not.

Exception tree::

    SmartRouterError
    ├── ConfigError (ValueError) ........ bad config: raised at load time, names the field
    ├── InvalidMessagesError (ValueError)  messages/tools not in OpenAI chat format
    ├── DataFileError (ValueError) ...... a JSONL file for eval/simulate/train is malformed
    ├── BudgetExceededError ............. a budget is spent and the policy is to refuse
    └── AllModelsFailedError ............ every model of a request failed; lists each attempt
"""

from __future__ import annotations

from collections.abc import Sequence


class SmartRouterError(Exception):
    """Base class of every error smart-router raises on purpose."""


class ConfigError(SmartRouterError, ValueError):
    """The configuration is invalid. Raised when it is loaded, never mid-request."""


class InvalidMessagesError(SmartRouterError, ValueError):
    """The messages or tools of a request are not valid OpenAI chat format."""


class DataFileError(SmartRouterError, ValueError):
    """A JSONL input file is malformed; the message names the file and line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class BudgetExceededError(SmartRouterError):
    """A configured budget is spent and its policy is to refuse new requests."""


class AllModelsFailedError(SmartRouterError):
    """Every model tried for one request failed.

    ``attempts`` holds one ``(model, error message)`` pair per model, in call order.
    """

    def __init__(self, attempts: Sequence[tuple[str, str]]) -> None:
        self.attempts = list(attempts)
        lines = "; ".join(f"{model}: {error}" for model, error in self.attempts)
        super().__init__(f"all {len(self.attempts)} model(s) failed: {lines}")
