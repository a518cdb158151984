"""Wire types: TypedDict messages we send, pydantic models we receive.

Field names are the wire names, verbatim. Received models keep unknown fields a provider adds
(``extra="allow"``) and treat every optional field as optional, because real gateways omit
what the spec calls required.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from pydantic import BaseModel, ConfigDict, Field

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


ToolChoice: TypeAlias = Literal["none", "auto", "required"] | dict[str, Any]
"""``tool_choice``: a mode, or an object like ``{"type": "function", "function": {"name": n}}``."""


class ModelSettings(TypedDict, total=False):
    """Optional request parameters, passed as keywords: ``client.complete(..., **settings)``.

    Names and meanings are OpenAI's; ``ChatClient`` checks ranges locally before sending.
    ``extra_body`` is merged into the JSON body as is, for provider-specific parameters.
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
    safety_identifier: str
    extra_body: dict[str, Any]


# --- what we receive ----------------------------------------------------------------------


class _Wire(BaseModel):
    # defer_build: the validators are built on first use, not at import (~10 ms saved).
    model_config = ConfigDict(extra="allow", defer_build=True)


class FunctionCall(_Wire):
    """The function a tool call names, with its JSON-encoded arguments."""

    name: str = ""
    arguments: str = ""


class ToolCall(_Wire):
    """A tool call the model asked for."""

    id: str = ""
    type: str = "function"
    function: FunctionCall

    def to_param(self) -> ToolCallParam:
        """This tool call in the form we send back in the history."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.function.name, "arguments": self.function.arguments},
        }


class Message(_Wire):
    """The assistant message of one choice."""

    role: str = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    """Reasoning text from reasoning models (a gateway extension, not in OpenAI's spec)."""
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None

    def to_param(self, *, reasoning: bool = False) -> AssistantMessage:
        """This message in the form we send back in the history.

        Args:
            reasoning: Include ``reasoning_content`` (DeepSeek thinking models require it on
                tool-call turns; most other servers reject it).
        """
        param: AssistantMessage = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            param["tool_calls"] = [call.to_param() for call in self.tool_calls]
        if reasoning and self.reasoning_content:
            param["reasoning_content"] = self.reasoning_content
        if self.refusal:
            param["refusal"] = self.refusal
        return param


class Choice(_Wire):
    """One completion choice."""

    index: int = 0
    message: Message
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

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class ChatCompletion(_Wire):
    """A chat completion response (also what a stream assembles into)."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = []
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
    """What one chunk adds to a choice's message."""

    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None
    refusal: str | None = None


class ChunkChoice(_Wire):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: ChoiceDelta = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionChunk(_Wire):
    """One ``data:`` event of a streamed chat completion."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class Model(_Wire):
    """One entry of ``GET /v1/models``."""

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
