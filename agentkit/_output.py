"""output_type -> response_format, and validation of the final answer against it.

`OutputSpec.for_type` builds, once per type, the ``response_format`` sent with every request (a
JSON Schema from pydantic, rewritten to OpenAI's strict form when the type allows it) and the
validator that turns the final message's text into a value of that type. A bad answer raises
`OutputError`, whose message is written for the model to read and correct.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin, overload

from pydantic import TypeAdapter, ValidationError

from agentkit._strict import NotStrict, StrictRules, drop_nulls, drop_titles, resolve, to_strict
from agentkit.errors import InvalidRequestError
from agentkit.types import JSONSchema

__all__ = ["OutputError", "OutputSpec"]

T = TypeVar("T")

logger = logging.getLogger("agentkit")

_MAX_ERRORS = 20  # beyond this the model learns nothing new, and the retry costs tokens


class OutputError(Exception):
    """The final answer does not match the output type; ``message`` is written for the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        """What was wrong, field by field, and how to answer instead."""


class OutputSpec(Generic[T]):
    """How to ask for an ``output_type`` and how to check the answer.

    Build it with `for_type` (cached per type). ``str`` is plain text: no ``response_format``,
    and the answer is returned as is. Anything pydantic can validate is structured: the JSON
    Schema goes out as ``response_format`` and the answer is parsed and validated. A type whose
    schema is not an object (``list[X]``, ``int``, unions...) is wrapped as
    ``{"result": <value>}``, because the API requires an object at the root.

    Args:
        output_type: The type of the final answer.
        strict: ``True`` or ``False`` forces strict structured outputs on or off; ``None`` uses
            strict mode when the schema can be expressed in it.

    Raises:
        InvalidRequestError: The type has no JSON Schema, or ``strict=True`` was asked for a
            schema strict mode cannot express (such as ``dict[str, X]``).
    """

    def __init__(self, output_type: Any, *, strict: bool | None = None) -> None:
        self.output_type = output_type
        """The type the final answer is validated into."""
        self.is_text = output_type is str
        """True for ``str``: no ``response_format``; the answer is the message text."""
        self.response_format: dict[str, Any] | None = None
        """``{"type": "json_schema", "json_schema": {...}}`` to send, or None for text."""
        self.strict = False
        """Whether the schema is sent with ``strict: true``."""
        self.wrapped = False
        """Whether the value travels as ``{"result": <value>}``."""
        if self.is_text:
            return
        name = _schema_name(output_type)
        try:
            self._adapter: TypeAdapter[T] = TypeAdapter(output_type)
            schema = self._adapter.json_schema()
        except Exception as exc:  # PydanticSchemaGenerationError, PydanticUserError, ...
            raise InvalidRequestError(
                f"output_type {name} cannot be turned into a JSON Schema: {exc}"
            ) from exc
        schema, self.wrapped = _object_root(drop_titles(schema))
        self._schema = schema  # the loose form: which properties really are optional
        sent = schema
        if strict is not False:
            try:
                sent = to_strict(schema, _RULES, "$")
                self.strict = True
            except NotStrict as exc:
                if strict:
                    raise InvalidRequestError(
                        f"output_type {name} cannot use strict structured outputs: {exc}; "
                        "change the type or pass strict=False"
                    ) from None
                logger.debug("output_type %s is sent without strict mode: %s", name, exc)
        self.response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": sent, "strict": self.strict},
        }

    @overload
    @classmethod
    def for_type(cls, output_type: type[T], *, strict: bool | None = None) -> OutputSpec[T]: ...
    @overload
    @classmethod
    def for_type(cls, output_type: Any, *, strict: bool | None = None) -> OutputSpec[Any]: ...
    @classmethod
    def for_type(cls, output_type: Any, *, strict: bool | None = None) -> OutputSpec[Any]:
        """The spec of ``output_type``, built once per type and ``strict`` value.

        Args:
            output_type: The type of the final answer (``str`` for plain text).
            strict: Force strict structured outputs on or off; ``None`` decides from the schema.

        Returns:
            A shared, read-only `OutputSpec`.

        Raises:
            InvalidRequestError: As for the constructor.
        """
        try:
            hash((output_type, strict))
        except TypeError:  # Annotated metadata can be unhashable: build it each time
            return _cached.__wrapped__(output_type, strict)
        return _cached(output_type, strict)

    def validate(self, text: str | None) -> T:
        """Parse and validate the model's final answer.

        Whitespace, a fenced code block, text around a single JSON object and a JSON document
        sent as a JSON string are all tolerated, since models send each of them.

        Args:
            text: The content of the final assistant message.

        Returns:
            The validated value (the text itself for ``str``).

        Raises:
            OutputError: The answer is not JSON or does not match the schema.
        """
        if self.is_text:
            return text or ""  # type: ignore[return-value]
        if not text or not text.strip():
            raise OutputError(f"Your answer was empty. {self._how_to_reply()}")
        try:
            return self._validate(text)
        except RecursionError:  # json and our walks recurse once per level of nesting
            raise OutputError(
                f"Your answer is nested too deeply to read. {self._how_to_reply()}"
            ) from None

    def _validate(self, text: str) -> T:
        try:
            value = _parse_json(text)
        except ValueError as exc:
            raise OutputError(
                f"Your answer is not valid JSON ({exc}). {self._how_to_reply()}"
            ) from None
        prefix: tuple[str | int, ...] = ()
        if self.wrapped:
            prefix = ("result",)
            if isinstance(value, dict) and "result" in value:
                value = value["result"]
            elif isinstance(value, dict) and not self._accepts(value):
                raise OutputError(
                    "Your answer did not match the required JSON schema:\n"
                    "- result: Field required\n"
                    'Reply again with only valid JSON of the form {"result": ...}.'
                )
            # else: the value was sent bare (`42` for `{"result": 42}`); judge it as the result
        if self.strict:
            _drop_strict_nulls(value, self._schema, self._schema.get("$defs", {}), prefix)
        try:
            return self._adapter.validate_json(json.dumps(value))
        except ValidationError as exc:
            raise OutputError(_describe_errors(exc, prefix)) from None

    def _accepts(self, value: Any) -> bool:
        try:
            self._adapter.validate_json(json.dumps(value))
        except ValidationError:
            return False
        return True

    def _how_to_reply(self) -> str:
        assert self.response_format is not None
        schema = json.dumps(self.response_format["json_schema"]["schema"], separators=(",", ":"))
        return f"Reply again with only a JSON object matching this JSON schema: {schema}"


