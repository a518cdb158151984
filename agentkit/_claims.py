"""Exclusive claims on a file path, across threads and processes: a lock file held open.

`FileCheckpointStore` claims ``<run_id>.lock`` while a run executes, so two resumes of one run
(in one process or in two) can't both run its pending tool calls. The lock is the operating
system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), held by an open file, so it
dies with its process, even one killed by SIGKILL: a crashed run never leaves behind a claim
that someone would have to judge stale. The file itself may stay after a crash; the next
holder reuses it, and removes it when it lets go.

Within one process the claims are also kept in a registry, because some file systems (NFS)
implement ``flock`` with per-process locks that one process never refuses itself.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

__all__ = ["Claimed", "acquire", "release"]


class Claimed(Exception):
    """The path is claimed by someone else; ``holder`` says who, when the file tells."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


_held: dict[str, int] = {}  # real path -> the open file holding its lock, in this process
_registry = threading.Lock()  # claims run in worker threads


def _forget_in_child() -> None:
    # A forked child shares the parent's open files, and with them its locks: closing its
    # copies lets a claim die with the parent that took it, not with the last of its children.
    global _registry
    _registry = threading.Lock()  # another thread may have held it at the fork
    for fd in _held.values():
        os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_in_child)


def acquire(path: str) -> None:
    """Claim ``path`` (the lock file is created if missing), or raise `Claimed` at once.

    Raises:
        Claimed: A thread of this process or another process holds the claim.
    """
    key = os.path.realpath(path)
    with _registry:
        if key in _held:
            raise Claimed(_describe(os.getpid()))
        # A releaser removes the file after its last use: the file we open and lock may have
        # just been unlinked, so the claim counts only if it is still the file at `path`.
        for _ in range(8):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not _lock(fd):
                    raise Claimed(_holder(fd))
                try:
                    current = os.path.samestat(os.fstat(fd), os.stat(path))
                except FileNotFoundError:
                    current = False
                if current:
                    os.ftruncate(fd, 0)
                    os.write(fd, _describe(os.getpid()).encode())
                    _held[key] = fd
                    return
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise Claimed("a holder that keeps replacing the lock file")  # pragma: no cover


def release(path: str) -> None:
    """Let go of a claim `acquire` took in this process, and remove its file; else nothing."""
    key = os.path.realpath(path)
    with _registry:
        fd = _held.pop(key, None)
        if fd is None:
            return
        if sys.platform == "win32":  # an open file can't be removed there: unlock first
            _unlock(fd)
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:  # someone opened it meanwhile; the next releaser removes it
                pass
        else:
            # Removed while still locked: whoever opened it before sees, once it gets the lock,
            # that it is no longer the file at `path`, and tries again on a new one.
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.close(fd)


def _describe(pid: int) -> str:
    return f"pid {pid} on {socket.gethostname()}"


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:  # pragma: no cover - a file system that refuses the read
        return ""


if sys.platform == "win32":  # pragma: no cover - the test suite runs on POSIX
    import msvcrt

    _FAR = 0x7FFFFFFF  # the locked byte: far from the holder's description, which stays readable

    def _lock(fd: int) -> bool:
        os.lseek(fd, _FAR, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _FAR, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:  # pragma: no cover - only Windows unlocks before closing
        fcntl.flock(fd, fcntl.LOCK_UN)
