"""The `agentkit` command, in-process through main() and once as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentkit._cli_setup import endpoint_for
from agentkit._demo import DEMO_MODEL, DISCLAIMER
from agentkit._demo.tools import get_weather
from agentkit._render import _Printer
from agentkit.cli import DEFAULT_MODEL, build_parser, main
from agentkit.client import ChatClient
from agentkit.events import StepFinished, ToolCallFinished, ToolCallStarted
from agentkit.result import RunUsage
from agentkit.testing import FakeServer, completion, delay, http_error, text, tool_calls
from agentkit.types import FunctionCall, Message, ToolCall

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A scripted server the environment points at, as a real endpoint would be."""
    with FakeServer(models=("model-a", "model-b")) as running:
        monkeypatch.setenv("AGENTKIT_BASE_URL", running.url)
        monkeypatch.setenv("AGENTKIT_API_KEY", "sk-test")
        yield running


@pytest.fixture
def tools_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of tool modules, made the cwd (sys.path is restored afterwards)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli_tools_ok.py").write_text(
        textwrap.dedent('''
        from agentkit.tools import tool

        NOT_CALLABLE = 42
        nameless = lambda text: text  # noqa: E731

        @tool(name="whisper")
        def quiet(text: str) -> str:
            """Whisper the text back."""
            return text.lower()

        def shout(text: str) -> str:
            """Shout the text back."""
            return text.upper()
        ''')
    )
    (tmp_path / "cli_tools_broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    (tmp_path / "cli_tools_script.py").write_text("import sys\nsys.exit('usage: a script')\n")
    return tmp_path


def stdin(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


# --- demo -----------------------------------------------------------------------------------


def test_demo_offline_shows_every_step(capsys: pytest.CaptureFixture[str]):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"offline: {DISCLAIMER}" in out
    assert '→ get_weather(city="Paris")' in out
    assert '→ get_weather(city="Tokyo")' in out
    assert f"← get_weather: {get_weather('Paris')}" in out
    assert "→ calculate(expression=" in out
    assert "▸ thinking (" in out  # collapsed
    assert "step 3: answer" in out
    assert "Here is what I found:" in out
    assert "usage: 3 requests" in out


def test_demo_custom_prompt_with_reasoning_expanded(capsys: pytest.CaptureFixture[str]):
    assert main(["demo", "--show-reasoning", "what is 2 ** 10"]) == 0
    out = capsys.readouterr().out
    assert "  thinking: Relevant tools: calculate" in out
    assert "2 ** 10 = 1024" in out


def test_demo_without_rich_prints_plain_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich -> ImportError
    monkeypatch.setitem(sys.modules, "rich.console", None)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"offline: {DISCLAIMER}" in out
    assert "← calculate: " in out
    assert "\x1b[" not in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_demo_on_a_terminal_uses_colour_and_a_spinner(monkeypatch: pytest.MonkeyPatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["demo", "what is 6*7"]) == 0
    out = terminal.getvalue()
    assert "\x1b[" in out  # rich styles
    assert "6*7 = 42" in out
    # the spinner, drawn while waiting (rich draws it at least once: when it stops) and erased
    assert " waiting for the model…\n" in out
    assert " running tools…\n" in out
    assert "\x1b[1A\x1b[2K" in out  # cursor up, erase the line
    assert "usage: 2 requests" in out.splitlines()[-1]  # last: no spinner left behind


def test_the_spinner_says_tools_run_until_the_last_call_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    printer = _Printer(FakeTerminal(), FakeTerminal())
    labels: list[str] = []
    monkeypatch.setattr(printer, "waiting", labels.append)
    message = Message(role="assistant", tool_calls=[
        ToolCall(id=f"c{i}", function=FunctionCall(name="t", arguments="{}")) for i in (1, 2)
    ])  # fmt: skip
    printer.event(StepFinished(step=1, usage=RunUsage(requests=1), message=message))
    for i in (1, 2):
        printer.event(ToolCallStarted(call_id=f"c{i}", name="t", arguments="{}"))
    for i in (2, 1):  # as they end
        printer.event(ToolCallFinished(call_id=f"c{i}", name="t", content="ok", is_error=False,
                                       duration=0.1))  # fmt: skip
    assert labels == ["running tools…"] * 3 + ["waiting for the model…"]


def test_no_spinner_without_a_terminal(capsys: pytest.CaptureFixture[str]):
    assert main(["demo", "what is 6*7"]) == 0
    out = capsys.readouterr().out
    assert "6*7 = 42" in out
    assert "waiting for the model" not in out
    assert "running tools" not in out


def test_demo_online_uses_the_configured_model(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(tool_calls(("get_weather", {"city": "Oslo"})), text("Cold in Oslo."))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert DISCLAIMER not in out
    assert f"model {DEFAULT_MODEL} at {server.url}" in out
    assert "Cold in Oslo." in out
    assert [r["model"] for r in server.requests] == [DEFAULT_MODEL] * 2
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == [
        "get_weather",
        "calculate",
        "get_time",
    ]


# --- run ------------------------------------------------------------------------------------


def test_run_prints_the_answer_on_stdout_and_progress_on_stderr(
    capsys: pytest.CaptureFixture[str],
):
    assert main(["run", "what is 12*7 + 3"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "12*7 + 3 = 87\n"
    assert '→ calculate(expression="12*7 + 3")' in captured.err
    assert DISCLAIMER in captured.err


def test_run_json(capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--json", "weather in Paris"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"offline: {DISCLAIMER}\n"  # said, but not on stdout
    data = json.loads(captured.out)  # stdout is one JSON document, nothing else
    assert list(data) == ["output", "messages", "usage", "steps"]
    assert data["output"] == get_weather("Paris")
    assert data["steps"] == 2
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert data["usage"]["requests"] == 2
    assert data["usage"]["total_tokens"] > 0


def test_run_with_a_tool_from_a_module(tools_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--tool", "cli_tools_ok:shout", 'shout "hello"']) == 0
    captured = capsys.readouterr()
    assert captured.out == "HELLO\n"
    assert '→ shout(text="hello")' in captured.err


def test_run_with_tool_objects_and_several_tools(
    tools_dir: Path, capsys: pytest.CaptureFixture[str]
):
    argv = [
        "run",
        "--tool",
        "cli_tools_ok:shout",
        "--tool",
        "cli_tools_ok:quiet",
        'whisper "HeLLo"',
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == "hello\n"


def test_run_shows_raw_arguments_and_failed_calls(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(tool_calls(("nothing", "{bad"), ("nothing", "[1]")), text("done"))
    assert main(["run", "go"]) == 0
    err = capsys.readouterr().err
    assert "→ nothing({bad)" in err
    assert "→ nothing([1])" in err
    assert "✗ nothing: " in err


def test_run_online_with_model_option_and_env(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(text("one"), text("two"))
    assert main(["run", "--model", "model-b", "--instructions", "Be brief.", "hi"]) == 0
    monkeypatch.setenv("AGENTKIT_MODEL", "model-a")
    assert main(["run", "hi"]) == 0
    assert capsys.readouterr().out == "one\ntwo\n"
    assert [r["model"] for r in server.requests] == ["model-b", "model-a"]
    assert server.requests[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "tools" not in server.requests[0]  # online: only the tools you pass


def test_offline_flag_wins_over_a_configured_key(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
):
    assert main(["run", "--offline", "what is 1+1"]) == 0
    assert capsys.readouterr().out == "1+1 = 2\n"
    assert server.requests == []


# --- models ---------------------------------------------------------------------------------


def test_models_offline(capsys: pytest.CaptureFixture[str]):
    assert main(["models"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{DEMO_MODEL}\n"
    assert DISCLAIMER in captured.err


def test_models_online(server: FakeServer, capsys: pytest.CaptureFixture[str]):
    assert main(["models"]) == 0
    assert capsys.readouterr().out == "model-a\nmodel-b\n"


# --- chat -----------------------------------------------------------------------------------


def test_chat_save_reset_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    saved = tmp_path / "conversation.json"
    stdin(
        monkeypatch,
        "What's the weather in Paris?",
        f"/save {saved}",
        "/reset",
        "and in London?",
        f"/load {saved}",
        "and in London?",
        "/exit",
        "never read",
    )
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "commands: /exit, /reset, /save FILE, /load FILE" in out
    assert f"saved 4 messages to {saved}" in out
    assert "conversation cleared" in out
    assert f"loaded 4 messages from {saved}" in out
    # after /reset the follow-up has no context; after /load it has, and calls the tool again
    assert "None of my tools" in out
    assert f"← get_weather: {get_weather('London')}" in out
    messages = json.loads(saved.read_text())
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[-1]["content"] == get_weather("Paris")


def test_chat_with_a_tool_from_a_module(
    tools_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    stdin(monkeypatch, 'shout "hello"', 'and shout "bye"')
    assert main(["chat", "--tool", "cli_tools_ok:shout"]) == 0
    out = capsys.readouterr().out
    assert '→ shout(text="hello")' in out
    assert "← shout: HELLO" in out
    assert '→ shout(text="bye")' in out
    assert "BYE" in out
    assert "get_weather" not in out  # --tool replaces the demo tools


def test_chat_ends_at_end_of_input_and_prompts_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(sys, "stdin", FakeTerminal("\nwhat is 3*3\n"))
    assert main(["chat", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "3*3 = 9" in out
    assert out.count("you> ") == 3  # one per line read, and one at the end of input


def test_chat_command_errors_keep_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "object.json").write_text('{"messages": "nope"}')
    (tmp_path / "wrapped.json").write_text('{"messages": [{"role": "user", "content": "x"}]}')
    stdin(
        monkeypatch,
        "/save",
        "/load",
        f"/load {tmp_path / 'missing.json'}",
        f"/load {tmp_path / 'bad.json'}",
        f"/load {tmp_path / 'object.json'}",
        f"/save {tmp_path / 'no-such-dir' / 'x.json'}",
        f"/load {tmp_path / 'wrapped.json'}",
        "/bogus",
        "/quit",
    )
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "usage: /save FILE" in out
    assert "usage: /load FILE" in out
    assert out.count("cannot load") == 3
    assert "expected a JSON list of messages" in out
    assert "cannot save:" in out
    assert "loaded 1 message from" in out
    assert "unknown command /bogus" in out


def test_chat_survives_a_failed_turn(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(http_error(400, "bad thing"), text("fine now"))
    stdin(monkeypatch, "first", "second")
    assert main(["chat", "--model", "model-a"]) == 0
    out = capsys.readouterr().out
    assert "error: BadRequestError: HTTP 400: bad thing" in out
    assert "fine now" in out
    assert [m["content"] for m in server.requests[1]["messages"]] == ["second"]


# --- errors and exit codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["run"],
        ["demo", "--offline", "--online"],
        ["run", "--max-steps", "x", "hi"],
        ["chat", "--max-steps", "0"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    assert "usage: agentkit" in capsys.readouterr().err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]):
    assert main(["--help"]) == 0
    assert "exit codes: 0 ok, 1 run failed, 2 usage error, 130 interrupted" in (
        capsys.readouterr().out
    )
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("agentkit ")


def test_online_without_a_key_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--online", "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agentkit: error: --online needs an API key: set AGENTKIT_API_KEY")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["run", "--base-url", "localhost:8000/v1", "hi"], {}, "add http:// or https://"),
        (["run", "hi"], {"AGENTKIT_API_KEY": "sk-\u200b"}, "AGENTKIT_API_KEY contains U+200B"),
    ],
)
def test_endpoint_that_can_never_work_is_a_usage_error(
    argv: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("agentkit: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected module:function"),
        ("cli_tools_missing:f", "cannot import 'cli_tools_missing': No module named"),
        ("cli_tools_ok:missing", "'cli_tools_ok' has no attribute 'missing'"),
        ("cli_tools_ok:NOT_CALLABLE", "'NOT_CALLABLE' is an int, not a function"),
        ("cli_tools_ok:nameless", "invalid tool name '<lambda>'"),
        ("cli_tools_broken:f", "importing 'cli_tools_broken' raised RuntimeError: broken"),
        ("cli_tools_script:f", "importing 'cli_tools_script' raised SystemExit: usage: a script"),
    ],
)
def test_bad_tool_paths_exit_2(
    tools_dir: Path, spec: str, message: str, capsys: pytest.CaptureFixture[str]
):
    assert main(["run", "--tool", spec, "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"agentkit: error: --tool {spec!r}: ")
    assert message in err


def test_two_tools_with_one_name_exit_2(tools_dir: Path, capsys: pytest.CaptureFixture[str]):
    (tools_dir / "cli_tools_twin.py").write_text("def shout(text: str) -> str:\n    return text\n")
    twins = ["--tool", "cli_tools_ok:shout", "--tool", "cli_tools_twin:shout"]
    assert main(["run", *twins, "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agentkit: error: --tool: ")
    assert "shout" in err


def test_chat_files_are_utf8_whatever_the_locale(tmp_path: Path):
    saved = tmp_path / "conversation.json"
    saved.write_text(json.dumps([{"role": "user", "content": "Zürich?"}]), encoding="utf-8")
    # An ASCII locale (LC_ALL=C without UTF-8 mode) is where locale-encoded files break.
    env = {**subprocess_env(), "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "agentkit", "chat"],
        input=f"/load {saved}\n/save {saved}\n/exit\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert f"loaded 1 message from {saved}" in done.stdout
    assert json.loads(saved.read_text(encoding="utf-8"))[0]["content"] == "Zürich?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-test")
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["run", "--base-url", url, "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"agentkit: error: cannot reach {url} (")
    assert "Traceback" not in err


def test_server_errors_exit_1(server: FakeServer, capsys: pytest.CaptureFixture[str]):
    server.enqueue(http_error(401, "bad key"))
    assert main(["run", "hi"]) == 1
    assert "AuthenticationError: HTTP 401: bad key" in capsys.readouterr().err


def test_a_run_that_never_answers_exits_1(server: FakeServer, capsys: pytest.CaptureFixture[str]):
    server.enqueue(tool_calls(("nothing", {})))
    assert main(["run", "--json", "--max-steps", "1", "loop"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "MaxStepsExceeded: no final answer after 1 model request; raise --max-steps" in (
        captured.err
    )


# --- as a real process ----------------------------------------------------------------------


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTKIT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def first_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """The process's first line of output, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return process.stdout.readline()


def test_python_m_agentkit_demo():
    done = subprocess.run(
        [sys.executable, "-m", "agentkit", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert DISCLAIMER in done.stdout
    assert "Here is what I found:" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130():
    with subprocess.Popen(
        [sys.executable, "-m", "agentkit", "chat"],
        stdin=subprocess.PIPE,  # kept open: the chat waits for a line
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    ) as process:
        assert first_line(process).startswith("offline: ")  # it is up
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=20)
        finally:
            process.kill()
    assert process.returncode == 130
    assert err.strip() == "agentkit: interrupted"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_prints_the_url_and_stops_on_ctrl_c():
    with subprocess.Popen(
        [sys.executable, "-m", "agentkit", "serve"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    ) as process:
        line = first_line(process)
        try:
            assert line.startswith("export AGENTKIT_BASE_URL=http://127.0.0.1:")
            url = line.split("=")[1].split()[0]
            models = httpx.get(f"{url}/models", timeout=10).json()
            assert [m["id"] for m in models["data"]] == [DEMO_MODEL]
        finally:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert DISCLAIMER[:-1] in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_a_model_request_exits_130_at_once():
    with FakeServer() as server:
        server.enqueue(delay(30, "too late"))
        env = {**subprocess_env(), "AGENTKIT_BASE_URL": server.url, "AGENTKIT_API_KEY": "k"}
        with subprocess.Popen(
            [sys.executable, "-m", "agentkit", "run", "hello"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as process:
            deadline = time.monotonic() + 20
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.05)  # until the request is in flight
            assert server.requests, "the request never arrived"
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            try:
                out, err = process.communicate(timeout=20)
            finally:
                process.kill()
    assert process.returncode == 130
    assert time.monotonic() - started < 10  # not after the 30 s reply
    assert err.strip().endswith("agentkit: interrupted")
    assert out == ""


# --- which endpoint, and which key (issue 8, item 6) ------------------------------------------


def test_an_openai_key_alone_keeps_the_demo_offline(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("AGENTKIT_API_KEY")
    monkeypatch.delenv("AGENTKIT_BASE_URL")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    assert main(["demo", "what is 6*7"]) == 0
    out = capsys.readouterr().out
    assert f"offline: {DISCLAIMER}" in out
    assert "OPENAI_API_KEY, OPENAI_BASE_URL set, not used: pass --online" in out
    assert "6*7 = 42" in out
    assert server.recorded == []  # nothing went to the configured server


def test_the_demo_online_says_which_endpoint_and_variables(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("AGENTKIT_API_KEY")
    monkeypatch.delenv("AGENTKIT_BASE_URL")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.enqueue(text("Sunny."))
    assert main(["demo", "--online"]) == 0
    out = capsys.readouterr().out
    assert (
        f"model {DEFAULT_MODEL} at {server.url} (API key from OPENAI_API_KEY; URL from "
        "OPENAI_BASE_URL)" in out
    )
    assert "sk-openai" not in out
    assert server.recorded[0].headers["authorization"] == "Bearer sk-openai"


AK, OK = "AGENTKIT_API_KEY", "OPENAI_API_KEY"


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        ({"OPENAI_API_KEY": "k"}, [], ("https://api.openai.com/v1", "OPENAI_API_KEY")),
        ({"AGENTKIT_API_KEY": "k"}, [], ("https://api.getinfinityblue.com/v1", "AGENTKIT_API_KEY")),
        # a key never goes to the other family's URL
        (
            {"AGENTKIT_API_KEY": "k", "OPENAI_BASE_URL": "http://o/v1"},
            [],
            ("https://api.getinfinityblue.com/v1", AK),
        ),
        (
            {"OPENAI_API_KEY": "k", "AGENTKIT_BASE_URL": "http://a/v1"},
            [],
            ("https://api.openai.com/v1", OK),
        ),
        ({"AGENTKIT_API_KEY": "k", "AGENTKIT_BASE_URL": "http://a/v1"}, [], ("http://a/v1", AK)),
        (
            {"OPENAI_API_KEY": "k"},
            ["--base-url", "http://mine/v1"],
            ("http://mine/v1", "OPENAI_API_KEY"),
        ),
        ({"OPENAI_BASE_URL": "http://local/v1"}, [], ("http://local/v1", None)),
    ],
)
def test_keys_pair_with_their_own_base_url(
    env: dict[str, str],
    argv: list[str],
    expected: tuple[str, str | None],
    monkeypatch: pytest.MonkeyPatch,
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    endpoint = endpoint_for(build_parser().parse_args(["run", *argv, "hi"]))
    assert (endpoint.base_url, endpoint.key_source) == expected
    assert not endpoint.offline
    # what the command says is what the client does with the same environment
    assert ChatClient(base_url=endpoint.base_url).base_url == expected[0]
    assert ChatClient(base_url=argv[1] if argv else None).base_url == expected[0]


# --- untrusted text on the terminal (item 13) -------------------------------------------------

HOSTILE = (
    "a\x1b]52;c;cm0gLXJmIH4=\x07b\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"
    "\x1b[2J\x1b[31mred\x1b[0m\rover\x9b31m\x9d0;title\x9c\x08\x00\x7fz\tend"
)
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("terminal", [False, True])
def test_control_sequences_from_model_and_tools_are_never_printed(
    terminal: bool,
    tools_dir: Path,
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    (tools_dir / "cli_tools_hostile.py").write_text(
        f"def hostile(text: str) -> str:\n    return {HOSTILE!r}\n"
    )
    server.enqueue(
        completion(reasoning=HOSTILE, tool_calls=[("hostile", {"text": HOSTILE})]),
        completion(HOSTILE, reasoning=HOSTILE),
    )
    out_stream, err_stream = (FakeTerminal(), FakeTerminal()) if terminal else (None, None)
    if terminal:  # rich, with colour: only rich's own styles may be escapes
        monkeypatch.setattr(sys, "stdout", out_stream)
        monkeypatch.setattr(sys, "stderr", err_stream)
    argv = ["run", "--show-reasoning", "--tool", "cli_tools_hostile:hostile", "go"]
    assert main(argv) == 0
    if terminal:
        assert out_stream is not None and err_stream is not None
        out, err = out_stream.getvalue(), err_stream.getvalue()
        for shown in (out, err):  # rich's own styles and spinner only: no OSC, no C1...
            assert "\x1b]" not in shown and "\x1b[2J" not in shown
            assert not re.search(r"[\x00\x08\x7f-\x9f]", shown)
    else:
        captured = capsys.readouterr()
        out, err = captured.out, captured.err
        for shown in (out, err):
            assert not CONTROLS.search(shown)
        assert re.search(r"ablinkredoverz\s+end", out)  # the tab kept (rich expands it)
        assert re.search(r"← hostile: ablinkred ?overz end", err)  # one line, as results are
    assert "cm0gLXJmIH4=" not in out and "evil.example" not in out  # payloads went too


def test_json_output_and_errors_escape_control_characters(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(text("x\x9b31my\x1b]52;c;AAAA\x07"))
    assert main(["run", "--json", "go"]) == 0
    out = capsys.readouterr().out
    assert not CONTROLS.search(out.replace("\n", ""))
    assert json.loads(out)["output"] == "x\x9b31my\x1b]52;c;AAAA\x07"  # the same value
    server.enqueue(http_error(400, "bad \x1b]52;c;AAAA\x07 thing"))
    assert main(["run", "go"]) == 1
    err = capsys.readouterr().err
    assert "BadRequestError: HTTP 400: bad  thing" in err
    assert not CONTROLS.search(err.replace("\n", ""))


# --- timers, messages, logging (item 21) ----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def test_a_step_is_timed_from_its_request_not_from_the_prompt(
    monkeypatch: pytest.MonkeyPatch,
):
    clock = Clock()
    monkeypatch.setattr("agentkit._render.time", clock)
    out = io.StringIO()
    printer = _Printer(out, out)
    clock.now += 60  # a minute at the chat prompt
    printer.request_started()
    clock.now += 0.5
    message = Message(role="assistant", content="hi")
    printer.event(StepFinished(step=1, usage=RunUsage(requests=1), message=message))
    assert "step 1: answer · 0 tokens · 500.0 ms" in out.getvalue()


def test_chat_steps_never_outlast_the_time_since_the_line_was_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    stdin(monkeypatch, "what is 2+2", "what is 3+3")
    assert main(["chat", "--offline"]) == 0
    steps = re.findall(r"step \d: .* · ([\d.]+) (ms|s)\n", capsys.readouterr().out)
    assert len(steps) == 4
    assert all(unit == "ms" for _, unit in steps)


def test_singular_and_articles(server: FakeServer, capsys: pytest.CaptureFixture[str]):
    server.enqueue(completion("hi", usage={"prompt_tokens": 1, "completion_tokens": 0}))
    assert main(["run", "hello"]) == 0
    err = capsys.readouterr().err
    assert "step 1: answer · 1 token · " in err
    assert "usage: 1 request · 1 token (prompt 1," in err


def test_on_max_steps_flag_asks_for_a_final_answer(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
):
    server.enqueue(tool_calls(("nothing", {})), text("the best I can say"))
    argv = ["run", "--max-steps", "1", "--on-max-steps", "final_answer", "loop"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "the best I can say\n"
    assert "tools" not in server.requests[1] or server.requests[1].get("tool_choice") == "none"


def test_a_tool_exception_is_one_line_and_its_traceback_only_verbose(
    tools_dir: Path, capsys: pytest.CaptureFixture[str]
):
    (tools_dir / "cli_tools_raise.py").write_text(
        "def shout(text: str) -> str:\n    raise ValueError('boom\\nsecond line')\n"
    )
    assert main(["run", "--tool", "cli_tools_raise:shout", 'shout "hi"']) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "boom" in line] == [
        "  ✗ shout: error: ValueError: boom second line  (" + line.split("(")[-1]
        for line in err.splitlines()
        if "boom" in line
    ]
    assert len([line for line in err.splitlines() if "boom" in line]) == 1
    assert "Traceback" not in err
    assert main(["run", "-v", "--tool", "cli_tools_raise:shout", 'shout "hi"']) == 0
    err = capsys.readouterr().err
    assert "agentkit: warning: tool shout raised ValueError: boom second line" in err
    assert "Traceback (most recent call last)" in err
    assert "agentkit: debug: " in err


def test_ctrl_d_at_the_prompt_ends_the_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(sys, "stdin", FakeTerminal(""))
    assert main(["chat", "--offline"]) == 0
    assert capsys.readouterr().out.endswith("you> \n")


# --- deeply nested JSON (item 11, the CLI's part) ---------------------------------------------


def test_deeply_nested_json_is_one_error_line(
    tmp_path: Path,
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    stdin(monkeypatch, f"/load {tmp_path / 'deep.json'}", "/exit")
    assert main(["chat", "--offline"]) == 0
    out = capsys.readouterr().out
    assert f"cannot load {tmp_path / 'deep.json'}: the data is nested too deeply" in out
    # tool arguments nested past the limit: shown raw, cut short, and the run goes on
    server.enqueue(tool_calls(("nothing", deep)), text("done"))
    assert main(["run", "go"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "done\n"
    assert "→ nothing([[[[" in captured.err and "Traceback" not in captured.err


def test_the_documented_search_example_calls_search(
    tools_dir: Path, capsys: pytest.CaptureFixture[str]
):
    (tools_dir / "my_tools.py").write_text(
        textwrap.dedent('''
        def search(query: str) -> str:
            """Search the web.

            Args:
                query: What to look for.
            """
            return "Dune (1965) is a novel by Frank Herbert."
        ''')
    )
    assert main(["run", "--tool", "my_tools:search", "Who wrote Dune?"]) == 0  # docs/cli.md
    captured = capsys.readouterr()
    assert '→ search(query="Who wrote Dune")' in captured.err
    assert "Frank Herbert" in captured.out
