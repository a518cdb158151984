"""Shows an agent run in the terminal as it streams: text, reasoning, tool calls, timings, usage.

The rendering half of `agentkit.cli`. It uses ``rich`` (colour, and a spinner while waiting)
when that optional extra is installed, else plain text, so the command works on a bare install.
Text from a model, a tool or a server is untrusted: `clean` removes every terminal control
sequence from it before it is printed, so a reply cannot write the clipboard (OSC 52), forge
a link (OSC 8), move the cursor or retitle the window.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, TextIO

from agentkit.events import (
    AgentEvent,
    ReasoningDelta,
    RunFinished,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.result import RunResult

# Terminal control sequences, whole (a payload goes with its escape), then any control left:
# OSC/DCS/SOS/PM/APC strings up to their terminator (or the end: a sequence split across
# writes leaves no escape behind), CSI, two-character escapes, and every C0/C1 control but
# tab and newline (a lone CR rewrites the line it is on).
_CONTROL = re.compile(
    r"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\x20-\x7e]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
# The start of a control sequence at the very end of a text, not terminated yet.
_UNFINISHED = re.compile(
    r"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*\x1b?\Z"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*\Z"
    r"|\x1b\Z"
)
_HOLD = 4096  # characters of an unfinished sequence kept back, at most
_C1 = re.compile(r"[\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` without terminal control sequences or control characters (tab, newline stay)."""
    return _CONTROL.sub("", text)


