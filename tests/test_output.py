"""output_type -> response_format, and validation of the final answer."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, NotRequired, TypeVar
from uuid import UUID

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from inline_snapshot import snapshot
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, WithJsonSchema
from typing_extensions import TypedDict  # typing's TypedDict: pydantic needs 3.12

from agentkit._output import OutputError, OutputSpec
from agentkit.errors import InvalidRequestError

DATA = Path(__file__).parent / "data"

T = TypeVar("T")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    """One line of an order."""

    title: str  # a property called `title` must survive title removal
    price: float = Field(description="Unit price in EUR.")
    tags: list[str] = []


class Order(BaseModel):
    items: list[Item]
    color: Color = Color.RED
    note: str | None = None
    gift: Item | None = None
    main: Item = Field(description="The headline item.")
    code: str = Field(default="A", min_length=1, max_length=8)


class Node(BaseModel):
    value: int
    children: list[Node] = []


@dataclasses.dataclass
class Point:
    x: int
    label: str = "origin"


class Movie(TypedDict):
    name: str
    year: NotRequired[int]


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]


Pet = Annotated[Cat | Dog, Field(discriminator="kind")]


class Page(BaseModel, Generic[T]):
    rows: list[T]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


# --- response_format -----------------------------------------------------------------------


def test_str_is_plain_text():
    spec = OutputSpec.for_type(str)
    assert (spec.is_text, spec.response_format) == (True, None)
    assert spec.validate("  raw\n") == "  raw\n"
    assert spec.validate(None) == ""


def test_model_is_strict_with_defaults_nullable_and_titles_removed():
    assert OutputSpec.for_type(Order).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Order",
                "schema": {
                    "properties": {
                        "items": {"items": {"$ref": "#/$defs/Item"}, "type": "array"},
                        "color": {
                            "anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}],
                            "description": '(default: "red")',
                        },
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "gift": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
                        "main": {
                            "description": "The headline item.",
                            "properties": {
                                "title": {"type": "string"},
                                "price": {"description": "Unit price in EUR.", "type": "number"},
                                "tags": {
                                    "anyOf": [
                                        {"items": {"type": "string"}, "type": "array"},
                                        {"type": "null"},
                                    ],
                                    "description": "(default: [])",
                                },
                            },
                            "required": ["title", "price", "tags"],
                            "type": "object",
                            "additionalProperties": False,
                        },
                        "code": {
                            "anyOf": [
                                {"type": "string", "description": "(maxLength: 8; minLength: 1)"},
                                {"type": "null"},
                            ],
                            "description": '(default: "A")',
                        },
                    },
                    "required": ["items", "color", "note", "gift", "main", "code"],
                    "type": "object",
                    "$defs": {
                        "Color": {"enum": ["red", "blue"], "type": "string"},
                        "Item": {
                            "description": "One line of an order.",
                            "properties": {
                                "title": {"type": "string"},
                                "price": {"description": "Unit price in EUR.", "type": "number"},
                                "tags": {
                                    "anyOf": [
                                        {"items": {"type": "string"}, "type": "array"},
                                        {"type": "null"},
                                    ],
                                    "description": "(default: [])",
                                },
                            },
                            "required": ["title", "price", "tags"],
                            "type": "object",
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    )


def test_dataclass_and_typeddict():
    assert OutputSpec.for_type(Point).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Point",
                "schema": {
                    "properties": {
                        "x": {"type": "integer"},
                        "label": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "description": '(default: "origin")',
                        },
                    },
                    "required": ["x", "label"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    )
    assert OutputSpec.for_type(Movie).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Movie",
                "schema": {
                    "properties": {
                        "name": {"type": "string"},
                        "year": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    },
                    "required": ["name", "year"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    )


def test_recursive_model_root_is_an_object():
    assert OutputSpec.for_type(Node).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Node",
                "schema": {
                    "properties": {
                        "value": {"type": "integer"},
                        "children": {
                            "anyOf": [
                                {"items": {"$ref": "#/$defs/Node"}, "type": "array"},
                                {"type": "null"},
                            ],
                            "description": "(default: [])",
                        },
                    },
                    "required": ["value", "children"],
                    "type": "object",
                    "$defs": {
                        "Node": {
                            "properties": {
                                "value": {"type": "integer"},
                                "children": {
                                    "anyOf": [
                                        {"items": {"$ref": "#/$defs/Node"}, "type": "array"},
                                        {"type": "null"},
                                    ],
                                    "description": "(default: [])",
                                },
                            },
                            "required": ["value", "children"],
                            "type": "object",
                            "additionalProperties": False,
                        }
                    },
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    )


def test_non_objects_are_wrapped_in_result():
    formats = {
        name: OutputSpec.for_type(tp).response_format
        for name, tp in [
            ("list", list[Item]),
            ("int", int),
            ("bool", bool),
            ("literal", Literal["yes", "no"]),
            ("enum", Color),
            ("union", int | str),
            ("optional", Item | None),
        ]
    }
    assert formats == snapshot(
        {
            "list": {
                "type": "json_schema",
                "json_schema": {
                    "name": "list_Item",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "result": {"items": {"$ref": "#/$defs/Item"}, "type": "array"}
                        },
                        "required": ["result"],
                        "additionalProperties": False,
                        "$defs": {
                            "Item": {
                                "description": "One line of an order.",
                                "properties": {
                                    "title": {"type": "string"},
                                    "price": {
                                        "description": "Unit price in EUR.",
                                        "type": "number",
                                    },
                                    "tags": {
                                        "anyOf": [
                                            {"items": {"type": "string"}, "type": "array"},
                                            {"type": "null"},
                                        ],
                                        "description": "(default: [])",
                                    },
                                },
                                "required": ["title", "price", "tags"],
                                "type": "object",
                                "additionalProperties": False,
                            }
                        },
                    },
                    "strict": True,
                },
            },
            "int": {
                "type": "json_schema",
                "json_schema": {
                    "name": "int",
                    "schema": {
                        "type": "object",
                        "properties": {"result": {"type": "integer"}},
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
            "bool": {
                "type": "json_schema",
                "json_schema": {
                    "name": "bool",
                    "schema": {
                        "type": "object",
                        "properties": {"result": {"type": "boolean"}},
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
            "literal": {
                "type": "json_schema",
                "json_schema": {
                    "name": "Literal_yes_no",
                    "schema": {
                        "type": "object",
                        "properties": {"result": {"enum": ["yes", "no"], "type": "string"}},
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
            "enum": {
                "type": "json_schema",
                "json_schema": {
                    "name": "Color",
                    "schema": {
                        "type": "object",
                        "properties": {"result": {"enum": ["red", "blue"], "type": "string"}},
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
            "union": {
                "type": "json_schema",
                "json_schema": {
                    "name": "int_str",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "result": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
                        },
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
            "optional": {
                "type": "json_schema",
                "json_schema": {
                    "name": "Item_None",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "result": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]}
                        },
                        "required": ["result"],
                        "additionalProperties": False,
                        "$defs": {
                            "Item": {
                                "description": "One line of an order.",
                                "properties": {
                                    "title": {"type": "string"},
                                    "price": {
                                        "description": "Unit price in EUR.",
                                        "type": "number",
                                    },
                                    "tags": {
                                        "anyOf": [
                                            {"items": {"type": "string"}, "type": "array"},
                                            {"type": "null"},
                                        ],
                                        "description": "(default: [])",
                                    },
                                },
                                "required": ["title", "price", "tags"],
                                "type": "object",
                                "additionalProperties": False,
                            }
                        },
                    },
                    "strict": True,
                },
            },
        }
    )


def test_discriminated_union_becomes_any_of():
    assert OutputSpec.for_type(Pet).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Cat_Dog",
                "schema": {
                    "type": "object",
                    "properties": {
                        "result": {"anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]}
                    },
                    "required": ["result"],
                    "additionalProperties": False,
                    "$defs": {
                        "Cat": {
                            "properties": {
                                "kind": {"const": "cat", "type": "string"},
                                "lives": {
                                    "anyOf": [{"type": "integer"}, {"type": "null"}],
                                    "description": "(default: 9)",
                                },
                            },
                            "required": ["kind", "lives"],
                            "type": "object",
                            "additionalProperties": False,
                        },
                        "Dog": {
                            "properties": {"kind": {"const": "dog", "type": "string"}},
                            "required": ["kind"],
                            "type": "object",
                            "additionalProperties": False,
                        },
                    },
                },
                "strict": True,
            },
        }
    )


def test_open_objects_fall_back_to_non_strict():
    formats = {
        name: OutputSpec.for_type(tp).response_format
        for name, tp in [
            ("dict", dict[str, int]),
            ("tuple", tuple[int, str]),
            ("any_list", list[Any]),
            ("extra_allow", Open),
        ]
    }
    assert formats == snapshot(
        {
            "dict": {
                "type": "json_schema",
                "json_schema": {
                    "name": "dict_str_int",
                    "schema": {"additionalProperties": {"type": "integer"}, "type": "object"},
                    "strict": False,
                },
            },
            "tuple": {
                "type": "json_schema",
                "json_schema": {
                    "name": "tuple_int_str",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "result": {
                                "maxItems": 2,
                                "minItems": 2,
                                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                                "type": "array",
                            }
                        },
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": False,
                },
            },
            "any_list": {
                "type": "json_schema",
                "json_schema": {
                    "name": "list_Any",
                    "schema": {
                        "type": "object",
                        "properties": {"result": {"items": {}, "type": "array"}},
                        "required": ["result"],
                        "additionalProperties": False,
                    },
                    "strict": False,
                },
            },
            "extra_allow": {
                "type": "json_schema",
                "json_schema": {
                    "name": "Open",
                    "schema": {
                        "additionalProperties": True,
                        "properties": {"a": {"type": "integer"}},
                        "required": ["a"],
                        "type": "object",
                    },
                    "strict": False,
                },
            },
        }
    )


def test_strict_false_sends_the_schema_as_pydantic_wrote_it():
    assert OutputSpec.for_type(Point, strict=False).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Point",
                "schema": {
                    "properties": {
                        "x": {"type": "integer"},
                        "label": {"default": "origin", "type": "string"},
                    },
                    "required": ["x"],
                    "type": "object",
                },
                "strict": False,
            },
        }
    )


def test_strict_true_on_an_open_object_is_refused():
    with pytest.raises(InvalidRequestError) as info:
        OutputSpec.for_type(dict[str, int], strict=True)
    assert str(info.value) == snapshot(
        "output_type dict_str_int cannot use strict structured outputs: an open-ended object "
        "(dict[str, ...]) at $; change the type or pass strict=False"
    )


def test_type_without_schema_is_refused():
    class NotPydantic:
        pass

    with pytest.raises(InvalidRequestError, match="NotPydantic cannot be turned into a JSON"):
        OutputSpec.for_type(NotPydantic)


def test_names_are_sanitized():
    names = [
        OutputSpec.for_type(tp).response_format["json_schema"]["name"]  # type: ignore[index]
        for tp in (Page[Item], list[Item], dict[str, Item], Literal["a b", "c"], Pet, float)
    ]
    assert names == snapshot(
        ["Page_Item", "list_Item", "dict_str_Item", "Literal_a_b_c", "Cat_Dog", "float"]
    )
    long = type("X" * 100, (BaseModel,), {"__annotations__": {"a": int}})
    name = OutputSpec.for_type(long).response_format["json_schema"]["name"]  # type: ignore[index]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name)


def test_specs_are_cached_per_type_and_strict():
    assert OutputSpec.for_type(list[Item]) is OutputSpec.for_type(list[Item])
    assert OutputSpec.for_type(Item) is not OutputSpec.for_type(Item, strict=False)
    unhashable = Annotated[int, {"not": "hashable"}]  # metadata a dict: still works, uncached
    assert OutputSpec.for_type(unhashable).validate('{"result": 3}') == 3


# --- every strict schema is one the API accepts ----------------------------------------------

ALL_TYPES: list[Any] = [
    Order, Node, Point, Movie, Item, Cat, list[Item], list[Node], int, float, bool, str | None,
    Literal["a", "b"], Color, int | str, Item | None, Pet, Page[Item], dict[str, int],
    tuple[int, str], Open,
]  # fmt: skip

_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref", "$defs",
    "enum", "const", "description", "pattern", "format", "multipleOf", "maximum", "minimum",
    "exclusiveMaximum", "exclusiveMinimum", "minItems", "maxItems",
}  # fmt: skip


def _request_format_validator() -> jsonschema.Draft202012Validator:
    request = json.loads((DATA / "CreateChatCompletionRequest.schema.json").read_text())
    ref = {"$ref": "#/$defs/ResponseFormatJsonSchema", "$defs": request["$defs"]}
    return jsonschema.Draft202012Validator(ref)


def _assert_strict(node: dict[str, Any], path: str = "$") -> None:
    """OpenAI's strict rules, checked independently of the code under test."""
    assert set(node) <= _STRICT_KEYWORDS, (path, set(node) - _STRICT_KEYWORDS)
    assert "$ref" not in node or len(node) == 1, path
    if node.get("type") == "object":
        assert node["additionalProperties"] is False, path
        assert node["required"] == list(node["properties"]), path
    for name, sub in node.get("properties", {}).items():
        _assert_strict(sub, f"{path}.{name}")
    for name, sub in node.get("$defs", {}).items():
        _assert_strict(sub, f"$defs.{name}")
    for i, sub in enumerate(node.get("anyOf", [])):
        _assert_strict(sub, f"{path}[{i}]")
    if "items" in node:
        _assert_strict(node["items"], f"{path}[]")


