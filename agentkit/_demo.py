"""The built-in offline demo model: deterministic rules that answer chat requests, not an LLM.

``demo_responder(request) -> completion`` plays the model for ``agentkit.testing.FakeServer``:
it matches the request's tools against the user's words, asks for real (parallel) tool calls
with arguments filled from each tool's JSON Schema, and composes a final answer from the tool
results, as JSON satisfying ``response_format`` when one is given. It also holds the three demo
tools the ``agentkit demo`` command and the examples use.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import operator
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentkit.testing import FakeServer

__all__ = [
    "DEMO_MODEL",
    "calculate",
    "demo_responder",
    "demo_server",
    "get_time",
    "get_weather",
]

DEMO_MODEL = "agentkit-demo"
"""The model id the demo server lists; any model name is accepted."""

DISCLAIMER = "agentkit demo model: deterministic rules, not an LLM."
"""Said in every reasoning text of the demo model, and by the CLI whenever it is in use."""

_MAX_TOOL_ROUNDS = 4  # a guard: a confused rule set must still end the run with an answer


# --- the demo tools -----------------------------------------------------------------------

_CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "windy", "clear skies")


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather for a city (made-up but stable numbers: this is a demo).

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
    """
    seed = zlib.crc32(city.strip().lower().encode())  # stable across runs, unlike hash()
    celsius = seed % 31 - 3
    temp = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    symbol = "°C" if unit == "celsius" else "°F"
    sky = _CONDITIONS[seed % len(_CONDITIONS)]
    return f"{city}: {temp}{symbol}, {sky}, humidity {seed % 50 + 40}%"


def get_time(timezone: str = "UTC") -> str:
    """Get the current local time in an IANA timezone.

    Args:
        timezone: IANA timezone name, e.g. "Europe/Paris" or "UTC".

    Raises:
        ValueError: The timezone is unknown.
    """
    try:
        now = dt.datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use an IANA name like 'Asia/Tokyo'"
        raise ValueError(f"unknown timezone {timezone!r}; {hint}") from exc
    return f"{now:%H:%M} in {timezone} ({now:%A %Y-%m-%d})"


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max,
}  # fmt: skip


def _evaluate(node: ast.expr) -> float:
    """Evaluate a parsed arithmetic expression: numbers, operators, a few functions, no names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError("booleans are not numbers here")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 100 or abs(left) > 1e6):
            raise ValueError("exponent too large")  # 9**9**9 would hang the process
        return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args))
    raise ValueError(f"unsupported syntax: {ast.unparse(node)!r}")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression safely (no eval): + - * / // % ** and sqrt, abs, round.

    Args:
        expression: The expression, e.g. "12*7 + 3".

    Raises:
        ValueError: The expression is not plain arithmetic.
    """
    try:
        value = _evaluate(ast.parse(expression.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ZeroDivisionError, OverflowError, TypeError) as exc:
        raise ValueError(f"cannot evaluate {expression!r}: {exc}") from exc
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}" if isinstance(value, float) else str(value)


# --- reading the request ------------------------------------------------------------------

