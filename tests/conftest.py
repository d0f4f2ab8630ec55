"""Shared test setup: offline LiteLLM, loopback-only sockets, a mock LLM server, services.

Tests never reach the internet: pytest-socket (``--allow-hosts`` in pyproject's addopts) only
lets sockets connect to loopback. Provider calls go to :class:`MockOpenAIServer`.

Real service processes (redis-server, later the LiteLLM proxy) are started on free loopback
ports by :func:`start_service`. When a binary is missing the fixture *skips* saying how to
install it, unless ``SMART_ROUTER_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns
that into a failure so CI can never pass without them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from smart_router.testing import MockOpenAIServer

# --- offline LiteLLM: must run before anything imports litellm ---------------------------
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def _litellm_tiktoken_cache_dir() -> Path:
    """The folder of LiteLLM's bundled tiktoken cache (files named by the sha1 of their
    download URL), found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    key = hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    for root in (spec.submodule_search_locations or []) if spec else []:
        known = Path(root) / "litellm_core_utils" / "tokenizers"
        if (known / key).is_file():
            return known
        for found in Path(root).rglob(key):
            return found.parent
    raise RuntimeError(
        "LiteLLM's bundled tiktoken cache (cl100k_base) was not found: is litellm installed? "
        "Tests must not download tiktoken encodings."
    )


os.environ["TIKTOKEN_CACHE_DIR"] = str(_litellm_tiktoken_cache_dir())



# --- helpers -------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test (or fail it when ``SMART_ROUTER_REQUIRE_SERVICES=1``)."""
    if os.environ.get("SMART_ROUTER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} [SMART_ROUTER_REQUIRE_SERVICES=1 forbids skipping]", pytrace=False)
    pytest.skip(reason)


@dataclass
class Service:
    """A service process started by :func:`start_service`."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def start_service(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    install_hint: str,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    ready_timeout: float = 30.0,
    ready_check: Callable[[Service], bool] | None = None,
) -> Iterator[Service]:
    """Run ``argv`` until the context exits; wait until it accepts connections on
    ``host:port`` (and ``ready_check(service)`` is true, if given).

    A missing executable skips (or fails, see :func:`service_unavailable`) with
    ``install_hint``; an executable that dies or never gets ready fails with its log tail.
    The process (and its process group) is terminated on exit.
    """
    executable = shutil.which(argv[0])
    if executable is None:
        service_unavailable(f"{name}: `{argv[0]}` is not installed; {install_hint}")
    log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    process = subprocess.Popen(
        [executable, *argv[1:]], stdin=subprocess.DEVNULL, stdout=log_fd,
        stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True,
    )
    os.close(log_fd)
    service = Service(name, process, host, port, Path(log_name))
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with code {process.returncode} before it was "
                            f"ready:\n{service.log_tail()}", pytrace=False)
            with contextlib.suppress(OSError):
                socket.create_connection((host, port), timeout=1.0).close()
                if ready_check is None or ready_check(service):
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{name} was not ready on {host}:{port} after {ready_timeout}s:\n"
                            f"{service.log_tail()}", pytrace=False)
            time.sleep(0.1)
        yield service
    finally:
        _stop_process(process)
        with contextlib.suppress(OSError):
            Path(log_name).unlink()


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # its own session: pgid == pid
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _redis_command(host: str, port: int, command: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=2.0) as sock:
        sock.sendall(command)
        return sock.recv(64)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def service_launcher() -> Callable[..., contextlib.AbstractContextManager[Service]]:
    """:func:`start_service`, for fixtures in other conftest files (e.g. the LiteLLM proxy)."""
    return start_service


@pytest.fixture(scope="session")
def mock_llm_server() -> Iterator[MockOpenAIServer]:
    """One :class:`MockOpenAIServer` for the whole session (use ``llm_server`` in tests)."""
    from smart_router.testing import MockOpenAIServer

    with MockOpenAIServer() as server:
        yield server


@pytest.fixture
def llm_server(mock_llm_server: MockOpenAIServer) -> MockOpenAIServer:
    """The session's mock server, with scripts, defaults and recorded requests cleared."""
    mock_llm_server.reset()
    return mock_llm_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real, throw-away redis-server on a free loopback port: yields
    ``redis://127.0.0.1:PORT/0``. No persistence (``--save "" --appendonly no``)."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
            "--dir", str(tmp_path_factory.mktemp("redis"))]
    with start_service(
        "redis-server", argv, port=port,
        install_hint="install it with `apt-get update && apt-get install -y redis-server`",
        ready_check=lambda s: _redis_command(s.host, s.port, b"PING\r\n").startswith(b"+PONG"),
    ):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """``redis_server``'s URL, with every database flushed before the test."""
    host_port = redis_server.removeprefix("redis://").split("/")[0]
    host, port = host_port.rsplit(":", 1)
    assert _redis_command(host, int(port), b"FLUSHALL\r\n").startswith(b"+OK")
    return redis_server
