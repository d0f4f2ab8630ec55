"""The LangChain examples run offline, start to end, as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str) -> str:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                          text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_chain_example() -> None:
    out = run("langchain_chain.py")
    # the default classifier decides; only the clear-cut ends are asserted
    tiers = [line.split()[0] for line in out.splitlines()[1:4]]
    assert tiers[0] == "simple" and tiers[2] == "complex"
    assert "x cheaper" in out and "model override: gpt-4o" in out
    assert "structured: answer=" in out


def test_agent_example() -> None:
    out = run("langchain_agent.py")
    lines = out.splitlines()
    complex_run = lines[1:4]
    assert all(line.split()[:2] == ["complex", "gpt-4o"] for line in complex_run)
    stuck = lines[5:8]
    assert [line.split()[0] for line in stuck] == ["moderate", "moderate", "complex"]
    assert "agent loop" in stuck[-1]
    assert lines[8].startswith("The same routing as middleware")
