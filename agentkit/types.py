"""Wire types: TypedDict messages we send, pydantic models we receive.

Field names are the wire names, verbatim. Received models keep unknown fields a provider adds
(``extra="allow"``) and treat every optional field as optional, because real gateways omit
what the spec calls required. They also take the other shapes real gateways send: ``null`` for
a string, count or list the spec says is always there (read as the field's default), a float
``created`` (truncated), and ``content`` as a list of parts (see `Message`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, NotRequired, TypeAlias, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticUseDefault, core_schema

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "CompletionUsage",
    "DeltaFunctionCall",
    "DeltaToolCall",
    "FunctionCall",
    "FunctionDefinition",
    "JSONSchema",
    "Message",
    "MessageParam",
    "Model",
    "ModelSettings",
    "PromptTokensDetails",
    "ReasoningField",
    "SystemMessage",
    "ToolCall",
    "ToolCallParam",
    "ToolChoice",
    "ToolDefinition",
    "ToolMessage",
    "UserMessage",
]

JSONSchema: TypeAlias = dict[str, Any]
"""A JSON Schema object, as plain JSON data."""


# --- what we send -------------------------------------------------------------------------


class SystemMessage(TypedDict):
    """A system (or developer) instruction."""

    role: Literal["system", "developer"]
    content: str
    name: NotRequired[str]


class UserMessage(TypedDict):
    """A user turn; content is text or a list of content parts (text, image_url, ...)."""

    role: Literal["user"]
    content: str | list[dict[str, Any]]
    name: NotRequired[str]


class FunctionCallParam(TypedDict):
    """The function part of a tool call we send back."""

    name: str
    arguments: str


class ToolCallParam(TypedDict):
    """A tool call made by the assistant, as sent back in the history."""

    id: str
    type: Literal["function"]
    function: FunctionCallParam


class AssistantMessage(TypedDict):
    """An assistant turn, as sent back in the history."""

    role: Literal["assistant"]
    content: str | None
    tool_calls: NotRequired[list[ToolCallParam]]
    reasoning_content: NotRequired[str]
    reasoning: NotRequired[str]
    refusal: NotRequired[str]
    name: NotRequired[str]


class ToolMessage(TypedDict):
    """The result of one tool call."""

    role: Literal["tool"]
    tool_call_id: str
    content: str


MessageParam: TypeAlias = SystemMessage | UserMessage | AssistantMessage | ToolMessage
"""Any message we send; plain JSON-serialisable dicts."""


class FunctionDefinition(TypedDict):
    """The ``function`` part of a tool definition."""

    name: str
    description: NotRequired[str]
    parameters: JSONSchema
    strict: NotRequired[bool]


class ToolDefinition(TypedDict):
    """One entry of the request's ``tools`` list."""

    type: Literal["function"]
    function: FunctionDefinition


ToolChoice: TypeAlias = Literal["none", "auto", "required"] | str | dict[str, Any]
"""``tool_choice``: a mode, or an object like ``{"type": "function", "function": {"name": n}}``.

Any string is accepted because providers add their own modes (Mistral's ``"any"``)."""


class ModelSettings(TypedDict, total=False):
    """Optional request parameters, passed as keywords: ``client.complete(..., **settings)``.

    Names and meanings are OpenAI's; ``ChatClient`` checks types, ranges and allowed values
    against OpenAI's request schema locally before sending. ``functions`` and
    ``function_call`` are the deprecated forms of ``tools`` and ``tool_choice``. ``extra_body``
    is merged into the JSON body as is, for provider-specific parameters.
    """

    temperature: float
    top_p: float
    n: int
    stop: str | list[str]
    max_tokens: int
    max_completion_tokens: int
    presence_penalty: float
    frequency_penalty: float
    logit_bias: dict[str, int]
    logprobs: bool
    top_logprobs: int
    user: str
    seed: int
    response_format: dict[str, Any]
    reasoning_effort: str
    verbosity: str
    modalities: list[str]
    audio: dict[str, Any]
    parallel_tool_calls: bool
    stream_options: dict[str, Any]
    metadata: dict[str, str]
    store: bool
    service_tier: str
    prediction: dict[str, Any]
    web_search_options: dict[str, Any]
    prompt_cache_key: str
    prompt_cache_retention: str
    prompt_cache_options: dict[str, Any]
    safety_identifier: str
    moderation: dict[str, Any]
    functions: list[dict[str, Any]]
    function_call: str | dict[str, Any]
    extra_body: dict[str, Any]


