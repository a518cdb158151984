"""Checks agentkit's response side against recorded real provider traffic (a dev script).

It reads the recordings where they are (``/work/shared/real_wire`` by default; nothing is copied
into the repository) and replays each recorded response through an ``httpx.MockTransport``:

* a JSON answer parses with ``ChatClient.complete`` (an error status raises the typed
  ``APIStatusError`` for it), and ``ChatClient.stream`` reads it to the same completion;
* an SSE answer streams through ``ChatClient.stream`` to the same chunks and completion
  whatever the network read boundaries (whole, line by line, fixed pieces, random cuts);
  a stream with an in-stream error yields every chunk before the error, then raises
  ``APIStreamError``;
* ``text_deltas()`` (what ``Agent.stream`` reads) ends with the same completion or error;
* where comparable, the streamed completion equals what ``complete()`` returns for the same
  answer sent whole: a reference body is built from the recorded chunks by a deliberately
  naive assembler written here (text fields joined, tool calls by index and id, last usage)
  and parsed by ``complete()``. Compared: ids, model, created, each choice's role, content,
  ``reasoning_content``, ``reasoning``, refusal, tool calls and finish reason, and usage.
  Provider extras are not compared (their fragment semantics differ per provider).

Failures are printed, one per line; the exit status is 1 if there are any.

    .venv/bin/python scripts/real_wire_responses.py [--corpus DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

from agentkit import errors
from agentkit.client import ChatClient
from agentkit.types import ChatCompletion, ChatCompletionChunk

CORPUS = Path("/work/shared/real_wire")
USER = [{"role": "user", "content": "hi"}]
TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "refusal")


# --- replaying one recorded response ------------------------------------------------------


def raw_body(response: dict[str, Any]) -> bytes:
    """The bytes the server sent (``jsonl_chunks``: one data payload per line, framed as SSE)."""
    body: str = response["body"]
    if response.get("framing") == "jsonl_chunks":
        lines = [line for line in body.split("\n") if line.strip()]
        body = "".join(f"data: {line}\n\n" for line in lines) + "data: [DONE]\n\n"
    return body.encode()


def client_for(status: int, content_type: str, pieces: list[bytes]) -> ChatClient:
    """A client whose every request gets this response, ``pieces`` one network read each."""

    def handler(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        return httpx.Response(status, headers={"content-type": content_type}, content=body())

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ChatClient(
        base_url="http://replay/v1", api_key="sk-replay", max_retries=0, http_client=http
    )


async def streamed(
    status: int, content_type: str, pieces: list[bytes]
) -> tuple[list[ChatCompletionChunk], ChatCompletion | None, BaseException | None]:
    """The chunks a stream yields, its final completion, and the error it ended with."""
    seen: list[ChatCompletionChunk] = []
    try:
        async with client_for(status, content_type, pieces).stream(
            model="m", messages=USER
        ) as stream:
            async for chunk in stream:
                seen.append(chunk)
            return seen, await stream.get_final_completion(), None
    except errors.AgentKitError as exc:
        return seen, None, exc


async def streamed_as_text(
    status: int, content_type: str, pieces: list[bytes]
) -> tuple[str, ChatCompletion | None, BaseException | None]:
    """What `Agent.stream` reads: ``text_deltas()``'s text, the final completion, the error."""
    text: list[str] = []
    try:
        async with client_for(status, content_type, pieces).stream(
            model="m", messages=USER
        ) as stream:
            async for _, words in stream.text_deltas():
                text.append(words or "")
            return "".join(text), await stream.get_final_completion(), None
    except errors.AgentKitError as exc:
        return "".join(text), None, exc


