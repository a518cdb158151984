"""Wrap functions you don't own as tools, without editing them, and give them to an agent.

`Tool.from_function` and `tool(fn, name=...)` read a function's signature and docstring;
`Tool.from_schema` wraps one whose `*args, **kwargs` say nothing (here `jsonschema.validate`).
Each tool is printed and invoked with JSON arguments, then an agent calls the typed one.
Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/wrap_existing_functions.py
"""

import calendar
import difflib
import json
import os

import anyio
import httpx
import jsonschema

from agentkit import Agent, Tool, tool

status_phrase = httpx.codes.get_reason_phrase  # typed (value: int), so a model can fill it in
reason_phrase = Tool.from_function(status_phrase, description="An HTTP status's reason phrase.")
close_matches = tool(
    difflib.get_close_matches,
    name="close_matches",
    description="Find the words among `possibilities` closest to `word`.",
)
month_range = tool(calendar.monthrange, name="month_range", inline=True)
validate_json = Tool.from_schema(
    jsonschema.validate,
    {
        "type": "object",
        "properties": {
            "instance": {"description": "The JSON value to check."},
            "schema": {"type": "object", "description": "The JSON Schema to check it against."},
        },
        "required": ["instance", "schema"],
    },
    name="validate_json",
    description="Validate a JSON value against a JSON Schema; null means it is valid.",
)
CALLS = [
    (reason_phrase, {"value": 404}),
    (close_matches, {"word": "appel", "possibilities": ["ape", "apple", "peach"]}),
    (month_range, {"year": 2024, "month": 2}),
    (validate_json, {"instance": {"name": "Ada"}, "schema": {"required": ["name"]}}),
]


async def main() -> None:
    for t, arguments in CALLS:
        print(json.dumps(t.definition()))
        print(f"{t.name}({arguments}) -> {(await t.invoke(json.dumps(arguments))).content}\n")
    agent = Agent(os.environ.get("AGENTKIT_MODEL", "agentkit-demo"), tools=[reason_phrase])
    result = await agent.run("What is the reason phrase of HTTP status 418?")
    print(f"agent: {result.output} ({result.steps} steps)")
    await agent.client.aclose()


anyio.run(main)
