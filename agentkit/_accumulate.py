"""Assembles streamed chat completion chunks into the completion a non-streaming call returns.

Tool-call fragments are merged by ``index``. Real gateways bend the spec, so it also copes with
deltas without ``index`` (a new id, or a name, starts a new call; anything else continues the
last one), every call of a batch sent at the same ``index`` (a new id there starts a new call),
arguments that arrive before the id, ids repeated on every chunk, and one id shared by calls
at different indexes (two calls, as the non-streamed answer has them).
"""

from __future__ import annotations

from typing import Any

from agentkit.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    CompletionUsage,
    DeltaToolCall,
    FunctionCall,
    Message,
    ToolCall,
)

__all__ = ["StreamAccumulator"]


class _Call:
    __slots__ = ("arguments", "id", "index", "name", "type")

    def __init__(self, index: int | None) -> None:
        self.index = index  # the index it first arrived at (None: the gateway sends none)
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []


class _Choice:
    __slots__ = (
        "by_index",
        "calls",
        "content",
        "extra",
        "finish_reason",
        "logprobs",
        "reasoning",
        "reasoning_content",
        "refusal",
        "role",
    )

    def __init__(self) -> None:
        self.role = "assistant"
        # Text fragments as they arrive; no fragment at all (not even "") reads as None.
        self.content: list[str] = []
        self.reasoning_content: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.calls: list[_Call] = []
        self.by_index: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.logprobs: dict[str, Any] | None = None
        self.extra: dict[str, Any] | None = None

    def add_calls(self, deltas: list[DeltaToolCall]) -> None:
        for delta in deltas:
            function = delta.function
            name = function.name if function is not None else None
            call = self._call_for(delta, name)
            if delta.id and not call.id:
                call.id = delta.id
            if delta.type:
                call.type = delta.type
            if function is not None:
                if name and not call.name:
                    # Some gateways repeat the name on every chunk: keep the first.
                    call.name = name
                if function.arguments:
                    call.arguments.append(function.arguments)

    def _call_for(self, delta: DeltaToolCall, name: str | None) -> _Call:
        index = delta.index
        if index is not None:
            call = self.by_index.get(index)
            if call is None or (delta.id and call.id and delta.id != call.id):
                # Ollama and some Gemini proxies send every call of a parallel batch at the
                # same index: a new id there is a new call, and it takes over the index, so
                # later fragments without an id continue it. An id seen at another index is
                # another call all the same (some servers reuse ids): index tells calls apart.
                call = self._known(delta.id, index) or self._new(index)
                self.by_index[index] = call
            return call
        # No index (Gemini-style): decide from the id and name whether this is a new call.
        last = self.calls[-1] if self.calls else None
        if last is not None:
            if delta.id:
                if delta.id == last.id or not last.id:
                    return last
                known = self._known(delta.id, None)  # an id repeated later, out of order
                if known is not None:
                    return known
            elif not name or not last.name:
                return last
        return self._new(None)

    def _known(self, id: str | None, index: int | None) -> _Call | None:
        """The call that already has this id, at this index or at none, if any."""
        if id:
            for call in self.calls:
                if call.id == id and (call.index is None or call.index == index):
                    return call
        return None

    def _new(self, index: int | None) -> _Call:
        call = _Call(index)
        self.calls.append(call)
        return call

    def add_extra(self, extra: dict[str, Any]) -> None:
        # Provider fields: a list (annotations, content parts, reasoning_details...) adds up
        # across chunks, as the non-streamed answer holds them all; any other value keeps the
        # last non-null one.
        for key, value in extra.items():
            if value is None:
                continue
            if self.extra is None:
                self.extra = {}
            if isinstance(value, list):
                known = self.extra.get(key)
                if isinstance(known, list):
                    known.extend(value)
                    continue
                value = list(value)  # ours to extend: the chunk's own list stays as sent
            self.extra[key] = value

    def add_logprobs(self, logprobs: Any) -> None:
        if not isinstance(logprobs, dict):
            return
        if self.logprobs is None:
            self.logprobs = {}
        for key, value in logprobs.items():
            known = self.logprobs.get(key)
            if isinstance(value, list):
                if isinstance(known, list):
                    known.extend(value)
                else:
                    self.logprobs[key] = list(value)
            elif key not in self.logprobs:
                # {"refusal": null} stays null, as in the non-streamed answer.
                self.logprobs[key] = value

    def build(self, index: int) -> Choice:
        tool_calls = None
        if self.calls:
            tool_calls = [
                ToolCall(
                    id=call.id,
                    type=call.type,
                    function=FunctionCall(name=call.name, arguments="".join(call.arguments)),
                )
                for call in self.calls
            ]
        message = Message(
            role=self.role,
            content=_join(self.content),
            reasoning_content=_join(self.reasoning_content),
            reasoning=_join(self.reasoning),
            tool_calls=tool_calls,
            refusal=_join(self.refusal),
            **(self.extra or {}),
        )
        return Choice(
            index=index, message=message, finish_reason=self.finish_reason, logprobs=self.logprobs
        )


def _join(pieces: list[str]) -> str | None:
    return "".join(pieces) if pieces else None


class StreamAccumulator:
    """Feeds on ``ChatCompletionChunk``s; ``completion()`` returns what arrived so far."""

    __slots__ = (
        "_choices",
        "created",
        "finished",
        "id",
        "model",
        "service_tier",
        "system_fingerprint",
        "usage",
    )

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self.id = ""
        self.model = ""
        self.created = 0
        self.system_fingerprint: str | None = None
        self.service_tier: str | None = None
        self.usage: CompletionUsage | None = None
        self.finished = False
        """True once any choice got a ``finish_reason``."""

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Merge one chunk.

        Args:
            chunk: The next chunk of the stream, in order.
        """
        if chunk.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.created:
            self.created = chunk.created
        if chunk.system_fingerprint:
            self.system_fingerprint = chunk.system_fingerprint
        if chunk.service_tier:
            self.service_tier = chunk.service_tier
        if chunk.usage is not None:  # the last one wins: some servers send running totals
            self.usage = chunk.usage
        for piece in chunk.choices:
            state = self._choices.get(piece.index)
            if state is None:
                state = self._choices[piece.index] = _Choice()
            delta = piece.delta
            if delta.role:
                state.role = delta.role
            # Text fields add up, fragment by fragment, whichever reasoning field is used.
            if delta.content is not None:
                state.content.append(delta.content)
            if delta.reasoning_content is not None:
                state.reasoning_content.append(delta.reasoning_content)
            if delta.reasoning is not None:
                state.reasoning.append(delta.reasoning)
            if delta.refusal is not None:
                state.refusal.append(delta.refusal)
            if delta.tool_calls:
                state.add_calls(delta.tool_calls)
            if delta.__pydantic_extra__:
                state.add_extra(delta.__pydantic_extra__)
            if piece.logprobs is not None:
                state.add_logprobs(piece.logprobs)
            if piece.finish_reason:
                state.finish_reason = piece.finish_reason
                self.finished = True

    def completion(self) -> ChatCompletion:
        """The completion assembled from the chunks so far.

        Returns:
            A ``ChatCompletion`` shaped like the server's non-streaming answer; choices whose
            stream had no ``finish_reason`` yet keep ``finish_reason=None``.
        """
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[state.build(index) for index, state in sorted(self._choices.items())],
            usage=self.usage,
            system_fingerprint=self.system_fingerprint,
            service_tier=self.service_tier,
        )
