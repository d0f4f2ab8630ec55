"""The public surface: names, laziness, and import cost."""

from __future__ import annotations

import subprocess
import sys

import smart_router


def test_all_is_sorted_and_complete() -> None:
    # Same ordering rule as ruff's RUF022 (constants, then classes, then functions).
    names = smart_router.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(smart_router, name) is not None, name
    public = {n for n in dir(smart_router) if not n.startswith("_")}
    assert public == {n for n in names if not n.startswith("_")}


def test_contract_names_are_exported() -> None:
    for name in ("SmartRouter", "RouteDecision", "ConfigError", "InvalidMessagesError"):
        assert name in smart_router.__all__


def test_errors_are_value_errors() -> None:
    for name in ("ConfigError", "InvalidMessagesError", "DataFileError"):
        err = getattr(smart_router, name)
        assert issubclass(err, ValueError) and issubclass(err, smart_router.SmartRouterError)


def test_unknown_attribute_raises() -> None:
    try:
        smart_router.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as e:
        assert "NoSuchThing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout
    return set(out.split())


def test_import_does_not_load_litellm_or_langchain() -> None:
    loaded = _modules_after("import smart_router")
    assert "litellm" not in loaded
    assert "langchain_core" not in loaded


def test_routing_does_not_load_litellm_or_langchain() -> None:
    loaded = _modules_after(
        "from smart_router import SmartRouter\n"
        "SmartRouter().route([{'role': 'user', 'content': 'hello'}])"
    )
    assert "litellm" not in loaded
    assert "langchain_core" not in loaded


def test_cli_route_does_not_load_litellm() -> None:
    loaded = _modules_after(
        "import contextlib, io\n"
        "from smart_router._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['route', 'hello'])"
    )
    assert "litellm" not in loaded
