"""A durable agent on DBOS: each run a workflow, each model request and tool call a step.

DBOS keeps the runs in SQLite here (no server). Kill the script mid-run and start it again:
``DBOS.launch()`` resumes the run after its last recorded step, without repeating a finished
tool call. A tool that needs approval waits durably for a decision that any process can send;
here this one sends it, after reading the run's events.

Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/durable_dbos.py
"""

import os
import tempfile

import anyio
from dbos import DBOS

from agentkit import Agent, tool
from agentkit.durable.dbos import ApprovalRequested, DBOSAgent


@tool
def order_status(order: int) -> str:
    """Look up where an order is."""
    return f"order {order} left the warehouse today"


@tool(requires_approval=True)
def refund(order: int) -> str:
    """Refund an order."""
    return f"order {order} refunded"


model = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
agent = Agent(model, tools=[order_status, refund], name="support")
support = DBOSAgent(agent, events=True)  # before DBOS.launch(), in every worker process
DATABASE = f"sqlite:///{tempfile.gettempdir()}/agentkit-durable-example.sqlite"


async def main() -> None:
    DBOS(config={"name": "durable-example", "system_database_url": DATABASE, "log_level": "ERROR"})
    DBOS.launch()
    result = await support.run("Where is order 42?")
    print(f"run {result.run_id}: {result.output}")

    run = await support.start("Please refund order 42")  # on the queue: any worker takes it
    async for event in run.events():
        if isinstance(event, ApprovalRequested):
            print(f"approving {event.name}({event.arguments})")
            await run.approve(event.call_id)
    print("refund:", (await run.result()).output)
    DBOS.destroy()


if __name__ == "__main__":
    anyio.run(main)