# --- what we receive ----------------------------------------------------------------------


class _Also:
    """Annotated marker: the field also accepts other shapes, each built from its own schema.

    A left-to-right union: the field's own type is tried first, so a well-formed value costs no
    Python call (a ``BeforeValidator`` or model validator would run on every chunk).
    """

    __slots__ = ("shapes",)

    def __init__(self, *shapes: Callable[[CoreSchema], CoreSchema]) -> None:
        self.shapes = shapes

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        own = handler(source)
        alternatives = [shape(own) for shape in self.shapes]
        return core_schema.union_schema([own, *alternatives], mode="left_to_right")


def _use_default(value: None) -> Any:
    raise PydanticUseDefault  # pydantic then uses the field's default (or default_factory)


def _null(own: CoreSchema) -> CoreSchema:
    """``null``, read as the field's default."""
    return core_schema.no_info_after_validator_function(_use_default, core_schema.none_schema())


def _float(own: CoreSchema) -> CoreSchema:
    """A float, truncated to an int."""
    return core_schema.no_info_after_validator_function(
        int, core_schema.float_schema(allow_inf_nan=False)
    )


def _text_of_parts(data: Any) -> Any:
    parts = data.get("content") if isinstance(data, dict) else None
    if not isinstance(parts, list):
        return data  # not this shape: the model's own error stands
    # Mistral and some gateways send [{"type": "text", "text": ...}, ...]: the text is what
    # agents read; the parts stay available, with images or thinking in them.
    text = "".join(
        part["text"]
        for part in parts
        if isinstance(part, dict)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    )
    return {**data, "content": text, "content_parts": parts}


def _content_parts(own: CoreSchema) -> CoreSchema:
    """A message or delta whose ``content`` is a list of parts, read as their text."""
    return core_schema.no_info_before_validator_function(_text_of_parts, own)


ReasoningField: TypeAlias = Literal["reasoning_content", "reasoning"]
"""The wire field a server puts reasoning text in: ``reasoning_content`` (DeepSeek, xAI, Z.ai,
the seed gateway) or ``reasoning`` (Groq, OpenRouter, Ollama, vLLM, Cerebras)."""


def _reasoning_of(content: str | None, reasoning: str | None) -> str | None:
    # A server that sends both (some do, with the same text) is read once; the first non-empty
    # text wins, so an empty ``reasoning_content: ""`` never hides a ``reasoning`` beside it.
    if content:
        return content
    return reasoning if reasoning or content is None else content


def _reasoning_field(content: str | None, reasoning: str | None) -> ReasoningField | None:
    if content is not None:
        return "reasoning_content" if content or not reasoning else "reasoning"
    return None if reasoning is None else "reasoning"


_T = TypeVar("_T")
_OrDefault: TypeAlias = Annotated[_T, _Also(_null)]
"""A field that reads ``null`` as its default: gateways send null for what the spec requires."""
_Timestamp: TypeAlias = Annotated[int, _Also(_float, _null)]
"""Unix seconds; some servers send a float, or null."""


class _Wire(BaseModel):
    # defer_build: the validators are built on first use, not at import (~10 ms saved).
    model_config = ConfigDict(extra="allow", defer_build=True)


class FunctionCall(_Wire):
    """The function a tool call names, with its JSON-encoded arguments."""

    name: _OrDefault[str] = ""
    arguments: _OrDefault[str] = ""


