"""The signature rules: where each parameter of a handler or a provider comes from.

Decided once, at start-up, by these rules in order (the first that answers wins):

1. an explicit marker (``Query``, ``Header``, ``Cookie``, ``Path``, ``Body``,
   ``Form``, ``File``), as the default value or inside ``Annotated``;
2. a name that appears in the route's path pattern is a path parameter (and,
   on SSE routes, an annotated ``last_event_id`` reads the ``Last-Event-ID``
   header);
3. a name that matches a registered provider is injected;
4. a framework type: ``Request`` (or a subclass) receives the request,
   ``WebSocket[In, Out]`` the connection, ``BackgroundTasks`` the tasks to run
   after the response;
5. a model type (pydantic model, dataclass, ``TypedDict``, a list of them) is
   the JSON body;
6. any other annotated scalar, or list of scalars, is a query parameter.

An unannotated parameter must be a path parameter or a provider (the error
suggests the closest name). Anything else is a ``ConfigurationError`` naming
the callable and its source location, raised when the app starts.

Each rule is one function in ``RULES``; ``read_parameters`` asks them in
order for each parameter, then builds the parameter's spec.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import inspect
import typing
from collections.abc import Callable, Collection
from typing import Any

from pydantic.fields import FieldInfo
from starlette.requests import Request

from bocadillo.compile.bodies import BodyEntry, body_spec, envelope_name
from bocadillo.compile.fits import fits, provided_type, provider_location
from bocadillo.compile.forms import FormEntry, form_entry
from bocadillo.compile.provider_use import check_lazy_fits, used_provider_entries
from bocadillo.compile.validation import is_optional_of, validated_type
from bocadillo.errors import ConfigurationError
from bocadillo.params import UNSET, FormParam, Param, ParamSource
from bocadillo.providers import Provider
from bocadillo.runtime.background import BackgroundTasks
from bocadillo.runtime.body import BodyMember
from bocadillo.runtime.specs import BodySpec, ParamSpec
from bocadillo.schemas.registry import is_foreign
from bocadillo.schemas.types import (
    is_body_type,
    is_scalar_type,
    is_sequence_type,
    split_annotated,
)
from bocadillo.security import SecurityScheme

__all__ = [
    "DeclaredParameter",
    "SignatureContext",
    "SignatureParts",
    "check_placeholders",
    "describe",
    "read_parameters",
    "type_hints",
]


def describe(func: Callable[..., Any]) -> str:
    """``module.qualname (file:line)`` for error messages."""
    func = inspect.unwrap(func)
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    try:
        file = inspect.getsourcefile(func)
        _, line = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return name
    return f"{name} ({file}:{line})"


def check_placeholders(
    path: str, names: Collection[str], params: Collection[ParamSpec], func: Callable[..., Any]
) -> None:
    """Every placeholder of the route's path is read by a parameter (of the handler, its
    hooks or its providers): one read by nothing is a typo, or a segment the API
    document could not describe."""
    read = {spec.key for spec in params if spec.source is ParamSource.PATH}
    unread = [name for name in names if name not in read]
    if unread:
        takes = ", ".join(f"`{name}: str`" for name in unread)
        raise ConfigurationError(
            f"{describe(func)}: the path {path} has "
            f"{'placeholders' if len(unread) > 1 else 'a placeholder'} "
            f"{', '.join('{' + name + '}' for name in unread)} that no parameter reads; "
            f"take it ({takes}, or another type the segment converts to) in the handler, "
            "a hook or a provider, or change the path"
        )


def type_hints(func: Callable[..., Any], where: str) -> dict[str, Any]:
    """``func``'s resolved annotations (``Annotated`` kept), or a ``ConfigurationError``."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # a NameError or TypeError from a forward reference
        raise ConfigurationError(f"{where}: cannot resolve the type annotations: {exc}") from exc


