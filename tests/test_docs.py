"""Every ```python block of README.md and docs/*.md runs offline on the demo model.

A page is read as one session, top to bottom: its blocks run in order in one Python process,
so a block may use what the page's earlier blocks defined. A block that awaits at top level
is code inside an event loop (one loop for the page, as in ``python -m asyncio``; it is not
running between blocks, so `Agent.run_sync` works in the others). A block defining
``test_*`` functions is also run by pytest: a test module made of the page's test blocks up to
it. A block right after ``<!-- no-run: reason -->`` does not run.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import agentkit
from agentkit.testing import FakeServer
from tests.conftest import ROOT, run_offline

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\s*$")
NO_RUN = re.compile(r"^<!-- no-run: (?P<reason>\S.*?) -->$")

# Runs a page's blocks in order, in one namespace, each compiled at its line in the page (so a
# traceback points at the page's line and quotes it); writes each finished block's line to
# argv[2]. Top-level await, async for and async with run on one event loop.
RUNNER = """
import ast, asyncio, inspect, json, sys
namespace = {"__name__": "__main__"}
with asyncio.Runner() as loop, open(sys.argv[2], "w") as done:
    for path, line, source in json.loads(open(sys.argv[1]).read()):
        code = compile("\\n" * line + source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if code.co_flags & inspect.CO_COROUTINE:
            loop.run(eval(code, namespace))
        else:
            exec(code, namespace)
        print(line, file=done, flush=True)
"""


@dataclass(frozen=True)
class Block:
    """One ```python block of a page."""

    page: Path
    line: int
    """The line of the opening fence, 1-based: the code starts on the next one."""
    source: str
    skip: str | None
    """Why it does not run (the reason its ``no-run`` marker gives), or None."""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_test(self) -> bool:
        return self.skip is None and any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
            for node in ast.parse(self.source).body
        )


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        if FENCE.match(line):
            marker = NO_RUN.match(lines[number - 2]) if number > 1 else None
            source = "\n".join(lines[number : lines.index("```", number)]) + "\n"
            found.append(Block(page, number, source, marker["reason"] if marker else None))
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


@dataclass(frozen=True)
class PageRun:
    """What running a page's blocks as one script did."""

    finished: list[int]
    """The lines of the blocks that ran to their end: all of them, or those before a failure."""
    returncode: int
    output: str


@pytest.fixture(scope="module")
def run_page(
    demo: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path], PageRun]:
    """Run a page's blocks once, in a fresh directory, whichever of its blocks asks first."""
    runs: dict[Path, PageRun] = {}

    def run(page: Path) -> PageRun:
        if page not in runs:
            cwd = tmp_path_factory.mktemp(page.stem)
            blocks = [[str(b.page), b.line, b.source] for b in blocks_of(page) if not b.skip]
            (cwd / "blocks.json").write_text(json.dumps(blocks))
            try:
                done = run_offline(["-c", RUNNER, "blocks.json", "done"], demo, cwd=cwd, timeout=30)
                returncode, output = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired as exc:  # once, not once for each block
                returncode, output = -1, f"the page did not finish in {exc.timeout} s"
            finished = [int(line) for line in (cwd / "done").read_text().split()]
            runs[page] = PageRun(finished, returncode, output)
        return runs[page]

    return run


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b, id=b.id, marks=[pytest.mark.skip(f"{b.id}: {b.skip}")] if b.skip else [])
        for b in BLOCKS
    ],
)
def test_block_runs_offline(block: Block, run_page: Callable[[Path], PageRun]):
    run = run_page(block.page)
    lines = [b.line for b in blocks_of(block.page) if not b.skip]
    if block.line not in run.finished or (block.line == lines[-1] and run.returncode != 0):
        failed = next((line for line in lines if line not in run.finished), block.line)
        where = f"{block.page.name}:{failed}"
        pytest.fail(f"{where} failed:\n{run.output}", pytrace=False)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.is_test], ids=lambda b: b.id)
