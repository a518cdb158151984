"""The fast acceptance test only accepts what jsonschema accepts, and does accept flat cases."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit._quickcheck import quick_check
from agentkit._schema import ArgumentsError
from agentkit.tools import Tool

KINDS = ["string", "integer", "number", "boolean", "null", "array", "object"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
kinds = st.sampled_from(KINDS) | st.lists(st.sampled_from(KINDS), min_size=1, max_size=3)
enums = st.lists(st.sampled_from(["a", "b", "1", ""]), min_size=1, max_size=3)
notes = st.fixed_dictionaries(
    {}, optional={"description": st.text(max_size=5), "default": json_values}
)
bare = st.builds(lambda k, n: {"type": k, **n}, kinds, notes)
properties = st.one_of(
    bare,
    st.builds(lambda e, n: {"enum": e, **n}, enums, notes),
    st.builds(lambda e: {"type": "string", "enum": e}, enums),
    st.lists(bare, min_size=1, max_size=3).map(lambda options: {"anyOf": options}),
    notes,  # annotations only: any value
    # beyond the fast test: it must hand these to the validator
    st.just({"type": "string", "minLength": 2}),
    st.just({"type": "integer", "minimum": 0}),
    st.just({"enum": [1, "1", None]}),
    st.just({"$ref": "#/$defs/x"}),
)
names = st.sampled_from(["a", "b", "c", "type", ""])
schemas = st.builds(
    lambda props, required, extra, draft: {
        "type": "object",
        "properties": props,
        "required": [k for k in required if k in props] + (["zz"] if "zz" in required else []),
        **({} if extra is None else {"additionalProperties": extra}),
        **({} if draft is None else {"$schema": draft}),
        "$defs": {"x": {"type": "string"}},
    },
    st.dictionaries(names, properties, max_size=4),
    st.lists(names | st.just("zz"), max_size=3, unique=True),
    st.none() | st.booleans(),
    st.none() | st.just("http://json-schema.org/draft-04/schema#"),
)


def _without_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """The `$defs` (there for `$ref`) makes quick_check decline; most cases should not."""
    uses_ref = any(p.get("$ref") for p in schema["properties"].values())
    return schema if uses_ref else {k: v for k, v in schema.items() if k != "$defs"}


@settings(max_examples=400, deadline=None)
@given(schemas.map(_without_defs), st.dictionaries(names | st.just("zz"), json_values, max_size=4))
def test_it_accepts_only_what_jsonschema_accepts(schema: dict[str, Any], values: dict[str, Any]):
    check = quick_check(schema)
    if check is not None and check(values):
        validator = jsonschema.validators.validator_for(schema)(schema)
        assert validator.is_valid(values), (schema, values)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(names, bare, min_size=1, max_size=4), st.data())
def test_it_accepts_values_of_the_declared_types(props: dict[str, Any], data: st.DataObject):
    schema = {"type": "object", "properties": props, "required": sorted(props)}
    check = quick_check(schema)
    assert check is not None
    samples = {
        "string": st.text(max_size=3),
        "integer": st.integers(),
        "number": st.floats(allow_nan=False),
        "boolean": st.booleans(),
        "null": st.none(),
        "array": st.lists(st.integers(), max_size=2),
        "object": st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    }
    values = {}
    for key, prop in props.items():
        kind = prop["type"] if isinstance(prop["type"], str) else prop["type"][0]
        values[key] = data.draw(samples[kind])
    assert check(values)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"x": {"type": "string", "pattern": "^a"}}},
        {"type": "object", "properties": {"x": {"$ref": "#/$defs/y"}}, "$defs": {"y": {}}},
        {"type": "object", "properties": {"x": {"type": "object", "properties": {}}}},
        {"type": "object", "properties": {"x": True}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "minProperties": 1},
        {"type": "object", "properties": {"x": {"anyOf": []}}},
        {"type": "object", "properties": {"x": {"enum": [1]}}},
    ],
)
def test_schemas_beyond_flat_typed_properties_go_to_the_validator(schema: dict[str, Any]):
    assert quick_check(schema) is None


def test_a_float_for_an_integer_is_left_to_the_draft():
    """1.0 is an integer from draft 6 on, not in draft 4: the fast test can't know, so asks."""
    props = {"n": {"type": "integer"}}

    def count(n: Any) -> str:
        return str(n)

    modern = Tool.from_schema(count, {"type": "object", "properties": props}, name="count")
    draft4 = Tool.from_schema(
        count,
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": props,
        },
        name="count",
    )
    assert quick_check(modern.parameters) is not None
    assert modern._bind(json.dumps({"n": 1.0}), None, False)[1] == {"n": 1.0}
    with pytest.raises(ArgumentsError, match="1.0 is not of type 'integer'"):
        draft4._bind(json.dumps({"n": 1.0}), None, False)
    with pytest.raises(ArgumentsError, match="True is not of type 'integer'"):
        modern._bind(json.dumps({"n": True}), None, False)
