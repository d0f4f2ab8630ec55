"""Config loading: defaults, validation at load time, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_router import ConfigError, SmartRouter, load_config, parse_messages
from smart_router._config import Secret


def test_default_tiers_are_the_case_study_table() -> None:
    cfg = load_config(None)
    assert {n: t.model for n, t in cfg.tiers.items()} == {
        "simple": "deepseek/deepseek-chat",
        "moderate": "dashscope/qwen-plus",
        "complex": "gpt-4o",
    }
    assert cfg.tiers["complex"].fallbacks == ["anthropic/claude-opus-4-5"]
    for name in cfg.routable_models():
        info = cfg.model_info(name)
        assert info is not None and info.priced, name


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "smart_router.yaml"
    path.write_text(
        "tiers:\n"
        "  cheap: {model: gpt-4o-mini, fallbacks: [deepseek/deepseek-chat]}\n"
        "  premium: {model: gpt-4o, fallbacks: [anthropic/claude-opus-4-5]}\n"
        "classifier: {type: heuristic, thresholds: {premium: 0.6}}\n"
    )
    router = SmartRouter.from_config(path)
    assert router.tier_names == ["cheap", "premium"]
    assert router.thresholds == [0.6]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"tiers": {}}, "at least one tier"),
        ({"tiers": {"a": {"model": "no-such-model-xyz"}}}, "'no-such-model-xyz' has no price"),
        ({"tiers": {"a": {"model": "gpt-4o", "fallbacks": ["nope/unknown"]}}}, "nope/unknown"),
        ({"tierz": {}}, "tierz: unknown field"),
        ({"policies": {"tools_min_tier": "huge"}}, "policies.tools_min_tier"),
        ({"classifier": {"thresholds": {"moderate": 0.8, "complex": 0.2}}}, "must rise"),
        ({"classifier": {"thresholds": {"complex": 0.5}}}, "each tier after the first"),
        ({"models": {"gpt-4o": {"input_cost_per_token": -1}}},
         "models.gpt-4o.input_cost_per_token"),
        ({"tiers": {"a": {"model": "gpt-4o", "fallback": []}}}, "tiers.a.fallback"),
    ],
)
def test_bad_config_is_one_clear_error(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(data)
    assert fragment in str(err.value)


def test_zero_price_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"my-local'.*no price"):
        load_config({
            "tiers": {"a": {"model": "my-local"}},
            "models": {"my-local": {"input_cost_per_token": 0, "output_cost_per_token": 0}},
        })


def test_price_override_makes_unknown_model_valid() -> None:
    cfg = load_config({
        "tiers": {"a": {"model": "my-local-model", "fallbacks": ["gpt-4o"]}},
        "models": {"my-local-model": {"input_cost_per_token": 2e-7,
                                      "output_cost_per_token": 6e-7}},
    })
    info = cfg.model_info("my-local-model")
    assert info is not None and info.output_cost_per_token == 6e-7


def test_unknown_classifier_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown classifier 'magic'"):
        SmartRouter({"classifier": {"type": "magic"}})


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)


def test_env_key_resolves_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config({
        "api_base": "http://127.0.0.1:9/v1",
        "api_key": "os.environ/GATEWAY_KEY_FOR_TEST",
        "models": {"gpt-4o": {"model": "openai/gpt-4o", "timeout": 7}},
    })
    monkeypatch.delenv("GATEWAY_KEY_FOR_TEST", raising=False)
    assert "api_key" not in cfg.litellm_params("gpt-4o")
    monkeypatch.setenv("GATEWAY_KEY_FOR_TEST", "sk-live-123")
    params = cfg.litellm_params("gpt-4o")
    assert params == {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                      "api_key": "sk-live-123", "timeout": 7}
    info = cfg.model_info("gpt-4o")
    assert info is not None and info.input_cost_per_token == 2.5e-6


def test_secrets_never_in_reprs() -> None:
    cfg = load_config({"api_key": "sk-very-secret", "models": {"gpt-4o": {"api_key": "sk-2"}}})
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(SmartRouter(cfg))):
        assert "sk-very-secret" not in text and "sk-2" not in text
    assert repr(Secret("os.environ/X")) == "Secret(os.environ/X)"


def test_model_list_has_one_group_per_routable_model() -> None:
    groups = [m["model_name"] for m in load_config(None).litellm_model_list()]
    assert groups == ["deepseek/deepseek-chat", "dashscope/qwen-plus", "gpt-4o",
                      "anthropic/claude-opus-4-5"]


def test_secret_looking_options_are_masked_everywhere_but_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VERTEX_CREDS_FOR_TEST", "creds-from-env")
    cfg = load_config({
        "classifier": {"type": "llm", "model": "gpt-4o-mini", "api_key": "clf-key-123",
                       "aws_secret_access_key": "aws-456"},
        "models": {"gpt-4o": {"vertex_credentials": "os.environ/VERTEX_CREDS_FOR_TEST",
                              "timeout": 3}},
    })
    shown = repr(cfg) + str(cfg.model_dump()) + cfg.model_dump_json()
    for secret in ("clf-key-123", "aws-456", "creds-from-env"):
        assert secret not in shown
    assert cfg.litellm_params("gpt-4o") == {"model": "gpt-4o", "timeout": 3,
                                             "vertex_credentials": "creds-from-env"}
    router = SmartRouter(cfg, ledger=False)
    params = router.classifier._params(  # type: ignore[attr-defined]
        parse_messages([{"role": "user", "content": "hi"}]))
    assert params["api_key"] == "clf-key-123" and params["aws_secret_access_key"] == "aws-456"
    assert "clf-key-123" not in repr(router.classifier)