@pytest.mark.parametrize("output_type", ALL_TYPES, ids=repr)
def test_every_response_format_is_valid(output_type: Any):
    response_format = OutputSpec.for_type(output_type).response_format
    assert response_format is not None
    _request_format_validator().validate(response_format)
    schema = response_format["json_schema"]["schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"  # the API wants an object at the root
    if response_format["json_schema"]["strict"]:
        _assert_strict(schema)


# --- validation ----------------------------------------------------------------------------

ORDER = {
    "items": [{"title": "pen", "price": 1.5, "tags": None}],
    "color": None,
    "note": None,
    "gift": None,
    "main": {"title": "book", "price": 12, "tags": ["new"]},
    "code": None,
}


def test_strict_nulls_mean_defaults():
    order = OutputSpec.for_type(Order).validate(json.dumps(ORDER))
    assert order == Order(
        items=[Item(title="pen", price=1.5)], main=Item(title="book", price=12, tags=["new"])
    )
    assert order.color is Color.RED and order.code == "A"


def test_nulls_in_non_strict_mode_are_validated_as_sent():
    with pytest.raises(OutputError, match=r"- x: Input should be a valid integer"):
        OutputSpec.for_type(Point, strict=False).validate('{"x": null}')
    assert OutputSpec.for_type(Point).validate('{"x": 1, "label": null}') == Point(1)


def test_nulls_inside_unions_and_typed_dicts():
    assert OutputSpec.for_type(Pet).validate('{"result": {"kind": "cat", "lives": null}}') == Cat(
        kind="cat"
    )
    assert OutputSpec.for_type(Movie).validate('{"name": "Up", "year": null}') == {"name": "Up"}
    tree = OutputSpec.for_type(Node).validate(
        '{"value": 1, "children": [{"value": 2, "children": null}]}'
    )
    assert tree == Node(value=1, children=[Node(value=2)])


@pytest.mark.parametrize(
    "text",
    [
        '{"x": 3}',
        '  \n{"x": 3}\n ',
        '```json\n{"x": 3}\n```',
        '```\n{"x": 3}\n```',
        'Here it is:\n```json\n{"x": 3}\n```\nAnything else?',
        'Sure! {"x": 3} Hope that helps {:',
        '"{\\"x\\": 3}"',  # a JSON document sent as a JSON string
        '```json\n{"x": 3}',  # the closing fence cut off
    ],
)
def test_what_models_send_is_tolerated(text: str):
    assert OutputSpec.for_type(Point).validate(text) == Point(3)


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (int, '{"result": 42}', 42),
        (int, "42", 42),  # sent bare
        (bool, '```json\n{"result": true}\n```', True),
        (Literal["yes", "no"], '{"result": "no"}', "no"),
        (Color, '{"result": "blue"}', Color.BLUE),
        (int | str, '{"result": "x"}', "x"),
        (
            list[Item],
            '{"result": [{"title": "a", "price": 1, "tags": null}]}',
            [Item(title="a", price=1)],
        ),
        (list[Item], '[{"title": "a", "price": 1}]', [Item(title="a", price=1)]),
        (Item | None, '{"result": null}', None),
        (Pet, '{"kind": "dog"}', Dog(kind="dog")),  # a bare object that is a valid value
        (dict[str, int], '{"a": 1}', {"a": 1}),
    ],
)
def test_wrapped_values_are_unwrapped(output_type: Any, text: str, expected: Any):
    assert OutputSpec.for_type(output_type).validate(text) == expected


