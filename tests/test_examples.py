"""Every examples/*.py runs offline against the demo model, shows what it claims, in house style."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agentkit.testing import FakeServer
from tests.conftest import ROOT, run_offline

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# What each example must print, run after run (all runs share one directory): an example that
# exits 0 while showing nothing of what it is about is a broken example.
EXPECTED: dict[str, list[list[str]]] = {
    "calculator_agent": [
        ['-> get_weather({"city": "Paris"})', '-> calculate({"expression": "(1 + 24) / 2"})',
         "(1 + 24) / 2 = 12.5", "[3 steps, "],
    ],
    "durable_dbos": [
        [": order 42 left the warehouse today", 'approving refund({"order": 42})',
         "- order 42 refunded"],
    ],
    "durable_temporal": [
        ["is awaiting_approval: refund_order({\"order_id\": \"A-1042\"})",
         "- refunded order A-1042: 24.00 EUR", "[2 steps]"],
    ],
    "human_approval": [["tool: error: the user denied this call to 'delete_files'"]],
    "mcp_tools": [
        ["tools over MCP: mcp_get_forecast", "mcp_get_forecast -> Paris: 21°C and sunny tomorrow",
         "answer: "],
    ],
    "multi_agent": [["84", "requests, sub-agent included: 4"]],
    "research_workflow": [
        ["attempt 1 failed (researching 'server-sent events' timed out); retrying", "brief:",
         "- structured concurrency: Tasks live in a scope that waits for all of them to finish.",
         "- server-sent events: One HTTP response carrying a stream of `data:` lines.",
         "- json schema: A JSON vocabulary that describes and validates JSON documents."],
    ],
    "resumable_workflow": [
        ["plan: 3 days in Lisbon", "stopped: the run reached max_requests=1; saved 3 messages"],
        ["resuming from 3 saved messages in ", "answer: Lisbon, next 3 days: 24°C and sunny"],
        ["plan: 3 days in Lisbon"],  # the resumed run finished: the next one starts over
    ],
    "streaming": [["[thinking] ", "-> get_weather", "<- get_weather", "Paris", "[2 steps"]],
    "structured_output": [
        ["Paris: 18.0 °C, humidity 40%, sunny", "Oslo: 9.0 °C, humidity 80%, rainy",
         "warmest: Paris (float 18.0)"],
    ],
    "tracing": [
        ["invoke_agent forecaster  (", "  chat agentkit-demo  (", "  execute_tool get_weather"],
    ],
    "wrap_existing_functions": [
        ["get_reason_phrase({'value': 404}) -> Not Found",
         "month_range({'year': 2024, 'month': 2}) -> [3,29]",
         "agent: get_reason_phrase(value=418) returned: I'm a teapot (2 steps)"],
    ],
}  # fmt: skip


def test_every_example_has_expectations():
    assert sorted(EXPECTED) == [example.stem for example in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_offline(example: Path, demo: FakeServer, tmp_path: Path):
    trip = str(tmp_path / "trip.json")  # resumable_workflow's saved conversation
    for expected in EXPECTED.get(example.stem, [[]]):
        done = run_offline([str(example)], demo, cwd=ROOT, TRIP_MESSAGES=trip)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip(), "an example shows what it did"
        missing = [text for text in expected if text not in done.stdout]
        assert not missing, f"{example.name} did not print {missing}:\n{done.stdout}"


@pytest.mark.parametrize("doc", ["README.md", "docs/getting-started.md"])
def test_every_example_is_listed(doc: str):
    text = (ROOT / doc).read_text()
    assert [e.name for e in EXAMPLES if f"| `{e.name}` |" not in text] == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_follows_the_house_style(example: Path):
    source = example.read_text()
    tree = ast.parse(source)
    assert len(source.splitlines()) < 60
    assert ast.get_docstring(tree), "a docstring says what it shows and how to run it"
    assert any(isinstance(node, ast.AsyncFunctionDef) and node.name == "main" for node in tree.body)
    assert "anyio.run(main)" in source
    assert "AGENTKIT_BASE_URL" in source, "the docstring says which server it talks to"
