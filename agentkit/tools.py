"""Tool and @tool: a Python function the model can call, with its schema and ``invoke()``.

Example:
    ```python
    @tool
    def get_weather(city: str, days: int = 1) -> str:
        # a Google-style docstring here describes the tool and each parameter
        return f"sunny in {city} for {days} days"

    get_weather("Paris")                           # still the function
    get_weather.definition()                       # {"type": "function", "function": {...}}
    await get_weather.invoke('{"city": "Paris"}')  # ToolResult(content="sunny in Paris ...")
    ```
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypedDict, TypeVar, Unpack, overload

import anyio
import pydantic_core

from agentkit import _threads
from agentkit._schema import ArgumentsError, FunctionSchema, JSONSchemaArgs, partial_keywords
from agentkit.context import RunContext
from agentkit.errors import ModelRetry, ToolDefinitionError
from agentkit.types import FunctionDefinition, JSONSchema, ToolDefinition

__all__ = ["Tool", "ToolResult", "check_unique", "tool"]

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
T = TypeVar("T")

logger = logging.getLogger("agentkit")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the API's rule for function names


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """The outcome of one tool call, ready to become a tool message."""

    content: str
    """What the model reads: the result as text or JSON, or an error it can act on."""
    is_error: bool = False
    """True when the call failed (bad arguments, ModelRetry, an exception, a timeout)."""
    value: Any = None
    """The function's raw return value (None on error)."""
    error_type: str | None = None
    """On error: ``"ArgumentsError"``, ``"ModelRetry"``, ``"TimeoutError"``,
    ``"SerializationError"`` or the name of the exception the tool (or a validator of its
    arguments) raised."""


class _ToolOptions(TypedDict, total=False):
    """The options `Tool.from_function` and `tool` pass on to `Tool` (documented there)."""

    name: str | None
    description: str | None
    strict: bool | None
    inline: bool
    requires_approval: bool
    timeout: float | None
    max_result_chars: int | None


