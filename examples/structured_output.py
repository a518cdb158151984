"""Structured output: the agent's answer is a validated pydantic model, not text.

`output_type=Report` asks the server for JSON matching the model's JSON Schema (the
`response_format`) and validates the answer, so `result.output` is a `Report` whose fields are
typed: the temperatures are floats your code can compare, not words in a sentence.

Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/structured_output.py
(offline: `agentkit serve` prints the variables to export).
"""

import os
from typing import Literal

import anyio
from pydantic import BaseModel, Field

from agentkit import Agent, tool


class CityWeather(BaseModel):
    city: str
    temperature: float = Field(description="In degrees Celsius.")
    humidity: int = Field(ge=0, le=100)
    sky: Literal["sunny", "cloudy", "rainy", "other"]


class Report(BaseModel):
    cities: list[CityWeather]


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city (made-up numbers for the example).

    Args:
        city: City name, e.g. "Paris".
    """
    return {"Paris": "18°C, sunny, humidity 40%"}.get(city, "9°C, rainy, humidity 80%")


async def main() -> None:
    agent = Agent(
        os.environ.get("AGENTKIT_MODEL", "agentkit-demo"),
        instructions="Report the weather of each city asked about.",
        tools=[get_weather],
        output_type=Report,
    )
    report = (await agent.run("Weather in Paris and Oslo?")).output  # a Report
    for c in report.cities:
        print(f"{c.city}: {c.temperature:.1f} °C, humidity {c.humidity}%, {c.sky}")
    warmest = max(report.cities, key=lambda c: c.temperature)  # typed fields, plain Python
    print(f"warmest: {warmest.city} ({type(warmest.temperature).__name__} {warmest.temperature})")
    await agent.client.aclose()


if __name__ == "__main__":
    anyio.run(main)