@dataclasses.dataclass(slots=True)
class SignatureParts:
    """Where each parameter of one callable (a handler or a provider) comes from."""

    params: list[ParamSpec]
    body: BodySpec | None
    request_arg: str | None
    providers: list[tuple[str | None, str]]  # (argument, or None for @useprovider; provider)
    hints: dict[str, Any]
    websocket_arg: tuple[str, Any] | None = None  # (argument, WebSocket[In, Out])
    form: list[tuple[FormEntry, FormParam]] = dataclasses.field(default_factory=list)
    background_arg: str | None = None
    body_entries: list[BodyEntry] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class SignatureContext:
    """What the rules know besides the parameter: the route and the kind of callable."""

    where: str  # the callable, for error messages
    path_params: Collection[str]
    is_provider: Callable[[str], bool]
    provider_names: Callable[[], Collection[str]] = tuple
    field_prefix: str = ""  # keeps a provider's fields apart from the handler's
    allow_body: bool = True  # False for providers (and WebSocket handlers)
    implicit_headers: Collection[str] = ()  # read from a header without a marker
    provider_of: Callable[[str], Provider | None] | None = None  # to check the types fit
    kind: str = "a provider"  # what cannot read a body, for error messages


@dataclasses.dataclass(frozen=True, slots=True)
class DeclaredParameter:
    """One parameter as declared: its annotation split, its marker and default sorted out."""

    name: str
    annotation: Any  # inspect.Parameter.empty when unannotated
    base: Any  # the annotation without Annotated
    metadata: list[Any]  # the Annotated metadata
    marker: Param | None
    default: Any  # UNSET when there is none

    @property
    def annotated(self) -> bool:
        return self.annotation is not inspect.Parameter.empty


class Taken(enum.Enum):
    """A rule's answer when it took the parameter itself: no spec to build."""

    TAKEN = "taken"


TAKEN = Taken.TAKEN

# A rule answers with the source to read the parameter from, TAKEN, or None
# (not its case: ask the next rule).
Rule = Callable[[DeclaredParameter, SignatureContext, SignatureParts], ParamSource | Taken | None]


# -- reading the signature -------------------------------------------------------------


def _parameters(func: Callable[..., Any], where: str) -> list[inspect.Parameter]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: cannot read the signature: {exc}") from exc
    return list(signature.parameters.values())


def _without_self(parameters: list[inspect.Parameter], where: str) -> list[inspect.Parameter]:
    if not parameters:
        raise ConfigurationError(f"{where}: a view method must take `self`")
    return parameters[1:]


_NOT_BY_NAME = (
    inspect.Parameter.VAR_POSITIONAL,
    inspect.Parameter.VAR_KEYWORD,
    inspect.Parameter.POSITIONAL_ONLY,
)


def declare(parameter: inspect.Parameter, hints: dict[str, Any], where: str) -> DeclaredParameter:
    """Sort out ``parameter``'s marker (default or ``Annotated``) and default value."""
    name = parameter.name
    if parameter.kind in _NOT_BY_NAME:
        raise ConfigurationError(
            f"{where}: parameter {name!r} is {parameter.kind.description}; "
            "parameters must be passable by name"
        )
    annotation = hints.get(name, inspect.Parameter.empty)
    base, metadata = split_annotated(annotation)
    marker = next((m for m in metadata if isinstance(m, Param)), None)
    default = parameter.default
    if isinstance(default, Param):
        if marker is not None:
            raise ConfigurationError(
                f"{where}: parameter {name!r} has two markers (in Annotated and as default)"
            )
        marker = default
        default = marker.default
    elif marker is not None and marker.has_default and default is inspect.Parameter.empty:
        default = marker.default
    elif isinstance(default, FieldInfo):
        raise ConfigurationError(
            f"{where}: parameter {name!r} has a pydantic Field() as its default; say where "
            f"it comes from with a marker instead: `{name}: int = Query(2, ge=1)` (or "
            "Header, Cookie, Path, Body), or put the Field in Annotated"
        )
    if default is inspect.Parameter.empty:
        default = UNSET
    return DeclaredParameter(name, annotation, base, metadata, marker, default)