class Tool(Generic[P, R]):
    """A function the model can call: its name, description, JSON Schema and ``invoke()``.

    Build one with `@tool`, `Tool.from_function` or `Tool.from_schema`. It stays callable like
    the function it wraps. Schemas are built once, here; invalid definitions raise here.

    Args:
        fn: The function (sync or async), method, ``functools.partial`` or callable object.
        name: The name the model sees; defaults to the function's ``__name__``.
        description: Overrides the description taken from the docstring.
        strict: OpenAI strict mode for this tool; None follows the agent (off by default).
        inline: Run a sync function on the event loop instead of a worker thread (for tiny,
            CPU-only functions: it must not block).
        requires_approval: The agent asks the user's approval callback before each call.
        timeout: Seconds before a call is abandoned and reported to the model as an error.
        max_result_chars: Truncate longer results, with a visible marker.
        parameters: A hand-written JSON Schema for the arguments (see `Tool.from_schema`).

    Raises:
        ToolDefinitionError: The function, a parameter or a type cannot become a tool.
    """

    # Set by functools.update_wrapper, declared so type checkers know them.
    __name__: str
    __wrapped__: Callable[..., Any]

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool | None = None,
        inline: bool = False,
        requires_approval: bool = False,
        timeout: float | None = None,
        max_result_chars: int | None = None,
        parameters: JSONSchema | None = None,
    ) -> None:
        self._binds: str | None = None  # "instance" or "class": bound at attribute access
        func: Any = fn
        if isinstance(func, staticmethod | classmethod):
            self._binds = "class" if isinstance(func, classmethod) else None
            func = func.__func__
        elif _method_of(func):
            self._binds = "instance"
        self._fn: Callable[..., Any] = func
        self.name = name if name is not None else _default_name(func)
        """The name the model calls the tool by."""
        if not _NAME.fullmatch(self.name):
            raise ToolDefinitionError(
                f"invalid tool name {self.name!r}: use 1-64 letters, digits, '_' or '-' "
                "(pass name=...)"
            )
        for option, value in (("timeout", timeout), ("max_result_chars", max_result_chars)):
            if value is not None and value <= 0:
                raise ToolDefinitionError(f"tool {self.name!r}: {option} must be > 0, not {value}")
        self._is_async = _is_async(func)
        if inline and timeout is not None and not self._is_async:
            raise ToolDefinitionError(
                f"tool {self.name!r}: an inline sync tool never yields, so a timeout cannot stop it"
            )
        self._schema: FunctionSchema | JSONSchemaArgs
        self._ctx_name: str | None = None
        if parameters is None:
            self._schema = FunctionSchema(func, skip_first=self._binds is not None)
            docs = self._schema.description
        else:
            self._ctx_name = _context_parameter(func)
            hidden = partial_keywords(func)  # the model must never set these
            if self._ctx_name is not None:
                hidden |= {self._ctx_name}
            self._schema = JSONSchemaArgs(
                parameters, label=f"tool {self.name!r}", fn=func, hidden=hidden
            )
            docs = (inspect.getdoc(func) or "").strip() if inspect.isroutine(func) else ""
        self._needs_ctx = self._ctx_name is not None or (
            isinstance(self._schema, FunctionSchema) and self._schema.ctx_param is not None
        )
        self.description = description if description is not None else docs
        """What the model reads about the tool (docstring summary, Returns, Raises)."""
        self.parameters: JSONSchema = self._schema.parameters
        """The JSON Schema object of the arguments."""
        self.strict = strict
        """Strict mode as declared on the tool; None when left to the agent."""
        self.inline = inline
        """Sync function run on the event loop, without a thread hop."""
        self.requires_approval = requires_approval
        """The agent asks the user's approve callback before running the tool."""
        self.timeout = timeout
        """Seconds before a call is abandoned (None: no limit)."""
        self.max_result_chars = max_result_chars
        """Results longer than this are truncated with a marker (None: no limit)."""
        self._definitions: dict[bool, ToolDefinition] = {}
        if strict:
            self.definition(True)  # a schema strict mode can't express fails at decoration
        functools.update_wrapper(self, func, updated=())

    @classmethod
    def from_function(cls, fn: Callable[P, R], **options: Unpack[_ToolOptions]) -> Tool[P, R]:
        """Wrap a function you don't own (``Tool.from_function(shutil.disk_usage)``).

        Args:
            fn: The function; it is not modified.
            **options: As for `Tool`: ``name``, ``description``, ``strict``, ``inline``,
                ``requires_approval``, ``timeout``, ``max_result_chars``.

        Returns:
            The tool.

        Raises:
            ToolDefinitionError: ``fn`` cannot become a tool, or is a method taken from its
                class (``Store.lookup``): pass it bound to an instance (``store.lookup``).
        """
        if _method_of(fn) == "self":  # `@tool` in a class body binds at access; this never will
            raise ToolDefinitionError(_unbound_message(fn, "instance"))
        return cls(fn, **options)

    @classmethod
    def from_schema(
        cls,
        fn: Callable[..., Any],
        parameters: JSONSchema,
        *,
        name: str,
        description: str = "",
        strict: bool | None = None,
        requires_approval: bool = False,
        timeout: float | None = None,
        max_result_chars: int | None = None,
    ) -> Tool[..., Any]:
        """A tool from a hand-written JSON Schema and a callable (remote or dynamic tools).

        Arguments are validated with ``jsonschema`` and passed to ``fn`` as keyword
        arguments (plus the run context, if ``fn`` declares a ``RunContext`` parameter).

        Args:
            fn: Called as ``fn(**arguments)``; sync or async.
            parameters: The JSON Schema of the arguments (``type: object``).
            name: The tool name.
            description: What the model reads about the tool.
            strict: Strict mode for this tool; None follows the agent.
            requires_approval: Ask for approval before each call.
            timeout: Seconds before a call is abandoned.
            max_result_chars: Truncate longer results.

        Returns:
            The tool.
        """
        return cls(
            fn,
            name=name,
            description=description,
            strict=strict,
            requires_approval=requires_approval,
            timeout=timeout,
            max_result_chars=max_result_chars,
            parameters=parameters,
        )

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the wrapped function directly, as if it were not a tool."""
        return self._fn(*args, **kwargs)  # type: ignore[no-any-return]

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Tool[P, R]: ...
    @overload
    def __get__(
        self: Tool[Concatenate[T, P2], R], instance: T, owner: type[Any]
    ) -> Tool[P2, R]: ...
    def __get__(self, instance: Any, owner: type[Any]) -> Tool[Any, R]:
        """Bind a method tool to its instance (or class): ``self`` never reaches the schema."""
        if self._binds is None or (instance is None and self._binds == "instance"):
            return self
        bound = copy.copy(self)  # shares the schema and the cached definitions
        bound._fn = types.MethodType(self._fn, owner if self._binds == "class" else instance)
        bound._binds = None
        return bound

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"

    def definition(self, strict: bool | None = None) -> ToolDefinition:
        """The OpenAI tool definition (``{"type": "function", "function": {...}}``), cached.

        Args:
            strict: Produce the strict-mode definition; None uses the tool's own ``strict``.
                An agent passes ``tool.strict if tool.strict is not None else agent_strict``.

        Returns:
            The definition; shared between calls, so don't mutate it.

        Raises:
            ToolDefinitionError: ``strict`` is requested and the schema can't be made strict.
        """
        use = bool(self.strict) if strict is None else strict
        cached = self._definitions.get(use)
        if cached is not None:
            return cached
        function: FunctionDefinition = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        if use:
            try:
                function["parameters"] = self._schema.strict_parameters
            except ToolDefinitionError as exc:
                raise ToolDefinitionError(f"tool {self.name!r}: {exc}") from exc
            function["strict"] = True
        definition: ToolDefinition = {"type": "function", "function": function}
        self._definitions[use] = definition
        return definition

    async def invoke(
        self,
        arguments: str,
        ctx: RunContext[Any] | None = None,
        *,
        limiter: anyio.CapacityLimiter | None = None,
        strict: bool | None = None,
    ) -> ToolResult:
        """Call the tool with the model's JSON arguments; never raises (but cancellation).

        An argument the function does not take is an error the model reads, naming it
        (a hand-written schema's function may take ``**kwargs`` to accept any).

        Args:
            arguments: The ``arguments`` string of the model's tool call.
            ctx: The run context, given to a parameter typed ``RunContext``.
            limiter: Bounds the worker threads of sync tools; None uses anyio's default
                limiter (40 threads).
            strict: The tool was sent in strict mode (None: the tool's own ``strict``), so
                no key outside its schema's properties is accepted.

        Returns:
            The result; ``is_error`` tells whether the call failed.
        """
        if self._binds is not None:  # a method tool read from its class: no `self` to call with
            content = f"error: {_unbound_message(self._fn, self._binds)}"
            return ToolResult(content=content, is_error=True, error_type="ToolDefinitionError")
        try:
            strict = bool(self.strict) if strict is None else strict
            args, kwargs = self._bind(arguments, ctx, strict)
        except ArgumentsError as exc:
            return ToolResult(content=f"error: {exc}", is_error=True, error_type="ArgumentsError")
        except Exception as exc:  # a validator in the user's types raising other than
            # ValueError/AssertionError (pydantic reports those): KeyError, RuntimeError, ModelRetry
            return self._failed(exc, " validating its arguments")
        try:
            if self.timeout is None:
                value = await self._call(args, kwargs, limiter)
            else:
                with anyio.move_on_after(self.timeout) as scope:
                    value = await self._call(args, kwargs, limiter)
                if scope.cancelled_caught:
                    return ToolResult(
                        content=f"error: TimeoutError: no result within {self.timeout:g}s",
                        is_error=True,
                        error_type="TimeoutError",
                    )
        except Exception as exc:  # BaseException (cancellation) propagates
            return self._failed(exc)
        try:
            content = _to_content(value)
        except pydantic_core.PydanticSerializationError as exc:
            kind = type(value).__name__
            kind = f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"  # "an int"
            why = "nested too deeply for JSON" if "depth" in str(exc) else "not text or JSON"
            logger.warning(  # a failed call, logged as docs/agents.md says
                "tool %s returned %s, %s", self.name, kind, why, extra={"agentkit_tool": self.name}
            )
            return ToolResult(
                content=f"error: the tool returned {kind}, {why}",
                is_error=True,
                error_type="SerializationError",
            )
        limit = self.max_result_chars
        if limit is not None and len(content) > limit:
            content = f"{content[:limit]}\n[truncated: {len(content) - limit} more characters]"
        return ToolResult(content=content, value=value)

    def _failed(self, exc: Exception, during: str = "") -> ToolResult:
        """The error result of an exception raised by the tool (or its argument validators)."""
        if isinstance(exc, ModelRetry):  # the tool's own message to the model
            return ToolResult(content=str(exc), is_error=True, error_type="ModelRetry")
        # WARNING, as documented; the traceback only for whoever debugs (it can be long).
        logger.warning(
            "tool %s raised %s%s: %s",
            self.name,
            type(exc).__name__,
            during,
            exc,
            exc_info=logger.isEnabledFor(logging.DEBUG),
            extra={"agentkit_tool": self.name},
        )
        return ToolResult(
            content=f"error: {type(exc).__name__}: {exc}",
            is_error=True,
            error_type=type(exc).__name__,
        )

    def _bind(
        self, arguments: str, ctx: RunContext[Any] | None, strict: bool
    ) -> tuple[list[Any], dict[str, Any]]:
        if ctx is None and self._needs_ctx:
            ctx = RunContext(deps=None, tool_name=self.name)  # invoked outside an agent run
        if isinstance(self._schema, FunctionSchema):
            return self._schema.bind(arguments, ctx)
        kwargs = self._schema.bind(arguments, strict=strict)
        if self._ctx_name is not None:
            kwargs[self._ctx_name] = ctx
        return [], kwargs

    async def _call(
        self, args: list[Any], kwargs: dict[str, Any], limiter: anyio.CapacityLimiter | None
    ) -> Any:
        if self._is_async or self.inline:
            value = self._fn(*args, **kwargs)
        else:
            value = await _threads.run_sync(
                functools.partial(self._fn, *args, **kwargs),
                limiter=limiter,
                abandon_on_cancel=self.timeout is not None,  # a timeout must return on time
            )
        if inspect.isawaitable(value):  # async functions, and sync wrappers of them
            value = await value
        return value


@overload
def tool(
    fn: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    inline: bool = False,
    requires_approval: bool = False,
    timeout: float | None = None,
    max_result_chars: int | None = None,
) -> Tool[P, R]: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    inline: bool = False,
    requires_approval: bool = False,
    timeout: float | None = None,
    max_result_chars: int | None = None,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...
def tool(
    fn: Callable[P, R] | None = None, /, **options: Unpack[_ToolOptions]
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Turn a function into a `Tool`: ``@tool``, ``@tool(name=...)`` or ``tool(fn, name=...)``.

    Args:
        fn: The function (when used bare or called directly).
        **options: The keyword arguments of `Tool`:

            - ``name``: The name the model sees; defaults to the function's name.
            - ``description``: Overrides the docstring's description.
            - ``strict``: OpenAI strict mode for this tool; None follows the agent (off by
              default).
            - ``inline``: Run a sync function without a thread hop (tiny CPU-only functions).
            - ``requires_approval``: The agent asks the approval callback before each call.
            - ``timeout``: Seconds before a call is abandoned and reported as an error.
            - ``max_result_chars``: Truncate longer results, with a visible marker.

    Returns:
        The tool, or a decorator that makes one.

    Raises:
        ToolDefinitionError: The function cannot become a tool (the message names the
            function and the parameter).
    """

    def make(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(f, **options)

    return make if fn is None else make(fn)


def check_unique(tools: Iterable[Tool[..., Any] | Callable[..., Any]]) -> dict[str, Tool[..., Any]]:
    """Index tools by name, wrapping plain functions; what an agent does at construction.

    Args:
        tools: Tools, or plain functions to wrap with `Tool.from_function`.

    Returns:
        The tools by name, in the given order.

    Raises:
        ToolDefinitionError: Two tools share a name, a function cannot become a tool, or a
            method is not bound to an instance (``Store.lookup`` rather than ``store.lookup``).
    """
    by_name: dict[str, Tool[..., Any]] = {}
    for item in tools:
        found = item if isinstance(item, Tool) else Tool.from_function(item)
        if found._binds is not None:  # every call would fail on the missing `self`
            raise ToolDefinitionError(_unbound_message(found._fn, found._binds))
        if found.name in by_name:
            raise ToolDefinitionError(
                f"two tools are named {found.name!r}; tool names must be unique in an agent "
                "(give one of them name=...)"
            )
        by_name[found.name] = found
    return by_name


def _to_content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a namedtuple reads better named
        value = value._asdict()
    return pydantic_core.to_json(value).decode()


def _default_name(fn: Any) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return str(name)


def _method_of(fn: Any) -> str | None:
    """``"self"`` or ``"cls"``: the first parameter of a function defined in a class body."""
    if not inspect.isfunction(fn):
        return None
    parts = fn.__qualname__.split(".")
    if len(parts) < 2 or parts[-2] == "<locals>":
        return None
    first = next(iter(inspect.signature(fn).parameters), None)
    return first if first in ("self", "cls") else None


def _unbound_message(fn: Any, binds: str) -> str:
    """Why a method can't be a tool as given, and what to pass instead."""
    if binds == "class":
        return f"{fn.__qualname__} is a classmethod: pass it through its class or an instance"
    return f"{fn.__qualname__} is a method: pass it bound to an instance (obj.{fn.__name__})"


def _is_async(fn: Any) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not inspect.isroutine(fn) and not inspect.isclass(fn):
        fn = type(fn).__call__
    return inspect.iscoroutinefunction(fn)


def _context_parameter(fn: Callable[..., Any]) -> str | None:
    """The parameter of ``fn`` typed ``RunContext``, if any (hand-written-schema tools)."""
    while isinstance(fn, functools.partial):  # a partial has no annotations of its own
        fn = fn.func
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # no readable annotations: no context parameter either
        return None
    return next(
        (k for k, h in hints.items() if h is RunContext or typing.get_origin(h) is RunContext),
        None,
    )
