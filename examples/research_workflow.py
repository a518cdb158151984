"""A research workflow: fan out one researcher agent per topic, then one writer agent.

Shows a workflow as plain async Python: `map_concurrently` runs the researchers at most three
at a time, `retry` re-runs a researcher that fails, and the writer returns a typed `Brief`
(a pydantic model, requested as JSON schema output and validated).

Run: AGENTKIT_API_KEY=sk-... python examples/research_workflow.py (offline: `agentkit serve`)
"""

import os

import anyio
from pydantic import BaseModel

from agentkit import Agent, RunResult
from agentkit.tools import tool
from agentkit.workflow import map_concurrently, retry

MODEL = os.environ.get("AGENTKIT_MODEL", "gpt-5.4-mini")
NOTES = {  # a stand-in for a search engine, so the example runs anywhere
    "structured concurrency": "Tasks live in a scope that waits for all of them to finish.",
    "server-sent events": "One HTTP response carrying a stream of `data:` lines.",
    "json schema": "A JSON vocabulary that describes and validates JSON documents.",
}


@tool
def search(query: str) -> str:
    """Search the notes for a topic.

    Args:
        query: What to look for, e.g. "json schema".
    """
    return "\n".join(f"{t}: {n}" for t, n in NOTES.items() if t in query.lower()) or "no results"


class Brief(BaseModel):
    title: str
    summary: str
    key_points: list[str]


researcher = Agent(MODEL, tools=[search], instructions="Search, then report the key facts.")
writer = Agent(MODEL, output_type=Brief, instructions="Write a short brief from the notes.")


async def research(topic: str) -> RunResult[str]:
    return await retry(lambda: researcher.run(f'Research "{topic}"'), attempts=3)


async def main() -> None:
    findings = await map_concurrently(research, list(NOTES), limit=3)
    notes = "\n\n".join(result.output for result in findings)
    brief = (await writer.run(f"Notes:\n{notes}")).output
    print(f"# {brief.title}\n\n{brief.summary}\n")
    print("\n".join(f"- {point}" for point in brief.key_points))


anyio.run(main)