def splits(raw: bytes, seed: str) -> dict[str, list[bytes]]:
    """The same bytes delivered with different read boundaries."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(raw)), min(40, max(0, len(raw) - 1))))
    return {
        "whole": [raw],
        "lines": raw.splitlines(keepends=True),
        "997-byte reads": [raw[i : i + 997] for i in range(0, len(raw), 997)],
        "random cuts": [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)],
    }


# --- the naive reference: what a non-streaming server sends for the same answer -----------


def data_payloads(raw: bytes) -> list[tuple[str | None, str]]:
    """``(event, data)`` per SSE event, read plainly (no split handling needed: one buffer)."""
    events: list[tuple[str | None, str]] = []
    event: str | None = None
    data: list[str] = []
    for line in raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n") + [""]:
        if not line:
            if data:
                events.append((event, "\n".join(data)))
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    return events


def reference(raw: bytes) -> tuple[dict[str, Any], int, bool]:
    """The whole answer the chunks add up to, the chunks before any error, and whether one came.

    Deliberately simple and independent of agentkit's assembler.
    """
    body: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    count = 0
    for event, data in data_payloads(raw):
        if data.strip() == "[DONE]":
            break
        if event == "error":
            return finish(body, choices), count, True
        try:
            chunk = json.loads(data)
        except ValueError:
            return finish(body, choices), count, True
        if not isinstance(chunk, dict) or "error" in chunk:
            return finish(body, choices), count, True
        count += 1
        for key in ("id", "model", "created", "system_fingerprint", "service_tier", "usage"):
            if chunk.get(key):
                body[key] = chunk[key]
        for piece in chunk.get("choices") or []:
            state = choices.setdefault(piece.get("index") or 0, {"message": {}, "calls": []})
            delta = piece.get("delta") or {}
            message = state["message"]
            if delta.get("role"):
                message["role"] = delta["role"]
            for key in TEXT_FIELDS:
                value = delta.get(key)
                if isinstance(value, list):  # content parts: their text
                    value = "".join(p.get("text", "") for p in value if p.get("type") == "text")
                if isinstance(value, str):
                    message[key] = message.get(key, "") + value
            for call in delta.get("tool_calls") or []:
                add_call(state["calls"], call)
            if piece.get("finish_reason"):
                state["finish_reason"] = piece["finish_reason"]
    return finish(body, choices), count, False


def add_call(calls: list[dict[str, Any]], delta: dict[str, Any]) -> None:
    """Merge one tool-call delta: by index; a new id at an index, or a new name, is a new call."""
    index, id, function = delta.get("index"), delta.get("id"), delta.get("function") or {}
    same = [c for c in calls if c["index"] == index]
    current = same[-1] if same else None
    if (
        current is None
        or (id and current["id"] and id != current["id"])
        or (index is None and not id and function.get("name") and current["name"])
    ):
        current = {"index": index, "id": "", "name": "", "arguments": ""}
        calls.append(current)
    current["id"] = current["id"] or id or ""
    current["name"] = current["name"] or function.get("name") or ""
    current["arguments"] += function.get("arguments") or ""


def finish(body: dict[str, Any], choices: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The reference body, its choices filled from the per-choice state."""
    for index, state in sorted(choices.items()):
        message = {"role": "assistant", **state["message"]}
        if state["calls"]:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in state["calls"]
            ]
        body["choices"].append(
            {"index": index, "message": message, "finish_reason": state.get("finish_reason")}
        )
    return body


def comparable(completion: ChatCompletion) -> dict[str, Any]:
    """The fields a streamed and a whole answer must agree on."""
    return {
        "id": completion.id,
        "model": completion.model,
        "created": completion.created,
        "usage": completion.usage.model_dump(exclude_none=True) if completion.usage else None,
        "choices": [
            {
                "index": c.index,
                "finish_reason": c.finish_reason,
                "role": c.message.role,
                # getattr: an extra field is an attribute only where the server sent it
                **{key: getattr(c.message, key, None) or None for key in TEXT_FIELDS},
                "tool_calls": [
                    t.model_dump(include={"id", "function"}) for t in c.message.tool_calls or ()
                ],
            }
            for c in completion.choices
        ],
    }


