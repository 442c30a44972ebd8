"""``bocadillo diff``'s rules, one pair of small documents per rule, with the verdict expected.

Each case is an old and a new document, the rule id the change must be reported under
and its severity; every document compared with itself gives no change.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bocadillo.diff import Change, diff_documents

Schema = dict[str, Any]

INT: Schema = {"type": "integer"}
STR: Schema = {"type": "string"}


def obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    return {"type": "object", "properties": props, "required": list(required)}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def operation(
    *,
    params: tuple[Schema, ...] = (),
    body: Schema | None = None,
    body_required: bool = True,
    response: Schema | None = None,
    responses: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> Schema:
    op: Schema = {"parameters": list(params)}
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": json_content(body)}
    op["responses"] = (
        responses
        if responses is not None
        else {"200": {"description": "OK", "content": json_content(response or INT)}}
    )
    if security is not None:
        op["security"] = security
    return op


def openapi(
    paths: dict[str, dict[str, Schema]] | None = None,
    schemas: dict[str, Schema] | None = None,
    **op: Any,
) -> Schema:
    """A document with ``POST /items/{id}`` made of ``op`` (or the given ``paths``)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths if paths is not None else {"/items/{id}": {"post": operation(**op)}},
        "components": {
            "schemas": schemas or {},
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "oauth": {"type": "oauth2", "flows": {}},
            },
        },
    }


def query(name: str, schema: Schema | None = None, *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema or INT}


HEADER: Schema = {"schema": STR}
HEADER_REQUIRED: Schema = {"schema": STR, "required": True}
HEADER_INT: Schema = {"schema": INT}
PATH_ID = {"name": "id", "in": "path", "required": True, "schema": INT}


def asyncapi(
    received: dict[str, Schema] | None = None,
    sent: dict[str, Schema] | None = None,
    *,
    address: str = "/rooms/{room}",
    close_codes: dict[str, str] | None = None,
    schemas: dict[str, Schema] | None = None,
) -> Schema:
    """A document with one channel receiving and sending the given messages (by key)."""
    received, sent = received or {}, sent or {}
    channel: Schema = {
        "address": address,
        "messages": {key: {"payload": payload} for key, payload in {**received, **sent}.items()},
    }
    if close_codes is not None:
        channel["x-close-codes"] = close_codes
    ref = {"$ref": "#/channels/room"}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "channels": {"room": channel},
        "operations": {
            "room_receive": {
                "action": "receive",
                "channel": ref,
                "messages": [{"$ref": f"#/channels/room/messages/{key}"} for key in received],
            },
            "room_send": {
                "action": "send",
                "channel": ref,
                "messages": [{"$ref": f"#/channels/room/messages/{key}"} for key in sent],
            },
        },
        "components": {"schemas": schemas or {}},
    }


TWO_PATHS = {
    "/items/{id}": {"post": operation(), "get": operation()},
    "/other": {"get": operation()},
}
ONE_PATH = {"/items/{id}": {"post": operation(), "get": operation()}}
ONE_OP = {"/items/{id}": {"post": operation()}, "/other": {"get": operation()}}

PET = obj(("kind",), kind={"const": "cat"}, name=STR)
DOG = obj(("kind",), kind={"const": "dog"}, bark=STR)
PETS = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]}
ONLY_CAT = {"oneOf": [{"$ref": "#/components/schemas/Cat"}], "discriminator": "kind"}
PETS_D = {**PETS, "discriminator": {"propertyName": "kind"}}

