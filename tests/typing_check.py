"""Static checks of the tool and wire typing, run by mypy (never collected by pytest)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from agentkit.tools import Tool, ToolResult, tool
from agentkit.types import ChatCompletion, ChatCompletionChunk


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


def wire(completion: ChatCompletion, chunk: ChatCompletionChunk) -> None:
    # The lenient field types (null as default, float created, content parts) stay plain.
    assert_type(completion.id, str)
    assert_type(completion.created, int)
    assert_type(completion.choices[0].message.content, str | None)
    assert_type(completion.choices[0].message.role, str)
    assert_type(chunk.choices[0].delta.content, str | None)
    usage = completion.usage
    assert usage is not None
    assert_type(usage.completion_tokens, int)