class ToolCall(_Wire):
    """A tool call the model asked for."""

    id: _OrDefault[str] = ""
    type: _OrDefault[str] = "function"
    function: FunctionCall

    def to_param(self) -> ToolCallParam:
        """This tool call in the form we send back in the history."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.function.name, "arguments": self.function.arguments},
        }


class Message(_Wire):
    """The assistant message of one choice.

    When a server sends ``content`` as a list of content parts, a `ChatCompletion` holds the
    text parts joined in ``content``, and the parts as sent in ``model_extra["content_parts"]``.
    """

    role: _OrDefault[str] = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    """Reasoning text, as DeepSeek-style servers send it (not in OpenAI's spec)."""
    reasoning: str | None = None
    """Reasoning text, as Groq, OpenRouter, Ollama and vLLM send it (not in OpenAI's spec)."""
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None

    @property
    def reasoning_text(self) -> str | None:
        """The reasoning text, whichever field carried it (see `reasoning_field`)."""
        return _reasoning_of(self.reasoning_content, self.reasoning)

    @property
    def reasoning_field(self) -> ReasoningField | None:
        """The field `reasoning_text` came from, so replies send it back the same way."""
        return _reasoning_field(self.reasoning_content, self.reasoning)

    def to_param(self, *, reasoning: bool = False) -> AssistantMessage:
        """This message in the form we send back in the history.

        Args:
            reasoning: Include the reasoning, in the field(s) the server sent it in
                (``reasoning_content`` or ``reasoning``). DeepSeek thinking models require it
                on tool-call turns; most other servers ignore or reject it.
        """
        param: AssistantMessage = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            param["tool_calls"] = [call.to_param() for call in self.tool_calls]
        if reasoning:
            if self.reasoning_content:
                param["reasoning_content"] = self.reasoning_content
            if self.reasoning:
                param["reasoning"] = self.reasoning
        if self.refusal:
            param["refusal"] = self.refusal
        return param


class Choice(_Wire):
    """One completion choice."""

    index: _OrDefault[int] = 0
    message: Annotated[Message, _Also(_content_parts)]
    finish_reason: str | None = None
    logprobs: Any = None


class PromptTokensDetails(_Wire):
    """Breakdown of prompt tokens."""

    cached_tokens: int | None = None
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class CompletionTokensDetails(_Wire):
    """Breakdown of completion tokens."""

    reasoning_tokens: int | None = None
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class CompletionUsage(_Wire):
    """Token usage of one request, as the server reports it."""

    prompt_tokens: _OrDefault[int] = 0
    completion_tokens: _OrDefault[int] = 0
    total_tokens: _OrDefault[int] = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class ChatCompletion(_Wire):
    """A chat completion response (also what a stream assembles into)."""

    id: _OrDefault[str] = ""
    object: _OrDefault[str] = "chat.completion"
    created: _Timestamp = 0
    model: _OrDefault[str] = ""
    choices: _OrDefault[list[Choice]] = []
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class DeltaFunctionCall(_Wire):
    """A fragment of a streamed tool call's function."""

    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(_Wire):
    """A fragment of a streamed tool call. ``index`` is missing on some gateways."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: DeltaFunctionCall | None = None


class ChoiceDelta(_Wire):
    """What one chunk adds to a choice's message.

    In a `ChatCompletionChunk`, ``content`` sent as a list of parts is joined as in `Message`,
    the parts kept in ``model_extra["content_parts"]``.
    """

    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    """A piece of reasoning text, as DeepSeek-style servers send it."""
    reasoning: str | None = None
    """A piece of reasoning text, as Groq, OpenRouter, Ollama and vLLM send it."""
    tool_calls: list[DeltaToolCall] | None = None
    refusal: str | None = None

    @property
    def reasoning_text(self) -> str | None:
        """The piece of reasoning text, whichever field carried it."""
        return _reasoning_of(self.reasoning_content, self.reasoning)


class ChunkChoice(_Wire):
    """One choice of a streamed chunk."""

    index: _OrDefault[int] = 0
    delta: Annotated[ChoiceDelta, _Also(_content_parts, _null)] = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionChunk(_Wire):
    """One ``data:`` event of a streamed chat completion."""

    id: _OrDefault[str] = ""
    object: _OrDefault[str] = "chat.completion.chunk"
    created: _Timestamp = 0
    model: _OrDefault[str] = ""
    choices: _OrDefault[list[ChunkChoice]] = []
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class Model(_Wire):
    """One entry of ``GET /v1/models``."""

    id: str
    object: _OrDefault[str] = "model"
    created: _Timestamp | None = None
    owned_by: str | None = None