def test_test_block_passes_under_pytest(block: Block, demo: FakeServer, tmp_path: Path):
    lines: list[str] = []
    for earlier in blocks_of(block.page):
        if earlier.is_test and earlier.line <= block.line:  # at its line, as in the page
            lines += [""] * (earlier.line - len(lines)) + earlier.source.splitlines()
    (tmp_path / "test_page.py").write_text("\n".join(lines) + "\n")
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "anyio", "test_page.py"]
    done = run_offline(args, demo, cwd=tmp_path, timeout=30, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped" not in done.stdout, done.stdout


def test_every_block_is_found():
    for page in PAGES:  # an indented fence (in an admonition, a list) would be missed
        assert page.read_text().count("```python") == len(blocks_of(page)), page.name


def test_markers_stand_right_before_a_block():
    for page in PAGES:
        lines = page.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if "no-run" in line:
                assert NO_RUN.match(line), f"{page.name}:{number}: <!-- no-run: reason -->"
                assert FENCE.match(lines[number]), f"{page.name}:{number}: no block follows"


def test_the_readme_first_snippet_runs_on_a_fresh_machine(tmp_path: Path):
    first = next(b for b in blocks_of(ROOT / "README.md") if not b.skip)
    # No server, no key, no base URL: only what a fresh install has. A stray OpenAI key must
    # not be needed, nor sent anywhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTKIT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OPENAI_API_KEY"] = "sk-stray"
    done = subprocess.run(
        [sys.executable, "-c", first.source],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "Paris: 18 degrees celsius, sunny" in done.stdout
    assert "Tokyo: 18 degrees celsius, sunny" in done.stdout
    assert "a real model instead" in first.source  # the one-line switch is shown


# Install lines must name the distribution, agentkit-loop: `agentkit` on PyPI is another project.
WRONG_INSTALL = re.compile(r"pip install\s+(?:-\S+\s+)*['\"]?agentkit(?![-\w])|['\"]agentkit\[")
SOURCES = [
    *PAGES,
    *sorted((ROOT / "examples").glob("*.py")),
    *sorted((ROOT / "agentkit").rglob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
]


def test_install_lines_name_the_distribution():
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRONG_INSTALL.search(line)
    ]
    assert not wrong, "install lines naming 'agentkit' instead of 'agentkit-loop':\n" + "\n".join(
        wrong
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "agentkit-loop"


# --- one way to write things (issue 8, item 23) --------------------------------------------

SHOWN = [*PAGES, *sorted((ROOT / "examples").glob("*.py"))]


def test_public_names_are_imported_from_agentkit():
    exported = set(agentkit.__all__)
    wrong = []
    for path in SHOWN:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^from (agentkit\.\w+) import \(?([\w, \n]+)\)?", text, re.M):
            names = {n.strip() for n in match.group(2).replace("\n", ",").split(",")} - {""}
            if names & exported:
                wrong.append(f"{path.name}: from {match.group(1)} import {sorted(names)}")
    assert not wrong, "write `from agentkit import ...`:\n" + "\n".join(wrong)


def test_agent_streams_shown_live_use_async_with():
    # Iterated directly, a turn's tool calls report only when all have ended; the examples
    # and docs show the live form, except where a page explains the difference.
    direct = re.compile(r"async for \w+ in \w+\.stream\(")
    code = [(b.id, b.source) for b in BLOCKS] + [
        (path.name, path.read_text(encoding="utf-8")) for path in SHOWN if path.suffix == ".py"
    ]
    wrong = [where for where, source in code if direct.search(source)]
    assert not wrong, "use `async with agent.stream(...) as events:` in " + ", ".join(wrong)


def _resolves(identifier: str) -> bool:
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p.parent.name == "docs" and p.name != "api.md"], ids=str
)
def test_every_prose_page_links_its_api_reference(page: Path):
    anchors = re.findall(r"\]\(api\.md#([\w.]+)\)", page.read_text(encoding="utf-8"))
    assert anchors, f"{page.name} has no link to its API reference (api.md#agentkit...)"
    documented = re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "api.md").read_text(), re.M)
    for anchor in anchors:
        assert _resolves(anchor), f"{page.name}: api.md#{anchor} names nothing"
        assert any(anchor == d or anchor.startswith(d + ".") for d in documented), (
            f"{page.name}: api.md#{anchor} is not on the API page"
        )
