"""Schemas generated from signatures and docstrings: every supported type and docstring style."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import pathlib
import socket
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Optional, Union

import jsonschema
import pytest
import typing_extensions
from inline_snapshot import snapshot
from pydantic import BaseModel, Field

from agentkit.context import RunContext
from agentkit.errors import ToolDefinitionError
from agentkit.tools import Tool, check_unique, tool

TOOL_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "ChatCompletionTool.schema.json").read_text()
)


def checked(t: Tool[..., Any]) -> dict[str, Any]:
    """The tool's parameters, after proving both definitions are valid."""
    jsonschema.Draft202012Validator.check_schema(t.parameters)
    jsonschema.validate(t.definition(), TOOL_SCHEMA)
    return t.parameters


class Color(str, enum.Enum):  # noqa: UP042 - the spelling most code still uses
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str = Field(description="City name.")


class Person(BaseModel):
    name: str
    address: Address


class Node(BaseModel):
    value: int
    children: list[Node] = []


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Movie(typing.TypedDict):
    title: str
    year: NotRequired[int]


class Book(typing_extensions.TypedDict, total=False):
    isbn: typing_extensions.Required[str]
    pages: int


class Area(BaseModel):
    radius_km: float = float("inf")


def test_scalars() -> None:
    @tool
    def f(s: str, i: int, x: float, b: bool, n: None) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "properties": {
                "s": {"type": "string"},
                "i": {"type": "integer"},
                "x": {"type": "number"},
                "b": {"type": "boolean"},
                "n": {"type": "null"},
            },
            "required": ["s", "i", "x", "b", "n"],
            "type": "object",
        }
    )


def test_optional_union_literal_enum() -> None:
    @tool
    def f(
        a: Optional[int],  # noqa: UP045 - the old spelling must work too
        b: str | None,
        c: Union[int, str],  # noqa: UP007
        d: Literal["x", "y"],
        e: Literal[1, 2],
        color: Color,
        level: Level,
    ) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "$defs": {
                "Color": {"enum": ["red", "blue"], "type": "string"},
                "Level": {"enum": [1, 2], "type": "integer"},
            },
            "properties": {
                "a": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "c": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "d": {"enum": ["x", "y"], "type": "string"},
                "e": {"enum": [1, 2], "type": "integer"},
                "color": {"$ref": "#/$defs/Color"},
                "level": {"$ref": "#/$defs/Level"},
            },
            "required": ["a", "b", "c", "d", "e", "color", "level"],
            "type": "object",
        }
    )


def test_containers_and_any() -> None:
    @tool
    def f(
        a: list[int],
        b: set[str],
        c: tuple[int, str],
        d: tuple[float, ...],
        e: dict[str, int],
        g: Any,
        h: typing.List[str],  # noqa: UP006
    ) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "properties": {
                "a": {"items": {"type": "integer"}, "type": "array"},
                "b": {"items": {"type": "string"}, "type": "array", "uniqueItems": True},
                "c": {
                    "maxItems": 2,
                    "minItems": 2,
                    "prefixItems": [{"type": "integer"}, {"type": "string"}],
                    "type": "array",
                },
                "d": {"items": {"type": "number"}, "type": "array"},
                "e": {"additionalProperties": {"type": "integer"}, "type": "object"},
                "g": {},
                "h": {"items": {"type": "string"}, "type": "array"},
            },
            "required": ["a", "b", "c", "d", "e", "g", "h"],
            "type": "object",
        }
    )


def test_models_dataclasses_typeddicts() -> None:
    @tool
    def f(person: Person, point: Point, movie: Movie, book: Book) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "$defs": {
                "Address": {
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"description": "City name.", "type": "string"},
                    },
                    "required": ["street", "city"],
                    "type": "object",
                },
                "Book": {
                    "properties": {"isbn": {"type": "string"}, "pages": {"type": "integer"}},
                    "required": ["isbn"],
                    "type": "object",
                },
                "Movie": {
                    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                    "required": ["title"],
                    "type": "object",
                },
                "Person": {
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/Address"},
                    },
                    "required": ["name", "address"],
                    "type": "object",
                },
                "Point": {
                    "properties": {
                        "x": {"type": "number"},
                        "y": {"default": 0.0, "type": "number"},
                    },
                    "required": ["x"],
                    "type": "object",
                },
            },
            "properties": {
                "person": {"$ref": "#/$defs/Person"},
                "point": {"$ref": "#/$defs/Point"},
                "movie": {"$ref": "#/$defs/Movie"},
                "book": {"$ref": "#/$defs/Book"},
            },
            "required": ["person", "point", "movie", "book"],
            "type": "object",
        }
    )


