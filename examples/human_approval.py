"""Ask a human before a risky tool runs; a denial goes back to the model as the tool's reply.

Tools with ``requires_approval=True`` run only if ``approve`` returns True (here: ask on a tty).

Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/human_approval.py
"""

import os
import sys

import anyio
import anyio.to_thread

from agentkit import Agent, ToolCallRequest, tool


@tool
def list_files(folder: str) -> list[str]:
    """List the files in a folder.

    Args:
        folder: The folder, e.g. "/tmp/reports".
    """
    return ["q1.pdf", "q2.pdf"]


@tool(requires_approval=True)
def delete_files(folder: str) -> str:
    """Delete every file in a folder.

    Args:
        folder: The folder, e.g. "/tmp/reports".
    """
    return f"deleted everything in {folder} (not really: this is an example)"


async def approve(call: ToolCallRequest) -> bool:
    question = f"Allow {call.name}({call.arguments})? [y/N] "
    if not sys.stdin.isatty():  # no one to ask: a rule decides
        print(question + "no (not a terminal)")
        return False
    answer = await anyio.to_thread.run_sync(input, question)  # don't block the event loop
    return answer.strip().lower() in {"y", "yes"}


async def main() -> None:
    model = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
    agent = Agent(model, tools=[list_files, delete_files], approve=approve)
    result = await agent.run('List files in "/tmp/reports", then delete files in "/tmp/reports"')
    for message in result.new_messages:
        if message["role"] == "tool":
            print("tool:", message["content"])
    print("answer:", result.output)
    await agent.client.aclose()


if __name__ == "__main__":
    anyio.run(main)
