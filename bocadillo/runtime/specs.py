"""What a compiled plan knows about a handler's inputs and its result.

The compiler (``bocadillo.compile``) fills these in once, at start-up; the
plans read them per request, and the document builders read them to describe
the route.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bocadillo.params import Param, ParamSource
from bocadillo.schemas.protocol import SchemaAdapter
from bocadillo.security import SecurityScheme

__all__ = ["BodySpec", "ParamSpec", "ResponseSpec"]


@dataclasses.dataclass(slots=True)
class ParamSpec:
    """One scalar (or list-of-scalars) parameter of a handler."""

    name: str  # the argument name in the handler (or provider)
    field: str  # unique within the route: the key in the single validation pass
    source: ParamSource
    key: str  # the name on the wire: placeholder, query key, header name, cookie name
    annotation: Any  # the type validated, constraints included
    schema_type: Any  # the type whose JSON Schema documents the parameter
    required: bool
    default: Any
    sequence: bool
    marker: Param | None
    security: SecurityScheme | None = None  # a credential, checked apart (401, not 422)


@dataclasses.dataclass(slots=True)
class BodySpec:
    """A handler's JSON body parameter: its argument, type and adapter."""

    name: str
    annotation: Any
    adapter: SchemaAdapter
    required: bool
    default: Any
    marker: Param | None


@dataclasses.dataclass(slots=True)
class ResponseSpec:
    """How a handler's result becomes a response.

    ``kind`` is ``"typed"`` (dumped by the schema adapter of ``annotation``),
    ``"untyped"`` (dumped with orjson), ``"empty"`` (``-> None``: no body), or
    ``"stream"`` (an SSE route's events). A returned ``Response`` object is
    always sent as it is.
    """

    kind: str
    status_code: int
    annotation: Any
    adapter: SchemaAdapter | None
