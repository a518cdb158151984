"""The three tools of the offline demo: made-up weather, the real time, and safe arithmetic.

``agentkit demo`` always offers them; ``agentkit chat`` and ``agentkit run`` offer them offline
when no ``--tool`` is given. The weather is a hash of the city name, so runs are reproducible;
``calculate`` walks the parsed expression instead of calling ``eval``.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import zlib
from collections.abc import Callable
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["calculate", "get_time", "get_weather"]

_CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "windy", "clear skies")


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather for a city (made-up but stable numbers: this is a demo).

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
    """
    seed = zlib.crc32(city.strip().lower().encode())  # stable across runs, unlike hash()
    celsius = seed % 31 - 3
    temp = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    symbol = "°C" if unit == "celsius" else "°F"
    sky = _CONDITIONS[seed % len(_CONDITIONS)]
    return f"{city}: {temp}{symbol}, {sky}, humidity {seed % 50 + 40}%"


def get_time(timezone: str = "UTC") -> str:
    """Get the current local time in an IANA timezone.

    Args:
        timezone: IANA timezone name, e.g. "Europe/Paris" or "UTC".

    Raises:
        ValueError: The timezone is unknown.
    """
    try:
        now = dt.datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use an IANA name like 'Asia/Tokyo'"
        raise ValueError(f"unknown timezone {timezone!r}; {hint}") from exc
    return f"{now:%H:%M} in {timezone} ({now:%A %Y-%m-%d})"


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max,
}  # fmt: skip


def _evaluate(node: ast.expr) -> float:
    """Evaluate a parsed arithmetic expression: numbers, operators, a few functions, no names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError("booleans are not numbers here")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 100 or abs(left) > 1e6):
            raise ValueError("exponent too large")  # 9**9**9 would hang the process
        return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args))
    raise ValueError(f"unsupported syntax: {ast.unparse(node)!r}")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression safely (no eval): + - * / // % ** and sqrt, abs, round.

    Args:
        expression: The expression, e.g. "12*7 + 3".

    Raises:
        ValueError: The expression is not plain arithmetic.
    """
    try:
        value = _evaluate(ast.parse(expression.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ZeroDivisionError, OverflowError, TypeError) as exc:
        raise ValueError(f"cannot evaluate {expression!r}: {exc}") from exc
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}" if isinstance(value, float) else str(value)
