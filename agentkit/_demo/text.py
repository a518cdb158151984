"""What the demo model reads in the user's words: numbers, expressions, names, intents.

The vocabularies and extractors the rules of `agentkit._demo.rules` use to pick tools and fill their
arguments: crude on purpose (regular expressions and word lists, no language model), and
deterministic, so a prompt always gets the same calls. `_Pool` gathers everything a message
offers; `_candidates` picks from it the values that fit one parameter's JSON Schema.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any

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
_STARTERS = frozenset(
    "hi hello hey thanks thank ok okay yes no compare check summarize summarise explain write "
    "convert also and but then i'm i'd is are what's how's weather time today tomorrow".split()
)


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


def _sentences(text: str) -> list[str]:
    """Sentences and lines of three words or more (the stuff of an extractive summary)."""
    pieces = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in pieces if len(p.split()) >= 3]


def _intent(text: str) -> str | None:
    lowered = text.lower()
    for intent, words in _INTENTS.items():
        if any(re.search(rf"\b{w}\b", lowered) for w in words):
            return intent
    return None


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


def _singular(name: str) -> str:
    return name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")


# Field names that say which end of a trip (or a message) they are: "from X" and "to X".
_ORIGIN = {"origin", "source", "from", "departure", "start", "src", "sender", "departing"}
_TARGET = {"destination", "target", "to", "arrival", "dest", "recipient", "arriving"}
_PHRASE = r"(?:\"([^\"]+)\"|'([^']+)'|([A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)|([\w.+-]+@[\w.-]+\w))"
_LINK = r"\s*(?:is|=|:|of|named|called|to)?\s*"


def _name_words(name: str) -> list[str]:
    """The words of a parameter name: ``departure_city`` and ``departureCity`` give both."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("-", "_").replace("_", " ")
    return [w for w in spaced.lower().split() if len(w) > 2 and w not in _STOP]


def _named_strings(name: str, pool: _Pool) -> list[str]:
    """Values written right after the field's own name ('title "Dune"', 'author Frank')."""
    found: list[str] = []
    words = _name_words(name)
    if set(words) & _ORIGIN:
        found += [next(filter(None, m)) for m in re.findall(rf"\bfrom\s+{_PHRASE}", pool.text)]
    if set(words) & _TARGET:
        found += [next(filter(None, m)) for m in re.findall(rf"\bto\s+{_PHRASE}", pool.text)]
    for word in words:
        pattern = rf"(?i:\b{re.escape(word)}s?\b){_LINK}{_PHRASE}"
        found += [next(filter(None, m)) for m in re.findall(pattern, pool.text)]
    return list(dict.fromkeys(found))


def _named_numbers(name: str, text: str) -> list[float]:
    """Numbers written next to the field's own name ("3 adults", "adults: 3", "age of 42")."""
    found: list[float] = []
    for word in _name_words(name):
        stem = re.escape(_singular(word))
        number = r"(-?\d+(?:\.\d+)?)"
        after = re.findall(rf"(?i){number}\s*(?:\w+\s+)?{stem}", text)
        before = re.findall(rf"(?i)\b{stem}\w*{_LINK}{number}", text)
        found += [float(n) for n in after + before]
    return found


def _string_candidates(
    name: str, schema: dict[str, Any], pool: _Pool, *, fallback: bool = True
) -> list[str]:
    """Values for a string parameter, found by its name; ``fallback`` adds any name-like word."""
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
    named = _named_strings(name, pool)
    if named:
        return named
    if lname in _PLACE or lname.endswith(("city", "location")):
        return pool.proper or pool.quoted
    if lname in _FREE_TEXT:
        return pool.quoted or [pool.text.strip().rstrip("?!. ")]
    return (pool.quoted or pool.proper or pool.acronyms) if fallback else []


def _candidates(
    name: str, schema: dict[str, Any], pool: _Pool, numbers: list[float], *, required: bool = True
) -> list[Any]:
    """Values for one parameter; an optional one takes only values its own name points at."""
    kind = schema.get("type")
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return _mentioned(schema["enum"], pool.text)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        numbers = _named_numbers(name, pool.text) or (numbers if required else [])
        fits = [n for n in numbers if low <= n <= high and (kind == "number" or n.is_integer())]
        return [int(n) if kind == "integer" else _num(n) for n in fits]
    if kind == "boolean":
        return [True] if set(name.lower().split("_")) & set(pool.words) else []
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        inner = _candidates(
            _singular(name), items or {"type": "string"}, pool, numbers, required=required
        )
        return [inner] if inner else []
    if kind == "string":
        return _string_candidates(name, schema, pool, fallback=required)
    return []