def test_field_errors_name_each_bad_field():
    bad = {**ORDER, "items": [{"title": "pen", "price": "cheap", "tags": None}, {"price": 1}]}
    with pytest.raises(OutputError) as info:
        OutputSpec.for_type(Order).validate(json.dumps(bad))
    assert info.value.message == snapshot("""\
Your answer did not match the required JSON schema:
- items.0.price: Input should be a valid number, unable to parse string as a number (got "cheap")
- items.1.title: Field required
Reply again with only valid JSON.\
""")
    assert str(info.value) == info.value.message


def test_wrapped_errors_point_into_result():
    with pytest.raises(OutputError) as info:
        OutputSpec.for_type(list[Item]).validate('{"result": [{"title": "a", "price": "x"}]}')
    assert info.value.message == snapshot("""\
Your answer did not match the required JSON schema:
- result.0.price: Input should be a valid number, unable to parse string as a number (got "x")
Reply again with only valid JSON.\
""")
    with pytest.raises(OutputError) as info:
        OutputSpec.for_type(int).validate('{"answer": 42}')
    assert info.value.message == snapshot("""\
Your answer did not match the required JSON schema:
- result: Field required
Reply again with only valid JSON of the form {"result": ...}.\
""")


def test_not_json_asks_for_json_and_shows_the_schema():
    with pytest.raises(OutputError) as info:
        OutputSpec.for_type(int).validate("The answer is forty-two.")
    assert info.value.message == snapshot(
        "Your answer is not valid JSON (Expecting value: line 1 column 1 (char 0)). "
        "Reply again with only a JSON object matching this JSON schema: "
        '{"type":"object","properties":{"result":{"type":"integer"}},"required":["result"],'
        '"additionalProperties":false}'
    )
    with pytest.raises(OutputError, match="^Your answer was empty. Reply again with only a JSON"):
        OutputSpec.for_type(int).validate("  ")