@functools.lru_cache(maxsize=512)
def _cached(output_type: Any, strict: bool | None) -> OutputSpec[Any]:
    return OutputSpec(output_type, strict=strict)


# --- schema --------------------------------------------------------------------------------


def _schema_name(output_type: Any) -> str:
    """A ``json_schema.name`` (``^[a-zA-Z0-9_-]{1,64}$``) that says what the type is."""
    if get_origin(output_type) is Annotated:
        output_type = get_args(output_type)[0]
    if isinstance(output_type, type) and not get_args(output_type):
        text = output_type.__name__  # also `Page[Item]` for pydantic generic models
    else:
        text = re.sub(r"\b[\w]+\.", "", repr(output_type))  # `list[app.models.Item]`: drop modules
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", text).strip("_")[:64] or "output"


def _object_root(schema: JSONSchema) -> tuple[JSONSchema, bool]:
    """Make the root an object schema, wrapping anything else as ``{"result": ...}``."""
    defs = schema.pop("$defs", None)
    ref = schema.get("$ref")
    if defs and set(schema) == {"$ref"} and isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = copy.deepcopy(defs[ref.removeprefix("#/$defs/")])  # a recursive model
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {
            "type": "object",
            "properties": {"result": schema},
            "required": ["result"],
            "additionalProperties": False,
        }
    if defs:
        schema["$defs"] = defs
    return schema, wrapped


# --- strict mode ---------------------------------------------------------------------------

# Removed constraints are restated in the description so the model still sees them, and our
# validator still enforces them (a violation comes back to the model as an OutputError).
# Keywords strict mode cannot express make the spec fall back to non-strict instead.
_NOTED = frozenset(
    {"default", "minLength", "maxLength", "uniqueItems", "format", "examples", "minProperties",
     "maxProperties"}
)  # fmt: skip
_BEYOND_STRICT = frozenset(
    {"allOf", "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "contains",
     "propertyNames", "unevaluatedProperties", "unevaluatedItems", "patternProperties",
     "prefixItems"}
)  # fmt: skip
_RULES = StrictRules(
    noted=_NOTED,
    rejected=_BEYOND_STRICT,
    # A property that was optional becomes nullable, and `_drop_strict_nulls` turns the model's
    # null back into "left out" before validation, so pydantic applies the default.
    optional_nullable=("description", "default", "examples"),
)


def _drop_strict_nulls(value: Any, node: JSONSchema, defs: JSONSchema, at: tuple[Any, ...]) -> None:
    """Remove the nulls strict mode made the model send for optional properties, in place.

    ``node`` is the loose schema (before `to_strict`); ``at`` says where ``value`` sits in it.
    """
    for part in at:  # only ever ("result",): step from the wrapper to the wrapped value
        node = resolve(node, defs).get("properties", {}).get(part, {})
    drop_nulls(value, node, defs)


# --- parsing the answer --------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\r?\n?(.*?)(?:```|$)", re.DOTALL)
_DECODER = json.JSONDecoder()


def _parse_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, a fenced block, or one object inside prose.

    Raises:
        ValueError: No JSON value found; the message is the first decoding error.
    """
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        first = exc
    else:
        if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
            try:  # a JSON document sent as a JSON string
                return json.loads(value)
            except ValueError:
                pass
        return value
    fence = _FENCE.search(text)
    if fence:
        try:
            return json.loads(fence.group(1))
        except ValueError:
            pass
    # Prose around one object ("Here you go: {...} Hope it helps"): decode from the first `{`
    # that starts a valid document, ignoring what follows it.
    for match in re.finditer(r"[{\[]", text):
        try:
            return _DECODER.raw_decode(text, match.start())[0]
        except ValueError:
            continue
    raise ValueError(str(first))


def _describe_errors(exc: ValidationError, prefix: tuple[str | int, ...]) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_ERRORS]:
        where = ".".join(str(part) for part in (*prefix, *error["loc"])) or "(root)"
        got = "" if error["type"] == "missing" else f" (got {_short(error['input'])})"
        lines.append(f"- {where}: {error['msg']}{got}")
    if len(errors) > _MAX_ERRORS:
        lines.append(f"- ... and {len(errors) - _MAX_ERRORS} more")
    return (
        "Your answer did not match the required JSON schema:\n"
        + "\n".join(lines)
        + "\nReply again with only valid JSON."
    )


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."
