"""The two doors to the demo model: a loopback HTTP server, and a client answered in-process.

`demo_server` is what ``agentkit serve`` and the CLI run: a real server on 127.0.0.1 any
program can point at. `demo_client` needs no server at all: its ``httpx`` transport hands each
request to the rules and answers the way that server would (JSON, or SSE when streaming), so
everything above the socket — `ChatClient`, the SSE parser, the agent loop — is the code a
real model gets.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from agentkit._demo.rules import DEMO_MODEL, demo_responder
from agentkit._replies import completion_body, stream_chunks
from agentkit.client import ChatClient
from agentkit.testing import FakeServer

__all__ = ["demo_client", "demo_server"]

# Reserved for documentation (RFC 2606): if a request ever left the process, it could not land.
_BASE_URL = "http://demo.agentkit.invalid/v1"


def demo_server() -> FakeServer:
    """A FakeServer that plays the demo model; it starts when entered as a context manager.

    Example:
        ```python
        with demo_server() as server:
            client = ChatClient(base_url=server.url, api_key="offline")
        ```
    """
    return FakeServer(demo_responder, models=(DEMO_MODEL,))


def demo_client() -> ChatClient:
    """A `ChatClient` answered by agentkit's built-in demo model, inside this process.

    The demo model is a small set of deterministic rules, not an LLM: it calls the tools your
    agent offers when your words match them (in parallel when there are several), fills their
    arguments from the JSON Schemas, and answers from the tool results. It needs no key, no
    server and no network, so a first agent, a tutorial or a CI smoke test runs anywhere.
    Any model name is accepted. To use a real model, drop ``client=demo_client()`` and set
    ``AGENTKIT_API_KEY`` (see the configuration docs).

    Example:
        ```python
        agent = Agent("agentkit-demo", tools=[get_weather], client=demo_client())
        print(agent.run_sync("Weather in Paris?").output)
        ```

    Returns:
        A client whose requests never leave the process; it works from any event loop and
        thread, and has nothing to close.
    """
    http = httpx.AsyncClient(transport=_DemoTransport())
    # Explicit key and URL: the environment's (a real key!) is never read for the demo.
    return ChatClient(base_url=_BASE_URL, api_key="demo", http_client=http, max_retries=0)


class _DemoTransport(httpx.AsyncBaseTransport):
    """Answers requests with the demo model, as `demo_server` would over HTTP."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)  # completion ids, as the server numbers them

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            return _json(200, {"object": "list", "data": [_model(DEMO_MODEL)]})
        if request.method == "GET" and path.endswith(f"/models/{DEMO_MODEL}"):
            return _json(200, _model(DEMO_MODEL))
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return _error(404, f"Unknown request URL: {request.method} {path}.")
        try:
            body = json.loads(await request.aread())
        except (ValueError, RecursionError):  # not JSON, or nested past what Python can parse
            body = None
        if not isinstance(body, dict):
            return _error(400, "The request body is not a JSON object.")
        completion = completion_body(demo_responder(body), body, next(self._numbers))
        if body.get("stream") is not True:
            return _json(200, completion)
        options = body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        events = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n".encode() for c in
                  stream_chunks(completion, include_usage=usage)]  # fmt: skip
        events.append(b"data: [DONE]\n\n")
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, content=b"".join(events))


def _json(status: int, data: Any) -> httpx.Response:
    return httpx.Response(status, json=data)


def _error(status: int, message: str) -> httpx.Response:
    error = {"message": message, "type": "invalid_request_error", "code": None, "param": None}
    return _json(status, {"error": error})


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "agentkit"}
