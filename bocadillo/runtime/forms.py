"""Forms and uploaded files: what a route reads from a form body, and its reader.

A route that declares ``Form``/``File`` parameters has a ``FormReader`` in its
``EndpointPlan``, in place of the JSON body; every other route pays nothing
for forms.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from collections.abc import AsyncGenerator, Callable
from typing import Any, NotRequired

from pydantic import TypeAdapter, ValidationError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import Receive
from typing_extensions import TypedDict

from bocadillo.errors import HTTPError
from bocadillo.params import (
    DEFAULT_MAX_FIELDS,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_PART_SIZE,
)
from bocadillo.runtime.body import body_chunks, parse_content_length, read_body
from bocadillo.runtime.parameters import FINITE_NUMBERS, parse_query
from bocadillo.runtime.uploads import UploadFile
from bocadillo.schemas.pydantic_backend import validation_errors
from bocadillo.schemas.types import is_sequence_type

__all__ = [
    "FormField",
    "FormModel",
    "FormReader",
    "FormSpec",
    "UploadFile",
    "model_keys",
]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


@dataclasses.dataclass(slots=True)
class FormField:
    """One ``Form()`` field or ``File()`` parameter."""

    name: str  # the handler's argument
    key: str  # the field name in the form
    annotation: Any  # the type validated (constraints included); unused for files
    schema_type: Any  # the type documented; None for files
    required: bool
    default: Any
    sequence: bool
    file: str | None  # None (a value), "upload" (UploadFile) or "bytes"
    description: str | None = None


@dataclasses.dataclass(slots=True)
class FormModel:
    """A pydantic model or dataclass marked ``Form()``: its fields are read from the form."""

    name: str
    annotation: Any
    adapter: TypeAdapter[Any]
    keys: dict[str, bool]  # form key -> whether it takes every value (a list)
    required: bool
    default: Any
    description: str | None = None


@dataclasses.dataclass(slots=True)
class FormSpec:
    """What a route reads from a form body, and the limits it reads it under."""

    fields: list[FormField]
    model: FormModel | None
    max_fields: int = DEFAULT_MAX_FIELDS
    max_files: int = DEFAULT_MAX_FILES
    max_part_size: int = DEFAULT_MAX_PART_SIZE

    @property
    def has_files(self) -> bool:
        return any(f.file is not None for f in self.fields)

    @property
    def required(self) -> bool:
        return any(f.required for f in self.fields) or (
            self.model is not None and self.model.required
        )


def model_keys(tp: Any) -> dict[str, bool]:
    """The form keys a model reads: alias or name -> takes every value (a list)."""
    if isinstance(tp, type) and hasattr(tp, "model_fields"):
        return {
            (info.alias or name): is_sequence_type(info.annotation)
            for name, info in tp.model_fields.items()
        }
    hints = typing.get_type_hints(tp)
    return {f.name: is_sequence_type(hints.get(f.name, Any)) for f in dataclasses.fields(tp)}


def _values_validator(fields: list[FormField]) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    values = [f for f in fields if f.file is None]
    if not values:
        return None
    typed = {f.key: f.annotation if f.required else NotRequired[f.annotation] for f in values}
    make_typed_dict: Any = TypedDict
    form_fields = make_typed_dict("FormFields", typed)
    form_fields.__pydantic_config__ = FINITE_NUMBERS  # "nan", "1e999": not numbers, as in a query
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(form_fields)
    return adapter.validate_python


def _too_large(detail: str) -> HTTPError:
    return HTTPError(413, detail=detail)


def _malformed(detail: str) -> HTTPError:
    return HTTPError(400, detail=detail)


class _Parser(MultiPartParser):
    """Starlette's multipart parser, with the part size limit on files too and
    the limits answered with 413 rather than 400."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int,
        max_fields: int,
        max_part_size: int,
    ) -> None:
        super().__init__(
            headers,
            stream,
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=max_part_size,
        )
        self._file_size = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_size = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_size += end - start
            if self._file_size > self.max_part_size:
                raise _too_large(f"A file is larger than the limit of {self.max_part_size} bytes.")
        elif len(self._current_part.data) + end - start > self.max_part_size:
            raise _too_large(f"A field is larger than the limit of {self.max_part_size} bytes.")
        super().on_part_data(data, start, end)

    def on_headers_finished(self) -> None:
        try:
            super().on_headers_finished()
        except MultiPartException as exc:
            if exc.message.startswith("Too many"):
                raise _too_large(exc.message) from None
            raise
        upload = self._current_part.file
        if upload is not None and type(upload) is StarletteUploadFile:
            self._current_part.file = UploadFile(
                upload.file, size=upload.size, filename=upload.filename, headers=upload.headers
            )