# (id, old, new, rule, severity)
CASES: list[tuple[str, Schema, Schema, str, str]] = [
    # operations and paths
    ("path removed", openapi(TWO_PATHS), openapi(ONE_PATH), "api-path-removed", "breaking"),
    ("operation removed", openapi(TWO_PATHS), openapi(ONE_OP), "api-removed", "breaking"),
    ("path added", openapi(ONE_PATH), openapi(TWO_PATHS), "api-path-added", "safe"),
    ("operation added", openapi(ONE_OP), openapi(TWO_PATHS), "endpoint-added", "safe"),
    # parameters
    (
        "required parameter added",
        openapi(),
        openapi(params=(query("q", required=True),)),
        "new-required-request-parameter",
        "breaking",
    ),
    (
        "optional parameter added",
        openapi(),
        openapi(params=(query("q"),)),
        "new-optional-request-parameter",
        "safe",
    ),
    (
        "parameter made required",
        openapi(params=(query("q"),)),
        openapi(params=(query("q", required=True),)),
        "request-parameter-became-required",
        "breaking",
    ),
    (
        "parameter made optional",
        openapi(params=(query("q", required=True),)),
        openapi(params=(query("q"),)),
        "request-parameter-became-optional",
        "safe",
    ),
    (
        "parameter removed",
        openapi(params=(query("q"),)),
        openapi(),
        "request-parameter-removed",
        "maybe-breaking",
    ),
    (
        "parameter type changed",
        openapi(params=(query("q", STR),)),
        openapi(params=(query("q", INT),)),
        "request-parameter-type-changed",
        "breaking",
    ),
    (
        "parameter type widened",
        openapi(params=(query("q", INT),)),
        openapi(params=(query("q", {"type": "number"}),)),
        "request-parameter-type-changed",
        "safe",
    ),
    (
        "parameter enum value removed",
        openapi(params=(query("q", {"enum": ["a", "b"]}),)),
        openapi(params=(query("q", {"enum": ["a"]}),)),
        "request-parameter-enum-value-removed",
        "breaking",
    ),
    (
        "parameter enum value added",
        openapi(params=(query("q", {"enum": ["a"]}),)),
        openapi(params=(query("q", {"enum": ["a", "b"]}),)),
        "request-parameter-enum-value-added",
        "safe",
    ),
    (
        "parameter max decreased",
        openapi(params=(query("q", {"type": "integer", "maximum": 100}),)),
        openapi(params=(query("q", {"type": "integer", "maximum": 50}),)),
        "request-parameter-max-decreased",
        "breaking",
    ),
    (
        "parameter min set",
        openapi(params=(query("q"),)),
        openapi(params=(query("q", {"type": "integer", "minimum": 1}),)),
        "request-parameter-min-set",
        "breaking",
    ),
    (
        "parameter max length increased",
        openapi(params=(query("q", {"type": "string", "maxLength": 5}),)),
        openapi(params=(query("q", {"type": "string", "maxLength": 9}),)),
        "request-parameter-max-length-increased",
        "safe",
    ),
    (
        "parameter pattern added",
        openapi(params=(query("q", STR),)),
        openapi(params=(query("q", {"type": "string", "pattern": "^a"}),)),
        "request-parameter-pattern-added",
        "breaking",
    ),
    (
        "parameter pattern changed",
        openapi(params=(query("q", {"type": "string", "pattern": "^a"}),)),
        openapi(params=(query("q", {"type": "string", "pattern": "^b"}),)),
        "request-parameter-pattern-changed",
        "breaking",
    ),
    (
        "response pattern changed",
        openapi(response={"type": "string", "pattern": "^a"}),
        openapi(response={"type": "string", "pattern": "^b"}),
        "response-body-pattern-changed",
        "maybe-breaking",
    ),
    (
        "parameter became not nullable",
        openapi(params=(query("q", {"anyOf": [INT, {"type": "null"}]}),)),
        openapi(params=(query("q", INT),)),
        "request-parameter-became-not-nullable",
        "breaking",
    ),
    (
        "parameter default changed",
        openapi(params=(query("q", {"type": "integer", "default": 20}),)),
        openapi(params=(query("q", {"type": "integer", "default": 10}),)),
        "request-parameter-default-value-changed",
        "breaking",
    ),
    (
        "parameter default removed",
        openapi(params=(query("q", {"type": "integer", "default": 20}),)),
        openapi(params=(query("q", INT),)),
        "request-parameter-default-value-removed",
        "breaking",
    ),
    # request bodies
    (
        "request property added as required",
        openapi(body=obj(("a",), a=STR)),
        openapi(body=obj(("a", "b"), a=STR, b=STR)),
        "new-required-request-property",
        "breaking",
    ),
    (
        "request property added as optional",
        openapi(body=obj(("a",), a=STR)),
        openapi(body=obj(("a",), a=STR, b=STR)),
        "new-optional-request-property",
        "safe",
    ),
    (
        "request property made required",
        openapi(body=obj((), a=STR)),
        openapi(body=obj(("a",), a=STR)),
        "request-property-became-required",
        "breaking",
    ),
    (
        "request property type changed",
        openapi(body=obj((), a=STR)),
        openapi(body=obj((), a=INT)),
        "request-property-type-changed",
        "breaking",
    ),
    (
        "request property max length decreased",
        openapi(body=obj((), a={"type": "string", "maxLength": 100})),
        openapi(body=obj((), a={"type": "string", "maxLength": 10})),
        "request-property-max-length-decreased",
        "breaking",
    ),
    (
        "request property removed",
        openapi(body=obj((), a=STR, b=STR)),
        openapi(body=obj((), a=STR)),
        "request-property-removed",
        "maybe-breaking",
    ),
    (
        "request body made required",
        openapi(body=obj((), a=STR), body_required=False),
        openapi(body=obj((), a=STR)),
        "request-body-became-required",
        "breaking",
    ),
    (
        "request body added as required",
        openapi(),
        openapi(body=obj((), a=STR)),
        "new-required-request-body",
        "breaking",
    ),
    (
        "request media type removed",
        openapi(body=obj()),
        openapi(
            paths={
                "/items/{id}": {
                    "post": {
                        "requestBody": {"content": {"text/plain": {"schema": STR}}},
                        "responses": operation()["responses"],
                    }
                }
            }
        ),
        "request-body-media-type-removed",
        "breaking",
    ),
    (
        "request union variant removed",
        openapi(body=PETS, schemas={"Cat": PET, "Dog": DOG}),
        openapi(body=ONLY_CAT, schemas={"Cat": PET, "Dog": DOG}),
        "request-body-one-of-removed",
        "breaking",
    ),
    # responses
    (
        "response property removed",
        openapi(response=obj(("a", "b"), a=STR, b=STR)),
        openapi(response=obj(("a",), a=STR)),
        "response-required-property-removed",
        "breaking",
    ),
    (
        "response property made optional",
        openapi(response=obj(("a",), a=STR)),
        openapi(response=obj((), a=STR)),
        "response-property-became-optional",
        "breaking",
    ),
    (
        "response property added",
        openapi(response=obj(("a",), a=STR)),
        openapi(response=obj(("a", "b"), a=STR, b=STR)),
        "response-required-property-added",
        "safe",
    ),
    (
        "response enum value added",
        openapi(response=obj(("a",), a={"enum": ["x"]})),
        openapi(response=obj(("a",), a={"enum": ["x", "y"]})),
        "response-property-enum-value-added",
        "breaking",
    ),
    (
        "response enum value removed",
        openapi(response=obj(("a",), a={"enum": ["x", "y"]})),
        openapi(response=obj(("a",), a={"enum": ["x"]})),
        "response-property-enum-value-removed",
        "safe",
    ),
    (
        "response max unset",
        openapi(response=obj(("a",), a={"type": "integer", "maximum": 9})),
        openapi(response=obj(("a",), a=INT)),
        "response-property-max-unset",
        "breaking",
    ),
    (
        "response min increased",
        openapi(response=obj(("a",), a={"type": "integer", "minimum": 0})),
        openapi(response=obj(("a",), a={"type": "integer", "minimum": 1})),
        "response-property-min-increased",
        "safe",
    ),
    (
        "response became nullable",
        openapi(response=obj(("a",), a=INT)),
        openapi(response=obj(("a",), a={"anyOf": [INT, {"type": "null"}]})),
        "response-property-became-nullable",
        "breaking",
    ),
    (
        "response type changed",
        openapi(response=INT),
        openapi(response=STR),
        "response-body-type-changed",
        "breaking",
    ),
    (
        "response union variant added",
        openapi(response=ONLY_CAT, schemas={"Cat": PET, "Dog": DOG}),
        openapi(response={**PETS, "discriminator": "kind"}, schemas={"Cat": PET, "Dog": DOG}),
        "response-body-one-of-added",
        "breaking",
    ),
    (
        "success status removed",
        openapi(responses={"200": {"description": "OK"}, "201": {"description": "Created"}}),
        openapi(responses={"200": {"description": "OK"}}),
        "response-success-status-removed",
        "breaking",
    ),
    (
        "error status removed",
        openapi(responses={"200": {"description": "OK"}, "404": {"description": "Gone"}}),
        openapi(responses={"200": {"description": "OK"}}),
        "response-non-success-status-removed",
        "maybe-breaking",
    ),
    (
        "status added",
        openapi(responses={"200": {"description": "OK"}}),
        openapi(responses={"200": {"description": "OK"}, "404": {"description": "Gone"}}),
        "response-non-success-status-added",
        "safe",
    ),
    (
        "response media type removed",
        openapi(),
        openapi(
            responses={"200": {"description": "OK", "content": {"text/plain": {"schema": STR}}}}
        ),
        "response-media-type-removed",
        "breaking",
    ),
    (
        "required response header removed",
        openapi(responses={"200": {"description": "OK", "headers": {"ETag": HEADER_REQUIRED}}}),
        openapi(responses={"200": {"description": "OK"}}),
        "response-required-header-removed",
        "breaking",
    ),
    (
        "optional response header removed",
        openapi(responses={"200": {"description": "OK", "headers": {"ETag": HEADER}}}),
        openapi(responses={"200": {"description": "OK"}}),
        "response-optional-header-removed",
        "maybe-breaking",
    ),
    (
        "response header became optional",
        openapi(responses={"200": {"description": "OK", "headers": {"ETag": HEADER_REQUIRED}}}),
        openapi(responses={"200": {"description": "OK", "headers": {"etag": HEADER}}}),
        "response-header-became-optional",
        "breaking",
    ),
    (
        "response header added",
        openapi(responses={"200": {"description": "OK"}}),
        openapi(responses={"200": {"description": "OK", "headers": {"ETag": HEADER}}}),
        "response-header-added",
        "safe",
    ),
    (
        "response header widened",
        openapi(responses={"200": {"description": "OK", "headers": {"Retry-After": HEADER_INT}}}),
        openapi(responses={"200": {"description": "OK", "headers": {"Retry-After": HEADER}}}),
        "response-header-type-changed",
        "breaking",
    ),
    # security
    (
        "security added",
        openapi(),
        openapi(security=[{"key": []}]),
        "api-security-added",
        "breaking",
    ),
    (
        "security scope added",
        openapi(security=[{"oauth": ["read"]}]),
        openapi(security=[{"oauth": ["read", "write"]}]),
        "api-security-scope-added",
        "breaking",
    ),
    (
        "security alternative added",
        openapi(security=[{"key": []}]),
        openapi(security=[{"key": []}, {"oauth": []}]),
        "api-security-alternative-added",
        "safe",
    ),
    (
        "security removed",
        openapi(security=[{"key": []}]),
        openapi(security=[]),
        "api-security-removed",
        "safe",
    ),
    (
        "security alternative removed",
        openapi(security=[{"key": []}, {"oauth": []}]),
        openapi(security=[{"oauth": []}]),
        "api-security-alternative-removed",
        "breaking",
    ),
    (
        "security scheme replaced",
        openapi(security=[{"key": []}]),
        openapi(security=[{"oauth": []}]),
        "api-security-alternative-removed",
        "breaking",
    ),
    (
        "security scope removed",
        openapi(security=[{"oauth": ["read", "write"]}]),
        openapi(security=[{"oauth": ["read"]}]),
        "api-security-alternative-added",
        "safe",
    ),
    # AsyncAPI
    (
        "channel removed",
        asyncapi({"in": STR}),
        asyncapi({"in": STR}, address="/other"),
        "channel-removed",
        "breaking",
    ),
    (
        "channel added",
        {**asyncapi(), "channels": {}, "operations": {}},
        asyncapi({"in": STR}),
        "channel-added",
        "safe",
    ),
    (
        "received message removed",
        asyncapi({"join": STR, "say": STR}),
        asyncapi({"join": STR}),
        "received-message-removed",
        "breaking",
    ),
    (
        "received message added",
        asyncapi({"join": STR}),
        asyncapi({"join": STR, "say": STR}),
        "received-message-added",
        "safe",
    ),
    (
        "sent message removed",
        asyncapi(sent={"said": STR, "left": STR}),
        asyncapi(sent={"said": STR}),
        "sent-message-removed",
        "safe",
    ),
    (
        "sent message added (an SSE event type)",
        asyncapi(sent={"tick": STR}),
        asyncapi(sent={"tick": STR, "done": STR}),
        "sent-message-added",
        "breaking",
    ),
    (
        "received message property made required",
        asyncapi({"say": obj((), text=STR)}),
        asyncapi({"say": obj(("text",), text=STR)}),
        "received-message-property-became-required",
        "breaking",
    ),
    (
        "received message narrowed",
        asyncapi({"say": obj((), text={"type": "string", "maxLength": 9})}),
        asyncapi({"say": obj((), text={"type": "string", "maxLength": 3})}),
        "received-message-property-max-length-decreased",
        "breaking",
    ),
    (
        "sent message property removed",
        asyncapi(sent={"said": obj(("text",), text=STR)}),
        asyncapi(sent={"said": obj()}),
        "sent-message-required-property-removed",
        "breaking",
    ),
    (
        "sent message enum value added",
        asyncapi(sent={"said": {"enum": ["a"]}}),
        asyncapi(sent={"said": {"enum": ["a", "b"]}}),
        "sent-message-enum-value-added",
        "breaking",
    ),
    (
        "sent message narrowed",
        asyncapi(sent={"said": {"enum": ["a", "b"]}}),
        asyncapi(sent={"said": {"enum": ["a"]}}),
        "sent-message-enum-value-removed",
        "safe",
    ),
    (
        "close code added",
        asyncapi({"in": STR}, close_codes={"1000": "done"}),
        asyncapi({"in": STR}, close_codes={"1000": "done", "4001": "kicked"}),
        "close-code-added",
        "breaking",
    ),
    (
        "close code removed",
        asyncapi({"in": STR}, close_codes={"1000": "done", "4001": "kicked"}),
        asyncapi({"in": STR}, close_codes={"1000": "done"}),
        "close-code-removed",
        "safe",
    ),
]