def test_recursive_model_uses_refs() -> None:
    @tool
    def f(tree: Node) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "$defs": {
                "Node": {
                    "properties": {
                        "value": {"type": "integer"},
                        "children": {
                            "default": [],
                            "items": {"$ref": "#/$defs/Node"},
                            "type": "array",
                        },
                    },
                    "required": ["value"],
                    "type": "object",
                }
            },
            "properties": {"tree": {"$ref": "#/$defs/Node"}},
            "required": ["tree"],
            "type": "object",
        }
    )


def test_annotated_field_constraints_and_defaults() -> None:
    @tool
    def f(
        name: Annotated[str, Field(description="Who.", min_length=1, max_length=20)],
        age: Annotated[int, Field(ge=0, le=150)] = 30,
        code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "ABC",
        ratio: float = Field(0.5, gt=0, description="A ratio."),
        tags: list[str] | None = None,
    ) -> None:
        """Check constraints.

        Args:
            name: Ignored: Field(description=...) wins over the docstring.
            age: Age in years.
        """

    assert checked(f) == snapshot(
        {
            "properties": {
                "name": {"description": "Who.", "maxLength": 20, "minLength": 1, "type": "string"},
                "age": {
                    "default": 30,
                    "description": "Age in years.",
                    "maximum": 150,
                    "minimum": 0,
                    "type": "integer",
                },
                "code": {"default": "ABC", "pattern": "^[A-Z]{3}$", "type": "string"},
                "ratio": {
                    "default": 0.5,
                    "description": "A ratio.",
                    "exclusiveMinimum": 0,
                    "type": "number",
                },
                "tags": {
                    "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
                    "default": None,
                },
            },
            "required": ["name"],
            "type": "object",
        }
    )


async def test_non_finite_defaults_are_left_out() -> None:
    @tool
    def search(query: str, max_km: float = float("inf"), area: Area | None = None) -> str:
        return f"{max_km} {area}"

    assert checked(search) == snapshot(
        {
            "$defs": {"Area": {"properties": {"radius_km": {"type": "number"}}, "type": "object"}},
            "properties": {
                "query": {"type": "string"},
                "max_km": {"type": "number"},
                "area": {"anyOf": [{"$ref": "#/$defs/Area"}, {"type": "null"}], "default": None},
            },
            "required": ["query"],
            "type": "object",
        }
    )  # optional still; JSON has no Infinity
    for strict in (False, True):  # every request body stays strict JSON
        json.dumps(search.definition(strict), allow_nan=False)
    assert (await search.invoke('{"query": "x", "area": {}}')).content == "inf radius_km=inf"


def test_dates_uuids_paths_are_formatted_strings() -> None:
    @tool
    def f(
        when: datetime.datetime,
        day: datetime.date,
        at: datetime.time,
        ident: uuid.UUID,
        path: pathlib.Path,
        wait: datetime.timedelta,
    ) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "properties": {
                "when": {"format": "date-time", "type": "string"},
                "day": {"format": "date", "type": "string"},
                "at": {"format": "time", "type": "string"},
                "ident": {"format": "uuid", "type": "string"},
                "path": {"format": "path", "type": "string"},
                "wait": {"format": "duration", "type": "string"},
            },
            "required": ["when", "day", "at", "ident", "path", "wait"],
            "type": "object",
        }
    )


def test_parameter_named_title_survives() -> None:
    @tool
    def f(title: str, properties: dict[str, str], default: int = 0) -> None:
        """Name things.

        Args:
            title: The title.
        """

    assert checked(f) == snapshot(
        {
            "properties": {
                "title": {"description": "The title.", "type": "string"},
                "properties": {"type": "object", "additionalProperties": {"type": "string"}},
                "default": {"type": "integer", "default": 0},
            },
            "required": ["title", "properties"],
            "type": "object",
        }
    )