# --- the checks -----------------------------------------------------------------------------


async def check_json(record: dict[str, Any], fail: Callable[[str], None]) -> None:
    """A JSON answer: complete() parses it or raises its status error; stream() agrees."""
    response = record["response"]
    status, content_type = response["status"], response["content_type"]
    pieces = [raw_body(response)]
    client = client_for(status, content_type, pieces)
    try:
        whole = await client.complete(model="m", messages=USER)
    except errors.APIStatusError as exc:
        if status < 400 or exc.status_code != status:
            fail(f"complete() raised {type(exc).__name__} {exc.status_code} for {status}")
        return
    except errors.AgentKitError as exc:
        fail(f"complete() raised {type(exc).__name__}: {str(exc)[:160]}")
        return
    if status >= 400:
        fail(f"complete() returned a completion for status {status}")
        return
    _, final, error = await streamed(status, content_type, pieces)
    if error is not None or final is None:
        fail(f"stream() of the JSON answer raised {type(error).__name__}: {str(error)[:160]}")
    elif final != whole:
        fail("stream() of the JSON answer differs from complete()")


async def check_sse(record: dict[str, Any], fail: Callable[[str], None]) -> None:
    """An SSE answer: the same result whatever the splits, and what complete() gives."""
    response = record["response"]
    status, content_type = response["status"], response["content_type"]
    raw = raw_body(response)
    expected_body, before_error, has_error = reference(raw)
    results = {}
    for name, pieces in splits(raw, record["id"]).items():
        chunks, final, error = await streamed(status, content_type, pieces)
        dumped = [c.model_dump() for c in chunks]
        results[name] = (dumped, final)
        if has_error:
            if not isinstance(error, errors.APIStreamError | errors.APIResponseError):
                fail(f"{name}: expected an in-stream error, got {error!r}")
            if len(chunks) != before_error:
                fail(f"{name}: {len(chunks)} of the {before_error} chunks before the error")
        elif error is not None or final is None:
            fail(f"{name}: the stream raised {type(error).__name__}: {str(error)[:200]}")
    first_chunks, first_final = results["whole"]
    for name, (dumped, final) in results.items():
        if (dumped, final) != (first_chunks, first_final):
            fail(f"{name}: chunks or completion differ from the whole-body read")
    # The lean read (plain chunks merged as data) must end the same way as the typed one.
    _, lean_final, lean_error = await streamed_as_text(status, content_type, [raw])
    if lean_final != first_final or (lean_error is None) != (not has_error):
        fail(f"text_deltas() ends differently: {lean_error!r}")
    if has_error or first_final is None:
        return
    client = client_for(200, "application/json", [json.dumps(expected_body).encode()])
    try:
        whole = await client.complete(model="m", messages=USER)
    except errors.AgentKitError as exc:
        fail(f"complete() of the reference answer raised {type(exc).__name__}: {exc}")
        return
    ours, theirs = comparable(first_final), comparable(whole)
    if ours != theirs:
        for key in ours:
            if ours[key] != theirs[key]:
                fail(
                    f"stream != complete() in {key}: {str(ours[key])[:300]} != "
                    f"{str(theirs[key])[:300]}"
                )


async def main(corpus: Path, verbose: bool) -> int:
    """Check every recorded response; returns the exit status."""
    index = json.loads((corpus / "index.json").read_text())
    failures = 0
    for entry in index["interactions"]:
        record = json.loads((corpus / entry["file"]).read_text())
        problems: list[str] = []
        check = check_sse if record["kind"] == "sse" else check_json
        await check(record, problems.append)
        failures += len(problems)
        for problem in problems:
            print(f"FAIL {entry['id']}: {problem}")
        if verbose and not problems:
            print(f"ok   {entry['id']}")
    total = len(index["interactions"])
    print(f"{total} recorded responses checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the real_wire directory")
    parser.add_argument("--verbose", "-v", action="store_true", help="also list what passed")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.corpus, args.verbose))
