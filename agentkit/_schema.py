"""Function signature + docstring -> args model + JSON Schema (normal and strict).

Built once per tool, at decoration: `FunctionSchema` holds the pydantic model that validates the
model's arguments, the JSON Schema sent to the server and the description. `JSONSchemaArgs` does
the same job for a hand-written schema, validated with ``jsonschema``. `strict_schema` rewrites
either schema for OpenAI's strict mode.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import sys
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

import docstring_parser
import pydantic_core
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUseDefault

from agentkit._quickcheck import quick_check
from agentkit._strict import (
    NotStrict,
    StrictRules,
    drop_non_json,
    drop_nulls,
    drop_titles,
    has_optional,
    nullable,
    to_strict,
)
from agentkit.context import RunContext
from agentkit.errors import ToolDefinitionError
from agentkit.types import JSONSchema

__all__ = ["ArgumentsError", "FunctionSchema", "JSONSchemaArgs", "strict_schema"]


class ArgumentsError(Exception):
    """The model's arguments are unusable; ``str(exc)`` is written for the model to read."""


# --- functions -> pydantic model -> JSON Schema ----------------------------------------------


@dataclass(frozen=True)
class _Binding:
    field: str  # the model's field name: safe for pydantic, never shown to the model
    param: str  # the Python parameter name, also the JSON property name (the field's alias)
    positional: bool  # positional-only parameters are passed by position


class FunctionSchema:
    """A function's parameters as a pydantic args model and a JSON Schema.

    Args:
        fn: The function (or any callable with a signature).
        skip_first: Drop the first parameter (``self``/``cls`` of a method, bound later).
    """

    def __init__(self, fn: Callable[..., Any], *, skip_first: bool = False) -> None:
        target = _target(fn)
        label = getattr(target, "__qualname__", None) or repr(fn)
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"cannot read the signature of {label}: {exc}") from exc
        try:
            hints = _hints(target)
        except Exception as exc:  # NameError, TypeError...: any annotation Python can't evaluate
            raise ToolDefinitionError(
                f"cannot resolve the type annotations of {label}: {type(exc).__name__}: {exc}"
            ) from exc
        doc = docstring_parser.parse(_docstring(fn, target))
        notes = {p.arg_name: p.description for p in doc.params if p.description}

        params = list(signature.parameters.values())[1 if skip_first else 0 :]
        # A partial's keywords stay in its signature as defaults; they are fixed by the caller
        # (often a user id the model must not choose), so the model neither sees nor sets them.
        fixed = partial_keywords(fn)
        params = [p for p in params if p.name not in fixed]
        self.ctx_param: _Binding | None = None
        """Where the RunContext goes, when the function asks for one."""
        ctx_index = 0
        bindings: list[_Binding] = []
        fields: dict[str, Any] = {}
        for param in params:
            hint = hints.get(param.name, Any)
            if param.kind is param.VAR_POSITIONAL or param.kind is param.VAR_KEYWORD:
                stars = "*" if param.kind is param.VAR_POSITIONAL else "**"
                raise ToolDefinitionError(
                    f"{label}: parameter {stars}{param.name} cannot be sent by the model; "
                    "list the parameters explicitly or wrap the function"
                )
            positional = param.kind is param.POSITIONAL_ONLY
            if _is_context(hint):
                self.ctx_param = _Binding("", param.name, positional)
                ctx_index = len(bindings)
                continue
            if positional and param.name.startswith("_"):
                raise ToolDefinitionError(
                    f"{label}: positional-only parameter {param.name!r} has no name the model "
                    "can send; wrap the function with named parameters"
                )
            field = f"p{len(bindings)}"  # `json`, `schema`, `_x` would clash with BaseModel
            bindings.append(_Binding(field, param.name, positional))
            fields[field] = _field(hint, param, notes.get(param.name))
        if self.ctx_param is not None:
            self._slots = (*bindings[:ctx_index], self.ctx_param, *bindings[ctx_index:])
        else:
            self._slots = tuple(bindings)
        self.bindings = tuple(bindings)
        """Model field -> Python parameter, in signature order."""
        self._names = frozenset(b.param for b in bindings)
        self.positional = any(b.positional for b in bindings) or bool(
            self.ctx_param and self.ctx_param.positional
        )
        self.description = _describe(doc)
        """The docstring's summary, long description, Returns and Raises, as one text."""
        self.model = _build_model(label, fields, bindings)
        """The pydantic model that validates the model's arguments."""
        self.parameters = _build_schema(label, self.model, fields, bindings)
        """The JSON Schema of the parameters (no titles; defaults recorded)."""
        # Strict mode makes optional fields of nested objects nullable: for the parameters that
        # have some, a null is dropped before validation so the nested default applies. Known
        # only once the schema exists, hence a second model (no cost to other tools).
        defs = self.parameters.get("$defs", {})
        nested = {
            b.field: prop
            for b in bindings
            if has_optional(prop := self.parameters["properties"][b.param], defs)
        }
        if nested:
            for field, prop in nested.items():
                hint, default = fields[field]
                drop = BeforeValidator(_null_dropper(prop, defs))
                fields[field] = (Annotated[hint, drop], default)
            self.model = _build_model(label, fields, bindings)

    def bind(self, arguments: str, ctx: RunContext[Any] | None) -> tuple[list[Any], dict[str, Any]]:
        """Validate the model's JSON arguments into call arguments.

        Raises:
            ArgumentsError: With a message listing each bad field and why.
        """
        try:
            values = self.model.model_validate_json(arguments or "{}").__dict__
        except ValidationError as exc:
            raise ArgumentsError(_format_errors(exc)) from None
        # A key the function doesn't take may be one the model misspelt, or one a partial
        # fixed: say so rather than drop it. (A second parse, ~1 us: the model ignores extras.)
        unknown = [k for k in pydantic_core.from_json(arguments or "{}") if k not in self._names]
        if unknown:
            raise ArgumentsError(_unknown_keys(unknown, self._names))
        if not self.positional:  # the common case, kept short: every parameter by keyword
            kwargs = {b.param: values[b.field] for b in self.bindings}
            if self.ctx_param is not None:
                kwargs[self.ctx_param.param] = ctx
            return [], kwargs
        args: list[Any] = []
        kwargs = {}
        for b in self._slots:  # the context keeps its place in the signature
            value = ctx if b is self.ctx_param else values[b.field]
            if b.positional:
                args.append(value)
            else:
                kwargs[b.param] = value
        return args, kwargs

    @functools.cached_property
    def strict_parameters(self) -> JSONSchema:
        """The parameters under OpenAI's strict rules (see `strict_schema`)."""
        return strict_schema(self.parameters)