def test_string_annotations_without_future_import() -> None:
    namespace: dict[str, Any] = {"Person": Person}
    exec("def f(p: 'Person', n: 'int' = 1, m: 'list[str] | None' = None): pass", namespace)
    assert checked(Tool.from_function(namespace["f"])) == snapshot(
        {
            "$defs": {
                "Address": {
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"description": "City name.", "type": "string"},
                    },
                    "required": ["street", "city"],
                    "type": "object",
                },
                "Person": {
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/Address"},
                    },
                    "required": ["name", "address"],
                    "type": "object",
                },
            },
            "properties": {
                "p": {"$ref": "#/$defs/Person"},
                "n": {"default": 1, "type": "integer"},
                "m": {
                    "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
                    "default": None,
                },
            },
            "required": ["p"],
            "type": "object",
        }
    )


def test_context_parameter_is_not_in_schema() -> None:
    @tool
    def f(ctx: RunContext[int], q: str) -> None:
        pass

    assert checked(f) == snapshot(
        {"properties": {"q": {"type": "string"}}, "required": ["q"], "type": "object"}
    )


def test_no_parameters() -> None:
    @tool
    def now() -> str:
        """The time."""
        return "noon"

    assert now.definition() == snapshot(
        {
            "type": "function",
            "function": {
                "name": "now",
                "parameters": {"properties": {}, "type": "object"},
                "description": "The time.",
            },
        }
    )


# --- docstrings --------------------------------------------------------------------------


def google(city: str, days: int = 1) -> str:
    """Get the forecast.

    Uses the national weather service.

    Args:
        city: City name, e.g. "Paris".
        days: How many days ahead.

    Returns:
        The forecast as text.

    Raises:
        KeyError: If the city is unknown.
    """
    return ""


def numpy_style(city: str, days: int = 1) -> str:
    """Get the forecast.

    Parameters
    ----------
    city : str
        City name, e.g. "Paris".
    days : int
        How many days ahead.

    Returns
    -------
    str
        The forecast as text.

    Raises
    ------
    KeyError
        If the city is unknown.
    """
    return ""


def rest(city: str, days: int = 1) -> str:
    """Get the forecast.

    :param city: City name, e.g. "Paris".
    :param days: How many days ahead.
    :returns: The forecast as text.
    :raises KeyError: If the city is unknown.
    """
    return ""


def epydoc(city: str, days: int = 1) -> str:
    """Get the forecast.

    @param city: City name, e.g. "Paris".
    @param days: How many days ahead.
    @return: The forecast as text.
    @raise KeyError: If the city is unknown.
    """
    return ""


@pytest.mark.parametrize("fn", [google, numpy_style, rest, epydoc])
def test_every_docstring_style_gives_the_same_tool(fn: Any) -> None:
    function: dict[str, Any] = dict(
        Tool.from_function(fn, name="forecast").definition()["function"]
    )
    function["description"] = function["description"].replace(
        "Uses the national weather service.\n\n", ""
    )
    assert function == snapshot(
        {
            "name": "forecast",
            "parameters": {
                "properties": {
                    "city": {"description": 'City name, e.g. "Paris".', "type": "string"},
                    "days": {
                        "default": 1,
                        "description": "How many days ahead.",
                        "type": "integer",
                    },
                },
                "required": ["city"],
                "type": "object",
            },
            "description": """\
Get the forecast.

Returns: The forecast as text.

Raises KeyError: If the city is unknown.\
""",
        }
    )


def test_google_long_description_is_kept() -> None:
    assert tool(google).description == snapshot("""\
Get the forecast.

Uses the national weather service.

Returns: The forecast as text.

Raises KeyError: If the city is unknown.\
""")


def test_description_argument_wins() -> None:
    assert (
        tool(google, description="Forecast.").definition()["function"]["description"] == "Forecast."
    )


# --- errors at decoration ----------------------------------------------------------------


class Opaque:
    pass


def star(*items: int) -> None: ...
def kw(**options: int) -> None: ...
def opaque(conn: socket.socket) -> None: ...
def weird(x: Opaque) -> None: ...
def unnamed(_x: int, /) -> None: ...
def callback(on_done: Callable[[int], None]) -> None: ...


class Loop(typing.TypedDict):
    items: list[Loop]


