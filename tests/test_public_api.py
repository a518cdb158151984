"""The public surface: agentkit.__all__ is sorted, complete, and every name resolves."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import agentkit

# Names a module exports for its own users that are deliberately not at the top level.
INTERNAL_ONLY: dict[str, set[str]] = {
    "agentkit.tools": {"check_unique"},
    "agentkit.interceptors": {"wrap", "ModelCall", "ToolCall", "ApproveCall"},
}

PUBLIC_MODULES = [
    "agentkit.agent",
    "agentkit.checkpoint",
    "agentkit.client",
    "agentkit.context",
    "agentkit.errors",
    "agentkit.events",
    "agentkit.interceptors",
    "agentkit.result",
    "agentkit.tools",
    "agentkit.workflow",
]  # agentkit.types holds every wire type; the top level re-exports the few most code touches


def test_all_is_sorted_and_unique():
    assert agentkit.__all__ == sorted(set(agentkit.__all__))


@pytest.mark.parametrize("name", agentkit.__all__)
def test_every_name_resolves_to_its_module_object(name):
    value = getattr(agentkit, name)
    module = sys.modules[getattr(value, "__module__", "agentkit.types")]
    assert value is getattr(module, name, value)


def test_every_public_module_name_is_exported_at_the_top():
    exported = set(agentkit.__all__)
    for module in PUBLIC_MODULES:
        names = set(importlib.import_module(module).__all__)
        missing = {n for n in names - exported if not n.isupper()} - INTERNAL_ONLY.get(
            module, set()
        )
        assert not missing, f"{module} exports {sorted(missing)} but agentkit does not"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="Agnet"):
        getattr(agentkit, "Agnet")  # noqa: B009 - the typo is the point


def test_import_loads_nothing_heavy():
    code = (
        "import sys, agentkit; "
        "print(sorted(m for m in ('pydantic.main', 'httpx', 'jsonschema', 'anyio') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dir_lists_the_public_names():
    assert set(agentkit.__all__) <= set(dir(agentkit))
