"""Tool declaration and invocation: calling, binding, results, errors, timeouts, context."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import shutil
import threading
from collections import namedtuple
from typing import Annotated, Any, NotRequired

import anyio
import anyio.lowlevel
import pytest
from inline_snapshot import snapshot
from pydantic import AfterValidator, BaseModel, field_validator, model_validator
from typing_extensions import TypedDict  # pydantic refuses typing's nested, on 3.11

from agentkit.context import RunContext
from agentkit.errors import ModelRetry, ToolDefinitionError
from agentkit.tools import Tool, ToolResult, check_unique, tool


@tool
def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


@tool
async def shout(text: str) -> str:
    """Shout."""
    return text.upper()


class Weather(BaseModel):
    city: str
    celsius: float


@dataclasses.dataclass
class Pair:
    left: int
    right: int


Usage = namedtuple("Usage", "total used free")


# --- declaring ---------------------------------------------------------------------------


async def test_tool_stays_callable_like_the_function() -> None:
    assert add(1) == 3
    assert await shout("hi") == "HI"
    assert add.__name__ == "add" and add.__doc__ and add.__wrapped__ is not None
    assert repr(add) == "Tool(name='add')"


def test_options_are_recorded() -> None:
    @tool(name="t", requires_approval=True, timeout=3, max_result_chars=10, inline=False)
    async def f() -> None:
        pass

    assert (f.name, f.requires_approval, f.timeout, f.max_result_chars) == ("t", True, 3, 10)
    assert (add.requires_approval, add.timeout, add.max_result_chars, add.inline) == (
        False,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    "options", [{"timeout": 0}, {"max_result_chars": 0}, {"inline": True, "timeout": 1.0}]
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ToolDefinitionError):
        tool(add.__wrapped__, **options)


class Counter:
    def __init__(self, start: int) -> None:
        self.value = start

    @tool
    def bump(self, by: int = 1) -> int:
        """Bump the counter.

        Args:
            by: Step.
        """
        self.value += by
        return self.value

    @tool
    @classmethod
    def kind(cls, upper: bool) -> str:
        return cls.__name__.upper() if upper else cls.__name__

    @tool
    @staticmethod
    def double(x: int) -> int:
        return 2 * x


async def test_methods_bind_and_hide_self() -> None:
    counter = Counter(10)
    assert counter.bump.parameters == snapshot(
        {
            "properties": {"by": {"default": 1, "description": "Step.", "type": "integer"}},
            "type": "object",
        }
    )
    assert Counter.bump.parameters == counter.bump.parameters
    assert counter.bump(5) == 15
    assert (await counter.bump.invoke('{"by": 2}')).content == "17"
    assert counter.value == 17
    assert (await Counter.kind.invoke('{"upper": true}')).content == "COUNTER"
    assert list(Counter.kind.parameters["properties"]) == ["upper"]
    assert (await Counter(0).double.invoke('{"x": 4}')).content == "8"


class AsyncCounter:
    def __init__(self, start: int) -> None:
        self.value = start

    @tool
    async def bump(self, by: int = 1) -> int:
        """Bump the counter.

        Args:
            by: Step.
        """
        await anyio.lowlevel.checkpoint()
        self.value += by
        return self.value

    @tool
    @classmethod
    async def kind(cls, upper: bool) -> str:
        return cls.__name__.upper() if upper else cls.__name__


async def test_async_methods_bind_and_hide_self() -> None:
    counter = AsyncCounter(10)
    assert counter.bump.parameters == snapshot(
        {
            "properties": {"by": {"default": 1, "description": "Step.", "type": "integer"}},
            "type": "object",
        }
    )
    assert AsyncCounter.bump.parameters == counter.bump.parameters
    assert counter.bump.description == "Bump the counter."
    assert await counter.bump(5) == 15  # still the coroutine method
    assert await counter.bump.invoke('{"by": 2}') == ToolResult(content="17", value=17)
    assert (await counter.bump.invoke("{}")).value == 18 and counter.value == 18
    other = AsyncCounter(0)
    assert (await other.bump.invoke("{}")).value == 1 and counter.value == 18  # its own self
    assert (await AsyncCounter.kind.invoke('{"upper": true}')).content == "ASYNCCOUNTER"
    assert list(AsyncCounter.kind.parameters["properties"]) == ["upper"]


class Store:
    def lookup(self, key: str) -> str:
        return f"value of {key}"


async def test_methods_read_from_their_class_are_refused() -> None:
    unbound = "Store.lookup is a method: pass it bound to an instance (obj.lookup)"
    with pytest.raises(ToolDefinitionError, match=re.escape(unbound)):
        Tool.from_function(Store.lookup)
    with pytest.raises(ToolDefinitionError, match=re.escape("Counter.bump is a method")):
        check_unique([Counter.bump])  # what Agent(tools=[...]) runs
    assert await Counter.bump.invoke('{"by": 1}') == ToolResult(
        content="error: Counter.bump is a method: pass it bound to an instance (obj.bump)",
        is_error=True,
        error_type="ToolDefinitionError",
    )
    assert list(check_unique([Counter(0).bump, Store().lookup])) == ["bump", "lookup"]


class Greeter:
    """Greet someone.

    Args:
        name: Who.
    """

    def __init__(self, name: str) -> None:
        self.name = name


def test_a_class_takes_its_init_annotations() -> None:
    assert Tool.from_function(Greeter).parameters == snapshot(
        {
            "properties": {"name": {"description": "Who.", "type": "string"}},
            "required": ["name"],
            "type": "object",
        }
    )
    assert Tool.from_function(Pair).parameters == snapshot(
        {
            "properties": {"left": {"type": "integer"}, "right": {"type": "integer"}},
            "required": ["left", "right"],
            "type": "object",
        }
    )  # a dataclass: its fields


async def test_wrapping_functions_you_dont_own() -> None:
    disk = Tool.from_function(shutil.disk_usage)
    assert disk.definition() == snapshot(
        {
            "type": "function",
            "function": {
                "name": "disk_usage",
                "parameters": {
                    "properties": {"path": {}},
                    "required": ["path"],
                    "type": "object",
                },
                "description": """\