def json_text(data: object) -> str:
    """``data`` as indented JSON, safe on a terminal: C0 is escaped by JSON, C1 and DEL here.

    ``ensure_ascii=False`` keeps "Zürich" readable but would let an 8-bit CSI (U+009B)
    through; escaped, it is the same JSON value.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def plural(count: int, noun: str) -> str:
    """``"1 request"``, ``"2 requests"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Printer:
    """Shows a run as it streams: text, collapsed reasoning, tool calls, timings and usage.

    Uses ``rich`` for colour and a spinner when it is installed and the stream is a terminal;
    otherwise writes plain text (rich without a terminal writes plain text too).

    Args:
        out: Where the answer goes.
        info: Where progress (reasoning, tool calls, usage) goes; ``run`` sends it to stderr so
            stdout holds only the answer.
        show_reasoning: Print reasoning in full instead of one collapsed line.
    """

    def __init__(self, out: TextIO, info: TextIO, *, show_reasoning: bool = False) -> None:
        self.show_reasoning = show_reasoning
        self._out = _console(out)
        self._info = self._out if info is out else _console(info)
        self._raw = (out, info)
        self._status: Any = None
        self._reasoning = ""
        self._held = ""  # the start of a control sequence a later text delta may finish
        self._text_open = False
        self._step_started = time.perf_counter()
        self._running = 0  # tool calls of the current turn that have not reported yet

    # the two writers: rich consoles when rich is available, else the raw streams
    def say(self, text: str, style: str = "", *, info: bool = True, end: str = "\n") -> None:
        """Write ``text``, cleaned of control sequences (with a rich ``style`` if available)."""
        text = clean(text)
        console = self._info if info else self._out
        if console is not None:
            console.print(
                text, style=style or None, end=end, markup=False, highlight=False, soft_wrap=True
            )
        else:
            stream = self._raw[1] if info else self._raw[0]
            stream.write(text + end)
            stream.flush()

    def waiting(self, label: str) -> None:
        """Show a spinner with ``label`` until the next event (terminals with rich only)."""
        self.stop_waiting()
        if self._info is not None and self._info.is_terminal:
            self._status = self._info.status(label, spinner="dots")
            self._status.start()

    def stop_waiting(self) -> None:
        """Remove the spinner, if one is showing."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def request_started(self) -> None:
        """Start timing a step: a model request is being sent now."""
        self._step_started = time.perf_counter()

    def event(self, event: AgentEvent) -> None:
        """Render one event of `Agent.stream`."""
        self.stop_waiting()
        if isinstance(event, ReasoningDelta):
            self._reasoning += event.text
            return
        self._flush_reasoning()
        if isinstance(event, TextDelta):
            # A sequence split across deltas is held until it ends, so it goes out whole
            # (and is removed whole, payload included); a bounded wait, then it is dropped.
            text = self._held + event.text
            match = _UNFINISHED.search(text)
            cut = match.start() if match else len(text)
            self._held = text[cut:] if len(text) - cut <= _HOLD else ""
            self.say(text[:cut], info=False, end="")
            self._text_open = True
        elif isinstance(event, StepFinished):
            self._close_text()
            calls = len(event.message.tool_calls or [])
            what = plural(calls, "tool call") if calls else "answer"
            took = time.perf_counter() - self._step_started
            self.say(
                f"  step {event.step}: {what} · {plural(event.usage.total_tokens, 'token')} · "
                f"{_duration(took)}",
                "dim",
            )
            self._running = calls
        elif isinstance(event, ToolCallStarted):
            self.say(f"  → {event.name}({_arguments(event.arguments)})", "cyan")
            self.waiting("running tools…")
        elif isinstance(event, ToolCallFinished):
            content = " ".join(event.content.split())
            content = content if len(content) <= 160 else content[:159] + "…"
            mark, style = ("✗", "red") if event.is_error else ("←", "green")
            self.say(f"  {mark} {event.name}: {content}  ({_duration(event.duration)})", style)
            # Calls report as they end (a live stream): the model is next once all have.
            self._running = max(self._running - 1, 0)
            if self._running:
                self.waiting("running tools…")
            else:
                self._step_started = time.perf_counter()
                self.waiting("waiting for the model…")
        elif isinstance(event, RunFinished):
            self._close_text()

    def usage(self, result: RunResult[Any], seconds: float) -> None:
        """Print the run's token usage and wall time."""
        u = result.usage
        self.say(
            f"usage: {plural(u.requests, 'request')} · {plural(u.total_tokens, 'token')} (prompt "
            f"{u.prompt_tokens}, completion {u.completion_tokens}, reasoning "
            f"{u.reasoning_tokens}) · {_duration(seconds)}",
            "dim",
        )

    def _flush_reasoning(self) -> None:
        text, self._reasoning = self._reasoning.strip(), ""
        if not text:
            return
        if self.show_reasoning:
            self.say("  thinking: " + text.replace("\n", "\n    "), "dim italic")
            return
        line = " ".join(text.split())
        short = line if len(line) <= 100 else line[:99] + "…"
        self.say(
            f"  ▸ thinking ({plural(len(text), 'char')}, --show-reasoning to expand): {short}",
            "dim italic",
        )

    def _close_text(self) -> None:
        self._held = ""  # an escape the answer never finished: nothing of it is shown
        if self._text_open:
            self.say("", info=False)
            self._text_open = False


def _console(stream: TextIO) -> Any:
    """A rich Console on ``stream``, or None when rich (an optional extra) is not installed."""
    try:
        from rich.console import Console  # optional: agentkit-loop[cli]
    except ImportError:
        return None
    return Console(file=stream, emoji=False)  # ":x:" in a model answer stays ":x:"


def _arguments(raw: str) -> str:
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python can parse
        return raw if len(raw) <= 200 else raw[:199] + "…"
    if not isinstance(parsed, dict):
        return raw
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in parsed.items())


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


class _OneLine(logging.Formatter):
    """``agentkit: warning: ...`` on one line; tracebacks only when ``--verbose`` asks."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self._verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        text = clean(" ".join(record.getMessage().split()))
        line = f"agentkit: {record.levelname.lower()}: {text}"
        if self._verbose and record.exc_info:
            return line + "\n" + self.formatException(record.exc_info)
        return line


def log_handler(stream: TextIO, verbose: bool) -> logging.Handler:
    """Send the ``agentkit`` logger to ``stream``: WARNING and up, or everything with -v.

    A failed tool call is already shown (``✗ name: error``), so its WARNING is not repeated
    unless ``--verbose``, which adds its traceback.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_OneLine(verbose))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        handler.addFilter(lambda record: not hasattr(record, "agentkit_tool"))
    return handler
