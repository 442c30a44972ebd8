"""Reading a request's parameters: path, query, headers, cookies and credentials.

One ``ParameterReader`` per route, made at start-up, reads every value the
handler and its providers declare and validates them all in one pass. HTTP,
SSE and WebSocket plans read their arguments through its one ``read`` method.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NotRequired
from urllib.parse import unquote_plus

from pydantic import ConfigDict, TypeAdapter, ValidationError
from starlette.requests import cookie_parser
from starlette.types import Scope
from typing_extensions import TypedDict

from bocadillo.params import ParamSource
from bocadillo.runtime.specs import ParamSpec
from bocadillo.schemas.pydantic_backend import validation_errors

__all__ = ["FINITE_NUMBERS", "ParameterReader", "parse_query"]

# The config of the parameters' (and form fields') one-pass validator.
FINITE_NUMBERS = ConfigDict(allow_inf_nan=False)


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Split a query string into (key, value) pairs, blank values kept.

    Like ``urllib.parse.parse_qsl`` (UTF-8, invalid bytes replaced) at a quarter
    of its cost: only parts with ``%`` or ``+`` are unquoted. Raw non-ASCII
    bytes, which clients should not send, are read as UTF-8 too.
    """
    text = query_string.decode("utf-8", "replace")
    pairs = []
    if "%" not in text and "+" not in text:
        # The common case: nothing to unquote anywhere.
        for part in text.split("&"):
            if part:
                key, _, value = part.partition("=")
                pairs.append((key, value))
        return pairs
    for part in text.split("&"):
        if part:
            key, _, value = part.partition("=")
            if "%" in part or "+" in part:
                key = unquote_plus(key)
                value = unquote_plus(value)
            pairs.append((key, value))
    return pairs


def _by_key(params: list[ParamSpec], source: ParamSource) -> dict[str, tuple[ParamSpec, ...]]:
    """Wire name -> the parameters read from it (a handler and a provider may share one)."""
    found: dict[str, tuple[ParamSpec, ...]] = {}
    for spec in params:
        if spec.source is source:
            found[spec.key] = (*found.get(spec.key, ()), spec)
    return found


