"""The client's models: the document's schemas as pydantic v2 models, written by
datamodel-code-generator (the ``client`` extra), with options fixed so that the
same document always gives the same bytes."""

from __future__ import annotations

import json
import warnings
from typing import Any

from bocadillo.errors import ConfigurationError

__all__ = ["MODELS_HEADER", "fold_nullable", "generate_models"]

MODELS_HEADER = '"""The API\'s models, from its OpenAPI document. Generated: do not edit."""'

NULL = {"type": "null"}


def fold_nullable(schema: Any) -> Any:
    """``anyOf: [S, {"type": "null"}]`` as ``S`` with ``type: [S.type, "null"]``.

    Pydantic writes an optional field that way; datamodel-code-generator makes
    a root model of such an ``S`` when it has constraints, with ``None`` as its
    default, which ``mypy --strict`` refuses. The folded form means the same.
    """
    if isinstance(schema, list):
        return [fold_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    folded = {key: fold_nullable(value) for key, value in schema.items()}
    any_of = folded.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and NULL in any_of:
        other = any_of[0] if any_of[1] == NULL else any_of[1]
        if isinstance(other, dict) and isinstance(other.get("type"), str):
            rest = {key: value for key, value in folded.items() if key != "anyOf"}
            folded = {**other, **rest, "type": [other["type"], "null"]}
    return folded


def generate_models(document: dict[str, Any]) -> str:
    """The models module's text for an OpenAPI document's ``components.schemas``."""
    try:
        from datamodel_code_generator import generate
        from datamodel_code_generator.enums import DataModelType, InputFileType
        from datamodel_code_generator.format import Formatter, PythonVersion
    except ImportError:  # pragma: no cover - the extra is missing
        raise ConfigurationError(
            "generating a client needs datamodel-code-generator: pip install 'bocadillo[client]'"
        ) from None
    schemas = document.get("components", {}).get("schemas", {})
    if not schemas:
        return MODELS_HEADER + "\n\nfrom __future__ import annotations\n"
    source = {
        "openapi": document.get("openapi", "3.1.0"),
        "info": {"title": "models", "version": "0"},
        "paths": {},
        "components": {"schemas": fold_nullable(schemas)},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its notices about future defaults: ours are explicit
        text = generate(
            json.dumps(source),
            input_file_type=InputFileType.OpenAPI,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_311,
            formatters=[Formatter.BUILTIN],
            custom_file_header=MODELS_HEADER,
            disable_timestamp=True,
            keep_model_order=True,
            use_annotated=True,
            field_constraints=True,
            strict_nullable=True,
            use_standard_collections=True,
            use_union_operator=True,
            use_schema_description=True,
            use_double_quotes=True,
            collapse_root_models=True,
            collapse_constrained_root_models_as_annotated=True,
        )
    if not isinstance(text, str):  # pragma: no cover - one module asked, one given
        raise ConfigurationError("datamodel-code-generator did not return one module")
    return text if text.endswith("\n") else text + "\n"
