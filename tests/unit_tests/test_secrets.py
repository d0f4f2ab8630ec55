"""API keys (and a Redis password) never appear in logs, reprs, records, the ledger or CLI output.

Keys come from the config (literal), from the environment (``os.environ/NAME``), and
from a Redis URL. Logs are captured at DEBUG for smart_router's and LiteLLM's loggers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smart_router import SmartRouter, load_config
from smart_router._cli import main
from smart_router._ledger import SQLiteLedger
from smart_router._report import build_report

CONFIG_KEY = "gw-config-SECRET-3f9a1c"
ENV_KEY = "gw-env-SECRET-77b2e0"
MODEL_KEY = "gw-model-SECRET-51d8aa"
REDIS_PASSWORD = "redis-SECRET-pw-0c4e"
SECRETS = (CONFIG_KEY, ENV_KEY, MODEL_KEY, REDIS_PASSWORD)
LOGGERS = ("smart_router", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"
        assert secret[-8:] not in text, f"a tail of {secret!r} leaked into {where}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything smart_router and LiteLLM log, at DEBUG."""
    previous = {name: logging.getLogger(name).level for name in LOGGERS}
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)


def secret_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "api_key": CONFIG_KEY,
        "api_base": "http://127.0.0.1:9/v1",
        "models": {
            "gpt-4o": {"api_key": "os.environ/SMART_ROUTER_TEST_ENV_KEY"},
            "deepseek/deepseek-chat": {"api_key": MODEL_KEY},
        },
        "ledger": {"path": str(tmp_path / "ledger.sqlite"), "store_prompts": True,
                   "tag": "team-a"},
        "budgets": {"monthly_usd": 100},
    }


@pytest.fixture(autouse=True)
def env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMART_ROUTER_TEST_ENV_KEY", ENV_KEY)


def test_keys_are_resolved_but_never_shown(tmp_path: Path,
                                           debug_logs: pytest.LogCaptureFixture) -> None:
    cfg = load_config(secret_config(tmp_path))
    # the keys are really there for LiteLLM ...
    assert cfg.litellm_params("gpt-4o")["api_key"] == ENV_KEY
    assert cfg.litellm_params("deepseek/deepseek-chat")["api_key"] == MODEL_KEY
    assert cfg.litellm_params("dashscope/qwen-plus")["api_key"] == CONFIG_KEY
    # ... and nowhere else
    assert_clean(repr(cfg), "repr(config)")
    assert_clean(str(cfg), "str(config)")
    assert_clean(json.dumps(cfg.model_dump(mode="json")), "config.model_dump()")
    assert_clean(cfg.model_dump_json(), "config.model_dump_json()")
    assert_clean(repr(cfg.models["deepseek/deepseek-chat"]), "repr(model config)")
    router = SmartRouter(cfg)
    assert_clean(repr(router), "repr(SmartRouter)")
    assert_clean(repr(router.ledger), "repr(ledger)")
    d = router.route([{"role": "user", "content": "design a distributed system"}])
    assert_clean(repr(d) + json.dumps(d.to_dict()), "the decision")
    record = router.record(d, d.model, {"prompt_tokens": 100, "completion_tokens": 50})
    assert_clean(json.dumps(record), "the routing record")
    assert router.ledger is not None
    entries = list(router.ledger.entries())
    assert entries and entries[0].prompt  # prompts were stored (opt-in) ...
    assert_clean("".join(e.to_json() for e in entries), "ledger entries")
    report = build_report(entries, source=router.ledger.describe())
    assert_clean(json.dumps(report), "the report")
    assert_clean(debug_logs.text, "DEBUG logs")
    router.ledger.close()
    assert_clean((tmp_path / "ledger.sqlite").read_bytes().decode("latin-1"), "the ledger file")


def test_redis_password_stays_out_of_reprs_and_logs(debug_logs: pytest.LogCaptureFixture) -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:9/0"  # nothing listens on port 9
    router = SmartRouter({"ledger": {"redis_url": url, "redis_retry_seconds": 60}})
    assert_clean(repr(router.config) + repr(router.config.ledger), "repr(config)")
    assert router.ledger is not None
    assert_clean(repr(router.ledger) + router.ledger.describe(), "repr(ledger)")
    d = router.route([{"role": "user", "content": "hello"}])
    router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})  # spooled
    assert "unreachable" in debug_logs.text  # the outage was logged ...
    assert_clean(debug_logs.text, "DEBUG logs")  # ... without the password


def test_bad_redis_url_error_hides_the_password() -> None:
    from smart_router import ConfigError

    with pytest.raises(ConfigError) as err:
        SmartRouter({"ledger": {"redis_url": f"http://user:{REDIS_PASSWORD}@host/0"}})
    assert_clean(str(err.value), "the error")


def test_cli_output_never_shows_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     debug_logs: pytest.LogCaptureFixture) -> None:
    cfg_path = tmp_path / "smart_router.yaml"
    cfg_path.write_text(yaml.safe_dump(secret_config(tmp_path)))
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}],
                                   "label": "simple"}) + "\n")
    for argv in (["route", "design a system", "--json"], ["route", "hello"],
                 ["simulate", str(traffic), "--json"], ["simulate", str(traffic)],
                 ["eval", str(traffic), "--json"], ["route", "x", "--model", "nope/nope"]):
        main([*argv, "--config", str(cfg_path)])
        out = capsys.readouterr()
        assert_clean(out.out + out.err, f"`smart-router {' '.join(argv)}`")
    # the report reads the ledger the config names
    router = SmartRouter(str(cfg_path))
    d = router.route([{"role": "user", "content": "hi"}])
    router.record(d, d.model, {"prompt_tokens": 3, "completion_tokens": 4})
    assert router.ledger is not None
    router.ledger.close()
    import argparse

    from smart_router._report import add_report_arguments, cmd_report

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--json", action="store_true")
    add_report_arguments(parser)
    for extra in ([], ["--json"]):
        cmd_report(parser.parse_args(["--config", str(cfg_path), *extra]))
        out = capsys.readouterr()
        assert "requests" in out.out
        assert_clean(out.out + out.err, "`smart-router report`")
    assert_clean(debug_logs.text, "DEBUG logs")


def test_config_errors_do_not_echo_keys() -> None:
    from smart_router import ConfigError

    bad = {"api_key": CONFIG_KEY, "tiers": {"a": {"model": "no-such-model-xyz"}},
           "models": {"gpt-4o": {"api_key": MODEL_KEY, "max_input_tokens": -1}}}
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert_clean(str(err.value), "the config error")


def test_ledger_sqlite_never_stores_keys_even_with_prompts(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.sqlite")
    router = SmartRouter(secret_config(tmp_path), ledger=ledger)
    d = router.route([{"role": "user", "content": "what is 2+2?"}])
    router.record(d, d.model, {"prompt_tokens": 1, "completion_tokens": 1})
    ledger.close()
    raw = (tmp_path / "l.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("l.sqlite*"))
    assert b"what is 2+2?" in raw  # store_prompts is on in this config
    assert_clean(raw.decode("latin-1"), "the ledger file")
