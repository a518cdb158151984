"""What an ``agentkit`` command talks to, and the tools it offers: flags and environment read.

The endpoint is the one `ChatClient` would pick from the same environment (an
``OPENAI_API_KEY`` goes to ``OPENAI_BASE_URL`` or OpenAI's API, never to the gateway), with
``--base-url`` first; knowing which variables chose it lets each command say so. ``agentkit
demo`` stays on the offline demo model unless asked for a real one (``AGENTKIT_API_KEY``,
``--online`` or ``--base-url``), so an OpenAI setup alone never makes a demo spend tokens.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from agentkit import _config
from agentkit._demo import DEMO_MODEL, demo_server
from agentkit._demo.tools import calculate, get_time, get_weather
from agentkit.errors import InvalidRequestError, ToolDefinitionError
from agentkit.tools import Tool

DEFAULT_MODEL = "gpt-5.4-mini"
"""The model used online when neither ``--model`` nor ``AGENTKIT_MODEL`` names one."""


class _UsageError(Exception):
    """A command line that parses but cannot work (bad ``--tool``, ``--online`` without key...)."""


@dataclass(frozen=True, kw_only=True)
class _Endpoint:
    """Where the command sends requests, where that came from, and whether it is the demo."""

    base_url: str | None
    """The API root; None until the offline demo server runs."""
    api_key: str | None
    """The key to send, or None (a local server that needs none)."""
    model: str
    """The model id to request."""
    offline: bool
    """True when talking to the built-in demo model."""
    key_source: str | None = None
    """The variable the key came from, e.g. ``"OPENAI_API_KEY"``."""
    url_source: str = "the default"
    """Where the base URL came from: ``"--base-url"``, a variable, or a default."""
    unused: tuple[str, ...] = ()
    """Configuration that is set but not used because the command stays offline."""

    def describe(self) -> str:
        """Which endpoint, and from which settings, in words (never the key itself)."""
        key = f"API key from {self.key_source}" if self.key_source else "no API key"
        return f"model {self.model} at {self.base_url} ({key}; URL from {self.url_source})"


def _paired(args: argparse.Namespace, env: Mapping[str, str]) -> _Endpoint:
    """The configured server, resolved as `ChatClient` resolves it, and where each part came from.

    A key is ``AGENTKIT_API_KEY``, else ``OPENAI_API_KEY``; the URL is ``--base-url``, else the
    key family's own: ``AGENTKIT_BASE_URL`` or the gateway for ``AGENTKIT_API_KEY``,
    ``OPENAI_BASE_URL`` or OpenAI's API for ``OPENAI_API_KEY``; with no key, either variable.
    """
    url_source, base, source, raw_key = _config.endpoint(
        args.base_url, None, env, url_name="--base-url"
    )
    key_source = source if raw_key else None
    url: tuple[str, str] | None = (url_source, base)
    if url_source == "the default" and key_source is None:
        url = None  # nothing configured: the offline demo model
    elif url_source == "the default" and key_source == "OPENAI_API_KEY":
        url = ("OpenAI's default", base)
    try:
        key = _config.api_key(key_source, raw_key) if key_source else None
    except InvalidRequestError as exc:  # a key no header can carry: fix it and rerun
        raise _UsageError(str(exc)) from None
    model = args.model or env.get("AGENTKIT_MODEL") or DEFAULT_MODEL
    return _Endpoint(
        base_url=url[1] if url else None,
        api_key=key,
        model=model,
        offline=url is None,
        key_source=key_source,
        url_source=url[0] if url else "the default",
    )


def endpoint_for(args: argparse.Namespace) -> _Endpoint:
    """The endpoint a command uses, from its flags and the environment.

    Raises:
        _UsageError: ``--online`` with nothing configured, or a key no header can carry.
    """
    env = os.environ
    configured = _paired(args, env)
    if args.online and configured.offline:
        raise _UsageError(
            "--online needs an API key: set AGENTKIT_API_KEY (or OPENAI_API_KEY with "
            "OPENAI_BASE_URL), or drop --online to use the offline demo model"
        )
    # The demo goes online only when asked: an OPENAI_API_KEY in the shell is no such request.
    asked = args.online or bool(args.base_url) or bool(env.get("AGENTKIT_API_KEY"))
    stay = args.offline or configured.offline or (args.command == "demo" and not asked)
    if not stay:
        return configured
    unused = tuple(
        name
        for name in ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL")
        if env.get(name)
    )
    return _Endpoint(
        base_url=None,
        api_key=None,
        model=args.model or DEMO_MODEL,
        offline=True,
        url_source="the built-in demo server",
        unused=unused,
    )


@contextmanager
def serving(endpoint: _Endpoint) -> Iterator[_Endpoint]:
    """The endpoint to use, with the demo server running for as long as it is needed."""
    if not endpoint.offline:
        yield endpoint
        return
    with demo_server() as server:
        yield replace(endpoint, base_url=server.url, api_key="offline")


def load_tool(spec: str) -> Tool[..., Any]:
    """Import ``module:function`` (or a dotted path, ``module:obj.method``) and make it a tool.

    Args:
        spec: The ``--tool`` value; modules in the current directory can be imported.

    Returns:
        The tool (a `Tool` object is used as it is).

    Raises:
        _UsageError: The module cannot be imported, has no such attribute, or the attribute is
            not a callable that can become a tool.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise _UsageError(f"--tool {spec!r}: expected module:function, e.g. my_tools:search")
    if os.getcwd() not in sys.path:  # as with `python -m`, tools next to you are importable
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise _UsageError(f"--tool {spec!r}: cannot import {module_name!r}: {exc}") from None
    except (Exception, SystemExit) as exc:  # a broken module, or a script: say so, no traceback
        kind = type(exc).__name__
        raise _UsageError(
            f"--tool {spec!r}: importing {module_name!r} raised {kind}: {exc}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise _UsageError(f"--tool {spec!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if isinstance(target, Tool):
        return target
    if not callable(target):
        kind = type(target).__name__
        raise _UsageError(f"--tool {spec!r}: {attribute!r} is {_a(kind)}, not a function")
    try:
        return Tool.from_function(target)
    except ToolDefinitionError as exc:
        raise _UsageError(f"--tool {spec!r}: {exc}") from None


def demo_tools() -> list[Tool[..., Any]]:
    """The tools ``agentkit demo`` offers (and ``run``/``chat`` offline without ``--tool``)."""
    return [Tool.from_function(fn) for fn in (get_weather, calculate, get_time)]


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "an int", "a str"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
