"""An MCP ``CallToolResult`` -> the text of a tool message (what the model reads)."""

from __future__ import annotations

import base64
import binascii

import mcp_types as types
import pydantic_core

from agentkit.errors import ModelRetry

__all__ = ["result_text"]


def result_text(result: types.CallToolResult) -> str:
    """The tool reply for ``result``: structured content as JSON, else the text joined.

    Content the Chat Completions API cannot carry in a tool message (images, audio, binary
    resources) is described in a line of text (kind, MIME type, size, URI), so the model
    knows it exists; embedded text resources are included with their URI.

    Raises:
        ModelRetry: ``isError`` is set: the server's text is the error the model reads.
    """
    structured = result.structured_content
    blocks = result.content or []
    # A server that sends structured content also sends it serialized as text (the spec's
    # backwards compatibility): the JSON alone says it once.
    parts = [] if structured is None else [pydantic_core.to_json(structured).decode()]
    for block in blocks:
        if isinstance(block, types.TextContent):
            if structured is None:
                parts.append(block.text)
        else:
            parts.append(_describe(block))
    text = "\n".join(parts)
    if result.is_error:
        raise ModelRetry(text or "error: the tool failed without a message")
    return text


def _describe(block: types.ContentBlock) -> str:
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {_size(block.data)}; not shown, tool replies are text]"
    if isinstance(block, types.ResourceLink):
        mime = f", {block.mime_type}" if block.mime_type else ""
        return f"[resource link: {block.uri} ({block.name}{mime})]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        mime = f" ({resource.mime_type})" if resource.mime_type else ""
        if isinstance(resource, types.TextResourceContents):
            return f"[resource {resource.uri}{mime}]\n{resource.text}"
        return f"[resource {resource.uri}{mime}: {_size(resource.blob)} of binary; not shown]"
    return f"[{getattr(block, 'type', type(block).__name__)} content; not shown]"


def _size(data: str) -> str:
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return "undecodable base64"
    return f"{size} bytes"