def verdicts(changes: list[Change]) -> set[tuple[str, str]]:
    return {(change.rule, change.severity.value) for change in changes}


@pytest.mark.parametrize(
    ("old", "new", "rule", "severity"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_gives_its_verdict(old: Schema, new: Schema, rule: str, severity: str) -> None:
    changes = diff_documents(old, new)
    assert (rule, severity) in verdicts(changes), [c.as_dict() for c in changes]
    if severity == "safe":
        assert all(c.severity.value == "safe" for c in changes), [c.as_dict() for c in changes]


@pytest.mark.parametrize(
    "document",
    [document for case in CASES for document in case[1:3]],
    ids=[f"{case[0]}-{side}" for case in CASES for side in ("old", "new")],
)
def test_every_document_against_itself_gives_no_change(document: Schema) -> None:
    assert diff_documents(document, copy.deepcopy(document)) == []


def test_each_change_says_where_and_points_into_the_document() -> None:
    old = openapi(params=(PATH_ID,), body=obj((), title={"type": "string", "maxLength": 100}))
    new = openapi(params=(PATH_ID,), body=obj((), title={"type": "string", "maxLength": 10}))
    [change] = diff_documents(old, new)
    assert change.as_dict() == {
        "severity": "breaking",
        "rule": "request-property-max-length-decreased",
        "document": "openapi",
        "where": "POST /items/{id}",
        "pointer": "/paths/~1items~1{id}/post/requestBody/content/application~1json/schema"
        "/properties/title",
        "message": "request body property title: maxLength decreased from 100 to 10",
    }
