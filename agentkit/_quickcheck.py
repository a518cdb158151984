"""A fast acceptance test for flat argument schemas, run ahead of ``jsonschema``.

``jsonschema`` takes ~10 µs to validate even ``{"text": "hi"}``, a large share of a tool call
to a fast local or MCP tool. Most hand-written and MCP schemas are a flat object of typed
properties, which a few type checks decide. The test only ever *accepts*: anything it can't
vouch for (a keyword it doesn't know, a float where an integer is asked) goes on to the full
validator, which also writes the error messages, so outcomes are exactly ``jsonschema``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["quick_check"]

# Keywords that never make a value invalid (``format`` included: the validator is built
# without a format checker, so it annotates only).
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
    }
)
_ROOT_KEYS = _ANNOTATIONS | {"$schema", "type", "properties", "required", "additionalProperties"}
# The exact types `json.loads` builds. Conservative on purpose: a float 1.0 is an integer
# from draft 6 on but not before, so it goes to the validator, which knows the draft.
_PYTHON_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
    "array": frozenset({list}),
    "object": frozenset({dict}),
}

# One property: the Python types it takes (None: any), and the strings it is limited to.
_Rule = tuple[frozenset[type] | None, frozenset[str] | None]


def quick_check(parameters: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A test that returns True only for values ``parameters`` accepts, or None.

    Args:
        parameters: A tool's parameters schema (already checked as a schema).

    Returns:
        None when the schema uses anything beyond flat typed properties; otherwise a function
        that is True for values it can vouch for (False means "ask the full validator").
    """
    if not parameters.keys() <= _ROOT_KEYS or parameters.get("type") != "object":
        return None
    props = parameters.get("properties", {})
    required = parameters.get("required", [])
    extra = parameters.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or type(extra) is not bool:
        return None
    if not all(isinstance(key, str) for key in required):
        return None
    rules: dict[str, _Rule] = {}
    for key, schema in props.items():
        rule = _rule(schema)
        if rule is None:
            return None
        rules[key] = rule
    needed = tuple(dict.fromkeys(required))
    closed = not extra

    def check(values: Any) -> bool:
        if type(values) is not dict:
            return False
        for key in needed:
            if key not in values:
                return False
        for key, value in values.items():
            rule = rules.get(key)
            if rule is None:
                if closed:
                    return False
                continue
            types, choices = rule
            if types is not None and type(value) not in types:
                return False
            if choices is not None and value not in choices:
                return False
        return True

    return check


def _rule(schema: Any) -> _Rule | None:
    """The rule of one property's schema, or None if it is more than types and string enums."""
    if not isinstance(schema, dict):
        return None
    keys = schema.keys() - _ANNOTATIONS
    choices: frozenset[str] | None = None
    if "enum" in keys:
        enum = schema["enum"]
        if not isinstance(enum, list) or not all(type(item) is str for item in enum):
            return None
        choices = frozenset(enum)
        keys -= {"enum"}
    types: frozenset[type] | None = None
    if keys == {"anyOf"}:  # Optional[X] as pydantic and FastMCP write it: anyOf of bare types
        options = schema["anyOf"]
        if not isinstance(options, list) or not options:
            return None
        found: set[type] = set()
        for option in options:
            rule = _rule(option)
            if rule is None or rule[0] is None or rule[1] is not None:
                return None
            found |= rule[0]
        types = frozenset(found)
    elif keys == {"type"}:
        kinds = schema["type"]
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list) or not kinds or not all(k in _PYTHON_TYPES for k in kinds):
            return None
        types = frozenset().union(*(_PYTHON_TYPES[k] for k in kinds))
    elif keys:
        return None
    if choices is not None:  # only strings can match: the membership test never sees a list
        types = frozenset({str}) if types is None else types & {str}
    return types, choices
