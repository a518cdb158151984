"""JSON Schema -> OpenAI's strict form, for tool parameters and output types alike.

`to_strict` rewrites a schema under the structured-outputs rules: objects closed and fully
required, optional properties nullable, ``oneOf`` as ``anyOf``, ``$ref`` siblings inlined,
unsupported keywords removed (value constraints restated in the description); `drop_nulls` turns
the nulls the model then sends for optional properties back into "left out". Tool parameters
(`agentkit._schema`) and output types (`agentkit._output`) differ only in their `StrictRules` and
in how they word a `NotStrict`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Literal

from agentkit.types import JSONSchema

__all__ = [
    "NotStrict",
    "StrictRules",
    "children",
    "drop_non_json",
    "drop_nulls",
    "drop_titles",
    "has_optional",
    "nullable",
    "or_null",
    "resolve",
    "to_strict",
]

_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "contains")
_SUBSCHEMA_KEYS = frozenset(_SUBSCHEMA_LISTS + _SUBSCHEMA_MAPS + _SUBSCHEMAS)


def children(schema: JSONSchema) -> list[JSONSchema]:
    """The sub-schemas of a node (never values such as ``default`` or ``enum``, nor names)."""
    found = [s for key in _SUBSCHEMAS if isinstance(s := schema.get(key), dict)]
    for key in _SUBSCHEMA_LISTS:
        found.extend(s for s in schema.get(key, ()) if isinstance(s, dict))
    for key in _SUBSCHEMA_MAPS:
        found.extend(s for s in schema.get(key, {}).values() if isinstance(s, dict))
    return found


def drop_titles(schema: JSONSchema) -> JSONSchema:
    """Remove pydantic's generated titles by structure, so a property named ``title`` survives."""
    schema.pop("title", None)
    for child in children(schema):
        drop_titles(child)
    return schema


def drop_non_json(schema: JSONSchema) -> JSONSchema:
    """Remove the values JSON cannot spell (``inf``, ``nan``: defaults, examples), in place.

    Sent as is they make the request body invalid JSON (``Infinity``), and the server answers
    400. Dropped rather than restated: a parameter without its ``default`` stays optional and
    the Python default still applies; the validator, built from the function, is unchanged.
    """
    for key in [k for k in schema if k not in _SUBSCHEMA_KEYS and not _is_json(schema[k])]:
        del schema[key]
    for child in children(schema):
        drop_non_json(child)
    return schema


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:  # inf or nan, at any depth
        return False
    return True


# What OpenAI's structured outputs accept in strict mode; anything else is removed.
_STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
        "$defs", "enum", "const", "description", "pattern", "format", "multipleOf", "maximum",
        "minimum", "exclusiveMaximum", "exclusiveMinimum", "minItems", "maxItems",
    }
)  # fmt: skip
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_TYPED = ("type", "anyOf", "$ref", "enum", "const")  # without one of them, a value is anything

Problem = Literal["keyword", "ref", "any", "object", "array"]

_WHAT: dict[Problem, str] = {
    "keyword": "{detail!r} (e.g. a tuple or an intersection)",
    "ref": "an unresolvable $ref {detail!r}",
    "any": "an open-ended value (Any)",
    "object": "an open-ended object (dict[str, ...])",
    "array": "an array without an item type",
}


class NotStrict(Exception):
    """The schema uses something strict mode cannot express; the message says what and where."""

    def __init__(self, problem: Problem, path: str, detail: str = "") -> None:
        super().__init__(f"{_WHAT[problem].format(detail=detail)} at {path}")
        self.problem: Problem = problem
        """What is wrong: a rejected ``keyword``, a ``ref`` that cannot be inlined, an open-ended
        value (``any``) or ``object``, or an ``array`` without ``items``."""
        self.path = path
        """Where: ``$.a.b``, ``$defs.Name``, ``[0]`` for an ``anyOf`` branch, ``[]`` for items."""
        self.detail = detail
        """The rejected keyword, or the ``$ref``."""


@dataclass(frozen=True, kw_only=True)
class StrictRules:
    """How one kind of schema is made strict."""

    noted: frozenset[str]
    """Removed keywords restated in the description (``default: null`` never is)."""
    rejected: frozenset[str] = frozenset()
    """Keywords that raise `NotStrict` (``"keyword"``) instead of being removed."""
    optional_nullable: tuple[str, ...] | None = None
    """When set, each object's optional properties become nullable (null meaning "left out"),
    these annotations moving out to the wrapper; None leaves them required as they are."""
    lenient: bool = False
    """Pass through a ``$ref`` that cannot be inlined and an array without ``items`` (the
    server judges them) instead of raising `NotStrict`."""


def to_strict(schema: JSONSchema, rules: StrictRules, path: str) -> JSONSchema:
    """A strict copy of ``schema`` (``path`` names its root in errors).

    Every object gets ``additionalProperties: false`` and lists all its properties as required.

    Raises:
        NotStrict: The schema cannot be expressed in strict mode.
    """
    strict = copy.deepcopy(schema)
    _strictify(strict, strict.get("$defs", {}), path, rules)
    return strict


