"""The ``agentkit`` command: ``demo``, ``chat``, ``run``, ``models`` and ``serve``.

Without an API key or base URL (or with ``--offline``) every command talks to the built-in demo
model, a deterministic rule set served on 127.0.0.1, so it all works offline; ``demo`` stays
offline unless asked for a real model (see `agentkit._cli_setup`). Exit codes: 0 ok,
1 the run failed (server, connection or agent error), 2 usage error, 130 interrupted (Ctrl-C).
Output uses ``rich`` when it is installed (``pip install 'agentkit-loop[cli]'``), else plain text.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel

from agentkit import __version__
from agentkit._cli_setup import (
    DEFAULT_MODEL,
    _Endpoint,
    _UsageError,
    demo_tools,
    endpoint_for,
    load_tool,
    serving,
)
from agentkit._demo import DISCLAIMER, demo_server
from agentkit._mcp_cli import add_mcp_command, run_mcp_command
from agentkit._render import _Printer, clean, json_text, log_handler, plural
from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.errors import (
    AgentKitError,
    APIConnectionError,
    InvalidRequestError,
    MaxStepsExceeded,
    ToolDefinitionError,
)
from agentkit.events import RunFinished
from agentkit.interceptors import Interceptor
from agentkit.result import RunResult
from agentkit.tools import check_unique
from agentkit.types import MessageParam

__all__ = ["DEFAULT_MODEL", "build_parser", "main"]

# exit codes, as documented in docs/cli.md
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_DEMO_PROMPT = "What's the weather in Paris and Tokyo, and how much warmer is the warmer city?"
_DEMO_INSTRUCTIONS = (
    "You are a concise assistant. Use the tools for facts and arithmetic; call independent "
    "tools in parallel. The weather tool returns made-up demo data: say so."
)
_CHAT_HELP = "commands: /exit, /reset, /save FILE, /load FILE (Ctrl-D also exits)"
_TOO_DEEP = "the data is nested too deeply to handle"


# --- commands -----------------------------------------------------------------------------


async def _stream(
    agent: Agent[Any], printer: _Printer, prompt: str, history: list[dict[str, Any]]
) -> RunResult[Any]:
    printer.waiting("waiting for the model…")
    printer.request_started()  # a step is timed from its request, not from the prompt
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
    """Say which endpoint this is, and which settings chose it (never a key)."""
    if not endpoint.offline:
        printer.say(endpoint.describe(), "bold")
        return
    printer.say(f"offline: {DISCLAIMER}", "bold yellow")
    printer.say(
        f"  (served on {client.base_url}; set AGENTKIT_API_KEY or pass --online to use a "
        "real model)",
        "dim",
    )
    if endpoint.unused:
        printer.say(f"  ({', '.join(endpoint.unused)} set, not used: pass --online)", "dim")


def _offline_note(endpoint: _Endpoint) -> None:
    """Say on stderr that the demo model answers: stdout stays the answer (or pure JSON)."""
    if endpoint.offline:
        print(f"offline: {DISCLAIMER}", file=sys.stderr)


async def _demo(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    printer = _Printer(sys.stdout, sys.stdout, show_reasoning=args.show_reasoning)
    _banner(printer, endpoint, client)
    prompt = args.prompt or _DEMO_PROMPT
    printer.say(f"you: {prompt}", "bold")
    args.tools, args.instructions = demo_tools(), _DEMO_INSTRUCTIONS
    started = time.perf_counter()
    result = await _stream(_agent(args, endpoint, client), printer, prompt, [])
    printer.usage(result, time.perf_counter() - started)
    return EXIT_OK


def _agent(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> Agent[str]:
    return Agent(
        endpoint.model,
        instructions=args.instructions,
        tools=args.tools,
        client=client,
        max_steps=args.max_steps,
        on_max_steps=args.on_max_steps,
        interceptors=args.interceptors,
    )


async def _run(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    agent = _agent(args, endpoint, client)
    if args.json:
        _offline_note(endpoint)
        result = await agent.run(args.prompt)
        data = result.to_dict()
        print(json_text({k: data[k] for k in ("output", "messages", "usage", "steps")}))
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
                if interactive:  # Ctrl-D: end the prompt's line, so the shell's starts clean
                    printer.say("", info=False)
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
                except (AgentKitError, RecursionError) as exc:  # the chat goes on; the turn is lost
                    printer.say(f"error: {_describe(exc, client, args)}", "red")


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
        except (OSError, UnicodeError, RecursionError) as exc:
            printer.say(f"cannot save: {_TOO_DEEP if _deep(exc) else exc}", "red")
        else:
            printer.say(f"saved {plural(len(history), 'message')} to {argument}", "dim")
        return history
    if command == "/load":
        try:
            data = json.loads(Path(argument).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            printer.say(f"cannot load {argument}: {_TOO_DEEP if _deep(exc) else exc}", "red")
            return history
        messages = data.get("messages") if isinstance(data, dict) else data
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            printer.say(f"cannot load {argument}: expected a JSON list of messages", "red")
            return history
        printer.say(f"loaded {plural(len(messages), 'message')} from {argument}", "dim")
        return messages
    printer.say(f"unknown command {command}; {_CHAT_HELP}", "red")
    return history


async def _models(args: argparse.Namespace, endpoint: _Endpoint, client: ChatClient) -> int:
    models = await client.list_models()
    _offline_note(endpoint)
    for model in models:
        print(clean(model.id))
    return EXIT_OK


_Command = Callable[[argparse.Namespace, _Endpoint, ChatClient], Awaitable[int]]
_COMMANDS: dict[str, _Command] = {"demo": _demo, "run": _run, "chat": _chat, "models": _models}
"""The commands that talk to a model endpoint; `main` runs each with a client for it."""


async def _main(args: argparse.Namespace, endpoint: _Endpoint) -> int:
    try:
        client = ChatClient(base_url=endpoint.base_url, api_key=endpoint.api_key)
    except InvalidRequestError as exc:  # a base URL or key that can never work: fix and rerun
        raise _UsageError(str(exc)) from None
    async with client:
        try:
            return await _COMMANDS[args.command](args, endpoint, client)
        except (AgentKitError, RecursionError) as exc:
            print(f"agentkit: error: {_describe(exc, client, args)}", file=sys.stderr)
            return EXIT_FAILED


def _describe(exc: Exception, client: ChatClient, args: argparse.Namespace) -> str:
    """One line for an error, with the fix in the command's own terms (flags, not kwargs)."""
    if _deep(exc):
        return f"{_TOO_DEEP} (more levels of nesting than Python can follow)"
    if isinstance(exc, APIConnectionError):
        return clean(
            f"cannot reach {client.base_url} ({exc}); check --base-url / AGENTKIT_BASE_URL, "
            "or use --offline"
        )
    if isinstance(exc, MaxStepsExceeded):
        return (
            f"MaxStepsExceeded: no final answer after {plural(exc.max_steps, 'model request')}; "
            "raise --max-steps, or pass --on-max-steps final_answer to ask for an answer "
            "without tools"
        )
    return clean(" ".join(f"{type(exc).__name__}: {exc}".split()))  # server text: untrusted


