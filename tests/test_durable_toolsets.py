"""Durable wrappers refuse agents with toolsets at once, saying what to do instead."""

from __future__ import annotations

import pytest

from agentkit import Agent, ToolDefinitionError, tool
from agentkit.durable.dbos import DBOSAgent
from agentkit.durable.temporal import TemporalAgent
from tests.test_mcp_toolsets import Registry


@tool
def shout(text: str) -> str:
    """Say it louder.

    Args:
        text: What to say.
    """
    return text.upper()


@pytest.mark.parametrize("wrapper", [DBOSAgent, TemporalAgent])
def test_a_durable_agent_takes_its_own_tools_not_toolsets(wrapper: type) -> None:
    agent = Agent("m", name="loud", tools=[Registry(shout)])
    with pytest.raises(ToolDefinitionError, match="toolsets .MCP servers.*plain tools"):
        wrapper(agent)