Return disk usage statistics about the given path.

Returned value is a named tuple with attributes 'total', 'used' and
'free', which are the amount of total, used and free space, in bytes.\
""",
            },
        }
    )
    plus_ten = tool(functools.partial(add.__wrapped__, b=10), name="plus_ten")
    assert plus_ten.parameters == snapshot(
        {
            "properties": {"a": {"description": "First.", "type": "integer"}},
            "required": ["a"],
            "type": "object",
        }
    )
    assert plus_ten.description == "Add two numbers."
    rounding = Tool.from_function(round)  # a builtin: no annotations, still usable
    assert rounding.parameters == snapshot(
        {
            "properties": {"number": {}, "ndigits": {"default": None}},
            "required": ["number"],
            "type": "object",
        }
    )
    assert (await rounding.invoke('{"number": 2.567, "ndigits": 1}')).content == "2.6"
    assert (await plus_ten.invoke('{"a": 1}')).content == "11"
    usage = json.loads((await disk.invoke('{"path": "."}')).content)
    assert list(usage) == ["total", "used", "free"]


class _Tagged(functools.partial[str]):
    """Unlike functools.partial, a subclass keeps a chain of partials (it isn't flattened)."""


async def test_partial_keywords_are_fixed_not_sent() -> None:
    def query(sql: str, user_id: int, limit: int = 10) -> str:
        return f"{user_id}:{sql}:{limit}"

    mine = Tool.from_function(_Tagged(functools.partial(query, user_id=42), limit=5))
    assert mine.parameters == snapshot(
        {"properties": {"sql": {"type": "string"}}, "required": ["sql"], "type": "object"}
    )
    assert mine.definition(True)["function"]["parameters"] == snapshot(
        {
            "properties": {"sql": {"type": "string"}},
            "required": ["sql"],
            "type": "object",
            "additionalProperties": False,
        }
    )
    # the model can't override what the partial fixed (a user id: a security boundary)
    assert (await mine.invoke('{"sql": "s"}')).content == "42:s:5"
    refused = await mine.invoke('{"sql": "s", "user_id": 7, "limit": 99}')
    assert refused.is_error and refused.error_type == "ArgumentsError"
    assert refused.content == snapshot(
        """\
error: invalid arguments:
- user_id: not a parameter of this tool (its parameters: sql)
- limit: not a parameter of this tool (its parameters: sql)\
"""
    )


# --- invoking ----------------------------------------------------------------------------


async def test_invoke_sync_async_and_inline() -> None:
    loop_thread = threading.get_ident()

    @tool(inline=True)
    def where_inline() -> int:
        return threading.get_ident()

    @tool
    def where_thread() -> int:
        return threading.get_ident()

    assert await add.invoke('{"a": 1, "b": 5}') == ToolResult(content="6", value=6)
    assert (await add.invoke('{"a": "4"}')).value == 6  # lax coercion, default applied
    assert (await shout.invoke('{"text": "hey"}')).content == "HEY"
    assert (await where_inline.invoke("")).value == loop_thread  # "" means no arguments
    assert (await where_thread.invoke("{}")).value != loop_thread


async def test_sync_tools_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=2)

    @tool
    def wait() -> str:
        barrier.wait()  # opens only once both calls run at the same time
        return "ok"

    results: list[ToolResult] = []

    async def call() -> None:
        results.append(await wait.invoke("{}", limiter=anyio.CapacityLimiter(2)))

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            tg.start_soon(call)
    assert [r.content for r in results] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("value", "content"),
    [
        ("plain text", "plain text"),
        (Weather(city="Paris", celsius=21.5), '{"city":"Paris","celsius":21.5}'),
        (Pair(left=1, right=2), '{"left":1,"right":2}'),
        ({"a": [1, None]}, '{"a":[1,null]}'),
        ([1, "x"], '[1,"x"]'),
        (3.5, "3.5"),
        (True, "true"),
        (None, "null"),
        (Usage(3, 2, 1), '{"total":3,"used":2,"free":1}'),
        ("é", "é"),
    ],
)
async def test_results_become_text_or_json(value: Any, content: str) -> None:
    result = await tool(lambda: value, name="f", inline=True).invoke("{}")
    assert result == ToolResult(content=content, value=value)


