"""A research workflow: typed findings fanned out and in, a failed step retried, a typed brief.

`map_concurrently` runs a researcher agent per topic, two at a time, each returning a `Finding`;
`retry` reruns a failed step; a writer returns a `Brief`. Run it with AGENTKIT_BASE_URL set.
"""

import os

import anyio
from pydantic import BaseModel

from agentkit import Agent, map_concurrently, retry, tool

MODEL = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
NOTES = {  # a stand-in for a search engine, so the example runs anywhere
    "structured concurrency": "Tasks live in a scope that waits for all of them to finish.",
    "server-sent events": "One HTTP response carrying a stream of `data:` lines.",
    "json schema": "A JSON vocabulary that describes and validates JSON documents.",
}
FLAKY = {"server-sent events": "timed out"}  # a simulated outage: the first attempt fails


@tool
def search(query: str) -> str:
    """Search the notes for a topic, e.g. "json schema"."""
    return next((note for t, note in NOTES.items() if t in query.lower()), "no results")


class Finding(BaseModel):
    topic: str
    summary: str


class Brief(BaseModel):
    key_points: list[str]


researcher = Agent(MODEL, tools=[search], output_type=Finding, instructions="Search, report.")
writer = Agent(MODEL, output_type=Brief, instructions="Write a short brief from the notes.")


async def research(topic: str) -> Finding:
    if problem := FLAKY.pop(topic, None):  # fails once, then works
        raise TimeoutError(f"researching {topic!r} {problem}")
    return (await researcher.run(f'Research "{topic}"')).output


async def main() -> None:
    on_retry = lambda n, exc: print(f"attempt {n} failed ({exc}); retrying")  # noqa: E731
    step = lambda topic: retry(lambda: research(topic), on_retry=on_retry)  # noqa: E731
    findings = await map_concurrently(step, NOTES, limit=2)  # list[Finding], in topic order
    notes = "\n".join(f"{finding.topic}: {finding.summary}" for finding in findings)
    brief = (await writer.run(f"Notes:\n{notes}")).output
    print("brief:", *(f"- {point}" for point in brief.key_points), sep="\n")


anyio.run(main)
