"""Builds a JSON instance that fits a JSON Schema, for the demo model's ``response_format``.

`_instance` walks the schema (local ``$ref``, first non-null ``anyOf`` branch) and fills each
field from what the turn produced: a field named like a tool argument takes that argument, a
number field the number next to its name in a tool result, a prose field the answer. Bounds,
``multipleOf``, lengths, item counts and enums are honoured even when nothing fits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from agentkit._demo.text import (
    _FREE_TEXT,
    _mentioned,
    _named_numbers,
    _num,
    _numbers,
    _Pool,
    _sentences,
    _singular,
    _string_candidates,
)


@dataclass(frozen=True)
class _Result:
    """One tool result of this turn, with the call that produced it."""

    name: str
    arguments: dict[str, Any]
    content: str
    is_math: bool


def _resolve(schema: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow a local ``$ref`` and pick the first non-null ``anyOf``/``oneOf`` branch."""
    if not isinstance(schema, dict) or depth > 20:  # {"$ref": "#"} would never end
        return {}
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _resolve({**target, **rest}, root, depth + 1)
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            resolved = [_resolve(option, root, depth + 1) for option in options]
            chosen = next((r for r in resolved if r.get("type") != "null"), resolved[0])
            rest = {k: v for k, v in schema.items() if k != combinator}
            return _resolve({**rest, **chosen}, root, depth + 1)
    if isinstance(schema.get("type"), list):
        kinds = [t for t in schema["type"] if t != "null"] or ["null"]
        return {**schema, "type": kinds[0]}
    return schema


@dataclass(frozen=True)
class _Ctx:
    """What a JSON answer can be built from; ``focus`` is the result one array item is about."""

    pool: _Pool
    results: list[_Result]
    answer: str
    focus: _Result | None = None


_PROSE = set(
    "answer summary text output result response content message explanation description "
    "report reply details notes comment".split()
)
_FORMATS = {"date": "2025-01-01", "date-time": "2025-01-01T00:00:00Z", "time": "00:00:00Z",
            "email": "demo@example.com", "uri": "https://example.com", "hostname": "example.com",
            "uuid": "00000000-0000-4000-8000-000000000000", "ipv4": "127.0.0.1"}  # fmt: skip


def _number_for(name: str, ctx: _Ctx) -> float:
    results = [ctx.focus] if ctx.focus else [r for r in ctx.results if not r.is_math]
    for result in results:
        if isinstance(result.arguments.get(name), int | float):
            return float(result.arguments[name])
        for word in re.findall(r"[a-z]+", name.lower()):
            hit = re.search(rf"{word}\D{{0,4}}?(-?\d+(?:\.\d+)?)", result.content.lower())
            if hit and len(word) > 2:
                return float(hit.group(1))
    named = _named_numbers(name, ctx.pool.text)  # "for 2 adults, 5 nights": each its own
    if named and ctx.focus is None:
        return named[0]
    maths = [n for r in ctx.results if r.is_math for n in _numbers(r.content)]
    pools = [_numbers(r.content) for r in results][:1] + [maths, ctx.pool.numbers]
    if ctx.focus is None:
        pools = [maths, *pools]  # a top-level number is most likely the computed one
    return next((p[0] for p in pools if p), 0.0)


def _within(value: float, schema: dict[str, Any], *, integer: bool) -> int | float:
    """``value`` moved into the schema's bounds (and onto its ``multipleOf`` grid)."""
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = schema.get("multipleOf") or (1 if integer else 0)
    if step:  # grid points only: the first and last ones inside every bound
        first = -math.inf if above is None else math.floor(above / step) + 1
        last = math.inf if below is None else math.ceil(below / step) - 1
        if math.isfinite(low):
            first = max(first, math.ceil(low / step))
        if math.isfinite(high):
            last = min(last, math.floor(high / step))
        k = min(max(round(value / step), first), last)
        return k * step if isinstance(step, int) else _num(k * step)
    value = min(max(value, low), high)
    lo = max(low, -math.inf if above is None else above)
    hi = min(high, math.inf if below is None else below)
    if (above is not None and value <= above) or (below is not None and value >= below):
        if math.isfinite(lo) and math.isfinite(hi):
            value = (lo + hi) / 2  # strictly inside both exclusive bounds
        else:
            value = lo + 1 if math.isfinite(lo) else hi - 1
    return _num(value)


def _string_for(name: str, schema: dict[str, Any], ctx: _Ctx) -> str:
    lname = _singular(name.lower())
    results = [ctx.focus] if ctx.focus else ctx.results
    for result in results:
        if isinstance(result.arguments.get(name), str):
            return str(result.arguments[name])
    if lname in _FREE_TEXT:  # a "topic" is what was looked up, whatever the tool calls it
        for result in results:
            for key, value in result.arguments.items():
                if key.lower() in _FREE_TEXT and isinstance(value, str):
                    return value
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    if set(re.findall(r"[a-z]+", lname)) & _PROSE:
        lookups = [r for r in ctx.results if not r.is_math]
        if ctx.focus is None and len(ctx.results) == len(lookups) == 1:
            return lookups[0].content  # the summary of one lookup is what it found
        return ctx.focus.content if ctx.focus else ctx.answer
    picked = _string_candidates(name, schema, ctx.pool) if lname not in _FREE_TEXT else []
    if picked:
        return picked[0]
    return ctx.focus.content if ctx.focus else ctx.answer


def _instance(schema: Any, root: dict[str, Any], name: str, ctx: _Ctx, depth: int = 0) -> Any:
    """A value valid against ``schema``, built from the context where a field name fits."""
    s = _resolve(schema, root)
    if "const" in s:
        return s["const"]
    if s.get("enum"):
        hits = _mentioned(s["enum"], f"{ctx.pool.text} {ctx.focus.content if ctx.focus else ''}")
        return (hits or s["enum"])[0]
    kind = s.get("type") or ("object" if "properties" in s else "string")
    if kind == "object":
        properties = s.get("properties") or {} if depth < 6 else {}
        return {key: _instance(sub, root, key, ctx, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        items = s.get("items") if isinstance(s.get("items"), dict) else {}
        inner = _resolve(items, root)
        subjects = [r for r in ctx.results if not r.is_math]
        values: list[Any] = []
        if depth < 6 and ctx.focus is None and inner.get("type") == "object" and subjects:
            for subject in subjects:
                focused = _Ctx(ctx.pool, ctx.results, ctx.answer, subject)
                values.append(_instance(items, root, name, focused, depth + 1))
        elif inner.get("type") == "string" and "enum" not in inner and "format" not in inner:
            texts = [str(v) for r in subjects for v in r.arguments.values()][:8]
            texts = texts or _sentences(ctx.pool.text)[:5] or ctx.pool.proper
            values = [_fit(text, inner) for text in texts]
        while len(values) < s.get("minItems", 0):
            values.append(_instance(items, root, _singular(name), ctx, depth + 1))
        return values[: s.get("maxItems", len(values))]
    if kind in ("integer", "number"):
        return _within(_number_for(name, ctx), s, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _fit(_string_for(name, s, ctx), s)


def _fit(text: str, schema: dict[str, Any]) -> str:
    """``text`` padded or cut to the schema's ``minLength`` and ``maxLength``."""
    text = text.ljust(schema.get("minLength", 0), ".")
    return text[: schema["maxLength"]] if "maxLength" in schema else text
