"""Dev check: every recorded real request body is accepted by ChatClient and sent unchanged.

Reads ``/work/shared/real_wire`` (or the directory given as the first argument) at run time and
copies nothing into the repository. Each recorded body is split the way a user would write the
call (model, messages, tools, tool_choice, known settings as keywords, anything else in
``extra_body``), sent through `ChatClient.complete` or `ChatClient.stream` over an
``httpx.MockTransport``, and the body that went over the wire must be JSON-equal to the
recorded one. Run: ``python scripts/real_wire_requests.py``; exits 1 on any difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, get_type_hints

import anyio
import httpx

from agentkit import ChatClient
from agentkit.types import ModelSettings

_SETTINGS = set(get_type_hints(ModelSettings)) - {"extra_body"}
_COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}
_CHUNK = {**_COMPLETION, "object": "chat.completion.chunk"}
_CHUNK["choices"] = [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]


def _reply(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        sse = f"data: {json.dumps(_CHUNK)}\n\ndata: [DONE]\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=_COMPLETION)


async def _send(body: dict[str, Any]) -> dict[str, Any]:
    """Send ``body`` as a user would write the call; return the body that went over the wire."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _reply(request)

    rest = dict(body)
    stream = rest.pop("stream", None)
    call: dict[str, Any] = {
        "model": rest.pop("model"),
        "messages": rest.pop("messages"),
        "tools": rest.pop("tools", None),
        "tool_choice": rest.pop("tool_choice", None),
    }
    extra = {key: rest.pop(key) for key in list(rest) if key not in _SETTINGS}
    if call["tools"] == []:  # tools=[] means "no tools" (OpenAI refuses an empty list)
        extra["tools"] = call.pop("tools")
    if stream is not None and not stream:
        extra["stream"] = stream  # complete() leaves it out; the recording spelled it out
    if stream and "stream_options" not in rest:
        # stream() asks for usage unless told otherwise: the recording did not ask.
        extra["stream_options"] = None
    if extra:
        call["extra_body"] = extra
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with ChatClient(base_url="http://test/v1", api_key="k", http_client=http) as client:
        if stream:
            async with client.stream(**call, **rest) as chunks:
                async for _ in chunks:
                    pass
        else:
            await client.complete(**call, **rest)
    await http.aclose()
    return sent[-1]


async def main(root: Path) -> int:
    """Check every recorded request under ``root``; print one line per failure."""
    index = json.loads((root / "index.json").read_text())
    entries = [e for e in index["interactions"] if e.get("request_recorded")]
    failures = 0
    for entry in entries:
        body = json.loads((root / entry["file"]).read_text())["request"]["body"]
        try:
            sent = await _send(body)
        except Exception as exc:  # report every failure, not only the first
            failures += 1
            print(f"FAIL {entry['id']}: {type(exc).__name__}: {exc}"[:400])
            continue
        if sent != body:
            failures += 1
            changed = sorted(k for k in body.keys() | sent.keys() if body.get(k) != sent.get(k))
            print(f"DIFF {entry['id']}: {', '.join(changed)}")
    print(f"{len(entries) - failures} of {len(entries)} recorded requests accepted and sent as is")
    return 1 if failures else 0


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/real_wire")
    sys.exit(anyio.run(main, where))
