"""Wrap functions you don't own as tools, without editing them.

`Tool.from_function` and `tool(fn, name=...)` read the signature and docstring of stdlib
functions; `Tool.from_schema` wraps a third-party function whose `*args, **kwargs` signature
says nothing useful (here `jsonschema.validate`). Offline: it prints each tool definition and
invokes the tools directly, with JSON arguments, as an agent would.

Run: python examples/wrap_existing_functions.py
"""

import calendar
import difflib
import json
import shutil

import anyio
import jsonschema

from agentkit.tools import Tool, tool

disk_usage = Tool.from_function(shutil.disk_usage)
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
    (disk_usage, {"path": "."}),
    (close_matches, {"word": "appel", "possibilities": ["ape", "apple", "peach"]}),
    (month_range, {"year": 2024, "month": 2}),
    (validate_json, {"instance": {"name": "Ada"}, "schema": {"required": ["name"]}}),
]


async def main() -> None:
    for t, arguments in CALLS:
        print(json.dumps(t.definition()))
        result = await t.invoke(json.dumps(arguments))
        print(f"{t.name}({arguments}) -> {result.content}\n")


anyio.run(main)
