"""Mistakes at `Agent(...)` are clear errors at construction, not odd failures later."""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import Agent, InvalidRequestError, ToolDefinitionError, tool


@tool
def search(query: str) -> str:
    """Search."""
    return query


@pytest.mark.parametrize("model", [None, "", "  ", 42])
def test_the_model_must_be_a_model_id(model: Any):
    with pytest.raises(InvalidRequestError, match="model must be a model id such as"):
        Agent(model)


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (["plain"], "tools holds 'plain', which is not a function, a Tool or a Toolset: pass"),
        ([search, 3], "tools holds 3, which is not a function, a Tool or a Toolset"),
        (search, r"tools must be a list, e.g. tools=\[search\]"),
        ("search", r"tools must be a list, e.g. tools=\[search\]"),
    ],
)
def test_tools_must_be_a_list_of_tools_or_functions(tools: Any, message: str):
    with pytest.raises(ToolDefinitionError, match=message):
        Agent("m", tools=tools)