def _media_type(content_type: bytes | None) -> str | None:
    if content_type is None:
        return None
    return content_type.decode("latin-1").partition(";")[0].strip().lower()


class FormReader:
    """Reads a route's form body (urlencoded, or multipart through Starlette's
    parser, with the limits answered as 413) and validates its fields in one pass."""

    def __init__(self, spec: FormSpec, max_body_size: int) -> None:
        self.spec = spec
        self.max_body_size = max_body_size
        self._validator = _values_validator(spec.fields)
        self._defaults = [(f.name, f.default) for f in spec.fields if not f.required]

    async def read(
        self,
        receive: Receive,
        content_type: bytes | None,
        content_length: bytes | None,
        kwargs: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> FormData | None:
        """Put the form's values in ``kwargs`` and its errors in ``errors``.

        Returns a multipart form's ``FormData``, whose uploads the caller closes
        after the response; None for a urlencoded form, or once ``errors`` holds
        any (the uploads are then closed here).
        """
        spec = self.spec
        media_type = _media_type(content_type)
        length = parse_content_length(content_length)
        if media_type == _MULTIPART:
            _, options = parse_options_header(content_type or b"")
            if not 1 <= len(options.get(b"boundary", b"")) <= 70:  # RFC 2046 section 5.1.1
                raise _malformed(
                    "A multipart body needs a boundary of 1 to 70 characters in its "
                    "Content-Type: multipart/form-data; boundary=..."
                )
            parser = _Parser(
                Headers(raw=[(b"content-type", content_type or b"")]),
                body_chunks(receive, self.max_body_size, length),
                max_files=spec.max_files,
                max_fields=spec.max_fields,
                max_part_size=spec.max_part_size,
            )
            try:
                form = await parser.parse()
            except MultiPartException as exc:
                raise _malformed(f"The multipart body is malformed: {exc.message}") from None
            except (ValueError, UnicodeDecodeError, KeyError) as exc:
                raise _malformed(f"The multipart body is malformed: {exc}") from None
            try:
                await self._validate_form(form.multi_items(), kwargs, errors)
            except BaseException:
                await form.close()
                raise
            if errors:
                await form.close()
                return None
            return form
        if media_type == _URLENCODED or (media_type is None and not length):
            body = await read_body(receive, self.max_body_size, length)
            pairs = parse_query(body) if body else []
            if len(pairs) > spec.max_fields:
                raise _too_large(f"Too many fields. Maximum number of fields is {spec.max_fields}.")
            for _, value in pairs:
                if len(value) > spec.max_part_size:
                    raise _too_large(
                        f"A field is larger than the limit of {spec.max_part_size} bytes."
                    )
            await self._validate_form(list(pairs), kwargs, errors)
            return None
        raise HTTPError(
            415,
            detail=(
                "The request body must be a form, sent with Content-Type: "
                f"{_MULTIPART if spec.has_files else _URLENCODED}."
            ),
        )

    async def _validate_form(
        self,
        items: list[tuple[str, str | StarletteUploadFile]],
        kwargs: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> None:
        spec = self.spec
        grouped: dict[str, list[str | StarletteUploadFile]] = {}
        for key, value in items:
            grouped.setdefault(key, []).append(value)
        raw: dict[str, Any] = {}
        for field in spec.fields:
            values = grouped.get(field.key)
            if not values:
                if field.required and field.file is not None:  # values: the validator says
                    errors.append(
                        {"loc": ["form", field.key], "msg": "Field required", "type": "missing"}
                    )
                continue
            if field.file is None:
                texts = [v for v in values if isinstance(v, str)]
                if len(texts) < len(values):
                    errors.append(_error(field.key, "Expected a text value, got a file.", "text"))
                    continue
                raw[field.key] = texts if field.sequence else texts[-1]
                continue
            uploads = [v for v in values if not isinstance(v, str)]
            if len(uploads) < len(values):
                errors.append(_error(field.key, "Expected a file, got a text value.", "file"))
                continue
            if not field.sequence and len(uploads) > 1:
                errors.append(_error(field.key, "Expected one file, got several.", "repeated"))
                continue
            if field.file == "bytes":
                contents = [await upload.read() for upload in uploads]
                kwargs[field.name] = contents if field.sequence else contents[0]
            else:
                kwargs[field.name] = uploads if field.sequence else uploads[0]
        if self._validator is not None:
            try:
                validated = self._validator(raw)
            except ValidationError as exc:
                validated = {}
                errors.extend(validation_errors(exc, ("form",)))
            for field in spec.fields:
                if field.file is None and field.key in validated:
                    kwargs[field.name] = validated[field.key]
        for name, default in self._defaults:
            if name not in kwargs:
                kwargs[name] = copy.deepcopy(default) if _is_mutable(default) else default
        model = spec.model
        if model is not None:
            data: dict[str, Any] = {}
            for key, many in model.keys.items():
                found = [v for v in grouped.get(key, ()) if isinstance(v, str)]
                if found:
                    data[key] = found if many else found[-1]
            if not data and not model.required:
                kwargs[model.name] = model.default
                return
            try:
                instance = model.adapter.validate_python(data)
            except ValidationError as exc:
                errors.extend(validation_errors(exc, ("form",)))
                return
            infinite = _non_finite_keys(instance, data)
            if infinite:
                errors.extend(
                    _error(key, "Input should be a finite number", "finite_number")
                    for key in infinite
                )
            else:
                kwargs[model.name] = instance


def _error(key: str, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["form", key], "msg": msg, "type": kind}


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple | set | frozenset):
        return any(_non_finite(item) for item in value)
    return False


def _opts_in(info: Any) -> bool:
    """A field declared with ``allow_inf_nan=True`` (``Field(allow_inf_nan=True)``)."""
    return any(getattr(item, "allow_inf_nan", None) is True for item in info.metadata)


def _non_finite_keys(instance: Any, sent: dict[str, Any]) -> list[str]:
    """The form keys (among those ``sent``) of a model's float fields that came out
    nan or inf ("nan", "1e999"); a default of inf is the model's own business.

    The model's own fields are validated by its own config, where pydantic allows
    them; a form field is text like a query parameter, and held to the same rule,
    unless the model or the field says ``allow_inf_nan=True``.
    """
    tp = type(instance)
    fields = getattr(tp, "model_fields", None)
    if fields is not None:
        if tp.model_config.get("allow_inf_nan") is True:
            return []
        keys = {name: info.alias or name for name, info in fields.items() if not _opts_in(info)}
    elif dataclasses.is_dataclass(instance):
        keys = {field.name: field.name for field in dataclasses.fields(instance)}
    else:
        return []
    return [
        key
        for name, key in keys.items()
        if key in sent and _non_finite(getattr(instance, name, None))
    ]


def _is_mutable(value: Any) -> bool:
    return isinstance(value, list | dict | set | bytearray)