def _strictify(node: JSONSchema, defs: JSONSchema, path: str, rules: StrictRules) -> None:
    if isinstance(node, bool):  # the schema `true` is `{}`: any value, which strict can't say
        raise NotStrict("any", path)
    if "oneOf" in node:  # pydantic's discriminated unions; strict mode only knows anyOf
        node["anyOf"] = node.pop("oneOf")
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        node.update({**node.pop("allOf")[0], **node})
    _drop_unsupported(node, path, rules)
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        # strict mode rejects keywords beside $ref (pydantic puts a description there): inline
        # the target, the node's own keywords winning
        target = defs.get(ref.removeprefix("#/$defs/")) if ref.startswith("#/$defs/") else None
        if target is not None:
            del node["$ref"]
            node.update({**copy.deepcopy(target), **node})
            _drop_unsupported(node, path, rules)
        elif not rules.lenient:  # pragma: no cover - pydantic's own refs always resolve
            raise NotStrict("ref", path, ref)
    if not any(k in node for k in _TYPED):
        raise NotStrict("any", path)
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") not in (None, False) or "properties" not in node:
            raise NotStrict("object", path)
        node["additionalProperties"] = False
        keep_outside = rules.optional_nullable
        if keep_outside is not None:
            required = set(node.get("required", ()))
            for name, prop in node["properties"].items():
                if name not in required and not nullable(prop, defs):
                    node["properties"][name] = or_null(prop, keep_outside)
        node["required"] = list(node["properties"])
    for name, sub in node.get("properties", {}).items():
        _strictify(sub, defs, f"{path}.{name}", rules)
    for i, sub in enumerate(node.get("anyOf", ())):
        _strictify(sub, defs, f"{path}[{i}]", rules)
    if isinstance(node.get("items"), dict):
        _strictify(node["items"], defs, f"{path}[]", rules)
    elif node.get("type") == "array" and not rules.lenient:
        raise NotStrict("array", path)
    for name, sub in node.get("$defs", {}).items():
        _strictify(sub, defs, f"$defs.{name}", rules)


def _drop_unsupported(node: JSONSchema, path: str, rules: StrictRules) -> None:
    """Remove keywords strict mode rejects, restating value constraints in the description."""
    notes = []
    for key in [k for k in node if k not in _STRICT_KEYWORDS or k == "format"]:
        if key in rules.rejected:
            raise NotStrict("keyword", path, key)
        if key == "format" and node[key] in _STRICT_FORMATS:
            continue
        value = node.pop(key)
        if key in rules.noted and not (key == "default" and value is None):
            notes.append(f"{key}: {json.dumps(value, default=str)}")  # "default: null" says nothing
    if notes:
        text = node.get("description", "")
        node["description"] = (text + " " if text else "") + f"({'; '.join(notes)})"


def or_null(node: JSONSchema, keep_outside: tuple[str, ...]) -> JSONSchema:
    """``node`` or null, as ``anyOf``; the ``keep_outside`` annotations move to the wrapper."""
    outer = {k: node.pop(k) for k in keep_outside if k in node}
    return {"anyOf": [node, {"type": "null"}], **outer}


def resolve(node: JSONSchema, defs: JSONSchema) -> JSONSchema:
    """``node`` with a ``#/$defs/`` reference replaced by its target (the node's keys winning)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def nullable(node: JSONSchema, defs: JSONSchema, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``node`` already accepts null."""
    if isinstance(node, bool):  # the schemas `true` (anything, null too) and `false` (nothing)
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in _seen:  # a hand-written def naming itself in its own anyOf
            return False
        _seen = _seen | {ref}
    node = resolve(node, defs)
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if node.get("const", 0) is None or None in node.get("enum", ()):
        return True
    return any(nullable(s, defs, _seen) for key in ("anyOf", "oneOf") for s in node.get(key, ()))


def has_optional(node: JSONSchema, defs: JSONSchema) -> bool:
    """Whether an object anywhere in ``node`` has an optional property that is not nullable.

    Under strict mode such a property becomes nullable; a value of ``node`` then needs
    `drop_nulls` before validation.
    """
    seen: set[str] = set()

    def walk(node: JSONSchema) -> bool:
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:  # recursive models: each definition is looked at once
                return False
            seen.add(ref)
        node = resolve(node, defs)
        required = node.get("required", ())
        props = node.get("properties", {})
        if any(n not in required and not nullable(s, defs) for n, s in props.items()):
            return True
        return any(walk(child) for child in children(node))

    return walk(node)


def drop_nulls(value: Any, node: JSONSchema, defs: JSONSchema) -> None:
    """Remove the nulls strict mode made the model send for optional properties, in place.

    A property optional in ``node`` (the loose schema of ``value``, before `to_strict`) and not
    nullable there had null added by strict mode, so its null means "left out": the key is
    removed and the validator applies the default. Nested objects, arrays and ``anyOf``
    branches are followed.
    """
    _drop_nulls(value, node, defs, frozenset())


def _drop_nulls(value: Any, node: JSONSchema, defs: JSONSchema, seen: frozenset[str]) -> None:
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:  # a def reached again for the same value: nothing new to drop
            return
        seen = seen | {ref}
    node = resolve(node, defs)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, ()):
            _drop_nulls(value, sub, defs, seen)
    if isinstance(value, dict):
        required = node.get("required", ())
        for name, sub in node.get("properties", {}).items():
            if name not in value:
                continue
            if value[name] is None and name not in required and not nullable(sub, defs):
                del value[name]  # "left out": the validator fills in the default
            else:
                _drop_nulls(value[name], sub, defs, frozenset())
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            _drop_nulls(item, node["items"], defs, frozenset())