async def test_unserialisable_result_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    result = await tool(lambda: object(), name="f").invoke("{}")
    assert result == ToolResult(
        content="error: the tool returned an object, not text or JSON",
        is_error=True,
        error_type="SerializationError",
    )
    assert "tool f returned an object, not text or JSON" in caplog.text
    deep: dict[str, Any] = {}
    for _ in range(5000):
        deep = {"a": deep}
    result = await tool(lambda: deep, name="f").invoke("{}")
    assert result.content == "error: the tool returned a dict, nested too deeply for JSON"


async def test_long_results_are_truncated_visibly() -> None:
    result = await tool(lambda: "x" * 50, name="f", max_result_chars=10).invoke("{}")
    assert result.content == "xxxxxxxxxx\n[truncated: 40 more characters]"
    assert result.value == "x" * 50 and not result.is_error


async def test_validation_errors_list_each_field() -> None:
    result = await add.invoke('{"a": "one", "b": [2]}')
    assert result.is_error and result.error_type == "ArgumentsError" and result.value is None
    assert result.content == snapshot("""\
error: invalid arguments:
- a: Input should be a valid integer, unable to parse string as an integer (got "one")
- b: Input should be a valid integer (got [2])\
""")
    assert (await add.invoke("{}")).content == "error: invalid arguments:\n- a: Field required"
    assert (await add.invoke("[1]")).content == snapshot(
        """\
error: invalid arguments:
- arguments: Input should be an object (got [1])\
"""
    )