class ParameterReader:
    """Reads and validates a route's path, query, header and cookie parameters and
    credentials (the handler's and its providers'), for every kind of route."""

    def __init__(self, params: list[ParamSpec], *, body_headers: bool = False) -> None:
        self.params = params  # the handler's and its providers' request data
        self._path = [(s.field, s.key) for s in params if s.source is ParamSource.PATH]
        self._query = _by_key(params, ParamSource.QUERY)
        # Query key -> its field, where one single-valued parameter reads the key
        # (nearly always): no loop over specs for it.
        self._query_fields = {
            key: specs[0].field
            for key, specs in self._query.items()
            if len(specs) == 1 and not specs[0].sequence
        }
        self._headers = {
            k.encode("latin-1"): v for k, v in _by_key(params, ParamSource.HEADER).items()
        }
        self._cookies = _by_key(params, ParamSource.COOKIE)
        # Credentials are read like other parameters but checked on their own:
        # a missing one is a 401, before anything else is validated.
        self._security = [s for s in params if s.security is not None]
        validated = [s for s in params if s.security is None]
        self._defaults = {s.field: s.default for s in validated if not s.required}
        # A mutable default (`tags: list[str] = Query([])`) is copied per request,
        # so a handler that changes it cannot change the next request's default.
        self._mutable_defaults = [
            (field, value)
            for field, value in self._defaults.items()
            if isinstance(value, list | dict | set | bytearray)
        ]
        self._locs = {s.field: [s.source.value, s.key] for s in validated}
        self._validator = _params_validator(validated) if validated else None
        # The fast cases, decided here: no parameter at all, and whether the
        # headers need a look (for parameters, cookies, or a body's two headers).
        self._no_parameters = not params
        self._body_headers = body_headers
        self._scans_headers = bool(self._headers or self._cookies or body_headers)

    def read(
        self, scope: Scope, path_params: dict[str, str] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]] | None, bytes | None, bytes | None]:
        """``(values, errors, content_type, content_length)``.

        ``values`` are the validated parameters keyed by field, credentials
        included; ``errors`` the validation errors (None for a route without
        parameters), for the caller to answer with a 422 (with a body's errors,
        if it reads one); the last two are the
        request's ``Content-Type`` and ``Content-Length`` headers, found in the
        same pass when the reader was made with ``body_headers=True``. A missing
        credential raises its 401 at once.
        """
        if self._no_parameters:
            if self._body_headers:
                return {}, None, *self._read_headers(scope["headers"], {})
            return {}, None, None, None
        raw: dict[str, Any] = {}
        if path_params is not None:
            for field, key in self._path:
                raw[field] = path_params[key]
        repeated = None
        if self._query:
            query_string: bytes = scope["query_string"]
            if query_string:
                repeated = self._read_query(query_string, raw)
        content_type = content_length = None
        if self._scans_headers:
            content_type, content_length = self._read_headers(scope["headers"], raw)
        credentials = self._credentials(raw) if self._security else None
        values, errors = self._validate(raw, repeated)
        if credentials:
            values.update(credentials)
        return values, errors, content_type, content_length

    def _validate(
        self, raw: dict[str, Any], repeated: list[str] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """All parameters validated in one pass, defaults filled: (values, errors)."""
        errors: list[dict[str, Any]] = []
        if self._validator is None:
            values: dict[str, Any] = {}
        else:
            try:
                values = self._validator(raw)
            except ValidationError as exc:
                values = {}
                errors = self._param_errors(exc)
            if self._defaults:
                values = {**self._defaults, **values}
                for field, value in self._mutable_defaults:
                    if values[field] is value:
                        values[field] = copy.deepcopy(value)
        if repeated:
            errors.extend(
                {
                    "loc": ["query", key],
                    "msg": "Expected one value, got several.",
                    "type": "repeated",
                }
                for key in dict.fromkeys(repeated)
            )
        return values, errors

    def _credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Each credential the route declares, or the 401 for the first one missing."""
        found = {}
        for spec in self._security:
            assert spec.security is not None
            value = raw.pop(spec.field, None)
            if value is None and not spec.required:
                found[spec.field] = spec.default
            else:
                found[spec.field] = spec.security.credential(value, required=spec.required)
        return found

    def _read_query(self, query_string: bytes, raw: dict[str, Any]) -> list[str] | None:
        """Fill ``raw`` from the query string; return the keys of single values sent twice."""
        wanted = self._query
        fields = self._query_fields
        repeated = None
        for key, value in parse_query(query_string):
            field = fields.get(key)
            if field is not None:
                if field in raw:
                    if repeated is None:
                        repeated = []
                    repeated.append(key)
                else:
                    raw[field] = value
                continue
            specs = wanted.get(key)
            if specs is None:
                continue
            for spec in specs:
                if spec.sequence:
                    raw.setdefault(spec.field, []).append(value)
                elif spec.field in raw:
                    if repeated is None:
                        repeated = []
                    repeated.append(key)
                else:
                    raw[spec.field] = value
        return repeated

    def _read_headers(
        self, headers: list[tuple[bytes, bytes]], raw: dict[str, Any]
    ) -> tuple[bytes | None, bytes | None]:
        """Fill ``raw`` from the headers and cookies; return the body's two headers."""
        content_type = content_length = None
        wanted = self._headers
        if not wanted and not self._cookies:
            # Only the body's two headers matter (a body route with no header parameters).
            for name, value in headers:
                if name == b"content-type":
                    content_type = value
                elif name == b"content-length":
                    content_length = value
            return content_type, content_length
        cookie_headers: list[str] = []
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"cookie":
                cookie_headers.append(value.decode("latin-1"))
            specs = wanted.get(name)
            if specs is not None:
                text = value.decode("latin-1")
                for spec in specs:
                    if spec.sequence:
                        raw.setdefault(spec.field, []).append(text)
                    elif spec.field not in raw:
                        raw[spec.field] = text
        if self._cookies and cookie_headers:
            cookies = cookie_parser("; ".join(cookie_headers))
            for key, specs in self._cookies.items():
                if key in cookies:
                    for spec in specs:
                        raw[spec.field] = cookies[key]
        return content_type, content_length

    def _param_errors(self, exc: ValidationError) -> list[dict[str, Any]]:
        """The errors with each field's place on the wire: ``["query", "page", ...]``."""
        errors = validation_errors(exc)
        for error in errors:
            loc = error["loc"]
            loc[:1] = self._locs[str(loc[0])]
        return errors


def _params_validator(params: list[ParamSpec]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One validator for all of a route's scalar parameters: a TypedDict over them."""
    fields: dict[str, Any] = {
        spec.field: spec.annotation if spec.required else NotRequired[spec.annotation]
        for spec in params
    }
    make_typed_dict: Any = TypedDict  # called with computed fields, which mypy cannot follow
    typed = make_typed_dict("Params", fields)
    # "nan", "inf" and "1e999" are not numbers a client means: a float parameter is
    # finite (`Annotated[float, Field(allow_inf_nan=True)]` still opts a parameter out).
    typed.__pydantic_config__ = FINITE_NUMBERS
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(typed)
    # pydantic-core's validator itself: the TypeAdapter wrapper costs a call per request.
    validate: Callable[[dict[str, Any]], dict[str, Any]] = adapter.validator.validate_python
    return validate
