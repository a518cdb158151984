"""A weather + calculator agent: parallel tool calls, then arithmetic on their results.

Shows `@tool` (docstrings describe tools to the model), an `Agent` calling several tools in one
step and using their results in the next, and `agent.stream()` events. Run with AGENTKIT_API_KEY
(and AGENTKIT_BASE_URL, AGENTKIT_MODEL) set, or offline with the variables `agentkit serve` prints.
"""

import ast
import os
from operator import add, mul, sub, truediv

import anyio

from agentkit import Agent, RunFinished, ToolCallFinished, ToolCallStarted, tool

OPERATORS = {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.Div: truediv}


def evaluate(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
    raise ValueError("only numbers, + - * / and parentheses")  # never eval() model output


@tool
def get_weather(city: str) -> str:
    """Current weather for a city (made-up numbers for the example).

    Args:
        city: City name, e.g. "Paris".
    """
    return f"{city}: {sum(map(ord, city)) % 30}°C, clear"


@tool
def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression with + - * / and parentheses, e.g. "(18 - 4) / 2"."""
    return evaluate(ast.parse(expression, mode="eval").body)


agent = Agent(os.environ.get("AGENTKIT_MODEL", "gpt-5.4-mini"), tools=[get_weather, calculate])


async def main() -> None:
    async with agent.stream("Weather in Paris and Tokyo? And the average temperature?") as run:
        async for event in run:  # live: each tool call reports the moment it ends
            if isinstance(event, ToolCallStarted):
                print(f"-> {event.name}({event.arguments})")
            elif isinstance(event, ToolCallFinished):
                print(f"<- {event.content}  ({event.duration * 1000:.1f} ms)")
            elif isinstance(event, RunFinished):
                r = event.result
                print(f"{r.output}\n[{r.steps} steps, {r.usage.total_tokens} tokens]")


anyio.run(main)