async def test_invalid_json_is_reported_to_the_model() -> None:
    result = await add.invoke('{"a": 1')
    assert result.error_type == "ArgumentsError"
    assert result.content.startswith("error: the arguments are not valid JSON (")
    assert result.content.endswith("); send one JSON object")


async def test_model_retry_sends_its_message() -> None:
    @tool
    def pick(n: int) -> int:
        if n > 3:
            raise ModelRetry("n must be at most 3; try again")
        return n

    assert await pick.invoke('{"n": 5}') == ToolResult(
        content="n must be at most 3; try again", is_error=True, error_type="ModelRetry"
    )


async def test_exceptions_become_text_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    @tool
    async def boom() -> None:
        raise ValueError("bad city")

    with caplog.at_level(logging.WARNING, logger="agentkit"):  # as documented: one line
        result = await boom.invoke("{}")
    assert result == ToolResult(
        content="error: ValueError: bad city", is_error=True, error_type="ValueError"
    )
    record = caplog.records[-1]
    assert (record.name, record.levelname) == ("agentkit", "WARNING") and not record.exc_info
    assert record.getMessage() == "tool boom raised ValueError: bad city"
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="agentkit"):  # the traceback, for debugging
        await boom.invoke("{}")
    assert "Traceback" in caplog.text and 'raise ValueError("bad city")' in caplog.text


