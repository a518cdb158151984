"""A DBOS worker process for the durable tests: `python -m tests.durable_dbos_worker DB DIR`.

It defines the durable agents the tests use (the same code in every worker, as in production),
launches DBOS on the system database ``DB``, writes ``DIR/ready-<pid>`` and serves queued and
recovered runs until ``DIR/stop`` exists (or it is killed). The model is the FakeServer at
``AGENTKIT_BASE_URL``. Tools leave their side effects in ``DIR`` so the tests can count them.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from dbos import DBOS

from agentkit import Agent, tool
from agentkit.durable.dbos import DBOSAgent

APP = "agentkit-tests"
WORK = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(".")


def _count(name: str) -> None:
    with (WORK / f"ran-{name}").open("a") as file:
        file.write(f"{os.getpid()}\n")


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)


@tool
def fetch_order(order: int) -> str:
    """Look an order up."""
    _count("fetch_order")
    return f"order {order}: 2 books"


@tool
def ship_order(order: int) -> str:
    """Ship an order (slow: waits until the test lets it finish)."""
    _count("ship_order")
    _wait_for(WORK / "release")
    return f"order {order} shipped"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool(requires_approval=True)
def refund(order: int) -> str:
    """Refund an order (needs a human's approval)."""
    _count("refund")
    return f"order {order} refunded"


shop = DBOSAgent(Agent("fake-model", tools=[fetch_order, ship_order], name="shop"))
adder = DBOSAgent(Agent("fake-model", tools=[add], name="adder"), polling_interval=0.05)
refunds = DBOSAgent(
    Agent("fake-model", tools=[refund, add], name="refunds"), events=True, polling_interval=0.05
)


def main() -> None:
    DBOS(
        config={
            "name": APP,
            "system_database_url": sys.argv[1],
            "log_level": "WARNING",
            "executor_id": os.environ.get("WORKER_ID", "local"),
            "application_version": "tests",
            "notification_listener_polling_interval_sec": 0.05,
        }
    )
    DBOS.launch()
    (WORK / f"ready-{os.getpid()}").touch()
    try:
        _wait_for(WORK / "stop", seconds=600)
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=0)


if __name__ == "__main__":
    main()
