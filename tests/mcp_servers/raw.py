"""A bare JSON-RPC MCP server on stdio, no SDK: starts in milliseconds, and misbehaves on
purpose (a call that never answers, a crash mid-call, a malformed result, a list change)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

EMPTY = {"type": "object", "properties": {}}
TOOLS: list[dict[str, Any]] = [
    {"name": "echo", "description": "Say it back.",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                     "required": ["text"]}},
    {"name": "pid", "description": "The server's process id.", "inputSchema": EMPTY},
    {"name": "hang", "description": "Never answers.", "inputSchema": EMPTY},
    {"name": "crash", "description": "Dies mid-call.", "inputSchema": EMPTY},
    {"name": "malformed", "description": "Answers with a broken result.", "inputSchema": EMPTY},
    {"name": "grow", "description": "Adds the tool 'extra'.", "inputSchema": EMPTY},
    {"name": "media", "description": "An image and resources.", "inputSchema": EMPTY},
    {"name": "fail", "description": "Reports an error.", "inputSchema": EMPTY},
]  # fmt: skip
if "--open" in sys.argv:  # a schema strict mode cannot express: free-form labels
    LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
    TOOLS.append({"name": "labels", "description": "Tag things.",
                  "inputSchema": {"type": "object", "properties": {"labels": LABELS}}})  # fmt: skip
MEDIA = [
    {"type": "text", "text": "a red dot"},
    {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
    {"type": "resource", "resource": {"uri": "file:///notes.txt", "mimeType": "text/plain",
                                      "text": "buy milk"}},
    {"type": "resource", "resource": {"uri": "file:///a.bin", "blob": "AAEC"}},
    {"type": "resource_link", "uri": "file:///big.csv", "name": "big.csv"},
]  # fmt: skip


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def answer(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    if method == "initialize":
        return {"protocolVersion": params["protocolVersion"], "serverInfo": {"name": "raw",
                "version": "1"}, "capabilities": {"tools": {"listChanged": True},
                "resources": {}, "prompts": {}}}  # fmt: skip
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "resources/list":
        return {"resources": [{"uri": "notes://today", "name": "today", "mimeType": "text/plain"}]}
    if method == "resources/read":
        return {"contents": [{"uri": params["uri"], "mimeType": "text/plain", "text": "buy milk"}]}
    if method == "prompts/list":
        return {"prompts": [{"name": "review", "arguments": [{"name": "path", "required": True}]}]}
    if method == "prompts/get":
        text = f"Please review {params['arguments']['path']}."
        return {"messages": [{"role": "user", "content": {"type": "text", "text": text}}]}
    if method != "tools/call":
        raise LookupError(method)
    name = params["name"]
    if name == "hang":
        return None
    if name == "crash":
        os._exit(3)
    if name == "malformed":
        return {"content": "this should be a list"}
    if name == "fail":
        return {"content": [{"type": "text", "text": "no such city"}], "isError": True}
    if name == "media":
        return {"content": MEDIA}
    if name == "grow":
        if all(tool["name"] != "extra" for tool in TOOLS):
            TOOLS.append({"name": "extra", "description": "Added later.", "inputSchema": EMPTY})
        send({"method": "notifications/tools/list_changed"})
        return {"content": [{"type": "text", "text": "added extra"}]}
    text = params["arguments"].get("text") if name == "echo" else str(os.getpid())
    return {"content": [{"type": "text", "text": text}]}


for line in sys.stdin:
    request = json.loads(line)
    if "id" not in request:
        continue  # a notification
    try:
        result = answer(request["method"], request.get("params") or {})
    except LookupError as exc:
        send({"id": request["id"], "error": {"code": -32601, "message": f"no method {exc}"}})
        continue
    if result is not None:
        send({"id": request["id"], "result": result})