class Code(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def known(cls, value: str) -> str:
        return {"fr": "France"}[value]  # KeyError for anything else: not a validation error


class Span(BaseModel):
    start: int
    end: int

    @model_validator(mode="after")
    def ordered(self) -> Span:
        if self.start > self.end:
            raise RuntimeError("the span is backwards")
        return self


def _lookup(value: str) -> str:
    if value != "ok":
        raise LookupError(f"no {value!r}")
    return value


def _retry(value: int) -> int:
    if value < 0:
        raise ModelRetry("send a positive number")
    return value


async def test_validator_exceptions_become_error_results(
    caplog: pytest.LogCaptureFixture,
) -> None:
    called: list[Any] = []

    @tool
    def place(
        where: Code,
        span: Span | None = None,
        key: Annotated[str, AfterValidator(_lookup)] = "ok",
        n: Annotated[int, AfterValidator(_retry)] = 1,
    ) -> str:
        called.append(where)
        return where.code

    with caplog.at_level(logging.DEBUG, logger="agentkit"):  # DEBUG: with the traceback
        assert await place.invoke('{"where": {"code": "xx"}}') == ToolResult(
            content="error: KeyError: 'xx'", is_error=True, error_type="KeyError"
        )
        record = caplog.records[-1]
        assert record.getMessage() == "tool place raised KeyError validating its arguments: 'xx'"
        assert record.exc_info and 'return {"fr": "France"}[value]' in caplog.text
        span = '{"where": {"code": "fr"}, "span": {"start": 2, "end": 1}}'
        assert await place.invoke(span) == ToolResult(
            content="error: RuntimeError: the span is backwards",
            is_error=True,
            error_type="RuntimeError",
        )
        assert await place.invoke('{"where": {"code": "fr"}, "key": "nope"}') == ToolResult(
            content="error: LookupError: no 'nope'", is_error=True, error_type="LookupError"
        )
    assert len(caplog.records) == 3
    assert await place.invoke('{"where": {"code": "fr"}, "n": -1}') == ToolResult(
        content="send a positive number", is_error=True, error_type="ModelRetry"
    )
    assert called == []  # the function never ran
    assert (await place.invoke('{"where": {"code": "fr"}}')).content == "France"


async def test_cancellation_propagates() -> None:
    started = anyio.Event()
    finished: list[ToolResult] = []

    @tool
    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    async def call() -> None:
        finished.append(await forever.invoke("{}"))

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await started.wait()
            tg.cancel_scope.cancel()
    assert finished == []  # cancelled, not turned into an error result


async def test_timeouts_async_and_threaded() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    async def slow() -> None:
        await anyio.sleep_forever()

    @tool(timeout=0.05)
    def blocking() -> None:
        release.wait(5)

    with anyio.fail_after(2):
        for t in (slow, blocking):
            assert await t.invoke("{}") == ToolResult(
                content="error: TimeoutError: no result within 0.05s",
                is_error=True,
                error_type="TimeoutError",
            )
    release.set()  # let the abandoned thread finish


async def test_strict_null_means_the_python_default() -> None:
    @tool(strict=True)
    def book(room: str, nights: int = 2, note: str | None = "none", size: int | None = None) -> str:
        return f"{room}/{nights}/{note}/{size}"

    args = '{"room": "a", "nights": null, "note": null, "size": null}'
    assert (await book.invoke(args)).content == "a/2/None/None"  # null is a valid `note`
    assert (await book.invoke('{"room": "a", "nights": 3}')).content == "a/3/none/None"


async def test_strict_null_means_a_none_default_the_type_lacks() -> None:
    @tool(strict=True)
    def f(x: int = None) -> str:  # type: ignore[assignment]  # a common spelling
        return repr(x)

    assert (await f.invoke('{"x": null}')).content == "None"
    assert (await f.invoke('{"x": 3}')).content == "3"


class Line(BaseModel):
    sku: str
    qty: int = 1
    gift: bool | None = False  # admits None: null stays null


class Address(TypedDict):
    street: str
    floor: NotRequired[int]


class Order(BaseModel):
    lines: list[Line]
    ship_to: Address
    rush: Line = Line(sku="rush-fee")
    parent: Order | None = None


async def test_strict_nested_null_means_the_nested_default() -> None:
    @tool(strict=True)
    def place(order: Order, lines: list[Line] | None = None) -> dict[str, Any]:
        return {"order": order.model_dump(), "lines": lines}

    nested = place.definition()["function"]["parameters"]["$defs"]
    assert nested["Line"]["required"] == ["sku", "qty", "gift"]
    assert nested["Line"]["properties"]["qty"]["anyOf"][1] == {"type": "null"}
    assert nested["Address"]["properties"]["floor"]["anyOf"][1] == {"type": "null"}
    line = {"sku": "a", "qty": None, "gift": None}
    order: dict[str, Any] = {
        "lines": [line],
        "ship_to": {"street": "Main", "floor": None},
        "rush": None,
        "parent": {"lines": [], "ship_to": {"street": "Elm"}, "rush": line, "parent": None},
    }
    result = await place.invoke(json.dumps({"order": order, "lines": [line]}))
    assert result.value == snapshot(
        {
            "order": {
                "lines": [{"sku": "a", "qty": 1, "gift": None}],
                "ship_to": {"street": "Main"},
                "rush": {"sku": "rush-fee", "qty": 1, "gift": False},
                "parent": {
                    "lines": [],
                    "ship_to": {"street": "Elm"},
                    "rush": {"sku": "a", "qty": 1, "gift": None},
                    "parent": None,
                },
            },
            "lines": [Line(sku="a", qty=1, gift=None)],
        }
    )
    bad = await place.invoke('{"order": {"lines": null, "ship_to": {"street": "x"}}}')
    assert bad.content == snapshot(
        "error: invalid arguments:\n- order.lines: Input should be a valid array (got null)"
    )  # a required field's null is still an error


async def test_strict_nested_null_in_a_hand_written_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "filter": {
                "type": "object",
                "properties": {"tag": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["tag"],
            }
        },
        "required": ["filter"],
    }
    search = Tool.from_schema(lambda filter: filter, schema, name="search", strict=True)
    assert search.definition()["function"]["parameters"]["properties"]["filter"] == snapshot(
        {
            "type": "object",
            "properties": {
                "tag": {"type": "string"},
                "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
            "required": ["tag", "limit"],
            "additionalProperties": False,
        }
    )
    result = await search.invoke('{"filter": {"tag": "x", "limit": null}}')
    assert result.value == {"tag": "x"}


async def test_strict_nulls_with_a_def_that_names_itself() -> None:
    loop = {"anyOf": [{"type": "object", "properties": {"n": {"type": "integer"}}}]}
    loop["anyOf"].append({"$ref": "#/$defs/Loop"})  # pointless, valid, and must not hang
    schema = {
        "type": "object",
        "$defs": {"Loop": loop},
        "properties": {"x": {"$ref": "#/$defs/Loop"}},
    }
    t = Tool.from_schema(lambda x=None: x, schema, name="t", strict=True)
    assert t.definition()["function"]["parameters"]["properties"]["x"] == snapshot(
        {"anyOf": [{"$ref": "#/$defs/Loop"}, {"type": "null"}]}
    )
    assert (await t.invoke('{"x": {"n": null}}')).value == {}
    assert (await t.invoke('{"x": null}')).value is None


async def test_context_is_injected_and_hidden() -> None:
    @tool
    def whoami(prefix: str, ctx: RunContext[dict[str, str]], /, suffix: str = "") -> str:
        return f"{prefix}{ctx.deps['user']}{suffix} after {ctx.step} steps ({ctx.tool_name})"

    ctx = RunContext(deps={"user": "ada"}, step=3, tool_name="whoami")
    assert list(whoami.parameters["properties"]) == ["prefix", "suffix"]
    result = await whoami.invoke('{"prefix": "@", "suffix": "!"}', ctx)
    assert result.content == "@ada! after 3 steps (whoami)"

    @tool
    async def deps(ctx: RunContext[None]) -> str:
        return f"{ctx.deps} {ctx.tool_name}"

    assert (await deps.invoke("{}")).content == "None deps"  # outside a run: an empty context


async def test_awkward_parameter_names_round_trip() -> None:
    @tool
    def f(json: str, schema: int, model_config: bool, _private: float = 1.5) -> str:
        return f"{json} {schema} {model_config} {_private}"

    assert list(f.parameters["properties"]) == ["json", "schema", "model_config", "_private"]
    args = '{"json": "j", "schema": 1, "model_config": true, "_private": 2}'
    assert (await f.invoke(args)).content == "j 1 True 2.0"


# --- hand-written schemas ----------------------------------------------------------------

SEARCH = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1},
    },
    "required": ["query"],
}


