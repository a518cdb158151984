"""Shared fixtures: a clean environment, the asyncio backend, a fake server and a client.

Every chat request body a test sends, to the FakeServer or to a `mock_transport`, must
validate against OpenAI's CreateChatCompletionRequest schema unless the test is marked
``invalid_requests``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from agentkit._demo import demo_server
from agentkit.client import ChatClient
from agentkit.events import RunFinished
from agentkit.testing import FakeServer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never pick up a developer's real endpoint or key."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "AGENTKIT_")):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio; tests that must also pass on trio parametrize this."""
    return "asyncio"


# --- the fake OpenAI-compatible server ------------------------------------------------------

REQUEST_SCHEMA = Path(__file__).parent / "data" / "CreateChatCompletionRequest.schema.json"


@pytest.fixture(scope="session")
def _session_server() -> Iterator[FakeServer]:
    """One FakeServer for the whole run; `server` resets it for each test."""
    with FakeServer() as server:
        yield server


@pytest.fixture(scope="session")
def request_validator() -> Draft202012Validator:
    """OpenAI's CreateChatCompletionRequest schema, compiled once."""
    return Draft202012Validator(json.loads(REQUEST_SCHEMA.read_text()))


def request_errors(validator: Draft202012Validator, bodies: list[dict[str, Any]]) -> list[str]:
    """One readable line per schema violation: request number, JSON path, the narrowest cause."""
    lines = []
    for number, body in enumerate(bodies, 1):
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path))):
            cause = best_match(error.context) if error.context else error
            where = "/".join(map(str, cause.absolute_path)) or "<body>"
            lines.append(f"request #{number} at {where}: {cause.message[:300]}")
    return lines


def check_requests(
    validator: Draft202012Validator, bodies: list[Any], request: pytest.FixtureRequest
) -> None:
    """Fail the test if a body violates the schema, unless it is marked ``invalid_requests``."""
    if request.node.get_closest_marker("invalid_requests") is not None:
        return
    errors = request_errors(validator, bodies)
    if errors:
        pytest.fail(
            "chat request bodies that violate OpenAI's CreateChatCompletionRequest schema "
            "(mark the test @pytest.mark.invalid_requests if that is deliberate):\n  "
            + "\n  ".join(errors),
            pytrace=False,
        )


@pytest.fixture
def server(
    _session_server: FakeServer,
    request_validator: Draft202012Validator,
    request: pytest.FixtureRequest,
) -> Iterator[FakeServer]:
    """The session's FakeServer, reset: empty script, no responder, nothing recorded.

    At teardown every chat request body it received must validate against OpenAI's
    CreateChatCompletionRequest schema, unless the test is marked ``invalid_requests``.
    """
    _session_server.reset()
    _session_server.responder = None
    yield _session_server
    bodies = list(_session_server.requests)
    _session_server.reset()
    _session_server.responder = None
    check_requests(request_validator, bodies, request)


# --- httpx.MockTransport, checked the same way ----------------------------------------------

_mock_bodies: list[Any] = []  # chat request bodies sent through mock_transport in this test


def mock_transport(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """An ``httpx.MockTransport`` for ``handler`` whose chat request bodies are schema-checked.

    The bodies are checked when the test ends, as the `server` fixture checks its own.
    """

    def recording(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/chat/completions"):
            try:
                _mock_bodies.append(json.loads(request.content))
            except ValueError:
                _mock_bodies.append(request.content.decode("utf-8", "replace"))
        return handler(request)

    return httpx.MockTransport(recording)


@pytest.fixture(autouse=True)
def _mock_requests_are_valid(
    request_validator: Draft202012Validator, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every chat request body sent through `mock_transport` must validate against the schema."""
    _mock_bodies.clear()
    yield
    bodies = list(_mock_bodies)
    _mock_bodies.clear()
    check_requests(request_validator, bodies, request)


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[ChatClient]:
    """A ChatClient for `server`, with ``api_key="sk-test"`` and no retries.

    No retries, so each call takes exactly one scripted reply and a fault surfaces as its
    error. Tests of retrying build their own ``ChatClient(base_url=server.url, ...)``.
    """
    async with ChatClient(base_url=server.url, api_key="sk-test", max_retries=0) as chat:
        yield chat


# --- programs run as a user runs them: a subprocess, offline on the demo model ---------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo() -> Iterator[FakeServer]:
    """The offline demo model (what ``agentkit serve`` runs), for programs in a subprocess."""
    with demo_server() as running:
        yield running


def run_offline(
    args: Sequence[str], demo: FakeServer, *, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` against ``demo``, as a user would once ``agentkit serve`` is up.

    The environment is this one without a developer's ``OPENAI_*``/``AGENTKIT_*``, plus
    ``AGENTKIT_BASE_URL``/``AGENTKIT_API_KEY`` for ``demo``, the repository on ``PYTHONPATH``
    and ``env``. Stdin is empty, so a program that asks for input gets EOF and never hangs.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTKIT_"))}
    clean.update(
        AGENTKIT_BASE_URL=demo.url,
        AGENTKIT_API_KEY="offline-demo",
        PYTHONPATH=os.pathsep.join([str(ROOT), clean.get("PYTHONPATH", "")]),
        **env,
    )
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


# --- running an agent either way ----------------------------------------------------------


async def run(agent: Any, input: Any = None, *, stream: bool = False, **kwargs: Any) -> Any:
    """Await ``agent.run(...)``, or drain ``agent.stream(...)`` and return its final result.

    Tests parametrized over ``stream`` prove both doors give the same result.
    """
    if not stream:
        return await agent.run(input, **kwargs)
    events = [event async for event in agent.stream(input, **kwargs)]
    assert isinstance(events[-1], RunFinished)
    assert not any(isinstance(event, RunFinished) for event in events[:-1])
    return events[-1].result
