"""The agent examples run end to end against the offline demo model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit._demo import demo_server
from agentkit.testing import FakeServer

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(scope="module")
def demo() -> Iterator[FakeServer]:
    with demo_server() as server:
        yield server


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("streaming", ["-> get_weather", "<- get_weather", "Paris", "[2 steps"]),
        ("human_approval", ["tool: error: the user denied this call to 'delete_files'"]),
        ("multi_agent", ["84", "requests, sub-agent included: 4"]),
    ],
)
def test_example_runs(demo: FakeServer, name: str, expected: list[str]) -> None:
    env = {**os.environ, "AGENTKIT_BASE_URL": demo.url, "AGENTKIT_API_KEY": "offline"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout
