"""Stream an agent run: reasoning apart from the answer, each tool call as it starts and ends.

The last event, `RunFinished`, carries the same result `run` returns.

Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/streaming.py
(any OpenAI-compatible server; `agentkit serve` serves an offline one).
"""

import os

import anyio

from agentkit import (
    Agent,
    ReasoningDelta,
    RunFinished,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    tool,
)


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city, e.g. "Paris"."""
    return f"{city}: 18°C, partly cloudy"


async def main() -> None:
    model = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
    agent = Agent(model, instructions="Answer briefly.", tools=[get_weather])
    async with agent.stream("What is the weather in Paris and in Tokyo?") as events:
        thinking = ""  # the model's reasoning: shown apart, never mixed into the answer
        async for event in events:
            if isinstance(event, ReasoningDelta):
                thinking += event.text
                continue
            if thinking:
                print(f"[thinking] {' '.join(thinking.split())}")
                thinking = ""
            if isinstance(event, TextDelta):
                print(event.text, end="", flush=True)
            elif isinstance(event, StepFinished):
                print()  # the model's turn is over: a line break before tool calls or the end
            elif isinstance(event, ToolCallStarted):
                print(f"-> {event.name}({event.arguments})")
            elif isinstance(event, ToolCallFinished):
                print(f"<- {event.name}: {event.content} ({event.duration * 1000:.1f} ms)")
            elif isinstance(event, RunFinished):
                print(f"[{event.result.steps} steps, {event.result.usage.total_tokens} tokens]")
    await agent.client.aclose()


if __name__ == "__main__":
    anyio.run(main)
