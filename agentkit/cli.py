"""The ``agentkit`` command: ``demo``, ``chat``, ``run``, ``models`` and ``serve``.

Without an API key or base URL (or with ``--offline``) every command talks to the built-in demo
model, a deterministic rule set served on 127.0.0.1, so it all works offline. Exit codes: 0 ok,
1 the run failed (server, connection or agent error), 2 usage error, 130 interrupted (Ctrl-C).
Output uses ``rich`` when it is installed (``pip install 'agentkit[cli]'``), else plain text.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel

from agentkit import __version__
from agentkit._demo import DEMO_MODEL, DISCLAIMER, demo_server
from agentkit._demo_tools import calculate, get_time, get_weather
from agentkit._mcp_cli import add_mcp_command, run_mcp_command
from agentkit._render import _Printer
from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.errors import (
    AgentKitError,
    APIConnectionError,
    InvalidRequestError,
    ToolDefinitionError,
)
from agentkit.events import RunFinished
from agentkit.result import RunResult
from agentkit.tools import Tool, check_unique
from agentkit.types import MessageParam

__all__ = ["DEFAULT_MODEL", "build_parser", "main"]

DEFAULT_MODEL = "gpt-5.4-mini"
"""The model used online when neither ``--model`` nor ``AGENTKIT_MODEL`` names one."""

# exit codes, as documented in docs/cli.md
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_DEMO_PROMPT = "What's the weather in Paris and Tokyo, and how much warmer is the warmer city?"
_DEMO_INSTRUCTIONS = (
    "You are a concise assistant. Use the tools for facts and arithmetic; call independent "
    "tools in parallel. The weather tool returns made-up demo data: say so."
)
_CHAT_HELP = "commands: /exit, /reset, /save FILE, /load FILE (Ctrl-D also exits)"


class _UsageError(Exception):
    """A command line that parses but cannot work (bad ``--tool``, ``--online`` without key...)."""


@dataclass(frozen=True, kw_only=True)
class _Endpoint:
    """Where the command sends requests, and whether that is the offline demo model."""

    base_url: str | None
    """None lets `ChatClient` read the environment."""
    api_key: str | None
    """None lets `ChatClient` read the environment."""
    model: str
    """The model id to request."""
    offline: bool
    """True when talking to the built-in demo model."""


# --- configuration ------------------------------------------------------------------------


def _endpoint_for(args: argparse.Namespace) -> _Endpoint:
    env = os.environ
    key = env.get("AGENTKIT_API_KEY") or env.get("OPENAI_API_KEY")
    base_url = args.base_url or env.get("AGENTKIT_BASE_URL") or env.get("OPENAI_BASE_URL")
    if args.online and not key and not base_url:
        raise _UsageError(
            "--online needs an API key: set AGENTKIT_API_KEY (or OPENAI_API_KEY), or drop "
            "--online to use the offline demo model"
        )
    # no key and no server configured: offline, so a fresh install works out of the box;
    # a base URL alone means a local server (vLLM, Ollama...) that needs no key
    offline = args.offline or (not args.online and not key and not base_url)
    model = args.model or (DEMO_MODEL if offline else env.get("AGENTKIT_MODEL") or DEFAULT_MODEL)
    return _Endpoint(base_url=args.base_url, api_key=None, model=model, offline=offline)


@contextmanager
def _serving(endpoint: _Endpoint) -> Iterator[_Endpoint]:
    """The endpoint to use, with the demo server running for as long as it is needed."""
    if not endpoint.offline:
        yield endpoint
        return
    with demo_server() as server:
        yield _Endpoint(base_url=server.url, api_key="offline", model=endpoint.model, offline=True)


def _load_tool(spec: str) -> Tool[..., Any]:
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
        raise _UsageError(f"--tool {spec!r}: {attribute!r} is a {kind}, not a function")
    try:
        return Tool.from_function(target)
    except ToolDefinitionError as exc:
        raise _UsageError(f"--tool {spec!r}: {exc}") from None


def _demo_tools() -> list[Tool[..., Any]]:
    return [Tool.from_function(fn) for fn in (get_weather, calculate, get_time)]


# --- commands -----------------------------------------------------------------------------


async def _stream(
    agent: Agent[Any], printer: _Printer, prompt: str, history: list[dict[str, Any]]
) -> RunResult[Any]:
    printer.waiting("waiting for the model…")
    try:
        # RunResult.messages are plain dicts, the form history= takes at runtime
        stream = agent.stream(prompt, history=cast("list[MessageParam]", history))
        async with stream as events:  # live: each tool call shows the moment it ends
            async for event in events:
                printer.event(event)
                if isinstance(event, RunFinished):
                    return event.result
    finally:
        printer.stop_waiting()
    raise AssertionError("the stream ended without RunFinished")  # pragma: no cover


def _banner(printer: _Printer, endpoint: _Endpoint, client: ChatClient) -> None:
    if endpoint.offline:
        printer.say(f"offline: {DISCLAIMER}", "bold yellow")
        printer.say(
            f"  (served on {client.base_url}; set AGENTKIT_API_KEY to use a real model)", "dim"
        )
    else:
        printer.say(f"model {endpoint.model} at {client.base_url}", "bold")


async def _demo(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    printer = _Printer(sys.stdout, sys.stdout, show_reasoning=args.show_reasoning)
    _banner(printer, endpoint, client)
    prompt = args.prompt or _DEMO_PROMPT
    printer.say(f"you: {prompt}", "bold")
    agent: Agent[str] = Agent(
        endpoint.model, instructions=_DEMO_INSTRUCTIONS, tools=_demo_tools(), client=client
    )
    started = time.perf_counter()
    result = await _stream(agent, printer, prompt, [])
    printer.usage(result, time.perf_counter() - started)
    return EXIT_OK


def _agent(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> Agent[str]:
    return Agent(
        endpoint.model,
        instructions=args.instructions,
        tools=args.tools,
        client=client,
        max_steps=args.max_steps,
    )


async def _run(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    agent = _agent(args, endpoint, client)
    if args.json:
        if endpoint.offline:  # said on stderr: stdout stays pure JSON
            print(f"offline: {DISCLAIMER}", file=sys.stderr)
        result = await agent.run(args.prompt)
        data = result.to_dict()
        keep = {k: data[k] for k in ("output", "messages", "usage", "steps")}
        print(json.dumps(keep, indent=2, ensure_ascii=False))
        return EXIT_OK
    # the answer goes to stdout, progress to stderr: `agentkit run ... > answer.txt` works
    printer = _Printer(sys.stdout, sys.stderr, show_reasoning=args.show_reasoning)
    if endpoint.offline:
        printer.say(f"offline: {DISCLAIMER}", "yellow")
    started = time.perf_counter()
    result = await _stream(agent, printer, args.prompt, [])
    printer.usage(result, time.perf_counter() - started)
    return EXIT_OK


async def _stdin_lines() -> AsyncGenerator[str, None]:
    """Lines from stdin, read by a daemon thread so Ctrl-C at the prompt stops at once.

    A blocking read on the event loop would hold Ctrl-C until Enter, and a worker thread
    blocked in ``readline`` would keep the process alive after it.
    """
    # Unbounded, so the thread only ever schedules a callback (send_nowait), never a coroutine
    # that a closing loop could leave un-awaited; reading ahead of the chat costs nothing.
    send, receive = anyio.create_memory_object_stream[str](math.inf)
    token = anyio.lowlevel.current_token()

    def read() -> None:
        try:
            for line in iter(sys.stdin.readline, ""):
                anyio.from_thread.run_sync(send.send_nowait, line, token=token)
            anyio.from_thread.run_sync(send.close, token=token)
        except Exception:  # the loop has ended (the chat exited): nothing left to feed
            return

    threading.Thread(target=read, name="agentkit-stdin", daemon=True).start()
    async with send, receive:
        async for line in receive:
            yield line


async def _chat(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    printer = _Printer(sys.stdout, sys.stdout, show_reasoning=args.show_reasoning)
    _banner(printer, endpoint, client)
    printer.say(_CHAT_HELP, "dim")
    agent = _agent(args, endpoint, client)
    history: list[dict[str, Any]] = []
    interactive = sys.stdin.isatty()
    async with aclosing(_stdin_lines()) as lines:
        while True:
            if interactive:
                printer.say("you> ", "bold", info=False, end="")
            line = await anext(lines, None)
            if line is None:
                return EXIT_OK
            line = line.strip()
            if line.startswith("/"):
                command, _, argument = line.partition(" ")
                if command in ("/exit", "/quit"):
                    return EXIT_OK
                history = _chat_command(printer, command, argument.strip(), history)
            elif line:
                try:
                    history = (await _stream(agent, printer, line, history)).messages
                except AgentKitError as exc:  # the conversation goes on; the turn is lost
                    printer.say(f"error: {_describe(exc, client)}", "red")


def _chat_command(
    printer: _Printer, command: str, argument: str, history: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run a /command; returns the (possibly new) history."""
    if command == "/reset":
        printer.say("conversation cleared", "dim")
        return []
    if command in ("/save", "/load") and not argument:
        printer.say(f"usage: {command} FILE", "red")
        return history
    if command == "/save":
        try:
            text = json.dumps(history, indent=2, ensure_ascii=False) + "\n"
            Path(argument).write_text(text, encoding="utf-8")  # as save_messages writes
        except (OSError, UnicodeError) as exc:
            printer.say(f"cannot save: {exc}", "red")
        else:
            printer.say(f"saved {len(history)} messages to {argument}", "dim")
        return history
    if command == "/load":
        try:
            data = json.loads(Path(argument).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            printer.say(f"cannot load {argument}: {exc}", "red")
            return history
        messages = data.get("messages") if isinstance(data, dict) else data
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            printer.say(f"cannot load {argument}: expected a JSON list of messages", "red")
            return history
        printer.say(f"loaded {len(messages)} messages from {argument}", "dim")
        return messages
    printer.say(f"unknown command {command}; {_CHAT_HELP}", "red")
    return history


async def _models(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    models = await client.list_models()
    if endpoint.offline:
        print(f"offline: {DISCLAIMER}", file=sys.stderr)
    for model in models:
        print(model.id)
    return EXIT_OK


_COMMANDS = {"demo": _demo, "run": _run, "chat": _chat, "models": _models}


async def _main(args: argparse.Namespace, endpoint: _Endpoint) -> int:
    try:
        client = ChatClient(base_url=endpoint.base_url, api_key=endpoint.api_key)
    except InvalidRequestError as exc:  # a base URL or key that can never work: fix and rerun
        raise _UsageError(str(exc)) from None
    async with client:
        try:
            return await _COMMANDS[args.command](args, endpoint, client)
        except AgentKitError as exc:
            print(f"agentkit: error: {_describe(exc, client)}", file=sys.stderr)
            return EXIT_FAILED


def _describe(exc: AgentKitError, client: ChatClient) -> str:
    if isinstance(exc, APIConnectionError):
        return (
            f"cannot reach {client.base_url} ({exc}); check --base-url / AGENTKIT_BASE_URL, "
            "or use --offline"
        )
    return f"{type(exc).__name__}: {exc}"


def _serve() -> int:
    """Serve the demo model in the foreground: for running the examples offline."""
    with demo_server() as server:
        print(f"export AGENTKIT_BASE_URL={server.url} AGENTKIT_API_KEY=offline", flush=True)
        print(f"serving the {DISCLAIMER[:-1]}; Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            threading.Event().wait()  # the server runs in its own threads
        except KeyboardInterrupt:
            return EXIT_OK  # the way to stop a server, not a failure
    return EXIT_OK  # pragma: no cover


# --- the command line ---------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``agentkit`` command.

    Returns:
        The parser; ``main`` uses it, documentation tools may render it.
    """
    parser = argparse.ArgumentParser(
        prog="agentkit",
        description="Tool-calling agents over OpenAI-compatible APIs. Without an API key (or "
        "with --offline) commands use the built-in demo model: deterministic rules, not an LLM.",
        epilog="exit codes: 0 ok, 1 run failed, 2 usage error, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"agentkit {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", help=f"model id (default: $AGENTKIT_MODEL or {DEFAULT_MODEL})")
    common.add_argument("--base-url", help="API root (default: $AGENTKIT_BASE_URL)")
    where = common.add_mutually_exclusive_group()
    where.add_argument("--offline", action="store_true", help="use the built-in demo model")
    where.add_argument("--online", action="store_true", help="require a real API (key set)")
    agentic = argparse.ArgumentParser(add_help=False)
    agentic.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="a function to offer as a tool (repeatable)",
    )
    agentic.add_argument("--instructions", help="system instructions")
    agentic.add_argument("--max-steps", type=_positive, default=10, help="model requests per run")
    agentic.add_argument("--show-reasoning", action="store_true", help="expand reasoning")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", parents=[common], help="a multi-step tool-calling demo")
    demo.add_argument("prompt", nargs="?", help=f"what to ask (default: {_DEMO_PROMPT!r})")
    demo.add_argument("--show-reasoning", action="store_true", help="expand reasoning")
    commands.add_parser("chat", parents=[common, agentic], help="interactive chat")
    run = commands.add_parser("run", parents=[common, agentic], help="answer one prompt")
    run.add_argument("prompt", help="the prompt")
    run.add_argument("--json", action="store_true", help="print output, messages, usage, steps")
    commands.add_parser("models", parents=[common], help="list the endpoint's models")
    commands.add_parser("serve", help="serve the demo model until Ctrl-C (for the examples)")
    add_mcp_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentkit`` command.

    Args:
        argv: The arguments (without the program name); defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 ok, 1 run failed, 2 usage error, 130 interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "serve":
        return _serve()
    try:
        endpoint = _endpoint_for(args)
        tools = [_load_tool(spec) for spec in getattr(args, "tool", [])]
        try:
            check_unique(tools)  # two --tool functions with one name: a usage error, found now
        except ToolDefinitionError as exc:
            raise _UsageError(f"--tool: {exc}") from None
        if endpoint.offline and not tools and args.command in ("chat", "run"):
            tools = _demo_tools()  # so the offline model has something to call
        args.tools = tools
        if args.command == "mcp":
            return run_mcp_command(args, tools)
        with _serving(endpoint) as live:
            return anyio.run(_main, args, live)
    except _UsageError as exc:
        print(f"agentkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nagentkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
