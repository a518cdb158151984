"""Assembles streamed chat completion chunks into the completion a non-streaming call returns.

Tool-call fragments are merged by ``index``. Real gateways bend the spec, so it also copes with
deltas without ``index`` (a new id, or a name, starts a new call; anything else continues the
last one), every call of a batch sent at the same ``index`` (a new id there starts a new call),
arguments that arrive before the id, ids repeated on every chunk, and one id shared by calls
at different indexes (two calls, as the non-streamed answer has them).
"""

from __future__ import annotations

from typing import Any

from pydantic_core import CoreSchema, SchemaValidator, core_schema

from agentkit.types import (
    ChatCompletion,
    ChatCompletionChunk,
    CompletionUsage,
)

__all__ = ["StreamAccumulator", "plain_chunk"]


# One tool-call fragment: index, id, type, function name, arguments (None where not sent).
_CallDelta = tuple[int | None, str | None, str | None, str | None, str | None]


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

    def add_calls(self, deltas: list[_CallDelta]) -> None:
        for index, id, type, name, arguments in deltas:
            call = self._call_for(index, id, name)
            if id and not call.id:
                call.id = id
            if type:
                call.type = type
            if name and not call.name:
                # Some gateways repeat the name on every chunk: keep the first.
                call.name = name
            if arguments:
                call.arguments.append(arguments)

    def _call_for(self, index: int | None, id: str | None, name: str | None) -> _Call:
        if index is not None:
            call = self.by_index.get(index)
            if call is None or (id and call.id and id != call.id):
                # Ollama and some Gemini proxies send every call of a parallel batch at the
                # same index: a new id there is a new call, and it takes over the index, so
                # later fragments without an id continue it. An id seen at another index is
                # another call all the same (some servers reuse ids): index tells calls apart.
                call = self._known(id, index) or self._new(index)
                self.by_index[index] = call
            return call
        # No index (Gemini-style): decide from the id and name whether this is a new call.
        last = self.calls[-1] if self.calls else None
        if last is not None:
            if id:
                if id == last.id or not last.id:
                    return last
                known = self._known(id, None)  # an id repeated later, out of order
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

    def build(self, index: int) -> dict[str, Any]:
        """This choice as JSON data: `StreamAccumulator.completion` validates it whole."""
        message: dict[str, Any] = {
            **(self.extra or {}),  # provider fields: never a declared field's name
            "role": self.role,
            "content": _join(self.content),
            "reasoning_content": _join(self.reasoning_content),
            "reasoning": _join(self.reasoning),
            "tool_calls": [
                {
                    "id": call.id,
                    "type": call.type,
                    "function": {"name": call.name, "arguments": "".join(call.arguments)},
                }
                for call in self.calls
            ]
            if self.calls
            else None,
            "refusal": _join(self.refusal),
        }
        return {
            "index": index,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": self.logprobs,
        }


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
        self._head(chunk.id, chunk.model, chunk.created, chunk.system_fingerprint)
        if chunk.service_tier:
            self.service_tier = chunk.service_tier
        if chunk.usage is not None:  # the last one wins: some servers send running totals
            self.usage = chunk.usage
        for piece in chunk.choices:
            delta = piece.delta
            calls = delta.tool_calls
            state = self._merge(
                piece.index,
                delta.role,
                delta.content,
                delta.reasoning_content,
                delta.reasoning,
                delta.refusal,
                [
                    (
                        c.index,
                        c.id,
                        c.type,
                        None if c.function is None else c.function.name,
                        None if c.function is None else c.function.arguments,
                    )
                    for c in calls
                ]
                if calls
                else None,
                piece.finish_reason,
            )
            if delta.__pydantic_extra__:
                state.add_extra(delta.__pydantic_extra__)
            if piece.logprobs is not None:
                state.add_logprobs(piece.logprobs)

    def add_plain(self, data: dict[str, Any]) -> None:
        """Merge one chunk given as JSON data that `plain_chunk` returned.

        The same as ``add(ChatCompletionChunk.model_validate(data))``, without building the
        chunk's five models (most of a streamed chunk's cost in an agent run).

        Args:
            data: The next chunk of the stream, in order.
        """
        self._head(
            data.get("id"), data.get("model"), data.get("created"), data.get("system_fingerprint")
        )
        usage = data.get("usage")
        if usage is not None:  # the last one wins, as in `add`
            self.usage = CompletionUsage.model_validate(usage)
        for piece in data.get("choices", ()):
            delta = piece.get("delta") or _NO_DELTA
            calls = delta.get("tool_calls")
            self._merge(
                piece.get("index", 0),
                delta.get("role"),
                delta.get("content"),
                delta.get("reasoning_content"),
                delta.get("reasoning"),
                delta.get("refusal"),
                [
                    (
                        c.get("index"),
                        c.get("id"),
                        c.get("type"),
                        (c.get("function") or _NO_DELTA).get("name"),
                        (c.get("function") or _NO_DELTA).get("arguments"),
                    )
                    for c in calls
                ]
                if calls
                else None,
                piece.get("finish_reason"),
            )

    def _head(
        self, id: str | None, model: str | None, created: int | None, fingerprint: str | None
    ) -> None:
        if id:
            self.id = id
        if model:
            self.model = model
        if created:
            self.created = created
        if fingerprint:
            self.system_fingerprint = fingerprint

    def _merge(
        self,
        index: int,
        role: str | None,
        content: str | None,
        reasoning_content: str | None,
        reasoning: str | None,
        refusal: str | None,
        calls: list[_CallDelta] | None,
        finish_reason: str | None,
    ) -> _Choice:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
        if role:
            state.role = role
        # Text fields add up, fragment by fragment, whichever reasoning field is used.
        if content is not None:
            state.content.append(content)
        if reasoning_content is not None:
            state.reasoning_content.append(reasoning_content)
        if reasoning is not None:
            state.reasoning.append(reasoning)
        if refusal is not None:
            state.refusal.append(refusal)
        if calls:
            state.add_calls(calls)
        if finish_reason:
            state.finish_reason = finish_reason
            self.finished = True
        return state

    def completion(self) -> ChatCompletion:
        """The completion assembled from the chunks so far.

        Returns:
            A ``ChatCompletion`` shaped like the server's non-streaming answer; choices whose
            stream had no ``finish_reason`` yet keep ``finish_reason=None``.
        """
        # One validation of the whole, not a constructor call per nested model (~2x faster).
        return ChatCompletion.model_validate(
            {
                "id": self.id,
                "created": self.created,
                "model": self.model,
                "choices": [state.build(i) for i, state in sorted(self._choices.items())],
                "usage": self.usage,
                "system_fingerprint": self.system_fingerprint,
                "service_tier": self.service_tier,
            }
        )