_STOP = frozenset(
    "a about after all also an and any are as at be but by can could current data describe do "
    "does each find for from get give given how i in into is it its let list look me my now of "
    "on or please return returns show tell than that the their them then there this to tool "
    "use using value what whats when where which who why will with would you your".split()
)
_SYNONYMS = {
    "weather": "temperature forecast warm warmer cold colder hot degrees rain sunny humid",
    "time": "clock hour hours o'clock",
    "search": "find research look lookup about",
    "calculate": "compute calculator math",
}
_MATH_HINTS = ("calc", "math", "arith", "evaluat", "expression", "compute")
_PLACE = {"city", "location", "place", "town", "country", "region", "destination", "address"}
_FREE_TEXT = {"query", "q", "topic", "question", "text", "prompt", "subject", "term", "input"}
_TIMEZONES = {
    "tokyo": "Asia/Tokyo", "paris": "Europe/Paris", "london": "Europe/London",
    "berlin": "Europe/Berlin", "new york": "America/New_York", "sydney": "Australia/Sydney",
    "los angeles": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
}  # fmt: skip
_WORD_OPS = [
    (r"\bsquare root of\s*([\d.]+)", r"sqrt(\1)"),
    (r"\bto the power of\b|\braised to\b", "**"),
    (r"\bsquared\b", "**2"),
    (r"\bmultiplied by\b|\btimes\b|×", "*"),
    (r"\bdivided by\b|÷", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"\bmod(?:ulo)?\b", "%"),
    (r"(?<=\d)\s*x\s*(?=\d)", "*"),
    (r"\^", "**"),
]
_INTENTS = {  # the most specific first: "compare ... what's the average?" is an average
    "average": ("average", "mean"),
    "sum": ("sum", "total", "combined", "add up", "altogether"),
    "difference": ("difference", "warmer", "colder", "compare", "subtract", "minus"),
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z']+", text.lower())


def _match(word: str, vocabulary: set[str]) -> bool:
    # a crude stemmer: "temperatures" matches "temperature", "calculating" matches "calculate"
    return word in vocabulary or (len(word) >= 5 and any(w[:5] == word[:5] for w in vocabulary))


def _mentioned(values: list[Any], text: str) -> list[Any]:
    lowered = text.lower()
    return [v for v in values if re.search(rf"\b{re.escape(str(v).lower())}\b", lowered)]


def _numbers(text: str) -> list[float]:
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}\b", " ", text)  # dates are not numbers
    return [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", text)]


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _expressions(text: str) -> list[str]:
    """Arithmetic expressions written in the text ("12*7 + 3", "3 times 4")."""
    normal = text.lower()
    for pattern, replacement in _WORD_OPS:
        normal = re.sub(pattern, replacement, normal)
    found: list[str] = []
    for run in re.finditer(r"(?:sqrt|\d+(?:\.\d+)?|\*\*|[-+*/%()]|[ \t])+", normal):
        candidate = run.group().strip().strip("+*/%").strip()
        if not re.search(r"\d\s*(?:\*\*|[-+*/%])\s*[-(]*\s*\d|sqrt\(", candidate):
            continue
        try:
            ast.parse(candidate, mode="eval")
        except SyntaxError:
            continue
        found.append(candidate)
    return found


def _quoted(text: str) -> list[str]:
    found = re.findall(r'"([^"]+)"|“([^”]+)”|(?<!\w)\'([^\']+)\'(?!\w)', text)
    return [a or b or c for a, b, c in found]


def _proper_nouns(text: str, exclude: set[str]) -> list[str]:
    """Capitalised phrases ("Paris", "New York", "Écija"), minus sentence and tool words."""
    phrases: list[str] = []
    run: list[str] = []

    def close() -> None:
        words = [w for w in run if re.sub(r"['’]s$", "", w.lower()) not in exclude]
        phrase = re.sub(r"['’]s$", "", " ".join(words))
        if phrase and phrase not in phrases and phrase.upper() != phrase:
            phrases.append(phrase)
        run.clear()

    end = 0
    for match in re.finditer(r"[^\W\d_][\w'’-]*", text):  # words, in any script
        word = match.group()
        if not word[0].isupper() or (run and text[end : match.start()].strip()):
            close()  # a lowercase word or punctuation ends a phrase
        if word[0].isupper():
            run.append(word)
        end = match.end()
    close()
    return phrases


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


@dataclass(frozen=True)
class _Tool:
    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def name_words(self) -> set[str]:
        words = re.sub(r"([a-z])([A-Z])", r"\1 \2", self.name).lower().replace("-", "_").split("_")
        found = {w for w in words if w and w not in _STOP}
        for word in list(found):
            found |= set(_SYNONYMS.get(word, "").split())
        return found

    @property
    def is_math(self) -> bool:
        return any(h in f"{self.name} {self.description}".lower() for h in _MATH_HINTS)


@dataclass(frozen=True)
class _Result:
    name: str
    arguments: dict[str, Any]
    content: str
    is_math: bool


def _key(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}:{json.dumps(arguments, sort_keys=True)}"


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


# --- planning tool calls ------------------------------------------------------------------

_STARTERS = frozenset(
    "hi hello hey thanks thank ok okay yes no compare check summarize summarise explain write "
    "convert also and but then i'm i'd is are what's how's weather time today tomorrow".split()
)


@dataclass(frozen=True)
class _Pool:
    """Everything in the user's words that could become an argument."""

    text: str
    words: list[str]
    numbers: list[float]
    expressions: list[str]
    quoted: list[str]
    proper: list[str]
    acronyms: list[str]

    @classmethod
    def read(cls, text: str, exclude: set[str]) -> _Pool:
        proper = _proper_nouns(text, exclude)
        acronyms = [a for a in re.findall(r"\b[A-Z]{2,6}\b", text) if a.lower() not in exclude]
        return cls(
            text, _words(text), _numbers(text), _expressions(text), _quoted(text), proper, acronyms
        )


@dataclass(frozen=True)
class _Turn:
    """The conversation since the last user message, as the rules need it."""

    text: str
    results: list[_Result]
    done: set[str]
    rounds: int
    earlier_tools: list[str]
    assistant_count: int


def _read_turn(messages: list[dict[str, Any]], tools: dict[str, _Tool]) -> _Turn:
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    text = _text_of(messages[last_user]) if last_user >= 0 else ""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    done: set[str] = set()
    earlier: list[str] = []
    rounds = 0
    results: list[_Result] = []
    for i, message in enumerate(messages):
        made = message.get("tool_calls")
        for call in made if isinstance(made, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            function = function if isinstance(function, dict) else {}
            name = str(function.get("name", ""))
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            if i < last_user:
                earlier.append(name)
                continue
            calls[str(call.get("id"))] = (name, arguments if isinstance(arguments, dict) else {})
            done.add(_key(*calls[str(call.get("id"))]))
        if i > last_user and message.get("role") == "assistant" and message.get("tool_calls"):
            rounds += 1
        if i > last_user and message.get("role") == "tool":
            name, arguments = calls.get(str(message.get("tool_call_id")), ("", {}))
            math_tool = tools[name].is_math if name in tools else False
            results.append(_Result(name, arguments, _text_of(message), math_tool))
    count = sum(m.get("role") == "assistant" for m in messages)
    return _Turn(text, results, done, rounds, list(dict.fromkeys(earlier)), count)


def _combine(intent: str, numbers: list[float]) -> str:
    terms = [f"({_num(n)})" if n < 0 else str(_num(n)) for n in numbers]
    if intent == "difference":
        if len(terms) == 2:
            return f"{terms[0]} - {terms[1]}"
        return f"max({', '.join(terms)}) - min({', '.join(terms)})"
    if intent == "average":
        return f"({' + '.join(terms)}) / {len(terms)}"
    return " + ".join(terms)


def _singular(name: str) -> str:
    return name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")


def _string_candidates(name: str, schema: dict[str, Any], pool: _Pool) -> list[str]:
    lname = _singular(name.lower())
    if schema.get("format") == "date":
        return re.findall(r"\b\d{4}-\d{2}-\d{2}\b", pool.text)
    if "expr" in lname or lname in {"formula", "equation", "calculation"}:
        return pool.expressions
    if lname in {"timezone", "tz", "zone", "time_zone"}:
        iana = re.findall(r"\b[A-Z][a-z]+/[A-Za-z_]+\b", pool.text)
        utc = [z for z in ("UTC", "GMT") if z in pool.acronyms]
        mapped = [_TIMEZONES[p.lower()] for p in pool.proper if p.lower() in _TIMEZONES]
        return list(dict.fromkeys(iana + utc + mapped))
    if lname in {"path", "folder", "directory", "dir", "file", "filename"}:
        paths = re.findall(r"(?<![\w/])(?:~|\.{1,2})?/[\w./-]+|\b[\w-]+\.[a-z]{1,5}\b", pool.text)
        return pool.quoted or paths
    if lname in _PLACE or lname.endswith(("city", "location")):
        return pool.proper or pool.quoted
    if lname in _FREE_TEXT:
        return pool.quoted or [pool.text.strip().rstrip("?!. ")]
    return pool.quoted or pool.proper or pool.acronyms


def _candidates(name: str, schema: dict[str, Any], pool: _Pool, numbers: list[float]) -> list[Any]:
    kind = schema.get("type")
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return _mentioned(schema["enum"], pool.text)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        fits = [n for n in numbers if low <= n <= high and (kind == "number" or n.is_integer())]
        return [int(n) if kind == "integer" else _num(n) for n in fits]
    if kind == "boolean":
        return [True] if set(name.lower().split("_")) & set(pool.words) else []
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        inner = _candidates(_singular(name), items or {"type": "string"}, pool, numbers)
        return [inner] if inner else []
    if kind == "string":
        return _string_candidates(name, schema, pool)
    return []


def _fill(tool: _Tool, pool: _Pool) -> tuple[list[dict[str, Any]], list[str]]:
    """Argument sets for one tool (several when one parameter got several values)."""
    root = tool.parameters
    params = _resolve(root, root)
    properties: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or [])
    schemas = {name: _resolve(raw, root) for name, raw in properties.items()}
    numeric = [n for n, s in schemas.items() if s.get("type") in ("integer", "number")]
    args: dict[str, Any] = {}
    lacking: list[str] = []
    fan_out: tuple[str, list[Any]] | None = None
    for name, schema in schemas.items():
        if schema.get("type") in ("integer", "number") and len(numeric) > 1:
            # add(a, b): each numeric parameter takes the next number, in order
            position = numeric.index(name)
            values = _candidates(name, schema, pool, pool.numbers[position : position + 1])
        else:
            values = _candidates(name, schema, pool, pool.numbers)
        if values:
            args[name] = values[0]
            if len(values) > 1 and fan_out is None:
                fan_out = (name, values)
        elif name in required:
            if "default" in schema:
                args[name] = schema["default"]
            elif "enum" in schema and schema["enum"]:
                args[name] = schema["enum"][0]
            elif schema.get("type") in ("boolean", "object", "array"):
                args[name] = _instance(schema, root, name, _Ctx(pool, [], ""))
            else:
                lacking.append(name)
    if lacking:
        return [], lacking
    if fan_out is not None:
        unique = {json.dumps(v, sort_keys=True): v for v in fan_out[1]}.values()
        return [{**args, fan_out[0]: value} for value in unique], []
    return [args], []


def _intent(text: str) -> str | None:
    lowered = text.lower()
    for intent, words in _INTENTS.items():
        if any(re.search(rf"\b{w}\b", lowered) for w in words):
            return intent
    return None


def _select(turn: _Turn, tools: dict[str, _Tool], pool: _Pool) -> list[tuple[_Tool, str]]:
    """The tools the request is about, each with the reason (for the reasoning text)."""
    intent = _intent(turn.text)
    chosen: list[tuple[_Tool, str]] = []
    for tool in tools.values():
        if any(_match(word, tool.name_words) for word in pool.words):
            chosen.append((tool, "its name matches your words"))
        elif tool.is_math and (pool.expressions or intent):
            chosen.append((tool, "the request involves arithmetic"))
    if not chosen:  # second chance: words of the descriptions
        overlap = {
            name: len({w for w in _words(t.description) if len(w) > 3} - _STOP & set(pool.words))
            for name, t in tools.items()
        }
        best = max(overlap.values(), default=0)
        why = "its description matches"
        chosen = [(tools[n], why) for n, s in overlap.items() if best and s == best]
    if not chosen:  # a follow-up like "and in London?" reuses the tools of earlier turns
        why = "it served the previous question"
        chosen = [(tools[n], why) for n in turn.earlier_tools if n in tools]
    return chosen


_Call = tuple[str, dict[str, Any]]


def _plan(turn: _Turn, tools: dict[str, _Tool]) -> tuple[list[_Call], list[str], list[str]]:
    """Every call the request needs (done or not), why each tool, and what could not be filled."""
    exclude = set(_STOP | _STARTERS).union(*(t.name_words for t in tools.values()))
    pool = _Pool.read(turn.text, exclude)
    chosen = _select(turn, tools, pool)
    intent = _intent(turn.text)
    waiting = any(not tool.is_math for tool, _ in chosen)
    looked_up = [n for r in turn.results if not r.is_math for n in _numbers(r.content)[:1]]
    calls: list[_Call] = []
    reasons: list[str] = []
    missing: list[str] = []
    for tool, why in sorted(chosen, key=lambda pair: pair[0].is_math):
        use = pool
        if tool.is_math and not pool.expressions:
            # arithmetic on looked-up values: it waits for the other tools' results
            numbers = looked_up if waiting else pool.numbers
            if intent and len(numbers) >= 2:
                use = _Pool(
                    pool.text,
                    pool.words,
                    numbers,
                    [_combine(intent, numbers)],
                    pool.quoted,
                    pool.proper,
                    pool.acronyms,
                )
            elif waiting:
                continue
        argument_sets, lacking = _fill(tool, use)
        reasons.append(f"{tool.name} ({why})")
        if lacking:
            needs = ", ".join(lacking)
            missing.append(f"{tool.name} needs {needs}, which your message doesn't give")
        calls.extend((tool.name, args) for args in argument_sets)
    return calls, reasons, missing


# --- answering ----------------------------------------------------------------------------


def _describe(result: _Result) -> str:
    values = [str(v) for v in result.arguments.values()]
    if any(v and v.lower() in result.content.lower() for v in values):
        return result.content
    if result.is_math and len(values) == 1 and "=" not in result.content:
        return f"{values[0]} = {result.content}"
    shown = ", ".join(f"{k}={v!r}" for k, v in result.arguments.items())
    return f"{result.name}({shown}) returned: {result.content}"


def _sentences(text: str) -> list[str]:
    """Sentences and lines of three words or more (the stuff of an extractive summary)."""
    pieces = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in pieces if len(p.split()) >= 3]