def read_parameters(
    func: Callable[..., Any],
    *,
    where: str,
    path_params: Collection[str],
    is_provider: Callable[[str], bool],
    provider_names: Callable[[], Collection[str]] = tuple,
    skip_first: bool = False,
    field_prefix: str = "",
    allow_body: bool = True,
    implicit_headers: Collection[str] = (),
    provider_of: Callable[[str], Provider | None] | None = None,
    kind: str = "a provider",
) -> SignatureParts:
    """Sort ``func``'s parameters by source, or raise ``ConfigurationError``.

    ``field_prefix`` keeps a provider's parameters apart from the handler's in
    the route's single validation pass. ``implicit_headers`` names parameters
    read from a header without a marker (``last_event_id`` on SSE routes).
    ``provider_of`` looks a provider up, to check that its type fits an
    annotated parameter of the same name; ``kind`` names the callable when
    ``allow_body`` is False (``"a provider"``, ``"a WebSocket handler"``).
    """
    context = SignatureContext(
        where,
        path_params,
        is_provider,
        provider_names,
        field_prefix,
        allow_body,
        implicit_headers,
        provider_of,
        kind,
    )
    parameters = _parameters(func, where)
    hints = type_hints(func, where)
    if skip_first:
        parameters = _without_self(parameters, where)
    parts = SignatureParts([], None, None, [], hints)
    for parameter in parameters:
        declared = declare(parameter, hints, where)
        source = source_of(declared, context, parts)
        if source is not TAKEN:
            add_spec(declared, source, context, parts)
    parts.providers += used_provider_entries(func, where, is_provider, provider_names)
    name = envelope_name(getattr(func, "__qualname__", "handler"), skip_first)
    parts.body = body_spec(parts.body_entries, where=where, name=name)
    return parts


# -- the rules, in order -----------------------------------------------------------------


def marker_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource | None:
    """1. An explicit marker says where the value comes from."""
    return param.marker.source if param.marker is not None else None


def path_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource | None:
    """2. A name in the path pattern is a path parameter."""
    return ParamSource.PATH if param.name in context.path_params else None


def implicit_header_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource | None:
    """2. SSE's ``last_event_id``: read from its header when annotated."""
    return (
        ParamSource.HEADER if param.name in context.implicit_headers and param.annotated else None
    )


def provider_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> Taken | None:
    """3. A name that matches a registered provider is injected."""
    if not context.is_provider(param.name):
        return None
    provider = context.provider_of(param.name) if context.provider_of is not None else None
    if param.annotated and provider is not None:
        check_fits(param, provider, context)
    parts.providers.append((param.name, param.name))
    return TAKEN


def check_fits(param: DeclaredParameter, provider: Provider, context: SignatureContext) -> None:
    """An annotated parameter named like a provider must fit the provider's type."""
    if check_lazy_fits(param.name, param.annotation, provider, context.where):
        return
    provided = provided_type(provider)
    if fits(param.annotation, provided):
        return
    wanted = _type_name(param.base)
    marker = "Body()" if is_body_type(param.annotation) else "Query()"
    raise ConfigurationError(
        f"{context.where}: parameter {param.name!r} is annotated {wanted}, but its name is "
        f"that of {provider_location(provider)}, which gives {_type_name(provided)}. "
        f"Rename the parameter or the provider, or say where it comes from with a marker: "
        f"`{param.name}: {wanted} = {marker}`."
    )


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def websocket_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> Taken | None:
    """4. ``WebSocket[In, Out]`` receives the connection."""
    if not (param.annotated and getattr(_origin(param.base), "__bocadillo_websocket__", False)):
        return None
    if not context.allow_body and context.kind == "a provider":
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r} asks for the WebSocket; a provider "
            "cannot. Take it in the handler; a provider reads the handshake with Header(), "
            "Query() or Cookie()."
        )
    if parts.websocket_arg is not None:
        raise ConfigurationError(f"{context.where}: two parameters ask for the WebSocket")
    parts.websocket_arg = (param.name, param.base)
    return TAKEN