_NO_DELTA: dict[str, Any] = {}


def _fields(fields: dict[str, CoreSchema], *, nullable: bool = False) -> CoreSchema:
    """An object of these optional keys and no other (a provider's field is not plain)."""
    schema = core_schema.typed_dict_schema(
        {key: core_schema.typed_dict_field(value, required=False) for key, value in fields.items()},
        extra_behavior="forbid",
        total=False,
    )
    return core_schema.nullable_schema(schema) if nullable else schema


def _list(items: CoreSchema, *, nullable: bool = False) -> CoreSchema:
    schema = core_schema.list_schema(items, strict=True)
    return core_schema.nullable_schema(schema) if nullable else schema


_STR = core_schema.str_schema(strict=True)
_INT = core_schema.int_schema(strict=True)  # strict: neither a bool, nor a float like 1.0
_TEXT = core_schema.nullable_schema(_STR)
# A plain chunk: only the standard keys, each of the exact JSON type that validates to itself
# (a str, an int that is no bool, null only where the model keeps null). Any other key (a
# provider's field, an "error") or value (a null id, a float timestamp, content parts, usage
# details) fails it, and the chunk goes through `ChatCompletionChunk`, whose validation and
# normalisation then apply as always.
_PLAIN = SchemaValidator(
    _fields(
        {
            "id": _STR,
            "object": _STR,
            "model": _STR,
            "created": _INT,
            "system_fingerprint": _TEXT,
            "usage": _fields(
                {"prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT},
                nullable=True,
            ),
            "choices": _list(
                _fields(
                    {
                        "index": _INT,
                        "delta": _fields(
                            {
                                "role": _TEXT,
                                "content": _TEXT,
                                "reasoning_content": _TEXT,
                                "reasoning": _TEXT,
                                "refusal": _TEXT,
                                "tool_calls": _list(
                                    _fields(
                                        {
                                            "index": core_schema.nullable_schema(_INT),
                                            "id": _TEXT,
                                            "type": _TEXT,
                                            "function": _fields(
                                                {"name": _TEXT, "arguments": _TEXT},
                                                nullable=True,
                                            ),
                                        }
                                    ),
                                    nullable=True,
                                ),
                            },
                            nullable=True,
                        ),
                        "finish_reason": _TEXT,
                        "logprobs": core_schema.none_schema(),
                    }
                )
            ),
        }
    )
)


def plain_chunk(raw: bytes) -> dict[str, Any] | None:
    """The chunk ``raw`` holds, as JSON data, if it is a plain one; else None.

    A plain chunk validates to itself as a `ChatCompletionChunk` (no field to fill, convert
    or keep as extra), so it can be merged as data (`StreamAccumulator.add_plain`) with the
    same result. Parsing and the check are one pass in pydantic-core.

    Args:
        raw: The ``data`` of one SSE event.
    """
    try:
        plain: dict[str, Any] = _PLAIN.validate_json(raw)
    except ValueError:  # not plain, not JSON, or nested too deeply: the model says which
        return None
    return plain
