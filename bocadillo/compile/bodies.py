"""A handler's JSON body: one body parameter, or an envelope of several.

One body parameter (without ``Body(embed=True)``) is the whole body. Several
body parameters, or one marked ``Body(embed=True)``, make an envelope: the body
is one JSON object with a key per parameter (its name, or its marker's
``alias``). The envelope's type is a pydantic model built here, once, so the
request path validates it in the same single pass as any body, and the
document describes it as a named object, ``Body_<handler>``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from bocadillo.errors import ConfigurationError
from bocadillo.params import UNSET, BodyParam
from bocadillo.runtime.body import BodyMember, EnvelopeSpec
from bocadillo.runtime.specs import BodySpec
from bocadillo.schemas.protocol import SchemaAdapter
from bocadillo.schemas.registry import adapter_for, is_foreign

__all__ = ["BodyEntry", "body_spec", "envelope_name"]

_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


@dataclasses.dataclass(frozen=True, slots=True)
class BodyEntry:
    """A parameter read from the JSON body, as the signature declares it."""

    member: BodyMember  # its field is filled in by envelope_spec
    validated: Any  # the type its value is validated as (constraints included)
    declared: Any  # the annotation as written, for error messages


def envelope_name(qualname: str, is_method: bool) -> str:
    """``Body_<handler>`` (``Body_<View>_<method>`` for a view's method)."""
    parts = [part for part in qualname.split(".") if part != "<locals>"]
    kept = parts[-2:] if is_method else parts[-1:]
    return "Body_" + "_".join(_UNSAFE.sub("_", part) for part in kept)


def _embedded(entry: BodyEntry) -> bool:
    marker = entry.member.marker
    return isinstance(marker, BodyParam) and marker.embed


def _adapter(tp: Any, what: str, declared: Any, where: str) -> SchemaAdapter:
    try:
        return adapter_for(tp)
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(f"{where}: {what}: cannot validate {declared!r}: {exc}") from exc


def body_spec(entries: list[BodyEntry], *, where: str, name: str) -> BodySpec | None:
    """The handler's body: ``None``, one parameter's value, or an envelope of them."""
    if not entries:
        return None
    if len(entries) == 1 and not _embedded(entries[0]):
        entry = entries[0]
        member = entry.member
        if member.key != member.name:
            raise ConfigurationError(
                f"{where}: parameter {member.name!r}: Body(alias={member.key!r}) names the "
                "parameter's key in the body object, but the body is this parameter's value "
                "itself; add embed=True to read it from under that key"
            )
        adapter = _adapter(entry.validated, f"parameter {member.name!r}", entry.declared, where)
        return BodySpec(
            member.name, entry.validated, adapter, member.required, member.default, member.marker
        )
    return envelope_spec(entries, where=where, name=name)


def _opts_out_of_strict(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and issubclass(tp, BaseModel)
        and tp.model_config.get("strict") is False
    )


def _strict(entries: list[BodyEntry], where: str) -> bool:
    """JSON is validated strictly, unless every member is a model that opts out."""
    lax = [e.member.name for e in entries if _opts_out_of_strict(e.member.annotation)]
    if lax and len(lax) < len(entries):
        strict = next(e.member.name for e in entries if e.member.name not in lax)
        raise ConfigurationError(
            f"{where}: body parameter {lax[0]!r} is a model with strict=False and "
            f"{strict!r} is validated strictly; one body is validated one way: make them "
            "agree, or declare one model that holds both"
        )
    return not lax


def envelope_spec(entries: list[BodyEntry], *, where: str, name: str) -> EnvelopeSpec:
    """One JSON object whose keys are the body parameters, validated as one model."""
    fields: dict[str, Any] = {}
    members: list[BodyMember] = []
    keys: dict[str, str] = {}
    for n, entry in enumerate(entries):
        member = entry.member
        if member.key in keys:
            raise ConfigurationError(
                f"{where}: body parameters {keys[member.key]!r} and {member.name!r} both "
                f"read the key {member.key!r} of the body; give one another alias"
            )
        keys[member.key] = member.name
        if is_foreign(member.annotation):
            raise ConfigurationError(
                f"{where}: body parameter {member.name!r}: {entry.declared!r} is the "
                "type of another schema library, which reads a whole body, not a key of "
                "it; declare one schema of that library that holds the body's keys"
            )
        marker = member.marker
        info: dict[str, Any] = {"alias": member.key}
        if marker is not None:
            info.update(
                (k, v)
                for k, v in (
                    ("title", marker.title),
                    ("description", marker.description),
                    ("examples", marker.examples),
                )
                if v
            )
        default = ... if member.required else member.default
        field = f"p{n}"
        fields[field] = (entry.validated, Field(default, **info))
        members.append(dataclasses.replace(member, field=field))
    config = None if _strict(entries, where) else ConfigDict(strict=False)
    try:
        model: Any = create_model(name, __config__=config, **fields)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise ConfigurationError(f"{where}: cannot validate the body parameters: {exc}") from exc
    adapter = _adapter(model, "the body parameters", model, where)
    return EnvelopeSpec(
        members[0].name,
        model,
        adapter,
        any(member.required for member in members),
        UNSET,
        None,
        tuple(members),
    )