def _deep(exc: BaseException) -> bool:
    """Whether ``exc`` is (or was caused by) JSON or data nested past the recursion limit."""
    while exc is not None:
        if isinstance(exc, RecursionError):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


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


def _tracing() -> list[Interceptor]:
    """``--trace``: an interceptor printing each run's span tree on stderr (agentkit.otel)."""
    try:
        from agentkit.otel import print_traces  # an optional extra: loaded only when asked for

        return [print_traces(sys.stderr)]
    except ImportError as exc:
        raise _UsageError(f"--trace: {exc}") from None


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
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log requests and tool calls (DEBUG)"
    )
    limits = argparse.ArgumentParser(add_help=False)
    limits.add_argument("--max-steps", type=_positive, default=10, help="model requests per run")
    limits.add_argument(
        "--on-max-steps",
        choices=["raise", "final_answer"],
        default="raise",
        help="at --max-steps: fail (raise), or ask for an answer without tools (final_answer)",
    )
    limits.add_argument("--show-reasoning", action="store_true", help="expand reasoning")
    agentic = argparse.ArgumentParser(add_help=False, parents=[limits])
    agentic.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="a function to offer as a tool (repeatable)",
    )
    agentic.add_argument("--instructions", help="system instructions")
    agentic.add_argument(
        "--trace", action="store_true", help="print each run's span tree and timings on stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", parents=[common, limits], help="a multi-step tool-calling demo"
    )
    demo.add_argument("prompt", nargs="?", help=f"what to ask (default: {_DEMO_PROMPT!r})")
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
    logger = logging.getLogger("agentkit")
    handler = log_handler(sys.stderr, args.verbose)
    logger.addHandler(handler)
    level = logger.level
    if args.verbose:
        logger.setLevel(logging.DEBUG)
    try:
        return _start(args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _start(args: argparse.Namespace) -> int:
    """Resolve the endpoint and the tools, serve the demo model if needed, run the command."""
    try:
        endpoint = endpoint_for(args)
        tools = [load_tool(spec) for spec in getattr(args, "tool", [])]
        try:
            check_unique(tools)  # two --tool functions with one name: a usage error, found now
        except ToolDefinitionError as exc:
            raise _UsageError(f"--tool: {exc}") from None
        if endpoint.offline and not tools and args.command in ("chat", "run"):
            tools = demo_tools()  # so the offline model has something to call
        args.tools = tools
        args.interceptors = _tracing() if getattr(args, "trace", False) else []
        if args.command == "mcp":
            return run_mcp_command(args, tools)
        with serving(endpoint) as live:
            return anyio.run(_main, args, live)
    except _UsageError as exc:
        print(f"agentkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nagentkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