def _answer(turn: _Turn, tools: dict[str, _Tool], missing: list[str]) -> str:
    if not tools:
        if len(turn.text) > 200 and _sentences(turn.text):
            short = " ".join(_sentences(turn.text)[:3])
            return f"({DISCLAIMER}) No tools were offered; your message in short: {short}"
        return f'({DISCLAIMER}) No tools were offered, so I can only repeat you: "{turn.text}"'
    lines = [_describe(result) for result in turn.results]
    if not lines:
        if missing:
            return "I could not call a tool: " + "; ".join(missing) + "."
        names = ", ".join(tools)
        return f"None of my tools ({names}) fits that request, so I have nothing to look up."
    if len(lines) == 1:
        return lines[0]
    return "Here is what I found:\n" + "\n".join(f"- {line}" for line in lines)


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


# --- the responder ------------------------------------------------------------------------


def _tokens(value: Any) -> int:
    # a deterministic stand-in for a tokenizer: about four characters a token
    return max(1, len(value if isinstance(value, str) else json.dumps(value)) // 4)


def _offered_tools(request: dict[str, Any]) -> dict[str, _Tool]:
    if request.get("tool_choice") == "none":
        return {}
    tools: dict[str, _Tool] = {}
    for entry in request.get("tools") or []:
        function = entry.get("function") if isinstance(entry, dict) else None
        if isinstance(function, dict) and function.get("name"):
            parameters = function.get("parameters")
            tools[function["name"]] = _Tool(
                function["name"],
                str(function.get("description") or ""),
                parameters if isinstance(parameters, dict) else {},
            )
    return tools


def _forced(request: dict[str, Any], tools: dict[str, _Tool]) -> _Tool | None:
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        return tools.get(str((choice.get("function") or {}).get("name")))
    if choice == "required" and tools:
        return next(iter(tools.values()))
    return None


def demo_responder(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one chat completions request body with a chat completion, by fixed rules.

    Args:
        request: The JSON body of ``POST /v1/chat/completions``.

    Returns:
        A ChatCompletion-shaped dict: tool calls while the request still needs some, then a final
        answer (JSON when ``response_format`` asks for it), with reasoning text and usage.
    """
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    tools = _offered_tools(request)
    turn = _read_turn(messages, tools)
    planned, reasons, missing = _plan(turn, tools)
    pending = list({_key(n, a): (n, a) for n, a in planned if _key(n, a) not in turn.done}.values())
    forced = _forced(request, tools)
    if forced is not None and turn.rounds == 0:
        pending = [(n, a) for n, a in pending if n == forced.name]
        if not pending:
            pool = _Pool.read(turn.text, set(_STOP))
            minimal = _instance(forced.parameters, forced.parameters, "", _Ctx(pool, [], ""))
            pending = [(forced.name, (_fill(forced, pool)[0] or [minimal])[0])]
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if pending and turn.rounds < _MAX_TOOL_ROUNDS:
        shown = ", ".join(f"{n}({json.dumps(a, ensure_ascii=False)[1:-1]})" for n, a in pending)
        head = (
            f"Relevant tools: {', '.join(reasons)}. "
            if reasons and not turn.results
            else (f"I have {len(turn.results)} tool result(s); the request needs more. ")
        )
        plural = f"{len(pending)} calls in parallel" if len(pending) > 1 else "1 call"
        message["reasoning_content"] = f"{head}Making {plural}: {shown}. [{DISCLAIMER}]"
        message["tool_calls"] = [
            {
                "id": f"call_demo_{turn.assistant_count}_{i}",
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)},
            }
            for i, (n, a) in enumerate(pending)
        ]
        finish = "tool_calls"
    else:
        answer = _answer(turn, tools, missing)
        why = f"{len(turn.results)} tool result(s) in" if turn.results else "no tool call needed"
        message["reasoning_content"] = (
            f"{why.capitalize()}; composing the final answer. [{DISCLAIMER}]"
        )
        message["content"] = _format(request.get("response_format"), turn, answer)
        finish = "stop"
    completion_tokens = _tokens(message.get("content") or message.get("tool_calls") or "")
    reasoning_tokens = _tokens(message["reasoning_content"])
    prompt_tokens = _tokens(messages) + (_tokens(request["tools"]) if request.get("tools") else 0)
    return {
        "id": f"chatcmpl-demo-{turn.assistant_count}",
        "object": "chat.completion",
        "created": 0,
        "model": str(request.get("model") or DEMO_MODEL),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens + reasoning_tokens,
            "total_tokens": prompt_tokens + completion_tokens + reasoning_tokens,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


def _format(response_format: Any, turn: _Turn, answer: str) -> str:
    """The final content: plain text, or JSON for ``json_object`` / ``json_schema`` formats."""
    if not isinstance(response_format, dict) or response_format.get("type") == "text":
        return answer
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        pool = _Pool.read(turn.text, set(_STOP | _STARTERS))
        if not turn.results and _sentences(turn.text):  # prose fields get the gist, no preamble
            answer = " ".join(_sentences(turn.text)[:3])
        value = _instance(schema, schema, "", _Ctx(pool, turn.results, answer))
        return json.dumps(value, ensure_ascii=False)
    return json.dumps({"answer": answer}, ensure_ascii=False)


def demo_server() -> FakeServer:
    """A FakeServer that plays the demo model; it starts when entered as a context manager.

    Example:
        ```python
        with demo_server() as server:
            client = ChatClient(base_url=server.url, api_key="offline")
        ```
    """
    return FakeServer(demo_responder, models=(DEMO_MODEL,))