def recursive(loop: Loop) -> None: ...


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (star, r"^star: parameter \*items cannot be sent by the model"),
        (kw, r"^kw: parameter \*\*options cannot be sent by the model"),
        (opaque, r"^opaque: parameter 'conn' has a type that cannot become a JSON Schema"),
        (weird, r"^weird: parameter 'x' has a type that cannot become a JSON Schema"),
        (unnamed, r"^unnamed: positional-only parameter '_x' has no name the model can send"),
        (print, r"print: parameter \*args cannot be sent"),
        (callback, r"^callback: parameter 'on_done' .* \(collections.abc.Callable\[\[int\], None"),
        (recursive, r"^recursive: parameter 'loop' .*: Please use `typing_extensions.TypedDict`"),
    ],
)
def test_unrepresentable_signatures_are_errors_naming_the_parameter(fn: Any, message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        tool(fn)


def test_unresolvable_annotation_is_an_error() -> None:
    def f(x: Missing) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(ToolDefinitionError, match="cannot resolve the type annotations of .*f"):
        tool(f)


def test_positional_only_parameters_are_passed_by_position() -> None:
    def f(a: int, /, b: int) -> int:
        return a - b

    assert checked(tool(f)) == snapshot(
        {
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "type": "object",
        }
    )


@pytest.mark.parametrize("name", ["", "has space", "é", "x" * 65, "a.b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(google, name=name)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ToolDefinitionError, match="pass name="):
        tool(lambda x: x)
    assert tool(lambda x: x, name="identity").name == "identity"


def test_duplicate_names_are_an_error() -> None:
    assert list(check_unique([tool(google), rest, tool(google, name="g2")])) == [
        "google",
        "rest",
        "g2",
    ]
    with pytest.raises(ToolDefinitionError, match="two tools are named 'google'"):
        check_unique([tool(google), tool(rest, name="google")])


# --- strict mode -------------------------------------------------------------------------


class Item(BaseModel):
    name: str = Field(min_length=2)
    qty: int = 1
    note: str | None = None


def test_strict_definition() -> None:
    @tool(strict=True)
    def order(
        items: list[Item],
        color: Color = Color.RED,
        express: bool = False,
        note: str | None = None,
        when: datetime.date | None = None,
        path: Path = Path("."),
    ) -> None:
        """Order things.

        Args:
            items: What to buy.
            express: Fast shipping.
        """

    definition = order.definition()
    assert definition is order.definition(True)  # cached
    jsonschema.validate(definition, TOOL_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(definition["function"]["parameters"])
    assert definition == snapshot(
        {
            "type": "function",
            "function": {
                "name": "order",
                "parameters": {
                    "$defs": {
                        "Color": {"enum": ["red", "blue"], "type": "string"},
                        "Item": {
                            "properties": {
                                "name": {"type": "string", "description": "(minLength: 2)"},
                                "qty": {
                                    "anyOf": [{"type": "integer"}, {"type": "null"}],
                                    "description": "(default: 1)",
                                },
                                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            },
                            "required": ["name", "qty", "note"],
                            "type": "object",
                            "additionalProperties": False,
                        },
                    },
                    "properties": {
                        "items": {
                            "description": "What to buy.",
                            "items": {"$ref": "#/$defs/Item"},
                            "type": "array",
                        },
                        "color": {
                            "anyOf": [
                                {"$ref": "#/$defs/Color"},
                                {"type": "null"},
                            ],
                            "description": '(default: "red")',
                        },
                        "express": {
                            "anyOf": [{"type": "boolean"}, {"type": "null"}],
                            "description": "Fast shipping. (default: false)",
                        },
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "when": {"anyOf": [{"format": "date", "type": "string"}, {"type": "null"}]},
                        "path": {
                            "anyOf": [
                                {"type": "string", "description": '(format: "path")'},
                                {"type": "null"},
                            ],
                            "description": '(default: ".")',
                        },
                    },
                    "required": ["items", "color", "express", "note", "when", "path"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "description": "Order things.",
                "strict": True,
            },
        }
    )
    assert "strict" not in order.definition(False)["function"]


def test_strict_is_off_by_default_and_available_on_demand() -> None:
    t = tool(google)
    assert t.strict is None
    assert "strict" not in t.definition()["function"]
    assert t.definition(True)["function"]["parameters"] == snapshot(
        {
            "properties": {
                "city": {"description": 'City name, e.g. "Paris".', "type": "string"},
                "days": {
                    "anyOf": [{"type": "integer"}, {"type": "null"}],
                    "description": "How many days ahead. (default: 1)",
                },
            },
            "required": ["city", "days"],
            "type": "object",
            "additionalProperties": False,
        }
    )


@pytest.mark.parametrize(
    "annotation", ["dict[str, Any]", "dict[str, int]", "Any", "tuple[int, str]", "dict"]
)
def test_strict_refuses_open_ended_types(annotation: str) -> None:
    namespace: dict[str, Any] = {"Any": Any}
    exec(f"def f(x: {annotation}): pass", namespace)
    t = tool(namespace["f"])  # fine without strict
    with pytest.raises(ToolDefinitionError, match="tool 'f': strict mode cannot express"):
        t.definition(strict=True)
    with pytest.raises(ToolDefinitionError, match="x"):
        tool(namespace["f"], strict=True)


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


def test_more_nullability_and_nesting() -> None:
    @tool
    def f(
        pet: Annotated[Cat | Dog, Field(discriminator="kind")],
        mode: Literal["a", None] = "a",
        limit: Annotated[int | None, Field(ge=1)] = 3,
        movies: list[Movie] | None = None,
        movie: Annotated[Movie, Field(description="A movie.")] = {"title": "Up"},  # noqa: B006
    ) -> None:
        pass

    assert checked(f) == snapshot(
        {
            "$defs": {
                "Cat": {
                    "properties": {
                        "kind": {"const": "cat", "type": "string"},
                        "lives": {"type": "integer"},
                    },
                    "required": ["kind", "lives"],
                    "type": "object",
                },
                "Dog": {
                    "properties": {
                        "kind": {"const": "dog", "type": "string"},
                        "good": {"type": "boolean"},
                    },
                    "required": ["kind", "good"],
                    "type": "object",
                },
                "Movie": {
                    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                    "required": ["title"],
                    "type": "object",
                },
            },
            "properties": {
                "pet": {
                    "discriminator": {
                        "mapping": {"cat": "#/$defs/Cat", "dog": "#/$defs/Dog"},
                        "propertyName": "kind",
                    },
                    "oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
                },
                "mode": {"default": "a", "enum": ["a", None]},
                "limit": {
                    "anyOf": [{"minimum": 1, "type": "integer"}, {"type": "null"}],
                    "default": 3,
                },
                "movies": {
                    "anyOf": [
                        {"items": {"$ref": "#/$defs/Movie"}, "type": "array"},
                        {"type": "null"},
                    ],
                    "default": None,
                },
                "movie": {
                    "$ref": "#/$defs/Movie",
                    "default": {"title": "Up"},
                    "description": "A movie.",
                },
            },
            "required": ["pet"],
            "type": "object",
        }
    )
    assert f.definition(True)["function"]["parameters"] == snapshot(
        {
            "$defs": {
                "Cat": {
                    "properties": {
                        "kind": {"const": "cat", "type": "string"},
                        "lives": {"type": "integer"},
                    },
                    "required": ["kind", "lives"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "Dog": {
                    "properties": {
                        "kind": {"const": "dog", "type": "string"},
                        "good": {"type": "boolean"},
                    },
                    "required": ["kind", "good"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "Movie": {
                    "properties": {
                        "title": {"type": "string"},
                        "year": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    },
                    "required": ["title", "year"],
                    "type": "object",
                    "additionalProperties": False,
                },
            },
            "properties": {
                "pet": {"anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]},
                "mode": {
                    "enum": ["a", None],
                    "description": '(default: "a")',
                },
                "limit": {
                    "anyOf": [{"minimum": 1, "type": "integer"}, {"type": "null"}],
                    "description": "(default: 3)",
                },
                "movies": {
                    "anyOf": [
                        {"items": {"$ref": "#/$defs/Movie"}, "type": "array"},
                        {"type": "null"},
                    ]
                },
                "movie": {
                    "anyOf": [
                        {"$ref": "#/$defs/Movie"},
                        {"type": "null"},
                    ],
                    "description": 'A movie. (default: {"title": "Up"})',
                },
            },
            "required": ["pet", "mode", "limit", "movies", "movie"],
            "type": "object",
            "additionalProperties": False,
        }
    )