async def test_from_schema_validates_with_jsonschema() -> None:
    async def remote(query: str, limit: int = 5) -> dict[str, Any]:
        return {"query": query, "limit": limit}

    search = Tool.from_schema(remote, SEARCH, name="search", description="Search the web.")
    assert search.definition() == snapshot(
        {
            "type": "function",
            "function": {
                "name": "search",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "minLength": 1},
                        "limit": {"type": "integer", "minimum": 1},
                    },
                    "required": ["query"],
                },
                "description": "Search the web.",
            },
        }
    )
    assert (await search.invoke('{"query": "x"}')).content == '{"query":"x","limit":5}'
    assert (await search.invoke('{"query": "x", "limit": null}')).value == {
        "query": "x",
        "limit": 5,
    }
    assert (await search.invoke('{"query": "", "limit": 0}')).content == snapshot("""\
error: invalid arguments:
- limit: 0 is less than the minimum of 1
- query: '' should be non-empty\
""")
    assert (await search.invoke("{")).error_type == "ArgumentsError"
    assert search.definition(True)["function"]["parameters"] == snapshot(
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "(minLength: 1)"},
                "limit": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
            },
            "required": ["query", "limit"],
            "additionalProperties": False,
        }
    )


async def test_from_schema_keeps_a_null_the_schema_allows() -> None:
    def update(**fields: Any) -> dict[str, Any]:
        return fields

    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "note": {"type": ["string", "null"], "description": "null clears the note"},
            "tag": {"type": "string"},
        },
        "required": ["id"],
    }
    t = Tool.from_schema(update, schema, name="update")
    # `tag` can't be null: strict mode's null, meaning "left out"; `note`'s means "clear it"
    args = '{"id": 1, "note": null, "tag": null}'
    assert (await t.invoke(args)).value == {"id": 1, "note": None}