def background_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> Taken | None:
    """4. ``BackgroundTasks`` receives the tasks to run after the response."""
    if not (
        param.annotated and isinstance(param.base, type) and issubclass(param.base, BackgroundTasks)
    ):
        return None
    if not context.allow_body:
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r} asks for BackgroundTasks; "
            f"{context.kind} cannot. {_instead(context, 'tasks')}"
        )
    if parts.background_arg is not None:
        raise ConfigurationError(f"{context.where}: two parameters ask for BackgroundTasks")
    parts.background_arg = param.name
    return TAKEN


def request_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> Taken | None:
    """4. ``Request`` (or a subclass) receives the request."""
    if not (param.annotated and isinstance(param.base, type) and issubclass(param.base, Request)):
        return None
    if parts.request_arg is not None:
        raise ConfigurationError(f"{context.where}: two parameters ask for the Request")
    parts.request_arg = param.name
    return TAKEN


def unannotated_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> None:
    """Unannotated and neither a path parameter nor a provider: an error, with a suggestion."""
    if param.annotated:
        return None
    close = difflib.get_close_matches(
        param.name, [*context.provider_names(), *context.path_params], n=1
    )
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigurationError(
        f"{context.where}: parameter {param.name!r} names no provider, is not a path parameter "
        f"(path parameters: {sorted(context.path_params) or 'none'}) and has no type "
        f"annotation.{hint} Register a provider named {param.name!r}, or annotate it "
        "(`name: int`) to read it from the query string."
    )


def body_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource | None:
    """5. A model type (or a list of them) is the JSON body."""
    return ParamSource.BODY if is_body_type(param.annotation) else None


def query_rule(
    param: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource:
    """6. An annotated scalar (or list of scalars) is a query parameter; nothing else is."""
    if is_scalar_type(param.annotation) or is_sequence_type(param.annotation):
        return ParamSource.QUERY
    raise ConfigurationError(
        f"{context.where}: parameter {param.name!r}: {param.annotation!r} cannot be read "
        "from a query string; mark it `= Body()` to read it from the JSON body"
    )


RULES: tuple[Rule, ...] = (
    marker_rule,
    path_rule,
    implicit_header_rule,
    provider_rule,
    websocket_rule,
    background_rule,
    request_rule,
    unannotated_rule,
    body_rule,
    query_rule,
)


def _origin(tp: Any) -> Any:
    return typing.get_origin(tp) or tp


def source_of(
    declared: DeclaredParameter, context: SignatureContext, parts: SignatureParts
) -> ParamSource | Taken:
    """Ask the rules in order; the first answer wins (the last rule always answers)."""
    for rule in RULES:
        answer = rule(declared, context, parts)
        if answer is not None:
            return answer
    raise AssertionError("query_rule answers or raises")  # pragma: no cover


# -- the specs ------------------------------------------------------------------------------


def add_spec(
    param: DeclaredParameter, source: ParamSource, context: SignatureContext, parts: SignatureParts
) -> None:
    """Build the spec of a parameter read from request data, and add it to ``parts``."""
    if isinstance(param.marker, FormParam):
        parts.form.append((form_spec_entry(param, param.marker, context), param.marker))
    elif source is ParamSource.BODY:
        parts.body_entries.append(body_entry(param, context))
    elif isinstance(param.marker, SecurityScheme):
        parts.params.append(security_spec(param, param.marker, context))
    else:
        parts.params.append(parameter_spec(param, source, context))


def _instead(context: SignatureContext, what: str) -> str:
    """What to do instead of reading ``what`` where it cannot be read."""
    if context.kind in ("a provider", "a hook"):
        return f"Take the {what} in the handler."
    if what == "tasks":
        return "A WebSocket has no response to run them after; do the work in the handler."
    return "A WebSocket has no request body; receive messages with `await ws.receive()`."


def form_spec_entry(
    param: DeclaredParameter, marker: FormParam, context: SignatureContext
) -> FormEntry:
    """A ``Form()``/``File()`` parameter: only a handler reads the form, and it needs a type."""
    if not context.allow_body:
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r} reads the request form; "
            f"{context.kind} cannot. {_instead(context, 'form')}"
        )
    if not param.annotated:
        raise ConfigurationError(f"{context.where}: form parameter {param.name!r} needs a type")
    return form_entry(param.name, param.annotation, marker, param.default, context.where)


