"""The signature compiler: reads a handler once and makes its ``EndpointPlan``.

Where a parameter comes from is decided here, by these rules in order:

1. an explicit marker (``Query``, ``Header``, ``Cookie``, ``Path``, ``Body``,
   ``Form``, ``File``),
   as the default value or inside ``Annotated``;
2. a name that appears in the route's path pattern is a path parameter;
3. a name that matches a registered provider is injected;
4. ``Request`` (or a subclass) receives the request;
5. ``BackgroundTasks`` receives the tasks to run after the response;
6. a model type (pydantic model, dataclass, ``TypedDict``, a list of them) is
   the JSON body;
7. any other annotated scalar, or list of scalars, is a query parameter.

An unannotated parameter must be a path parameter or a provider.

Anything else is a ``ConfigurationError`` naming the handler and its source
location, raised when the app starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import operator
import types
import typing
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, PlainValidator, TypeAdapter
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocadillo.errors import ConfigurationError
from bocadillo.params import (
    DEFAULT_MAX_FIELDS,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_PART_SIZE,
    UNSET,
    FormParam,
    Param,
    ParamSource,
)
from bocadillo.runtime.background import BackgroundTasks
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.forms import (
    FormField,
    FormModel,
    FormReader,
    FormSpec,
    UploadFile,
    model_keys,
)
from bocadillo.runtime.specs import BodySpec, ParamSpec, ResponseSpec
from bocadillo.schemas.registry import SchemaAdapter, SchemaValidationError, adapter_for, is_foreign
from bocadillo.schemas.types import (
    is_body_type,
    is_model_class,
    is_none_type,
    is_scalar_type,
    is_sequence_type,
    split_annotated,
)
from bocadillo.security import BasicCredentials, HTTPBasic, SecurityScheme

if TYPE_CHECKING:
    from bocadillo.compile.providers import ProviderGraph

__all__ = ["SignatureParts", "compile_endpoint", "describe", "read_parameters"]


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


def _type_hints(func: Callable[..., Any], where: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # a NameError or TypeError from a forward reference
        raise ConfigurationError(f"{where}: cannot resolve the type annotations: {exc}") from exc


def _is_request_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Request)


def _is_response_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Response)


def _foreign_validator(adapter: SchemaAdapter) -> Callable[[Any], Any]:
    """A pydantic validator calling another backend, for the one-pass parameter check."""

    def validate(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except SchemaValidationError as exc:
            first = exc.errors[0]
            raise PydanticCustomError(first["type"], "{msg}", {"msg": first["msg"]}) from None

    return validate


def _is_optional_of(tp: Any, expected: type) -> bool:
    """``tp`` is ``expected`` or ``expected | None``."""
    if tp is expected:
        return True
    members = (
        typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else ()
    )
    return bool(members) and all(m is expected or is_none_type(m) for m in members)


def _with_constraints(base: Any, metadata: list[Any], marker: Param | None, where: str) -> Any:
    """The type to validate: ``base`` with its non-marker metadata and the marker's constraints."""
    if is_foreign(base):
        # A type of another backend (a typesystem field, say) joins the route's
        # single pydantic pass through a plain validator.
        if marker is not None and marker.constraints:
            raise ConfigurationError(
                f"{where}: constraints {sorted(marker.constraints)} apply to pydantic types; "
                f"declare them on the {type(base).__name__} itself"
            )
        return Annotated[Any, PlainValidator(_foreign_validator(adapter_for(base)))]
    extra = [m for m in metadata if not isinstance(m, Param)]
    if marker is not None and marker.constraints:
        extra.append(Field(**marker.constraints))
    if not extra:
        return base
    return Annotated[(base, *extra)]


