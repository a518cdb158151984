"""The demo model's rules: they answer one chat request body with a completion, not an LLM.

``demo_responder(request) -> completion`` plays the model for ``agentkit.testing.FakeServer``:
it matches the request's tools against the user's words, asks for real (parallel) tool calls
with arguments filled from each tool's JSON Schema, and composes a final answer from the tool
results, as JSON satisfying ``response_format`` when one is given. What it reads in the words
is in `agentkit._demo.text`, how it builds JSON in `agentkit._demo.instance`; the tools the
``agentkit demo`` command offers it are in `agentkit._demo.tools`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agentkit._demo.instance import _Ctx, _instance, _resolve, _Result
from agentkit._demo.text import (
    _FREE_TEXT,
    _MATH_HINTS,
    _STARTERS,
    _STOP,
    _SYNONYMS,
    _candidates,
    _intent,
    _match,
    _num,
    _numbers,
    _Pool,
    _sentences,
    _singular,
    _words,
)

__all__ = ["DEMO_MODEL", "DISCLAIMER", "demo_responder"]

DEMO_MODEL = "agentkit-demo"
"""The model id the demo server lists; any model name is accepted."""

DISCLAIMER = "agentkit demo model: deterministic rules, not an LLM."
"""Said in every reasoning text of the demo model, and by the CLI whenever it is in use."""

_LOOKUP = {"search", "find", "lookup", "wiki", "wikipedia", "web", "knowledge", "encyclopedia"}
# A question: it ends in "?" or starts with a question word ("who wrote Dune", "how far...").
_QUESTION = re.compile(r"\?\s*\Z|^\s*(?:who|what|when|where|which|why|how)\b", re.IGNORECASE)
_MAX_TOOL_ROUNDS = 4  # a guard: a confused rule set must still end the run with an answer


# --- reading the request ------------------------------------------------------------------


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
    def other_words(self) -> set[str]:
        """Words of the description and of each parameter's name and description."""
        texts = [self.description]
        properties = self.parameters.get("properties")
        for name, schema in (properties if isinstance(properties, dict) else {}).items():
            texts += [str(name).replace("_", " ")]
            if isinstance(schema, dict) and isinstance(schema.get("description"), str):
                texts.append(schema["description"])
        return {w for text in texts for w in _words(text) if len(w) > 3} - _STOP

    @property
    def looks_things_up(self) -> bool:
        """Whether it answers free questions: a search tool, or one taking a query."""
        properties = self.parameters.get("properties")
        takes_text = any(
            _singular(str(p).lower()) in _FREE_TEXT
            for p in (properties if isinstance(properties, dict) else {})
        )
        words = self.name_words | set(_words(self.description))
        return takes_text or bool(words & _LOOKUP)

    @property
    def is_math(self) -> bool:
        return any(h in f"{self.name} {self.description}".lower() for h in _MATH_HINTS)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _key(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}:{json.dumps(arguments, sort_keys=True)}"


# --- planning tool calls ------------------------------------------------------------------


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
            except (ValueError, RecursionError):  # what a model sends is not always JSON
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
        needed = name in required
        if schema.get("type") in ("integer", "number") and len(numeric) > 1:
            # add(a, b): each numeric parameter takes the next number, in order
            position = numeric.index(name)
            mine = pool.numbers[position : position + 1]
            values = _candidates(name, schema, pool, mine, required=needed)
        else:
            values = _candidates(name, schema, pool, pool.numbers, required=needed)
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


def _select(turn: _Turn, tools: dict[str, _Tool], pool: _Pool) -> list[tuple[_Tool, str]]:
    """The tools the request is about, each with the reason (for the reasoning text)."""
    intent = _intent(turn.text)
    chosen: list[tuple[_Tool, str]] = []
    for tool in tools.values():
        if any(_match(word, tool.name_words) for word in pool.words):
            chosen.append((tool, "its name matches your words"))
        elif tool.is_math and (pool.expressions or intent):
            chosen.append((tool, "the request involves arithmetic"))
    if not chosen:  # second chance: words of the descriptions and parameters
        overlap = {
            name: len({w for w in set(pool.words) - _STOP if _match(w, t.other_words)})
            for name, t in tools.items()
        }
        best = max(overlap.values(), default=0)
        why = "its description or parameters match your words"
        chosen = [(tools[n], why) for n, s in overlap.items() if best and s == best]
    if not chosen and _QUESTION.search(turn.text):  # a question for a tool that looks things up
        why = "it looks things up, and you asked a question"
        chosen = [(t, why) for t in tools.values() if t.looks_things_up]
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
            else f"I have {_plural(len(turn.results), 'tool result')}; the request needs more. "
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
        results = _plural(len(turn.results), "tool result")
        why = f"{results} in" if turn.results else "no tool call needed"
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
