"""A workflow resumed from saved messages: run it twice, the second run finishes the first.

A planner's typed `Trip` (pydantic `output_type`) makes the guide agent's question. A one-request
budget stops the guide after its tool calls, as a crash would; `save_messages` keeps what it did
(`exc.messages`, in $TRIP_MESSAGES or the temp directory) and the next run continues it with
`load_messages(..., missing_ok=True)` and `history=`. Run it twice with AGENTKIT_BASE_URL set.
"""

import os
import tempfile

import anyio
from anyio import Path  # pathlib.Path with async methods
from pydantic import BaseModel

from agentkit import Agent, UsageLimitExceeded, UsageLimits, load_messages, save_messages, tool

MODEL = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
SAVED = Path(os.environ.get("TRIP_MESSAGES") or Path(tempfile.gettempdir(), "agentkit-trip.json"))


class Trip(BaseModel):
    city: str
    days: int


@tool
def get_forecast(city: str, days: int) -> str:
    """Get the weather forecast for a city, `days` days ahead (made-up numbers)."""
    return f"{city}, next {days} days: 24°C and sunny"


planner = Agent(MODEL, instructions="Plan a trip: one city, a number of days.", output_type=Trip)
guide = Agent(MODEL, tools=[get_forecast], usage_limits=UsageLimits(max_requests=1))


async def main() -> None:
    history = await load_messages(SAVED, missing_ok=True)  # [] on the first run
    if history:
        print(f"resuming from {len(history)} saved messages in {SAVED}")
        prompt = None  # no new input: the run continues the conversation where it stopped
    else:
        trip = (await planner.run("A 3-day trip to Lisbon, please.")).output  # a valid Trip
        print(f"plan: {trip.days} days in {trip.city}")
        prompt = f"Forecast for {trip.city}, {trip.days} days?"
    try:
        result = await guide.run(prompt, history=history)
    except UsageLimitExceeded as exc:
        await save_messages(SAVED, exc.messages)
        print(f"stopped: {exc}; saved {len(exc.messages)} messages, run me again to resume")
    else:
        await SAVED.unlink(missing_ok=True)  # done: the next run starts over
        print("answer:", result.output)


if __name__ == "__main__":
    anyio.run(main)