def body_entry(param: DeclaredParameter, context: SignatureContext) -> BodyEntry:
    """A parameter read from the JSON body (the body, or a key of it); none for a provider."""
    base = param.base if param.annotated else str
    # A body of another backend's type is validated by that backend directly.
    validated = (
        base
        if is_foreign(base)
        else validated_type(
            base, param.metadata, param.marker, f"{context.where}: parameter {param.name!r}"
        )
    )
    if not context.allow_body:
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r} reads the request body; "
            f"{context.kind} cannot. {_instead(context, 'body')}"
        )
    alias = param.marker.alias if param.marker is not None else None
    required = param.default is UNSET
    member = BodyMember(
        param.name, alias or param.name, "", base, required, param.default, param.marker
    )
    return BodyEntry(member, validated, param.annotation)


def wire_key(param: DeclaredParameter, source: ParamSource, context: SignatureContext) -> str:
    """The name on the wire: the alias, else the name (a header's with dashes), lowercased
    for headers; a path parameter's must be a placeholder of the path."""
    alias = param.marker.alias if param.marker is not None else None
    key = alias or param.name
    if source is ParamSource.PATH and key not in context.path_params:
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r} is marked Path() but the path has no "
            f"{{{key}}} placeholder"
        )
    if source is ParamSource.HEADER:
        key = (alias or param.name.replace("_", "-")).lower()
    return key


def security_spec(
    param: DeclaredParameter, marker: SecurityScheme, context: SignatureContext
) -> ParamSpec:
    """A credential (checked apart from the other parameters: a 401, not a 422)."""
    base = param.base if param.annotated else str
    key = wire_key(param, marker.source, context)
    expected = marker.credential_type
    if param.annotated and not is_optional_of(base, expected):
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r}: {type(marker).__name__} gives a "
            f"{expected.__name__}, not {param.annotation!r}"
        )
    default = UNSET if marker.source is ParamSource.PATH else param.default
    return ParamSpec(
        name=param.name,
        field=context.field_prefix + param.name,
        source=marker.source,
        key=key,
        annotation=base,
        schema_type=base,
        required=default is UNSET,
        default=None if default is UNSET else default,
        sequence=False,
        marker=marker,
        security=marker,
    )


def parameter_spec(
    param: DeclaredParameter, source: ParamSource, context: SignatureContext
) -> ParamSpec:
    """A path, query, header or cookie parameter: one scalar, or a list of them."""
    base = param.base if param.annotated else str  # an unannotated path parameter is a string
    validated = validated_type(
        base, param.metadata, param.marker, f"{context.where}: parameter {param.name!r}"
    )
    key = wire_key(param, source, context)
    sequence = is_sequence_type(param.annotation)
    if sequence and source in (ParamSource.PATH, ParamSource.COOKIE):
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r}: a {source.value} parameter holds "
            f"one value, not {param.annotation!r}"
        )
    if not sequence and not is_scalar_type(param.annotation):
        raise ConfigurationError(
            f"{context.where}: parameter {param.name!r}: {param.annotation!r} cannot be read "
            f"from a {source.value} parameter"
        )
    default = UNSET if source is ParamSource.PATH else param.default  # a matched path has it
    return ParamSpec(
        name=param.name,
        field=context.field_prefix + param.name,
        source=source,
        key=key,
        annotation=validated,
        schema_type=base if is_foreign(base) else validated,
        required=default is UNSET,
        default=None if default is UNSET else default,
        sequence=sequence,
        marker=param.marker,
    )
