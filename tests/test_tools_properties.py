"""Property: every generated schema is valid JSON Schema, in normal and strict mode."""

from __future__ import annotations

import datetime
import enum
import inspect
import json
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from agentkit.errors import ToolDefinitionError
from agentkit.tools import Tool

TOOL_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "ChatCompletionTool.schema.json").read_text()
)


class Shade(enum.StrEnum):
    DARK = "dark"
    LIGHT = "light"


class Leaf(BaseModel):
    label: str
    weight: float = 1.0


class Tree(BaseModel):
    leaf: Leaf | None = None
    branches: list[Tree] = []


BASE: list[Any] = [
    str, int, float, bool, type(None), Any, datetime.date, datetime.datetime, uuid.UUID, Path,
    Shade, Literal["a", "b"], Literal[1], Leaf, Tree,
]  # fmt: skip

types = st.recursive(
    st.sampled_from(BASE),
    lambda inner: st.one_of(
        inner.map(lambda t: list[t]),  # type: ignore[valid-type]
        inner.map(lambda t: set[t] if t in (str, int) else list[t]),  # type: ignore[valid-type]
        inner.map(lambda t: tuple[t, ...]),  # type: ignore[valid-type]
        st.tuples(inner, inner).map(lambda p: tuple[p[0], p[1]]),  # type: ignore[valid-type]
        inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
        inner.map(lambda t: Optional[t]),  # noqa: UP045
        st.tuples(inner, inner).map(lambda p: Union[p]),  # noqa: UP007
        inner.map(lambda t: Annotated[t, Field(description="described")]),
    ),
    max_leaves=4,
)
names = st.sampled_from(["title", "json", "schema", "properties", "type", "x", "model_config"])
params = st.lists(st.tuples(names, types, st.booleans()), max_size=5, unique_by=lambda p: p[0])


def make(spec: list[tuple[str, Any, bool]]) -> Any:
    def fn(**kwargs: Any) -> Any:
        return kwargs

    ordered = sorted(spec, key=lambda p: p[2])  # parameters with defaults go last
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                n,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=t,
                default=None if d else inspect.Parameter.empty,
            )
            for n, t, d in ordered
        ]
    )
    fn.__annotations__ = {n: t for n, t, _ in spec}
    return fn


def nodes(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every schema node, by structure (a property called `title` is a name, not a node)."""
    found = [schema]
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            found.extend(nodes(sub))
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("prefixItems", []):
        found.extend(nodes(sub))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found.extend(nodes(schema[key]))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params)
def test_generated_schemas_are_valid(spec: list[tuple[str, Any, bool]]) -> None:
    t = Tool(make(spec), name="generated")
    for name, annotation, _ in spec:  # the annotation was used, not lost to `Any`
        if "Any" not in repr(annotation):
            assert t.parameters["properties"][name] not in ({}, {"default": None})
    jsonschema.Draft202012Validator.check_schema(t.parameters)
    jsonschema.validate(t.definition(), TOOL_SCHEMA)
    assert all("title" not in node for node in nodes(t.parameters))
    assert sorted(t.parameters["properties"]) == sorted(n for n, _, _ in spec)
    assert sorted(t.parameters.get("required", [])) == sorted(n for n, _, d in spec if not d)
    try:
        strict = t.definition(strict=True)["function"]["parameters"]
    except ToolDefinitionError as exc:
        assert "strict mode cannot express" in str(exc)
        event("strict refused")
        return
    event("strict accepted")
    jsonschema.Draft202012Validator.check_schema(strict)
    for obj in nodes(strict):  # OpenAI's structured-outputs rules
        if obj.get("type") != "object":
            continue
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert all("title" not in node for node in nodes(strict))