def test_error_list_is_capped():
    with pytest.raises(OutputError) as info:
        OutputSpec.for_type(list[int]).validate(json.dumps({"result": ["x"] * 30}))
    lines = info.value.message.splitlines()
    assert len(lines) == 1 + 20 + 1 + 1
    assert lines[-2] == "- ... and 10 more"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(st.text(), _json, min_size=1, max_size=4),
    st.text(alphabet=st.characters(exclude_characters='{[`"')),
    st.text(alphabet=st.characters(exclude_characters="`")),
)
def test_one_object_in_prose_is_found(value: dict[str, Any], before: str, after: str):
    spec = OutputSpec.for_type(dict[str, Any])
    assert spec.validate(f"{before} {json.dumps(value)} {after}") == value


class Event(BaseModel):
    when: datetime
    id: UUID
    link: AnyUrl
    ratio: float = Field(ge=0, le=1)
    mood: Literal["ok", None] = None


def test_formats_strict_mode_knows_are_kept_others_noted():
    assert OutputSpec.for_type(Event).response_format == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "Event",
                "schema": {
                    "properties": {
                        "when": {"format": "date-time", "type": "string"},
                        "id": {"format": "uuid", "type": "string"},
                        "link": {"type": "string", "description": '(format: "uri"; minLength: 1)'},
                        "ratio": {"maximum": 1, "minimum": 0, "type": "number"},
                        "mood": {"enum": ["ok", None]},
                    },
                    "required": ["when", "id", "link", "ratio", "mood"],
                    "type": "object",
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    )


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        ({"allOf": [{"type": "integer"}]}, True),
        ({"allOf": [{"type": "integer"}, {"minimum": 1}]}, False),
        ({"type": "array"}, False),
    ],
)
def test_hand_written_schemas(schema: dict[str, Any], strict: bool):
    spec = OutputSpec.for_type(Annotated[int, WithJsonSchema(schema)])
    assert spec.strict is strict
    assert spec.validate('{"result": 1}') == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"{not json"', "- (root): Input should be an object"),  # a string, not a document
        ('```json\n{bad}\n```\nor rather {"x": 3}', None),  # broken fence, then prose
    ],
)
def test_parse_fallbacks(text: str, expected: str | None):
    spec = OutputSpec.for_type(Point)
    if expected is None:
        assert spec.validate(text) == Point(3)
    else:
        with pytest.raises(OutputError, match=re.escape(expected)):
            spec.validate(text)
