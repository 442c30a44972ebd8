"""Parameter markers: where a handler argument comes from, and its constraints.

A marker is used either as a default value (``limit: int = Query(10, ge=1)``)
or inside ``Annotated`` (``limit: Annotated[int, Query(ge=1)] = 10``).
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "Body",
    "BodyParam",
    "Cookie",
    "File",
    "Form",
    "FormParam",
    "Header",
    "Param",
    "ParamSource",
    "Path",
    "Query",
]


class ParamSource(enum.Enum):
    """The part of a request a parameter is read from."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"
    COOKIE = "cookie"
    BODY = "body"
    FORM = "form"  # a form field or an uploaded file


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()

# Keyword arguments a marker forwards to ``pydantic.Field`` as constraints.
_CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "strict",
    "allow_inf_nan",
    "max_digits",
    "decimal_places",
)


class Param:
    """A parameter marker. Use the ``Query``/``Header``/... functions to make one."""

    __slots__ = (
        "alias",
        "constraints",
        "default",
        "deprecated",
        "description",
        "examples",
        "include_in_schema",
        "source",
        "title",
    )

    def __init__(
        self,
        source: ParamSource,
        default: Any = UNSET,
        *,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
        **constraints: Any,
    ) -> None:
        unknown = set(constraints) - set(_CONSTRAINTS)
        if unknown:
            raise TypeError(
                f"unknown constraint(s) for {source.value} parameter: {sorted(unknown)}"
            )
        self.source = source
        self.default = default
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.constraints = {k: v for k, v in constraints.items() if v is not None}

    @property
    def has_default(self) -> bool:
        return self.default is not UNSET

    def __repr__(self) -> str:
        return f"{self.source.value.capitalize()}({self.default!r})"


def Query(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    deprecated: bool = False,
    include_in_schema: bool = True,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    multiple_of: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A query-string parameter.

    ``def search(q: str = Query(min_length=1), limit: int = Query(10, ge=1, le=100))``
    """
    return Param(
        ParamSource.QUERY,
        default,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        multiple_of=multiple_of,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


def Path(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    deprecated: bool = False,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A path parameter with constraints: ``id: int = Path(ge=1)``.

    A parameter named like a ``{placeholder}`` of the route is a path parameter
    without any marker; use ``Path`` to add constraints or a description.
    """
    return Param(
        ParamSource.PATH,
        default,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        deprecated=deprecated,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


def Header(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    deprecated: bool = False,
    include_in_schema: bool = True,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A request header. ``x_request_id: str = Header()`` reads ``X-Request-Id``.

    Underscores in the parameter name become hyphens; ``alias`` names the
    header exactly. Header names are matched case-insensitively.
    """
    return Param(
        ParamSource.HEADER,
        default,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


def Cookie(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    deprecated: bool = False,
    include_in_schema: bool = True,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A cookie: ``session_id: str | None = Cookie(None)``."""
    return Param(
        ParamSource.COOKIE,
        default,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


class BodyParam(Param):
    """A ``Body()`` marker: ``embed`` puts the value under a key of the body object."""

    __slots__ = ("embed",)

    def __init__(self, default: Any = UNSET, *, embed: bool = False, **kwargs: Any) -> None:
        super().__init__(ParamSource.BODY, default, **kwargs)
        self.embed = embed


def Body(
    default: Any = UNSET,
    *,
    embed: bool = False,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
) -> Any:
    """The JSON request body, or one key of it.

    A pydantic model, dataclass or ``TypedDict`` parameter is the body without a
    marker; ``payload: dict[str, int] = Body()`` makes any type the body.
    ``user: UserIn = Body(embed=True)`` reads ``{"user": {...}}``: the value under
    the parameter's name (or ``alias``). Several body parameters on one handler
    make one JSON object, a key each. Constraints go in ``Annotated``:
    ``importance: Annotated[int, Field(ge=1)] = Body(embed=True)``.
    """
    return BodyParam(
        default,
        embed=embed,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
    )


# Form limits when no marker of the route sets them (see docs/forms.md).
DEFAULT_MAX_FIELDS = 1000
DEFAULT_MAX_FILES = 100
DEFAULT_MAX_PART_SIZE = 1024 * 1024


class FormParam(Param):
    """A form field (``Form``) or an uploaded file (``File``), with the form's limits."""

    __slots__ = ("is_file", "max_fields", "max_files", "max_part_size")

    def __init__(
        self,
        default: Any = UNSET,
        *,
        is_file: bool,
        max_fields: int | None = None,
        max_files: int | None = None,
        max_part_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(ParamSource.FORM, default, **kwargs)
        for name, value in (
            ("max_fields", max_fields),
            ("max_files", max_files),
            ("max_part_size", max_part_size),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be a positive number")
        self.is_file = is_file
        self.max_fields = max_fields
        self.max_files = max_files
        self.max_part_size = max_part_size

    def __repr__(self) -> str:
        return f"{'File' if self.is_file else 'Form'}({self.default!r})"


def Form(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    multiple_of: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    max_fields: int | None = None,
    max_part_size: int | None = None,
) -> Any:
    """A form field, or a whole model read from the form.

    ``name: str = Form(min_length=1)``, ``tags: list[str] = Form([])``, or
    ``signup: Signup = Form()`` for a pydantic model or dataclass. The body is
    read as ``application/x-www-form-urlencoded`` or ``multipart/form-data``.
    ``max_fields`` (1000 by default) and ``max_part_size`` (1 MiB) limit the
    whole form; the smallest value any marker of the route gives wins.
    """
    return FormParam(
        default,
        is_file=False,
        max_fields=max_fields,
        max_part_size=max_part_size,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        multiple_of=multiple_of,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


def File(
    default: Any = UNSET,
    *,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    max_files: int | None = None,
    max_part_size: int | None = None,
    max_fields: int | None = None,
) -> Any:
    """An uploaded file of a ``multipart/form-data`` body.

    ``avatar: UploadFile = File()``, ``photos: list[UploadFile] = File()``, or
    ``data: bytes = File()`` for the whole content. ``max_files`` (100 by
    default) limits the files of the request, ``max_part_size`` (1 MiB) the
    size of each file or field; the smallest value any marker of the route
    gives wins. Past a limit the request gets a 413.
    """
    return FormParam(
        default,
        is_file=True,
        max_files=max_files,
        max_fields=max_fields,
        max_part_size=max_part_size,
        alias=alias,
        title=title,
        description=description,
    )
