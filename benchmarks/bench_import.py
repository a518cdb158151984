"""Import time of agentkit vs its two heavy dependencies (`import httpx, pydantic`).

Each sample is a fresh interpreter timing the import statement in-process (perf_counter), so
interpreter start-up cancels out. Reports min and median of N samples and each median's ratio to
``import httpx, pydantic``. Target: ``import agentkit`` <= 1.2x. Also shown, for honesty: the
import a real agent program does (``from agentkit import Agent, ChatClient, tool``), and the
floor of any pydantic-based client (``import pydantic`` alone is lazy and loads no model code).

    .venv/bin/python benchmarks/bench_import.py [-n 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TIMER = (
    "import sys, time\nt = time.perf_counter()\nexec(sys.argv[1])\nprint(time.perf_counter() - t)"
)


def sample(statement: str, n: int) -> list[float]:
    subprocess.run([sys.executable, "-c", statement], check=True)  # warm .pyc caches
    out = []
    for _ in range(n):
        res = subprocess.run(
            [sys.executable, "-c", TIMER, statement], check=True, capture_output=True, text=True
        )
        out.append(float(res.stdout.strip()) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    statements = [
        "import httpx, pydantic",
        "import agentkit",
        # What a program that builds an agent really loads (agentkit's names load lazily).
        "from agentkit import Agent, ChatClient, tool",
        # The floor for any library whose wire types are pydantic models.
        "import httpx, anyio; from pydantic import BaseModel",
    ]
    rows: dict[str, list[float]] = {s: [] for s in statements}
    for _ in range(args.n):  # interleaved, so drift on a noisy machine hits all alike
        for statement in statements:
            rows[statement] += sample(statement, 1)
    base = statistics.median(rows[statements[0]])
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:<52} min {min(values):6.1f} ms  median {med:6.1f} ms  {med / base:5.2f}x")
    print("target: `import agentkit` <= 1.20x `import httpx, pydantic`")


if __name__ == "__main__":
    main()
