"""RunUsage, UsageLimits and RunResult: what an agent run used, may use, and produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic_core import to_jsonable_python

from agentkit.types import CompletionUsage

__all__ = ["RunResult", "RunUsage", "UsageLimits"]

OutputT = TypeVar("OutputT")


@dataclass(frozen=True, kw_only=True)
class RunUsage:
    """Token and request counts summed over every model request of a run."""

    requests: int = 0
    """Model requests made."""
    prompt_tokens: int = 0
    """Prompt (input) tokens."""
    completion_tokens: int = 0
    """Completion (output) tokens, reasoning included."""
    total_tokens: int = 0
    """Total tokens as the server reports them."""
    reasoning_tokens: int = 0
    """Reasoning tokens (part of completion_tokens)."""
    cached_tokens: int = 0
    """Prompt tokens served from the provider's cache."""

    @classmethod
    def from_usage(cls, usage: CompletionUsage | None) -> RunUsage:
        """The usage of one request (``requests=1``), from the server's ``usage`` object."""
        if usage is None:
            return cls(requests=1)
        prompt = usage.prompt_tokens_details
        completion = usage.completion_tokens_details
        return cls(
            requests=1,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
            reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
            cached_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        )

    def __add__(self, other: RunUsage) -> RunUsage:
        # Every field given: dataclasses.replace would only add a slow look at the fields.
        return type(self)(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-serialisable dict."""
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass(frozen=True, kw_only=True)
class UsageLimits:
    """Limits that stop a run with `UsageLimitExceeded` before it uses more.

    Both are checked before each model request, so a run never makes more than
    ``max_requests`` requests, and makes no further request once ``max_total_tokens`` is reached.
    """

    max_requests: int | None = None
    """Most model requests a run may make (None: no limit)."""
    max_total_tokens: int | None = None
    """Total tokens after which no further request is made (None: no limit)."""

    def exceeded(self, usage: RunUsage) -> tuple[str, str] | None:
        """Which limit ``usage`` has reached, as ``(limit name, message)``, or None."""
        if self.max_requests is not None and usage.requests >= self.max_requests:
            return "max_requests", f"the run reached max_requests={self.max_requests}"
        if self.max_total_tokens is not None and usage.total_tokens >= self.max_total_tokens:
            return (
                "max_total_tokens",
                f"the run used {usage.total_tokens} token{'' if usage.total_tokens == 1 else 's'}, "
                f"max_total_tokens="
                f"{self.max_total_tokens}",
            )
        return None


@dataclass(frozen=True, kw_only=True)
class RunResult(Generic[OutputT]):
    """What `Agent.run` returns: the typed output and the whole conversation."""

    output: OutputT
    """The final answer, validated against the agent's ``output_type``."""
    messages: list[dict[str, Any]]
    """Every message of the conversation (history included), as plain JSON dicts."""
    new_messages: list[dict[str, Any]]
    """The messages this run added: its input, assistant turns and tool results."""
    usage: RunUsage
    """Usage summed over every model request of the run (sub-agents included)."""
    steps: int
    """Model requests made by this run (a resumed run counts those made before the stop)."""
    reasoning: str | None = None
    """The final answer's reasoning text (``reasoning_content`` or ``reasoning``, whichever the
    server sent; every step's is on its assistant message in ``messages``)."""
    run_id: str | None = None
    """The checkpoint key of the run, when it ran with a checkpoint store."""

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-serialisable data (a structured output becomes plain JSON)."""
        return {
            "output": to_jsonable_python(self.output),
            "messages": self.messages,
            "new_messages": self.new_messages,
            "usage": self.usage.to_dict(),
            "steps": self.steps,
            "reasoning": self.reasoning,
            "run_id": self.run_id,
        }
