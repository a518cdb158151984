"""RunUsage and RunResult: what an agent run used and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from agentkit.types import CompletionUsage

__all__ = ["RunUsage"]


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
        return replace(
            self,
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
