"""Bad input, fuzzed: only our own ValueError subclasses escape, each naming the problem.

Covers the message parser, the config loader (dicts and YAML files), the CLI's JSONL
readers and the CLI commands that read them. Config errors happen at load time: a
config that loads routes without ever raising a ConfigError.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from smart_router import (
    ConfigError,
    DataFileError,
    InvalidMessagesError,
    SmartRouter,
    SmartRouterError,
    load_config,
    parse_messages,
)
from smart_router._cli import main
from smart_router._data import read_requests

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# -- strategies -----------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.binary(max_size=8),
)
MESSAGE_KEYS = ["role", "content", "name", "tool_calls", "tool_call_id", "type", "text",
                "image_url", "function", "arguments", "id"]
ROLES = ["system", "developer", "user", "assistant", "tool", "function", "robot", "", "USER"]
PART_TYPES = ["text", "input_text", "image_url", "input_image", "input_audio", "file", "video"]


def json_like(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)), inner,
                            max_size=4),
        ),
        max_leaves=20,
    )


part = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(PART_TYPES)},
                          optional={"text": json_like(MESSAGE_KEYS),
                                    "image_url": json_like(MESSAGE_KEYS)}),
    json_like(MESSAGE_KEYS),
)
tool_call = st.one_of(
    st.fixed_dictionaries({"id": st.text(max_size=5), "type": st.just("function"),
                           "function": st.fixed_dictionaries(
                               {}, optional={"name": json_like(["name"]),
                                             "arguments": json_like(MESSAGE_KEYS)})}),
    json_like(MESSAGE_KEYS),
)
message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.one_of(st.sampled_from(ROLES), scalars)},
        optional={"content": st.one_of(st.text(max_size=60), st.lists(part, max_size=3),
                                       scalars),
                  "tool_calls": st.one_of(st.lists(tool_call, max_size=3), scalars),
                  "name": scalars},
    ),
    json_like(MESSAGE_KEYS),
)
messages = st.one_of(st.lists(message, max_size=5), json_like(MESSAGE_KEYS))
tools = st.one_of(st.none(), st.lists(json_like(["type", "function", "name"]), max_size=3),
                  scalars)


def assert_names_the_problem(error: Exception) -> None:
    text = str(error)
    assert isinstance(error, SmartRouterError) and isinstance(error, ValueError)
    assert len(text) > 10 and "Traceback" not in text


# -- the message parser -----------------------------------------------------------------------


@FUZZ
@given(messages, tools)
def test_parse_messages_raises_only_invalid_messages_error(msgs: Any, tls: Any) -> None:
    try:
        conv = parse_messages(msgs, tls)
    except InvalidMessagesError as e:
        assert_names_the_problem(e)
        assert "messages" in str(e) or "tools" in str(e)
    else:
        assert conv.turns >= 0 and isinstance(conv.task_text, str)


@FUZZ
@given(st.lists(message, min_size=1, max_size=4), tools)
def test_routing_fuzzed_messages(msgs: Any, tls: Any) -> None:
    """The whole route path, not only the parser, raises nothing but our caller errors."""
    try:
        d = ROUTER.route(msgs, tls)
    except InvalidMessagesError as e:
        assert_names_the_problem(e)
    else:
        assert d.tier in ROUTER.tier_names and 0.0 <= d.score <= 1.0


ROUTER = SmartRouter(ledger=False)

# -- the config loader -------------------------------------------------------------------------

CONFIG_KEYS = ["api_base", "api_key", "tiers", "models", "classifier", "policies", "ledger",
               "budgets", "model", "fallbacks", "type", "thresholds", "simple", "moderate",
               "complex", "gpt-4o", "deepseek/deepseek-chat", "input_cost_per_token",
               "output_cost_per_token", "max_input_tokens", "long_conversation_turns",
               "tools_min_tier", "default_tier", "monthly_usd", "daily_usd", "tags",
               "degrade_to", "at_limit", "path", "store_prompts", "tag", "redis_url"]
MODELS = ["gpt-4o", "gpt-4o-mini", "deepseek/deepseek-chat", "dashscope/qwen-plus",
          "anthropic/claude-opus-4-5", "made-up/model", ""]


def tier_table() -> st.SearchStrategy[Any]:
    tier = st.fixed_dictionaries(
        {"model": st.one_of(st.sampled_from(MODELS), scalars)},
        optional={"fallbacks": st.one_of(st.lists(st.sampled_from(MODELS), max_size=2),
                                         scalars)},
    )
    return st.dictionaries(st.sampled_from(["simple", "moderate", "complex", "x"]),
                           st.one_of(tier, json_like(CONFIG_KEYS)), max_size=3)


PRICED = MODELS[:5]
TIER_NAMES = ["simple", "moderate", "complex"]
limit = st.one_of(st.floats(0.01, 1e6), st.integers(-5, 100), st.none())
plausible = st.fixed_dictionaries(
    {"tiers": st.lists(st.sampled_from(PRICED), min_size=1, max_size=3).map(
        lambda ms: {TIER_NAMES[i]: {"model": m, "fallbacks": [x for x in PRICED if x != m][:1]}
                    for i, m in enumerate(ms)})},
    optional={
        "classifier": st.fixed_dictionaries({"type": st.just("heuristic")}, optional={
            "thresholds": st.dictionaries(st.sampled_from(TIER_NAMES), st.floats(-0.5, 1.5),
                                          max_size=2)}),
        "policies": st.fixed_dictionaries({}, optional={
            "long_conversation_turns": st.integers(-1, 20),
            "tools_min_tier": st.sampled_from([*TIER_NAMES, "x"]),
            "default_tier": st.sampled_from(TIER_NAMES)}),
        "budgets": st.fixed_dictionaries({}, optional={
            "monthly_usd": limit, "daily_usd": limit,
            "degrade_at": st.floats(-1, 2), "degrade_to": st.sampled_from([*TIER_NAMES, "?"]),
            "at_limit": st.sampled_from(["cheapest", "refuse", "explode"]),
            "tags": st.dictionaries(st.text(min_size=1, max_size=5),
                                    st.fixed_dictionaries({}, optional={"daily_usd": limit}),
                                    max_size=2)}),
        "ledger": st.fixed_dictionaries({}, optional={
            "tag": st.one_of(st.text(max_size=5), st.none()), "store_prompts": st.booleans(),
            "max_memory_entries": st.integers(-1, 10)}),
        "models": st.dictionaries(st.sampled_from(PRICED), st.fixed_dictionaries({}, optional={
            "input_cost_per_token": st.floats(-1e-6, 1e-4),
            "output_cost_per_token": st.floats(0, 1e-4),
            "max_input_tokens": st.integers(-10, 200_000)}), max_size=2),
        "api_key": st.sampled_from(["sk-abc", "os.environ/NOPE_KEY", ""]),
    },
)
config = st.one_of(
    plausible,
    json_like(CONFIG_KEYS),
    st.fixed_dictionaries(
        {},
        optional={
            "tiers": tier_table(),
            "models": st.dictionaries(st.sampled_from(MODELS), json_like(CONFIG_KEYS),
                                      max_size=2),
            "classifier": st.one_of(
                st.fixed_dictionaries({"type": st.sampled_from(["heuristic", "nope", ""])},
                                      optional={"thresholds": json_like(CONFIG_KEYS)}),
                json_like(CONFIG_KEYS)),
            "policies": json_like(CONFIG_KEYS),
            "budgets": json_like(CONFIG_KEYS),
            "ledger": st.one_of(st.fixed_dictionaries({}, optional={
                "tag": scalars, "store_prompts": scalars, "enabled": scalars}),
                json_like(CONFIG_KEYS)),
            "api_key": scalars,
        },
    ),
)


def check_config(data: Any) -> None:
    try:
        cfg = load_config(data)
        router = SmartRouter(cfg, ledger=False)
    except ConfigError as e:
        assert_names_the_problem(e)
        assert "config" in str(e) or "classifier" in str(e)
        event("rejected")
        return
    event("loaded")
    # Loaded: nothing about the config may fail later, at request time.
    for text in ("hello", "design a distributed system and prove it is correct " * 3):
        d = router.route([{"role": "user", "content": text}])
        assert d.model in cfg.routable_models()
        router.record(d, d.model, {"prompt_tokens": 10, "completion_tokens": 10})


@FUZZ
@given(config)
def test_load_config_raises_only_config_error(data: Any) -> None:
    check_config(data)


yaml_text = st.one_of(
    st.text(alphabet=string.printable, max_size=200),
    config.map(lambda d: yaml.safe_dump(d, allow_unicode=True) if _dumpable(d) else "{"),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)


def _dumpable(data: Any) -> bool:
    try:
        yaml.safe_dump(data)
    except yaml.YAMLError:
        return False
    return True


@FUZZ
@given(yaml_text)
def test_config_files_raise_only_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "smart_router.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except ConfigError as e:
            assert_names_the_problem(e)
            assert str(path) in str(e)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


# -- the CLI's JSONL readers -------------------------------------------------------------------

GOOD = {"messages": [{"role": "user", "content": "hello"}], "label": "simple"}
good_request = st.fixed_dictionaries(
    {"messages": st.lists(st.fixed_dictionaries({
        "role": st.sampled_from(["system", "user", "assistant", "robot"]),
        "content": st.text(max_size=80)}), min_size=1, max_size=4)},
    optional={"label": st.sampled_from(["simple", "moderate", "complex", ""]),
              "usage": st.fixed_dictionaries({"prompt_tokens": st.integers(-2, 10_000),
                                              "completion_tokens": st.integers(0, 5_000)}),
              "id": st.one_of(st.text(max_size=5), st.integers())},
).map(json.dumps)
request_line = st.one_of(
    st.just(json.dumps(GOOD)),
    good_request, good_request, good_request,
    st.fixed_dictionaries(
        {},
        optional={"messages": messages, "tools": tools, "label": st.one_of(
            st.sampled_from(["simple", "moderate", "complex", "huge"]), scalars),
            "usage": st.one_of(st.fixed_dictionaries({}, optional={
                "prompt_tokens": scalars, "completion_tokens": scalars}), scalars),
            "id": scalars},
    ).map(lambda d: json.dumps(d, default=repr)),
    json_like(MESSAGE_KEYS).map(lambda v: json.dumps(v, default=repr)),
    st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
    st.just(""),
)
jsonl = st.lists(request_line, max_size=6).map("\n".join)
raw_bytes = st.binary(max_size=80)


def write(tmp: str, content: str | bytes) -> Path:
    path = Path(tmp) / "data.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(st.one_of(jsonl, raw_bytes), st.booleans())
def test_read_requests_raises_only_data_file_error(content: str | bytes, label: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, content)
        try:
            requests = read_requests(path, require_label=label)
        except DataFileError as e:
            assert_names_the_problem(e)
            assert str(path) in str(e) and e.problem
            if e.line is not None:
                assert f"line {e.line}" in str(e)
            event("rejected")
        else:
            assert requests and all(r.line >= 1 for r in requests)
            event("read")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonl, st.sampled_from(["simulate", "eval"]))
def test_cli_commands_on_fuzzed_files(content: str, command: str) -> None:
    assume(content.strip())
    with tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, content)
        # main() turns our errors into "error:" + exit 2; anything else would raise here.
        code = main([command, str(path), "--json"])
        assert code in (0, 2)
        event(f"exit {code}")
