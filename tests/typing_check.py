"""Static checks of the tool typing, run by mypy (never collected by pytest)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from agentkit.tools import Tool, ToolResult, tool


@tool
def get_weather(city: str, days: int = 1) -> str:
    return city * days


@tool(name="forecast", strict=True)
async def forecast(city: str) -> list[str]:
    return [city]


def plain(x: float) -> float:
    return x


class Shop:
    @tool
    def price(self, item: str) -> float:
        return 1.0


async def checks() -> None:
    weather: Tool[[str, int], str] = get_weather
    assert_type(get_weather("Paris"), str)
    assert_type(get_weather("Paris", days=2), str)
    later: Tool[[str], Coroutine[Any, Any, list[str]]] = forecast
    assert_type(await forecast("Paris"), list[str])
    assert_type(tool(plain, name="p")(1.0), float)
    assert_type(Tool.from_function(plain)(1.0), float)
    assert_type(Shop().price("tea"), float)
    bound: Tool[[str], float] = Shop().price  # `self` is gone once bound
    assert_type(await get_weather.invoke('{"city": "Paris"}'), ToolResult)
    assert_type(get_weather.definition()["function"]["name"], str)
    decorator = tool(inline=True)
    assert_type(decorator(plain)(2.0), float)
    get_weather(3)  # type: ignore[arg-type]
    del weather, later, bound