def _target(fn: Callable[..., Any]) -> Any:
    """The object whose annotations and docstring describe ``fn``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return fn
    return type(fn).__call__  # a callable instance: its __call__ holds the annotations


def partial_keywords(fn: Callable[..., Any]) -> frozenset[str]:
    """The parameters bound by keyword in ``fn``'s chain of partials."""
    names: set[str] = set()
    while isinstance(fn, functools.partial):
        names.update(fn.keywords)
        fn = fn.func
    return frozenset(names)


def _hints(target: Any) -> dict[str, Any]:
    """The annotations of ``target``'s parameters.

    A class is called with its ``__init__``'s parameters, whose annotations win over the class's
    own (the fields of a dataclass or pydantic model; ``BaseModel.__init__`` takes ``**data``).
    """
    hints = typing.get_type_hints(target, include_extras=True)
    init = getattr(target, "__init__", None) if inspect.isclass(target) else None
    if inspect.isfunction(init):
        hints.update(typing.get_type_hints(init, include_extras=True))
    return hints


def _docstring(fn: Any, target: Any) -> str:
    plain = inspect.isroutine(fn) or inspect.isclass(fn) or isinstance(fn, functools.partial)
    if not plain:  # a callable object: its own docs, not the inherited object.__call__'s
        return inspect.cleandoc(target.__doc__ or type(fn).__doc__ or "")
    return inspect.getdoc(target) or ""


def _is_context(hint: Any) -> bool:
    return hint is RunContext or get_origin(hint) is RunContext


def _field(hint: Any, param: inspect.Parameter, note: str | None) -> tuple[Any, Any]:
    """The (type, default) pair of one parameter, for `create_model`."""
    base, user_meta = hint, ()
    if get_origin(hint) is Annotated:
        base, user_meta = get_args(hint)[0], hint.__metadata__
    base = _compat(base)
    # Ours first: the user's own `Annotated[..., Field(description=...)]` comes later and wins,
    # and so does a `Field(...)` given as the default.
    mine = Field(alias=param.name, description=note) if note else Field(alias=param.name)
    meta: list[Any] = [mine, *user_meta]
    default = param.default
    if default is param.empty or (isinstance(default, FieldInfo) and default.is_required()):
        default = ... if default is param.empty else default
    elif not _admits_none(base):
        # Strict mode sends a defaulted parameter as required-but-nullable: null means "default"
        # (also when the default is None but the type is not: `x: int = None`).
        # Last, so it runs first (and a Field after a validator would lose its constraints).
        meta.append(BeforeValidator(_none_means_default))
    return Annotated[(base, *meta)], default


