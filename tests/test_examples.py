"""Every examples/*.py runs offline against the demo model and follows the house style."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit._demo import demo_server
from agentkit.testing import FakeServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with demo_server() as running:
        yield running


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_offline(example: Path, server: FakeServer):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTKIT_"))}
    env.update(
        AGENTKIT_BASE_URL=server.url,
        AGENTKIT_API_KEY="offline-demo",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,  # an example that asks for input gets EOF, never hangs
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example shows what it did"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_follows_the_house_style(example: Path):
    source = example.read_text()
    tree = ast.parse(source)
    assert len(source.splitlines()) < 60
    assert ast.get_docstring(tree), "a docstring says what it shows and how to run it"
    assert any(
        isinstance(node, ast.AsyncFunctionDef) and node.name == "main" for node in tree.body
    )
    assert "anyio.run(main)" in source