async def test_from_schema_takes_boolean_subschemas() -> None:
    def echo(**fields: Any) -> dict[str, Any]:
        return fields

    schema = {"type": "object", "properties": {"x": True, "y": {"type": "string"}}}
    t = Tool.from_schema(echo, schema, name="echo")  # `true`: any value, null included
    assert (await t.invoke('{"x": [1], "y": "a"}')).value == {"x": [1], "y": "a"}
    assert (await t.invoke('{"x": null}')).value == {"x": None}
    with pytest.raises(ToolDefinitionError, match=r"open-ended value .* at parameters\.x"):
        Tool.from_schema(echo, schema, name="echo", strict=True)


async def test_from_schema_passes_the_context() -> None:
    def remote(ctx: RunContext[str], query: str, limit: int = 5) -> str:
        return f"{ctx.deps}:{query}"

    search = Tool.from_schema(remote, SEARCH, name="search")
    ctx = RunContext(deps="db")
    assert (await search.invoke('{"query": "x"}', ctx)).content == "db:x"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": 3},
        {"type": "string"},
        {"type": "object", "properties": {"x": {"default": float("inf")}}},  # not JSON
    ],
)
def test_from_schema_refuses_bad_schemas(schema: dict[str, Any]) -> None:
    with pytest.raises(ToolDefinitionError, match="tool 'bad'"):
        Tool.from_schema(print, schema, name="bad")


class Adder:
    """Add a fixed amount."""

    def __init__(self, amount: int) -> None:
        self.amount = amount

    def __call__(self, x: int) -> int:
        return x + self.amount


class AsyncAdder:
    async def __call__(self, x: int) -> int:
        return x + 1


async def test_callable_objects_and_partials() -> None:
    adder = tool(Adder(5), name="add_five")
    assert adder.description == "Add a fixed amount." and list(adder.parameters["properties"]) == [
        "x"
    ]
    assert (await adder.invoke('{"x": 1}')).content == "6"
    assert (await tool(AsyncAdder(), name="inc").invoke('{"x": 1}')).content == "2"
    partial = tool(functools.partial(functools.partial(add.__wrapped__, b=1)))
    assert partial.name == "add"


def test_functions_without_a_signature_are_an_error() -> None:
    with pytest.raises(ToolDefinitionError, match="cannot read the signature of type"):
        tool(type)


async def test_timeout_not_reached() -> None:
    @tool(timeout=5)
    async def quick() -> str:
        return "done"

    assert (await quick.invoke("{}")).content == "done"


async def test_from_schema_edge_cases() -> None:
    def odd(ctx: Missing = None, **arguments: Any) -> Any:  # type: ignore[name-defined]  # noqa: F821
        return arguments

    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "allOf": [{"required": ["a"]}],
    }
    t = Tool.from_schema(odd, schema, name="odd")
    assert (await t.invoke("[1]")).content == snapshot("""\
error: invalid arguments:
- arguments: [1] is not of type 'object'\
""")
    assert (await t.invoke('{"a": 1}')).content == '{"a":1}'
    assert t.definition(True)["function"]["parameters"] == snapshot(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "required": ["a"],
            "additionalProperties": False,
        }
    )


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_invoke_on_both_backends(anyio_backend: str) -> None:
    @tool(timeout=0.05)
    async def slow() -> None:
        await anyio.sleep_forever()

    assert (await add.invoke('{"a": 1}')).content == "3"  # worker thread
    assert (await shout.invoke('{"text": "a"}')).content == "A"
    assert (await slow.invoke("{}")).error_type == "TimeoutError"


def test_schemas_are_built_once() -> None:
    assert add.definition() is add.definition(False)
    assert add.definition()["function"]["parameters"] is add.parameters
    assert add.definition(True) is add.definition(True)
