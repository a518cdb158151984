"""Shared fixtures: a clean environment, and the asyncio backend by default."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


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