def _none_means_default(value: Any) -> Any:
    if value is None:
        raise PydanticUseDefault()
    return value


def _null_dropper(node: JSONSchema, defs: JSONSchema) -> Callable[[Any], Any]:
    """A before-validator: the nulls strict mode sent for optional nested fields, left out."""

    def drop(value: Any) -> Any:
        drop_nulls(value, node, defs)  # a fresh object parsed from the JSON: safe to edit
        return value

    return drop


def _admits_none(hint: Any) -> bool:
    if hint is Any or hint is None or hint is type(None) or hint is object:
        return True
    origin = get_origin(hint)
    if origin is Annotated:
        return _admits_none(get_args(hint)[0])
    if origin is Union or origin is types.UnionType:
        return any(_admits_none(arg) for arg in get_args(hint))
    if origin is Literal:
        return None in get_args(hint)
    return False


def _compat(hint: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """Rebuild ``typing.TypedDict`` (refused by pydantic before 3.12) from typing_extensions."""
    if sys.version_info >= (3, 12):  # pragma: no cover - the project runs 3.11 in CI
        return hint
    if typing.is_typeddict(hint) and type(hint).__module__ == "typing":
        if id(hint) in _seen:  # recursive: left as is, pydantic then explains the problem
            return hint
        import typing_extensions  # pydantic's own dependency, needed only here

        keys = {}
        for key, sub in typing.get_type_hints(hint, include_extras=True).items():
            # Not __required_keys__: on 3.11 it is wrong for string (PEP 563) annotations.
            required = hint.__total__
            while get_origin(sub) in (Required, NotRequired):
                required = get_origin(sub) is Required
                sub = get_args(sub)[0]
            wrap = Required if required else NotRequired
            keys[key] = wrap[_compat(sub, _seen | {id(hint)})]
        rebuilt = typing_extensions.TypedDict(hint.__name__, keys)  # type: ignore[misc]
        rebuilt.__doc__ = hint.__doc__
        return rebuilt
    origin, args = get_origin(hint), get_args(hint)
    if origin is None or origin is Literal or origin is collections.abc.Callable or not args:
        return hint
    if origin is Annotated:
        return Annotated[(_compat(args[0], _seen), *hint.__metadata__)]
    new = tuple(a if a is Ellipsis else _compat(a, _seen) for a in args)
    if all(n is a for n, a in zip(new, args, strict=True)):
        return hint
    if origin is Union or origin is types.UnionType:
        return Union[new]  # noqa: UP007 - built from a tuple, `|` can't spell it
    return hint.copy_with(new) if hasattr(hint, "copy_with") else origin[new]


def _describe(doc: docstring_parser.Docstring) -> str:
    """Summary and long description, then Returns and Raises: models use both (users ask)."""
    parts = [(doc.description or "").strip()]  # the parser keeps a trailing newline
    if doc.returns and doc.returns.description:
        parts.append(f"Returns: {doc.returns.description.strip()}")
    for raises in doc.raises:
        what = raises.type_name or "error"
        parts.append(
            f"Raises {what}: {raises.description.strip()}"
            if raises.description
            else f"Raises {what}."
        )
    return "\n\n".join(p for p in parts if p)


def _build_model(label: str, fields: dict[str, Any], bindings: list[_Binding]) -> type[BaseModel]:
    name = label.replace(".", "_").replace("<", "").replace(">", "") + "_args"
    try:
        # extra="ignore", not "forbid": forbid would reach nested TypedDicts and dataclasses
        # (they inherit it) and the schema; `bind` reports unknown top-level keys itself.
        return create_model(name, __config__=ConfigDict(extra="ignore"), **fields)
    except Exception as exc:
        raise _culprit(label, fields, bindings, exc) from exc


def _build_schema(
    label: str, model: type[BaseModel], fields: dict[str, Any], bindings: list[_Binding]
) -> JSONSchema:
    try:
        schema = model.model_json_schema()
    except Exception as exc:
        raise _culprit(label, fields, bindings, exc) from exc
    drop_titles(schema)
    drop_non_json(schema)  # `x: float = inf` would make every request body invalid JSON
    schema.setdefault("properties", {})  # OpenAI wants an object schema even without params
    return schema


def _culprit(
    label: str, fields: dict[str, Any], bindings: list[_Binding], exc: Exception
) -> ToolDefinitionError:
    """Find the parameter pydantic choked on, to name it in the error."""
    for binding in bindings:
        hint, default = fields[binding.field]
        try:
            create_model("probe", x=(hint, default)).model_json_schema()
        except Exception as inner:
            shown = get_args(hint)[0]  # without the Annotated wrapper we added
            why = str(inner).splitlines()[0]  # pydantic's first line; the rest is a URL
            return ToolDefinitionError(
                f"{label}: parameter {binding.param!r} has a type that cannot become a JSON "
                f"Schema ({shown!r}): {why}"
            )
    return ToolDefinitionError(f"{label}: cannot build the parameters schema: {exc}")


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            if "recursion limit" in error["msg"]:
                return "the arguments are nested too deeply; send a flatter JSON object"
            return f"the arguments are not valid JSON ({error['msg']}); send one JSON object"
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        got = "" if error["type"] == "missing" else f" (got {_short(error['input'])})"
        lines.append(f"- {where}: {error['msg']}{got}")
    return "invalid arguments:\n" + "\n".join(lines)


def _unknown_keys(keys: Iterable[str], parameters: Iterable[str]) -> str:
    known = ", ".join(sorted(parameters)) or "none"
    lines = [f"- {key}: not a parameter of this tool (its parameters: {known})" for key in keys]
    return "invalid arguments:\n" + "\n".join(lines)


def _keywords_taken(fn: Callable[..., Any]) -> frozenset[str] | None:
    """The names ``fn`` accepts as keywords; None when any will do (``**kwargs``) or unknown."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins: let the call itself decide
        return None
    names = set()
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            return None
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            names.add(param.name)
    return frozenset(names)


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


# --- hand-written schemas --------------------------------------------------------------------


class JSONSchemaArgs:
    """Arguments described by a hand-written JSON Schema, validated with ``jsonschema``.

    Args:
        parameters: The JSON Schema of the arguments object.
        label: Used in errors (the tool's name).
        fn: The function the arguments are for: a key it can't take is refused (unless it
            takes ``**kwargs``).
        hidden: Parameters of ``fn`` the model must never set (a partial's keywords, the run
            context): refused as arguments, and refused in the schema.
    """

    def __init__(
        self,
        parameters: JSONSchema,
        *,
        label: str,
        fn: Callable[..., Any] | None = None,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        # Imported here: jsonschema costs ~40 ms at import and only hand-written schemas use it.
        import jsonschema

        validator_class = jsonschema.validators.validator_for(
            parameters, default=jsonschema.Draft202012Validator
        )
        try:
            validator_class.check_schema(parameters)
        except jsonschema.SchemaError as exc:
            raise ToolDefinitionError(f"{label}: invalid parameters schema: {exc.message}") from exc
        if parameters.get("type") != "object":
            raise ToolDefinitionError(f"{label}: the parameters schema must have type 'object'")
        try:  # it goes into every request body: fail here, not with a 400 on each request
            json.dumps(parameters, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"{label}: the parameters schema is not JSON: {exc}") from exc
        self.parameters = parameters
        """The schema as given."""
        self.validator = validator_class(parameters)
        """The compiled validator (built once)."""
        self._quick = quick_check(parameters)
        required = set(parameters.get("required", ()))
        props = parameters.get("properties", {})
        defs = parameters.get("$defs", {})
        self.optional = frozenset(props) - required
        """Properties the model may leave out."""
        # Strict mode makes these nullable, so their null means "left out". A property the
        # schema itself lets be null keeps its null: it means something to the tool ("clear").
        self._null_means_absent = frozenset(
            k for k in self.optional if isinstance(props[k], dict) and not nullable(props[k], defs)
        )
        self._nested = any(has_optional(p, defs) for p in props.values() if isinstance(p, dict))
        self._properties = frozenset(props)
        self._hidden = hidden
        self._accepted = _keywords_taken(fn) if fn is not None else None
        if hidden & self._properties:
            names = ", ".join(sorted(hidden & self._properties))
            raise ToolDefinitionError(
                f"{label}: the schema lists {names}, which the function's caller fixes "
                "(a functools.partial keyword or the RunContext): the model can't set it"
            )
        if self._accepted is not None and not self._properties <= self._accepted:
            names = ", ".join(sorted(self._properties - self._accepted))
            raise ToolDefinitionError(
                f"{label}: the schema lists {names}, which the function does not take"
            )

    def bind(self, arguments: str, *, strict: bool = False) -> dict[str, Any]:
        """Parse and validate the model's JSON arguments.

        Args:
            arguments: The ``arguments`` string of the model's tool call.
            strict: The tool was sent in strict mode, whose schema allows no other keys.

        Raises:
            ArgumentsError: With a message listing each bad field and why.
        """
        try:
            return self._bind(arguments, strict)
        except RecursionError:  # json and jsonschema recurse once per level of nesting
            raise ArgumentsError(
                "the arguments are nested too deeply; send a flatter JSON object"
            ) from None

    def _bind(self, arguments: str, strict: bool) -> dict[str, Any]:
        try:
            values = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ArgumentsError(
                f"the arguments are not valid JSON ({exc}); send one JSON object"
            ) from None
        if isinstance(values, dict):  # strict mode's null means "left out"
            absent = self._null_means_absent
            values = {k: v for k, v in values.items() if v is not None or k not in absent}
            if self._nested:  # and so it does in nested objects
                drop_nulls(values, self.parameters, self.parameters.get("$defs", {}))
        if self._quick is None or not self._quick(values):  # the full validator, and its words
            errors = sorted(self.validator.iter_errors(values), key=lambda e: list(e.path))
            if errors:
                lines = [
                    f"- {'.'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors
                ]
                raise ArgumentsError("invalid arguments:\n" + "\n".join(lines))
        unknown = [
            key
            for key in values
            if key not in self._properties
            and (strict or key in self._hidden or not self._takes(key))
        ]
        if unknown:
            raise ArgumentsError(_unknown_keys(unknown, self._properties))
        return values  # type: ignore[no-any-return]

    def _takes(self, key: str) -> bool:
        return self._accepted is None or key in self._accepted

    @functools.cached_property
    def strict_parameters(self) -> JSONSchema:
        """The parameters under OpenAI's strict rules (see `strict_schema`)."""
        return strict_schema(self.parameters)


# --- strict mode -----------------------------------------------------------------------------

# Keywords strict mode lacks are removed (the validator still enforces them on our side); a
# tool fails at definition only for what it cannot express at all (see `strict_schema`).
_RULES = StrictRules(
    noted=frozenset({"default", "minLength", "maxLength", "uniqueItems", "format"}),
    rejected=frozenset({"prefixItems", "patternProperties"}),
    # An optional property (a defaulted parameter, a nested field with a default or NotRequired)
    # becomes nullable; `bind` turns the model's null back into "left out", so the default applies.
    optional_nullable=("description", "default"),
    lenient=True,  # hand-written schemas may use `#/definitions/...` and untyped arrays
)


def strict_schema(parameters: JSONSchema) -> JSONSchema:
    """Rewrite a parameters schema for OpenAI strict mode (structured outputs rules).

    Every object gets ``additionalProperties: false`` and lists every property as required.
    Properties that were optional (parameters with a default, nested fields with a default or
    ``NotRequired``) become nullable: null means "use the default". Unsupported keywords are
    removed; those that constrain values are kept as text in the description so the model
    still sees them (the validator enforces them on our side).

    Raises:
        ToolDefinitionError: A construct strict mode cannot express: open-ended objects
            (``dict[str, X]``, ``Any``), fixed-length tuples.
    """
    try:
        return to_strict(parameters, _RULES, "parameters")
    except NotStrict as exc:
        raise ToolDefinitionError(_explain(exc)) from None


def _explain(exc: NotStrict) -> str:
    if exc.problem == "keyword" and exc.detail == "prefixItems":
        return (
            f"strict mode cannot express a fixed-length tuple at {exc.path}; use a list or a model"
        )
    if exc.problem == "any":
        return (
            f"strict mode cannot express an open-ended value (Any or no annotation) at "
            f"{exc.path}; give it a concrete type, or turn strict off for this tool"
        )
    # "object", or "patternProperties": dict[str, X] with constrained keys
    return (
        f"strict mode cannot express an open-ended object (dict[str, ...]) at {exc.path}; "
        "use a model with named fields, or turn strict off for this tool"
    )