@dataclasses.dataclass(slots=True)
class SignatureParts:
    """Where each parameter of one callable (a handler or a provider) comes from."""

    params: list[ParamSpec]
    body: BodySpec | None
    request_arg: str | None
    providers: list[tuple[str, str]]  # (argument, provider name)
    hints: dict[str, Any]
    websocket_arg: tuple[str, Any] | None = None  # (argument, WebSocket[In, Out])
    form: list[tuple[FormField | FormModel, FormParam]] = dataclasses.field(default_factory=list)
    background_arg: str | None = None


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
) -> SignatureParts:
    """Sort ``func``'s parameters by source, or raise ``ConfigurationError``.

    ``field_prefix`` keeps a provider's parameters apart from the handler's in
    the route's single validation pass. ``implicit_headers`` names parameters
    read from a header without a marker (``last_event_id`` on SSE routes).
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: cannot read the signature: {exc}") from exc
    hints = _type_hints(func, where)
    parameters = list(signature.parameters.values())
    if skip_first:
        if not parameters:
            raise ConfigurationError(f"{where}: a view method must take `self`")
        parameters = parameters[1:]

    parts = SignatureParts([], None, None, [], hints)
    for parameter in parameters:
        name = parameter.name
        if parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
            inspect.Parameter.POSITIONAL_ONLY,
        ):
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
        annotated = annotation is not inspect.Parameter.empty

        if marker is not None:
            source = marker.source
        elif name in path_params:
            source = ParamSource.PATH
        elif name in implicit_headers and annotated:
            source = ParamSource.HEADER
        elif is_provider(name):
            parts.providers.append((name, name))
            continue
        elif annotated and getattr(
            typing.get_origin(base) or base, "__bocadillo_websocket__", False
        ):
            if parts.websocket_arg is not None:
                raise ConfigurationError(f"{where}: two parameters ask for the WebSocket")
            parts.websocket_arg = (name, base)
            continue
        elif annotated and isinstance(base, type) and issubclass(base, BackgroundTasks):
            if not allow_body:
                raise ConfigurationError(
                    f"{where}: parameter {name!r} asks for BackgroundTasks; a provider cannot. "
                    "Take it in the handler."
                )
            if parts.background_arg is not None:
                raise ConfigurationError(f"{where}: two parameters ask for BackgroundTasks")
            parts.background_arg = name
            continue
        elif annotated and _is_request_type(base):
            if parts.request_arg is not None:
                raise ConfigurationError(f"{where}: two parameters ask for the Request")
            parts.request_arg = name
            continue
        elif not annotated:
            close = difflib.get_close_matches(name, [*provider_names(), *path_params], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"{where}: parameter {name!r} names no provider, is not a path parameter "
                f"(path parameters: {sorted(path_params) or 'none'}) and has no type "
                f"annotation.{hint} Register a provider named {name!r}, or annotate it "
                "(`name: int`) to read it from the query string."
            )
        elif is_body_type(annotation):
            source = ParamSource.BODY
        elif is_scalar_type(annotation) or is_sequence_type(annotation):
            source = ParamSource.QUERY
        else:
            raise ConfigurationError(
                f"{where}: parameter {name!r}: {annotation!r} cannot be read from a query "
                "string; mark it `= Body()` to read it from the JSON body"
            )

        if isinstance(marker, FormParam):
            if not allow_body:
                raise ConfigurationError(
                    f"{where}: parameter {name!r} reads the request form; a provider cannot. "
                    "Take the form in the handler."
                )
            if not annotated:
                raise ConfigurationError(f"{where}: form parameter {name!r} needs a type")
            parts.form.append(
                (_form_entry(name, annotation, base, metadata, marker, default, where), marker)
            )
            continue
        if not annotated:
            base = str  # an unannotated path parameter is a string
        # A body of another backend's type is validated by that backend directly.
        foreign_body = source is ParamSource.BODY and is_foreign(base)
        validated = (
            base
            if foreign_body
            else _with_constraints(base, metadata, marker, f"{where}: parameter {name!r}")
        )

        if source is ParamSource.BODY:
            if not allow_body:
                raise ConfigurationError(
                    f"{where}: parameter {name!r} reads the request body; a provider cannot. "
                    "Take the body in the handler."
                )
            if parts.body is not None:
                raise ConfigurationError(
                    f"{where}: parameters {parts.body.name!r} and {name!r} both read the body; "
                    "declare one model that holds both"
                )
            try:
                adapter = adapter_for(validated)
            except (PydanticSchemaGenerationError, PydanticUserError) as exc:
                raise ConfigurationError(
                    f"{where}: parameter {name!r}: cannot validate {annotation!r}: {exc}"
                ) from exc
            parts.body = BodySpec(name, validated, adapter, default is UNSET, default, marker)
            continue

        key = marker.alias if marker is not None and marker.alias else name
        if source is ParamSource.PATH:
            if key not in path_params:
                raise ConfigurationError(
                    f"{where}: parameter {name!r} is marked Path() but the path has no "
                    f"{{{key}}} placeholder"
                )
            default = UNSET  # a matched path always carries the value
        elif source is ParamSource.HEADER and not (marker and marker.alias):
            key = name.replace("_", "-")
        if source is ParamSource.HEADER:
            key = key.lower()
        if isinstance(marker, SecurityScheme):
            expected = BasicCredentials if isinstance(marker, HTTPBasic) else str
            if annotated and not _is_optional_of(base, expected):
                raise ConfigurationError(
                    f"{where}: parameter {name!r}: {type(marker).__name__} gives a "
                    f"{expected.__name__}, not {annotation!r}"
                )
            parts.params.append(
                ParamSpec(
                    name=name,
                    field=field_prefix + name,
                    source=source,
                    key=key,
                    annotation=base,
                    schema_type=base,
                    required=default is UNSET,
                    default=None if default is UNSET else default,
                    sequence=False,
                    marker=marker,
                    security=marker,
                )
            )
            continue
        sequence = is_sequence_type(annotation)
        if sequence and source in (ParamSource.PATH, ParamSource.COOKIE):
            raise ConfigurationError(
                f"{where}: parameter {name!r}: a {source.value} parameter holds one value, "
                f"not {annotation!r}"
            )
        if not sequence and not is_scalar_type(annotation):
            raise ConfigurationError(
                f"{where}: parameter {name!r}: {annotation!r} cannot be read from a "
                f"{source.value} parameter"
            )
        parts.params.append(
            ParamSpec(
                name=name,
                field=field_prefix + name,
                source=source,
                key=key,
                annotation=validated,
                schema_type=base if is_foreign(base) else validated,
                required=default is UNSET,
                default=None if default is UNSET else default,
                sequence=sequence,
                marker=marker,
            )
        )
    return parts


def compile_endpoint(
    func: Callable[..., Any],
    *,
    path_params: Collection[str],
    status_code: int | None,
    max_body_size: int,
    view_class: type | None = None,
    graph: ProviderGraph,
    app_values: dict[Any, Any],
    autouse: bool = True,
) -> EndpointPlan:
    """Read ``func``'s signature and return its plan, or raise ``ConfigurationError``."""
    where = describe(func)
    parts = read_parameters(
        func,
        where=where,
        path_params=path_params,
        is_provider=graph.is_provider,
        provider_names=graph.names,
        skip_first=view_class is not None,
    )
    if parts.websocket_arg is not None:
        raise ConfigurationError(
            f"{where}: an HTTP handler cannot take a WebSocket; declare the route with "
            "@app.websocket(path)"
        )
    form = _form_spec(parts, where)
    wiring = graph.resolve_route(
        parts.providers, path_params=path_params, where=where, autouse=autouse
    )
    form_reader = None
    if form is not None:
        try:
            form_reader = FormReader(form, max_body_size)
        except (PydanticSchemaGenerationError, PydanticUserError) as exc:
            raise ConfigurationError(f"{where}: cannot validate the form: {exc}") from exc
    try:
        return EndpointPlan(
            endpoint=func,
            name=where,
            is_async=inspect.iscoroutinefunction(func),
            view_class=view_class,
            params=[*wiring.params, *parts.params],
            body=parts.body,
            request_arg=parts.request_arg,
            response=_response_spec(parts.hints, status_code, where),
            max_body_size=max_body_size,
            providers=wiring,
            app_values=app_values,
            form_reader=form_reader,
            background_arg=parts.background_arg,
        )
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(f"{where}: cannot validate the parameters: {exc}") from exc


