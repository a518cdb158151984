"""One agent delegates to another: a sub-agent becomes a tool with `Agent.as_tool`.

The sub-agent gets the caller's ``deps``, and its token usage is added to the caller's run.

Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/multi_agent.py
"""

import os

import anyio

from agentkit import Agent, ChatClient, tool


@tool
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Args:
        expression: e.g. "12 * (3 + 4)"; digits, + - * / and parentheses only.
    """
    if not set(expression) <= set("0123456789+-*/(). "):
        return "error: only arithmetic is allowed"
    return str(eval(expression, {"__builtins__": {}}))  # the filter above keeps this safe


async def main() -> None:
    model = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
    async with ChatClient() as client:  # AGENTKIT_BASE_URL, AGENTKIT_API_KEY
        mathematician = Agent(
            model, instructions="Compute exactly.", tools=[calculate], client=client
        )
        lead = Agent(
            model,
            instructions="Delegate arithmetic to the mathematician.",
            tools=[mathematician.as_tool("mathematician", "Solves arithmetic problems.")],
            client=client,
        )
        result = await lead.run("Ask the mathematician: what is 12 * (3 + 4)?")
    print("answer:", result.output)
    print(f"requests, sub-agent included: {result.usage.requests}")


if __name__ == "__main__":
    anyio.run(main)
