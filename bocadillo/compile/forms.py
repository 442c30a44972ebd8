"""Compiling ``Form()`` and ``File()`` parameters: one entry each, then the route's form spec."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import TypeAdapter
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
from starlette.datastructures import UploadFile as StarletteUploadFile

from bocadillo.compile.validation import optional_member, validated_type
from bocadillo.errors import ConfigurationError
from bocadillo.params import (
    DEFAULT_MAX_FIELDS,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_PART_SIZE,
    UNSET,
    FormParam,
)
from bocadillo.runtime.forms import FormField, FormModel, FormSpec, model_keys
from bocadillo.runtime.specs import BodySpec
from bocadillo.schemas.registry import is_foreign
from bocadillo.schemas.types import (
    is_model_class,
    is_scalar_type,
    is_sequence_type,
    split_annotated,
)

__all__ = ["FormEntry", "form_entry", "form_spec"]

FormEntry = FormField | FormModel


def _file_kind(tp: Any) -> tuple[str, bool] | None:
    """``UploadFile``/``bytes`` (or a list of them) -> (kind, sequence)."""
    tp = optional_member(split_annotated(tp)[0])
    sequence = False
    if typing.get_origin(tp) is list:
        (tp,) = typing.get_args(tp) or (Any,)
        sequence = True
    if isinstance(tp, type) and issubclass(tp, StarletteUploadFile):  # ours, or Starlette's
        return "upload", sequence
    if tp is bytes:
        return "bytes", sequence
    return None


def form_entry(
    name: str, annotation: Any, marker: FormParam, default: Any, where: str
) -> FormEntry:
    """The entry of one ``Form()``/``File()`` parameter (``default`` is ``UNSET`` if none)."""
    if marker.is_file:
        return _file_field(name, annotation, marker, default, where)
    if is_model_class(optional_member(split_annotated(annotation)[0])):
        return _form_model(name, annotation, marker, default, where)
    return _value_field(name, annotation, marker, default, where)


def _file_field(
    name: str, annotation: Any, marker: FormParam, default: Any, where: str
) -> FormField:
    kind = _file_kind(annotation)
    if kind is None:
        raise ConfigurationError(
            f"{where}: parameter {name!r}: File() gives an UploadFile, bytes, or a list "
            f"of them, not {annotation!r}"
        )
    required = default is UNSET
    return FormField(
        name,
        marker.alias or name,
        None,
        None,
        required,
        None if required else default,
        kind[1],
        kind[0],
        marker.description,
    )


def _form_model(
    name: str, annotation: Any, marker: FormParam, default: Any, where: str
) -> FormModel:
    model = optional_member(split_annotated(annotation)[0])
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
    required = default is UNSET
    return FormModel(
        name,
        model,
        adapter,
        model_keys(model),
        required,
        None if required else default,
        marker.description,
    )


def _value_field(
    name: str, annotation: Any, marker: FormParam, default: Any, where: str
) -> FormField:
    if _file_kind(annotation) is not None:
        raise ConfigurationError(
            f"{where}: parameter {name!r}: mark an uploaded file with File(), not Form()"
        )
    sequence = is_sequence_type(annotation)
    if not sequence and not is_scalar_type(annotation):
        raise ConfigurationError(
            f"{where}: parameter {name!r}: {annotation!r} cannot be read from a form field"
        )
    base, metadata = split_annotated(annotation)
    validated = validated_type(base, metadata, marker, f"{where}: parameter {name!r}")
    required = default is UNSET
    return FormField(
        name,
        marker.alias or name,
        validated,
        base if is_foreign(base) else validated,
        required,
        None if required else default,
        sequence,
        None,
        marker.description,
    )


def _smallest(values: list[int | None], fallback: int) -> int:
    given = [v for v in values if v is not None]
    return min(given) if given else fallback


def form_spec(
    entries: list[tuple[FormEntry, FormParam]], body: BodySpec | None, where: str
) -> FormSpec | None:
    """What the route reads from its form (``None``: no form), under the smallest limits."""
    if not entries:
        return None
    if body is not None:
        raise ConfigurationError(
            f"{where}: parameter {body.name!r} reads a JSON body and "
            f"{entries[0][0].name!r} a form; a request has one body"
        )
    fields = [entry for entry, _ in entries if isinstance(entry, FormField)]
    models = [entry for entry, _ in entries if isinstance(entry, FormModel)]
    if len(models) > 1:
        raise ConfigurationError(
            f"{where}: parameters {models[0].name!r} and {models[1].name!r} both read the "
            "form into a model; declare one model that holds both"
        )
    markers = [marker for _, marker in entries]
    return FormSpec(
        fields,
        models[0] if models else None,
        max_fields=_smallest([m.max_fields for m in markers], DEFAULT_MAX_FIELDS),
        max_files=_smallest([m.max_files for m in markers], DEFAULT_MAX_FILES),
        max_part_size=_smallest([m.max_part_size for m in markers], DEFAULT_MAX_PART_SIZE),
    )