def _optional_member(tp: Any) -> Any:
    """``X | None`` -> ``X``; anything else as it is."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(tp) if not is_none_type(m)]
        if len(members) == 1:
            return members[0]
    return tp


def _file_kind(tp: Any) -> tuple[str, bool] | None:
    """``UploadFile``/``bytes`` (or a list of them) -> (kind, sequence)."""
    tp = _optional_member(split_annotated(tp)[0])
    sequence = False
    if typing.get_origin(tp) is list:
        (tp,) = typing.get_args(tp) or (Any,)
        sequence = True
    if isinstance(tp, type) and issubclass(tp, UploadFile):
        return "upload", sequence
    if tp is bytes:
        return "bytes", sequence
    return None


def _form_entry(
    name: str,
    annotation: Any,
    base: Any,
    metadata: list[Any],
    marker: FormParam,
    default: Any,
    where: str,
) -> FormField | FormModel:
    key = marker.alias or name
    required = default is UNSET
    value = None if required else default
    if marker.is_file:
        kind = _file_kind(annotation)
        if kind is None:
            raise ConfigurationError(
                f"{where}: parameter {name!r}: File() gives an UploadFile, bytes, or a list "
                f"of them, not {annotation!r}"
            )
        return FormField(
            name, key, None, None, required, value, kind[1], kind[0], marker.description
        )
    model = _optional_member(base)
    if is_model_class(model):
        if not (hasattr(model, "model_fields") or dataclasses.is_dataclass(model)):
            raise ConfigurationError(
                f"{where}: parameter {name!r}: a form is read into a pydantic model or a "
                f"dataclass, not {annotation!r}"
            )
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(model)
        except (PydanticSchemaGenerationError, PydanticUserError) as exc:
            raise ConfigurationError(
                f"{where}: parameter {name!r}: cannot validate {annotation!r}: {exc}"
            ) from exc
        return FormModel(
            name, model, adapter, model_keys(model), required, value, marker.description
        )
    if _file_kind(annotation) is not None:
        raise ConfigurationError(
            f"{where}: parameter {name!r}: mark an uploaded file with File(), not Form()"
        )
    sequence = is_sequence_type(annotation)
    if not sequence and not is_scalar_type(annotation):
        raise ConfigurationError(
            f"{where}: parameter {name!r}: {annotation!r} cannot be read from a form field"
        )
    validated = _with_constraints(base, metadata, marker, f"{where}: parameter {name!r}")
    return FormField(
        name,
        key,
        validated,
        base if is_foreign(base) else validated,
        required,
        value,
        sequence,
        None,
        marker.description,
    )


def _form_spec(parts: SignatureParts, where: str) -> FormSpec | None:
    if not parts.form:
        return None
    if parts.body is not None:
        raise ConfigurationError(
            f"{where}: parameter {parts.body.name!r} reads a JSON body and "
            f"{parts.form[0][0].name!r} a form; a request has one body"
        )
    fields = [entry for entry, _ in parts.form if isinstance(entry, FormField)]
    models = [entry for entry, _ in parts.form if isinstance(entry, FormModel)]
    if len(models) > 1:
        raise ConfigurationError(
            f"{where}: parameters {models[0].name!r} and {models[1].name!r} both read the "
            "form into a model; declare one model that holds both"
        )
    markers = [marker for _, marker in parts.form]

    def smallest(values: list[int | None], fallback: int) -> int:
        given = [v for v in values if v is not None]
        return min(given) if given else fallback

    return FormSpec(
        fields,
        models[0] if models else None,
        max_fields=smallest([m.max_fields for m in markers], DEFAULT_MAX_FIELDS),
        max_files=smallest([m.max_files for m in markers], DEFAULT_MAX_FILES),
        max_part_size=smallest([m.max_part_size for m in markers], DEFAULT_MAX_PART_SIZE),
    )


def _response_spec(hints: dict[str, Any], status_code: int | None, where: str) -> ResponseSpec:
    if "return" not in hints:
        return ResponseSpec("untyped", status_code or 200, None, None)
    annotation = hints["return"]
    if is_none_type(annotation):
        return ResponseSpec("empty", status_code or 204, None, None)
    if isinstance(annotation, type) and issubclass(annotation, RedirectResponse):
        return ResponseSpec("untyped", status_code or 307, annotation, None)
    if annotation is Any or _is_response_type(annotation):
        return ResponseSpec("untyped", status_code or 200, annotation, None)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if not _is_response_type(a)]
        if not members:
            return ResponseSpec("untyped", status_code or 200, annotation, None)
        annotation = functools.reduce(operator.or_, members)
    try:
        adapter = adapter_for(annotation)
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(
            f"{where}: cannot serialize the return type {annotation!r}: {exc}"
        ) from exc
    return ResponseSpec("typed", status_code or 200, annotation, adapter)
