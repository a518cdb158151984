"""``python -m agentkit``: the same command as ``agentkit``."""

from agentkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
