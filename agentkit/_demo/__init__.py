"""The built-in offline demo model: deterministic rules that play an LLM, and ways to reach it.

`rules` answers a chat request body (reading the words with `text`, building JSON with
`instance`); `serve` offers it over a loopback server or an in-process client; `tools` holds
the three tools ``agentkit demo`` gives it. Users meet it as `agentkit.demo_client`.
"""

from __future__ import annotations

from agentkit._demo.rules import DEMO_MODEL, DISCLAIMER, demo_responder
from agentkit._demo.serve import demo_client, demo_server

__all__ = ["DEMO_MODEL", "DISCLAIMER", "demo_client", "demo_responder", "demo_server"]
