"""StreamAccumulator: recorded streams from real gateways -> the completion they mean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentkit._accumulate import StreamAccumulator
from agentkit._sse import SSEParser
from agentkit.types import ChatCompletion, ChatCompletionChunk

STREAMS = Path(__file__).parent / "data" / "streams"


def chunks(name: str) -> list[ChatCompletionChunk]:
    parser = SSEParser()
    raw = (STREAMS / name).read_bytes()
    return [ChatCompletionChunk.model_validate_json(e.data) for e in parser.feed(raw)]


def assemble(name: str) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for chunk in chunks(name):
        accumulator.add(chunk)
    return accumulator


def call(id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


EXPECTED: dict[str, dict[str, Any]] = {
    "openai_text.sse": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-5.4",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello wörld ✓"},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 3,
            "total_tokens": 22,
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    },
    "openai_tool_calls.sse": {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5.4",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        call("call_a", "get_weather", '{"city": "Paris"}'),
                        call("call_b", "get_time", '{"tz": "CET"}'),
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
    },
    "gemini_no_index.sse": {
        "id": "gem-1",
        "object": "chat.completion",
        "created": 1750000000,
        "model": "gemini-3.1-pro-preview",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        call("function-call-1", "get_weather", '{"city":"Paris"}'),
                        call("function-call-2", "get_weather", '{"city":"Rome"}'),
                    ],
                },
                # Gemini says "stop" even with tool calls; the calls are kept all the same.
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 18, "total_tokens": 58},
    },
    "no_index_fragments.sse": {
        "id": "x-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        call("call_1", "add", '{"a": 1, "b": 2}'),
                        # the name started the call; its id came with a later fragment
                        call("call_2", "mul", '{"a": 3, "b": 4}'),
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    },
    "same_index_calls.sse": {
        "id": "ol-1",
        "object": "chat.completion",
        "created": 1760000000,
        "model": "qwen3:8b",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    # Ollama: every call of the batch at index 0; a new id starts a new call
                    "tool_calls": [
                        call("call_a", "get_weather", '{"city":"Paris"}'),
                        call("call_b", "get_time", '{"tz":"UTC"}'),
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 24, "total_tokens": 54},
    },
    "shared_id_calls.sse": {
        "id": "g-1",
        "object": "chat.completion",
        "created": 1760000001,
        "model": "llama-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    # one id at two indexes: two calls, as the non-streamed answer has them
                    "tool_calls": [
                        call("call_same", "count", '{"n": 0}'),
                        call("call_same", "count", '{"n": 1}'),
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    },
    "args_before_id.sse": {
        "id": "y-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [call("call_late", "search", '{"q": "agents"}')],
                },
                "finish_reason": "tool_calls",
            }
        ],
    },
    "repeated_ids.sse": {
        "id": "z-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [call("call_r", "lookup", '{"key": "k1"}')],
                },
                "finish_reason": "stop",
            }
        ],
    },
    "reasoning.sse": {
        "id": "ds-1",
        "object": "chat.completion",
        "created": 7,
        "model": "deepseek-v4-pro",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi!",
                    "reasoning_content": "The user greets. Reply kindly.",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 9,
            "total_tokens": 14,
            "completion_tokens_details": {"reasoning_tokens": 6},
        },
    },
    "reasoning_field.sse": {
        "id": "gq-1",
        "object": "chat.completion",
        "created": 9,
        "model": "openai/gpt-oss-120b",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello!",
                    # Groq-style: every fragment of `reasoning` kept, in the field it came in
                    "reasoning": "The user says hi.",
                    "channel": "analysis",
                },
                "finish_reason": "stop",
            }
        ],
    },
    "two_choices.sse": {
        "id": "n-1",
        "object": "chat.completion",
        "created": 3,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Aa"},
                "finish_reason": "length",
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": "Bb"},
                "finish_reason": "stop",
            },
        ],
    },
    "refusal.sse": {
        "id": "r-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "refusal": "I can't help with that."},
                "finish_reason": "stop",
            }
        ],
    },
    "crlf_comments.sse": {
        "id": "or-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi there"},
                "finish_reason": "stop",
            }
        ],
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_stream_assembles(name: str):
    accumulator = assemble(name)
    assert accumulator.finished
    completion = accumulator.completion()
    assert completion.model_dump(exclude_none=True) == EXPECTED[name]
    # what a non-streaming server would have sent for the same answer
    assert completion == ChatCompletion.model_validate(EXPECTED[name])


def test_every_fixture_is_covered():
    files = {p.name for p in STREAMS.glob("*.sse")}
    # these end broken on purpose; test_client.py and test_stream.py feed them to a client
    assert files - set(EXPECTED) == {
        "finish_without_done.sse",
        "truncated.sse",
        "error_event.sse",
        "keepalive_error_object.sse",
        "reasoning_error_event.sse",
    }


def test_partial_stream_has_no_finish_reason():
    accumulator = StreamAccumulator()
    for chunk in chunks("openai_tool_calls.sse")[:3]:
        accumulator.add(chunk)
    assert not accumulator.finished
    choice = accumulator.completion().choices[0]
    assert choice.finish_reason is None
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.arguments == '{"city": "Paris"}'


def test_empty_accumulator():
    completion = StreamAccumulator().completion()
    assert completion.choices == [] and completion.usage is None


def test_logprobs_and_list_extras_are_concatenated():
    accumulator = StreamAccumulator()
    for piece in ("a", "b"):
        accumulator.add(
            ChatCompletionChunk.model_validate(
                {
                    "choices": [
                        {
                            "delta": {"content": piece, "annotations": [piece]},
                            "logprobs": {"content": [{"token": piece, "logprob": -0.1}]},
                        }
                    ]
                }
            )
        )
    accumulator.add(ChatCompletionChunk.model_validate({"choices": [{"logprobs": "junk"}]}))
    choice = accumulator.completion().choices[0]
    assert choice.logprobs == {
        "content": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.1}]
    }
    # list fields add up across chunks, as the non-streamed answer holds them all
    assert choice.message.model_extra == {"annotations": ["a", "b"]}


def test_no_index_id_repeated_out_of_order_continues_its_call():
    accumulator = StreamAccumulator()
    for delta in (
        {"id": "c1", "function": {"name": "f", "arguments": "{"}},
        {"id": "c2", "function": {"name": "g", "arguments": "{}"}},
        {"id": "c1", "function": {"arguments": "}"}},
        {"function": {"arguments": ""}},
    ):
        accumulator.add(
            ChatCompletionChunk.model_validate({"choices": [{"delta": {"tool_calls": [delta]}}]})
        )
    calls = accumulator.completion().choices[0].message.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("c1", "f", "{}"),
        ("c2", "g", "{}"),
    ]


@pytest.mark.parametrize(
    ("name", "field", "text"),
    [
        ("reasoning.sse", "reasoning_content", "The user greets. Reply kindly."),
        ("reasoning_field.sse", "reasoning", "The user says hi."),
    ],
)
def test_reasoning_text_whichever_field_carried_it(name: str, field: str, text: str):
    pieces = [c.choices[0].delta.reasoning_text for c in chunks(name) if c.choices]
    assert "".join(p for p in pieces if p) == text
    message = assemble(name).completion().choices[0].message
    assert (message.reasoning_text, message.reasoning_field) == (text, field)
