"""Durable runs: the state of a run as JSON, and where to keep it between steps.

An agent run has exactly two kinds of side effect: a model request and a tool call. With
``Agent.run(..., checkpoint=store, run_id=...)`` the run claims ``run_id`` in the store, saves
its `RunState` at its start and after every model request and every tool call, and releases the
claim when it ends, so a run stopped by a crash, a deploy or a cancellation resumes where it
stopped (tool calls that completed are not run again), and never runs twice at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from agentkit import _claims
from agentkit.errors import InvalidRequestError, RunClaimedError
from agentkit.result import RunUsage

__all__ = ["CheckpointStore", "FileCheckpointStore", "RunState"]

_VERSION = 1


@dataclass(kw_only=True)
class RunState:
    """Everything needed to continue a run; mutable, owned by the run that is executing it."""

    messages: list[dict[str, Any]]
    """The conversation so far, history included."""
    new_start: int = 0
    """Index in ``messages`` of the first message this run added."""
    usage: RunUsage = field(default_factory=RunUsage)
    """Usage of the requests made so far."""
    steps: int = 0
    """Model requests made so far."""
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls of the last assistant message that still need a reply (wire form)."""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Completed pending calls by position (``"0"``, ``"1"``...): ``{"content", "is_error",
    "duration"}``; positions, because some servers send empty or repeated call ids."""
    output_retries: int = 0
    """Output validation retries used."""
    final_request: bool = False
    """True once the tools-off request made after ``max_steps`` has been sent."""
    reasoning: str | None = None
    """Reasoning text of the last assistant message received (``reasoning_content`` or
    ``reasoning``, whichever field the server used)."""

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON data (a snapshot: later changes to the run don't affect it)."""
        return {
            "version": _VERSION,
            "messages": list(self.messages),
            "new_start": self.new_start,
            "usage": self.usage.to_dict(),
            "steps": self.steps,
            "pending": list(self.pending),
            "results": dict(self.results),
            "output_retries": self.output_retries,
            "final_request": self.final_request,
            "reasoning": self.reasoning,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Rebuild a state saved with `to_dict`.

        Raises:
            ValueError: The data was written by an unknown version of agentkit.
        """
        version = data.get("version") if isinstance(data, dict) else None
        if version != _VERSION:
            raise ValueError(f"unsupported run state version: {version!r}")
        return cls(
            messages=list(data["messages"]),
            new_start=data["new_start"],
            usage=RunUsage(**data["usage"]),
            steps=data["steps"],
            pending=list(data["pending"]),
            results=dict(data["results"]),
            output_retries=data["output_retries"],
            final_request=data["final_request"],
            reasoning=data["reasoning"],
        )


class CheckpointStore(Protocol):
    """Where a run keeps its state between steps; implement it over any database.

    A run calls ``claim``, then ``load`` (and ``save`` at once if it starts afresh), ``save``
    after every step, ``delete`` when it succeeds, and ``release`` however it ends (also when
    cancelled: the agent shields that call, for at most 10 seconds).

    ``save`` must replace the previous state of ``run_id`` atomically: a reader sees the old
    state or the new one, never a mix. It must read ``state`` before its first ``await`` (or copy
    it with `RunState.to_dict`), because the run goes on changing it.

    ``claim`` must be exclusive across every process that shares the store, must not wait for
    the holder (raise at once), and must not outlive a holder that died: `FileCheckpointStore`
    holds an OS file lock, which dies with its process; a database store would hold a lease it
    renews, or a session-scoped advisory lock (``pg_try_advisory_lock``).
    """

    async def claim(self, run_id: str) -> None:
        """Take ``run_id`` for one run until `release`; no other run may take it meanwhile.

        Raises:
            RunClaimedError: Another run (in any process) holds it.
        """
        ...

    async def release(self, run_id: str) -> None:
        """Let go of a claim this store took with `claim`; no error if it holds none."""
        ...

    async def save(self, run_id: str, state: RunState) -> None:
        """Store ``state`` as the latest state of ``run_id``."""
        ...

    async def load(self, run_id: str) -> RunState | None:
        """The latest state saved for ``run_id``, or None if there is none."""
        ...

    async def delete(self, run_id: str) -> None:
        """Forget ``run_id`` (done when its run finishes); no error if it is unknown."""
        ...


class FileCheckpointStore:
    """Keeps each run's state in ``<directory>/<run_id>.json``, replaced atomically.

    Each save writes a temporary file in the same directory, flushes it to disk and renames it
    over the old one with `os.replace`, so a crash mid-save leaves the previous state intact
    (and the temporary file, which the run's next claim or delete removes). A claim is an OS
    lock on ``<run_id>.lock`` (``flock``; ``msvcrt.locking`` on Windows), so it holds across
    processes on one machine and dies with the process that took it, even a killed one. File
    I/O runs in a worker thread, off the event loop.

    Args:
        directory: Where the files go; created if missing.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        """The directory holding one JSON file per run."""

    def _path(self, run_id: str, suffix: str = ".json") -> Path:
        # A run id becomes a file name: refuse anything that could escape the directory.
        if not run_id or run_id in {".", ".."} or any(c in run_id for c in "/\\\0"):
            raise InvalidRequestError(
                f"run_id {run_id!r} cannot be used as a file name (no '/', '\\' or NUL)"
            )
        return self.directory / f"{run_id}{suffix}"

    async def claim(self, run_id: str) -> None:
        """Lock ``<run_id>.lock`` for this run, and remove temporary files a crash left.

        Raises:
            RunClaimedError: Another run holds it (its process and host are in the message).
        """
        await anyio.to_thread.run_sync(self._claim, run_id)

    def _claim(self, run_id: str) -> None:
        lock = self._path(run_id, ".lock")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            _claims.acquire(os.fspath(lock))
        except _claims.Claimed as claimed:
            raise RunClaimedError(run_id, holder=claimed.holder) from None
        _remove_temporaries(self._path(run_id))  # only the holder writes them: none is live

    async def release(self, run_id: str) -> None:
        """Unlock and remove ``<run_id>.lock``, if this process holds it."""
        await anyio.to_thread.run_sync(_claims.release, os.fspath(self._path(run_id, ".lock")))

    async def save(self, run_id: str, state: RunState) -> None:
        """Write ``state`` to ``<run_id>.json`` atomically."""
        data = json.dumps(state.to_dict(), ensure_ascii=False)  # snapshot before any await
        await anyio.to_thread.run_sync(_write_atomic, self._path(run_id), data)

    async def load(self, run_id: str) -> RunState | None:
        """Read ``<run_id>.json``, or None if it does not exist.

        Raises:
            InvalidRequestError: The file is not a run state this version can read.
        """
        path = self._path(run_id)
        text = await anyio.to_thread.run_sync(_read, path)
        if text is None:
            return None
        try:
            return RunState.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:  # a damaged file
            raise InvalidRequestError(
                f"{path} does not hold a run state agentkit can read ({type(exc).__name__}: "
                f"{str(exc)[:200]}); move it away to start run {run_id!r} afresh"
            ) from None

    async def delete(self, run_id: str) -> None:
        """Remove ``<run_id>.json`` (and any temporary file of it) if it exists."""
        await anyio.to_thread.run_sync(_unlink, self._path(run_id))


def _write_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` via a temporary file and `os.replace`: never half a file.

    Also used by `agentkit.workflow.save_messages`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Flush a rename to disk: without it a power cut can bring the old file back."""
    if sys.platform == "win32":  # pragma: no cover - directories can't be opened there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
    _remove_temporaries(path)


def _remove_temporaries(path: Path) -> None:
    """Remove the temporary files `_write_atomic` left for ``path`` when its process died."""
    # Exactly mkstemp's pattern for this name: run "a" must not take run "a.json.b"'s files.
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]+\.tmp")
    try:
        names = [entry.name for entry in os.scandir(path.parent)]
    except FileNotFoundError:
        return
    for name in names:
        if pattern.fullmatch(name):
            (path.parent / name).unlink(missing_ok=True)
