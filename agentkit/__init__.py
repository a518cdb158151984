"""agentkit: tool-calling agents over any OpenAI-compatible chat completions API.

Everything public is importable from here: ``from agentkit import Agent, ChatClient, tool``.
Only the exceptions load with the package; every other name loads its module on first access
(PEP 562, as pydantic does), so ``import agentkit`` stays cheap for scripts and CLIs that need
one piece. Type checkers see ordinary imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentkit.errors import (
    AgentKitError,
    AgentRunError,
    APIConnectionError,
    APIError,
    APIResponseError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EventLoopError,
    InternalServerError,
    InvalidRequestError,
    MaxStepsExceeded,
    ModelRetry,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    RateLimitError,
    RunClaimedError,
    RunTimeoutError,
    StreamInterruptedError,
    ToolDefinitionError,
    UnprocessableEntityError,
    UnsupportedParameterError,
    UsageLimitExceeded,
)

if TYPE_CHECKING:
    from agentkit._demo import demo_client
    from agentkit.agent import Agent
    from agentkit.checkpoint import CheckpointStore, FileCheckpointStore, RunState
    from agentkit.client import ChatClient, ChatStream, on_retry
    from agentkit.context import RunContext
    from agentkit.events import (
        AgentEvent,
        AgentStream,
        Hooks,
        ReasoningDelta,
        RunFinished,
        StepFinished,
        TextDelta,
        ToolCallFinished,
        ToolCallRequest,
        ToolCallStarted,
    )
    from agentkit.interceptors import Interceptor
    from agentkit.result import RunResult, RunUsage, UsageLimits
    from agentkit.tools import Tool, ToolResult, tool
    from agentkit.toolsets import Toolset
    from agentkit.types import (
        ChatCompletion,
        ChatCompletionChunk,
        MessageParam,
        ModelSettings,
    )
    from agentkit.workflow import (
        gather,
        load_messages,
        map_concurrently,
        retry,
        save_messages,
    )

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "Agent",
    "AgentEvent",
    "AgentKitError",
    "AgentRunError",
    "AgentStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatClient",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatStream",
    "CheckpointStore",
    "ConflictError",
    "EventLoopError",
    "FileCheckpointStore",
    "Hooks",
    "Interceptor",
    "InternalServerError",
    "InvalidRequestError",
    "MaxStepsExceeded",
    "MessageParam",
    "ModelRetry",
    "ModelSettings",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReasoningDelta",
    "RunClaimedError",
    "RunContext",
    "RunFinished",
    "RunResult",
    "RunState",
    "RunTimeoutError",
    "RunUsage",
    "StepFinished",
    "StreamInterruptedError",
    "TextDelta",
    "Tool",
    "ToolCallFinished",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolDefinitionError",
    "ToolResult",
    "Toolset",
    "UnprocessableEntityError",
    "UnsupportedParameterError",
    "UsageLimitExceeded",
    "UsageLimits",
    "demo_client",
    "gather",
    "load_messages",
    "map_concurrently",
    "on_retry",
    "retry",
    "save_messages",
    "tool",
]

_LAZY: dict[str, str] = {
    "Agent": "agentkit.agent",
    "AgentEvent": "agentkit.events",
    "AgentStream": "agentkit.events",
    "ChatClient": "agentkit.client",
    "ChatCompletion": "agentkit.types",
    "ChatCompletionChunk": "agentkit.types",
    "ChatStream": "agentkit.client",
    "CheckpointStore": "agentkit.checkpoint",
    "FileCheckpointStore": "agentkit.checkpoint",
    "Hooks": "agentkit.events",
    "Interceptor": "agentkit.interceptors",
    "MessageParam": "agentkit.types",
    "ModelSettings": "agentkit.types",
    "ReasoningDelta": "agentkit.events",
    "RunContext": "agentkit.context",
    "RunFinished": "agentkit.events",
    "RunResult": "agentkit.result",
    "RunState": "agentkit.checkpoint",
    "RunUsage": "agentkit.result",
    "StepFinished": "agentkit.events",
    "TextDelta": "agentkit.events",
    "Tool": "agentkit.tools",
    "ToolCallFinished": "agentkit.events",
    "ToolCallRequest": "agentkit.events",
    "ToolCallStarted": "agentkit.events",
    "ToolResult": "agentkit.tools",
    "Toolset": "agentkit.toolsets",
    "UsageLimits": "agentkit.result",
    "demo_client": "agentkit._demo",
    "gather": "agentkit.workflow",
    "load_messages": "agentkit.workflow",
    "map_concurrently": "agentkit.workflow",
    "on_retry": "agentkit._retry_listeners",
    "retry": "agentkit.workflow",
    "save_messages": "agentkit.workflow",
    "tool": "agentkit.tools",
}


if not TYPE_CHECKING:  # mypy must see the real imports above, not an Any-returning hook

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'agentkit' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
