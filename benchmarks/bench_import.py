"""Import time of agentkit vs its two heavy dependencies (`import httpx, pydantic`).

Each sample is a fresh interpreter timing the import statement in-process (perf_counter), so
interpreter start-up cancels out. Reports min and median of N samples and the ratio of medians.
Target: ``import agentkit`` <= 1.2x ``import httpx, pydantic``.

    .venv/bin/python benchmarks/bench_import.py [-n 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TIMER = (
    "import sys, time\nt = time.perf_counter()\nexec(sys.argv[1])\n"
    "print(time.perf_counter() - t)"
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
    rows = {}
    # Interleave the two statements so drift on a noisy machine hits both alike.
    base, ours = [], []
    for _ in range(args.n):
        base += sample("import httpx, pydantic", 1)
        ours += sample("import agentkit", 1)
    rows["import httpx, pydantic"] = base
    rows["import agentkit"] = ours
    for name, values in rows.items():
        print(f"{name:<24} min {min(values):7.1f} ms   median {statistics.median(values):7.1f} ms")
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"ratio (median agentkit / median httpx+pydantic): {ratio:.2f}x  (target <= 1.20x)")


if __name__ == "__main__":
    main()
