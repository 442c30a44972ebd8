"""Comparing two OpenAPI documents: operations, parameters, bodies, responses, security.

Operations are matched by method and path, with the path parameters' names ignored
(``/todos/{id}`` and ``/todos/{todo_id}`` are the same path; path parameters are
matched by position), so renaming a path parameter is no change to a client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bocadillo.diff.changes import Change, Severity
from bocadillo.diff.schemas import Flow, SchemaContext, compare_schema, escape, resolve

__all__ = ["diff_openapi"]

BREAKING, WARNING, SAFE = Severity.BREAKING, Severity.WARNING, Severity.SAFE
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
PATH_PARAMETER = re.compile(r"\{([^}]*)\}")

Document = Mapping[str, Any]


def normal_path(path: str) -> str:
    """The path with each parameter's name dropped: ``/todos/{}``."""
    return PATH_PARAMETER.sub("{}", path)


def diff_openapi(old: Document, new: Document) -> list[Change]:
    """Every change from ``old`` to ``new``, in document order (see ``changes.sort_changes``)."""
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    new_paths = {normal_path(path) for path, _ in new_ops.values()}
    old_paths = {normal_path(path) for path, _ in old_ops.values()}
    reported: set[str] = set()
    for key, (path, method) in old_ops.items():
        pointer = f"/paths/{escape(path)}"
        where = f"{method.upper()} {path}"
        if key in new_ops:
            new_path, _ = new_ops[key]
            _Operation(old, new, path, new_path, method, changes).compare()
            continue
        operation = old["paths"][path][method]
        severity = WARNING if operation.get("deprecated") else BREAKING
        deprecated = " (it was deprecated)" if operation.get("deprecated") else ""
        if key[0] not in new_paths:
            if path not in reported:
                reported.add(path)
                message = f"path {path} removed{deprecated}"
                changes.append(
                    Change(severity, "api-path-removed", "openapi", f"{path}", pointer, message)
                )
            continue
        message = f"operation removed{deprecated}"
        changes.append(
            Change(severity, "api-removed", "openapi", where, f"{pointer}/{method}", message)
        )
    for key, (path, method) in new_ops.items():
        if key in old_ops:
            continue
        rule = "endpoint-added" if key[0] in old_paths else "api-path-added"
        pointer = f"/paths/{escape(path)}/{method}"
        changes.append(
            Change(SAFE, rule, "openapi", f"{method.upper()} {path}", pointer, "operation added")
        )
    return changes


def _operations(document: Document) -> dict[tuple[str, str], tuple[str, str]]:
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in METHODS:
            if isinstance(item.get(method), Mapping):
                found[(normal_path(path), method)] = (path, method)
    return found


class _Operation:
    """One operation present on both sides."""

    def __init__(
        self,
        old: Document,
        new: Document,
        old_path: str,
        new_path: str,
        method: str,
        changes: list[Change],
    ) -> None:
        self.old, self.new = old, new
        self.old_path, self.new_path, self.method = old_path, new_path, method
        self.old_ptr = f"/paths/{escape(old_path)}/{method}"
        self.new_ptr = f"/paths/{escape(new_path)}/{method}"
        self.old_op: Document = old["paths"][old_path][method]
        self.new_op: Document = new["paths"][new_path][method]
        self.where = f"{method.upper()} {new_path}"
        self.ctx = SchemaContext("openapi", self.where, old, new, changes)

    def emit(self, severity: Severity, rule: str, pointer: str, message: str) -> None:
        self.ctx.emit(severity, rule, pointer, message)

    def compare(self) -> None:
        self.parameters()
        self.request_body()
        self.responses()
        self.security()

    # -- parameters -------------------------------------------------------------
    def parameters(self) -> None:
        old = _parameters(self.old, self.old_path, self.method)
        new = _parameters(self.new, self.new_path, self.method)
        for key, (param, pointer) in old.items():
            label = f"{param.get('in')} parameter {param.get('name')}"
            if key not in new:
                self.emit(WARNING, "request-parameter-removed", pointer, f"{label} removed")
                continue
            new_param, new_pointer = new[key]
            label = f"{new_param.get('in')} parameter {new_param.get('name')}"
            was, now = bool(param.get("required")), bool(new_param.get("required"))
            if was != now:
                rule = (
                    "request-parameter-became-required"
                    if now
                    else "request-parameter-became-optional"
                )
                message = f"{label}: now required" if now else f"{label}: no longer required"
                self.emit(BREAKING if now else SAFE, rule, new_pointer, message)
            self.default(label, param, new_param, new_pointer)
            flow = Flow(True, "request", "request-parameter", label)
            compare_schema(
                self.ctx,
                flow,
                param.get("schema", {}),
                new_param.get("schema", {}),
                pointer + "/schema",
                new_pointer + "/schema",
            )
        for key, (param, pointer) in new.items():
            if key in old:
                continue
            label = f"{param.get('in')} parameter {param.get('name')}"
            if param.get("required"):
                message = f"{label} added as required"
                self.emit(BREAKING, "new-required-request-parameter", pointer, message)
            else:
                self.emit(SAFE, "new-optional-request-parameter", pointer, f"{label} added")

    def default(self, label: str, old: Document, new: Document, pointer: str) -> None:
        """An optional parameter's default: what a client that leaves it out gets (oasdiff:
        setting, changing or removing it is breaking)."""
        old_schema, _ = resolve(self.old, old.get("schema", {}), "")
        new_schema, _ = resolve(self.new, new.get("schema", {}), "")
        if new.get("required") or old_schema.get("default") == new_schema.get("default"):
            return
        before, after = old_schema.get("default"), new_schema.get("default")
        if "default" not in old_schema:
            rule, message = "request-parameter-default-value-added", f"default {after!r} set"
        elif "default" not in new_schema:
            rule, message = "request-parameter-default-value-removed", f"default {before!r} removed"
        else:
            rule = "request-parameter-default-value-changed"
            message = f"default changed from {before!r} to {after!r}"
        self.emit(BREAKING, rule, pointer + "/schema/default", f"{label}: {message}")

    # -- request body -----------------------------------------------------------
    def request_body(self) -> None:
        old, old_ptr = _resolved(
            self.old, self.old_op.get("requestBody"), self.old_ptr + "/requestBody"
        )
        new, new_ptr = _resolved(
            self.new, self.new_op.get("requestBody"), self.new_ptr + "/requestBody"
        )
        if old is None and new is None:
            return
        if old is None:
            assert new is not None
            if new.get("required"):
                self.emit(
                    BREAKING, "new-required-request-body", new_ptr, "request body added as required"
                )
            else:
                self.emit(SAFE, "new-optional-request-body", new_ptr, "optional request body added")
            return
        if new is None:
            self.emit(WARNING, "request-body-removed", old_ptr, "request body removed")
            return
        was, now = bool(old.get("required")), bool(new.get("required"))
        if was != now:
            rule = "request-body-became-required" if now else "request-body-became-optional"
            message = "request body now required" if now else "request body no longer required"
            self.emit(BREAKING if now else SAFE, rule, new_ptr, message)
        self.content(old, new, old_ptr, new_ptr, accepts=True, label="request body")

    def content(
        self, old: Document, new: Document, old_ptr: str, new_ptr: str, *, accepts: bool, label: str
    ) -> None:
        old_content: Mapping[str, Any] = old.get("content") or {}
        new_content: Mapping[str, Any] = new.get("content") or {}
        prefix = "request-body" if accepts else "response"
        several = len(old_content) > 1 or len(new_content) > 1
        for media, old_media in old_content.items():
            pointer = f"{old_ptr}/content/{escape(media)}"
            if media not in new_content:
                message = f"{label}: media type {media} removed"
                self.emit(BREAKING, f"{prefix}-media-type-removed", pointer, message)
                continue
            new_pointer = f"{new_ptr}/content/{escape(media)}"
            flow = Flow(
                accepts,
                "request" if accepts else "response",
                "request-body" if accepts else "response-body",
                f"{label} ({media})" if several else label,
            )
            compare_schema(
                self.ctx,
                flow,
                (old_media or {}).get("schema", {}),
                (new_content[media] or {}).get("schema", {}),
                pointer + "/schema",
                new_pointer + "/schema",
            )
        for media in new_content:
            if media not in old_content:
                pointer = f"{new_ptr}/content/{escape(media)}"
                message = f"{label}: media type {media} added"
                self.emit(SAFE, f"{prefix}-media-type-added", pointer, message)

    # -- responses --------------------------------------------------------------
    def responses(self) -> None:
        old: Mapping[str, Any] = self.old_op.get("responses") or {}
        new: Mapping[str, Any] = self.new_op.get("responses") or {}
        for status, old_response in old.items():
            pointer = f"{self.old_ptr}/responses/{escape(status)}"
            success = status[:1] in "23"
            kind = "success" if success else "non-success"
            if status not in new:
                message = f"status {status} removed"
                self.emit(
                    BREAKING if success else WARNING,
                    f"response-{kind}-status-removed",
                    pointer,
                    message,
                )
                continue
            new_pointer = f"{self.new_ptr}/responses/{escape(status)}"
            old_r, old_r_ptr = _resolved(self.old, old_response, pointer)
            new_r, new_r_ptr = _resolved(self.new, new[status], new_pointer)
            if old_r is not None and new_r is not None:
                label = f"{status} response body"
                self.content(old_r, new_r, old_r_ptr, new_r_ptr, accepts=False, label=label)
                self.headers(status, old_r, new_r, old_r_ptr, new_r_ptr)
        for status in new:
            if status not in old:
                kind = "success" if status[:1] in "23" else "non-success"
                pointer = f"{self.new_ptr}/responses/{escape(status)}"
                self.emit(SAFE, f"response-{kind}-status-added", pointer, f"status {status} added")

    def headers(
        self, status: str, old: Document, new: Document, old_ptr: str, new_ptr: str
    ) -> None:
        """A response's headers: what the server sends, so they may only narrow."""
        old_headers = {k.lower(): (k, v) for k, v in (old.get("headers") or {}).items()}
        new_headers = {k.lower(): (k, v) for k, v in (new.get("headers") or {}).items()}
        for key, (name, raw) in old_headers.items():
            header, pointer = resolve(self.old, raw, f"{old_ptr}/headers/{escape(name)}")
            label = f"{status} response header {name}"
            required = bool(header.get("required"))
            if key not in new_headers:
                kind = "required" if required else "optional"
                rule = f"response-{kind}-header-removed"
                self.emit(BREAKING if required else WARNING, rule, pointer, f"{label} removed")
                continue
            new_name, new_raw = new_headers[key]
            new_header, new_pointer = resolve(
                self.new, new_raw, f"{new_ptr}/headers/{escape(new_name)}"
            )
            if required and not new_header.get("required"):
                message = f"{label}: no longer always sent"
                self.emit(BREAKING, "response-header-became-optional", new_pointer, message)
            flow = Flow(False, "response", "response-header", label)
            compare_schema(
                self.ctx,
                flow,
                header.get("schema", {}),
                new_header.get("schema", {}),
                pointer + "/schema",
                new_pointer + "/schema",
            )
        for key, (name, _) in new_headers.items():
            if key not in old_headers:
                pointer = f"{new_ptr}/headers/{escape(name)}"
                message = f"{status} response header {name} added"
                self.emit(SAFE, "response-header-added", pointer, message)

    # -- security ---------------------------------------------------------------
    def security(self) -> None:
        old = _security(self.old, self.old_op)
        new = _security(self.new, self.new_op)
        if old == new:
            return
        pointer = self.new_ptr + "/security" if "security" in self.new_op else "/security"
        if {} in new:  # public now (or still): every client gets in
            if {} not in old:
                message = "security requirements removed: the operation is public now"
                self.emit(SAFE, "api-security-removed", pointer, message)
            return
        if {} in old:
            message = "security requirement added: the operation was public"
            self.emit(BREAKING, "api-security-added", pointer, message)
            return
        for alternative in old:
            if any(_satisfies(alternative, candidate) for candidate in new):
                continue
            shown = _show_requirement(alternative)
            if any(set(c) == set(alternative) for c in new):
                message = f"security requirement {shown} now needs more scopes"
                self.emit(BREAKING, "api-security-scope-added", pointer, message)
            else:
                message = f"security requirement {shown} no longer accepted"
                self.emit(BREAKING, "api-security-alternative-removed", pointer, message)
        for alternative in new:
            if alternative not in old:
                message = f"security requirement {_show_requirement(alternative)} now accepted"
                self.emit(SAFE, "api-security-alternative-added", pointer, message)


Requirement = dict[str, frozenset[str]]


def _security(document: Document, operation: Document) -> list[Requirement]:
    """The operation's security alternatives (any one suffices); ``[{}]`` when public."""
    raw = operation["security"] if "security" in operation else document.get("security")
    if not raw:
        return [{}]
    return [{name: frozenset(scopes or ()) for name, scopes in item.items()} for item in raw]


def _satisfies(old: Requirement, new: Requirement) -> bool:
    """Whether a client meeting ``old`` meets ``new``: same schemes or fewer, no new scope."""
    return all(name in old and scopes <= old[name] for name, scopes in new.items())


def _show_requirement(requirement: Requirement) -> str:
    if not requirement:
        return "(none)"
    return " + ".join(
        f"{name}[{', '.join(sorted(scopes))}]" if scopes else name
        for name, scopes in sorted(requirement.items())
    )


def _resolved(document: Document, value: Any, pointer: str) -> tuple[Document | None, str]:
    if not isinstance(value, Mapping):
        return None, pointer
    return resolve(document, value, pointer)


def _parameters(
    document: Document, path: str, method: str
) -> dict[tuple[str, str], tuple[Document, str]]:
    """The operation's parameters (the path item's, overridden by the operation's) by key.

    The key is ``(in, name)``, with header names in lower case and path parameters
    named by their position in the path.
    """
    item = document["paths"][path]
    positions = {name: str(index) for index, name in enumerate(PATH_PARAMETER.findall(path))}
    found: dict[tuple[str, str], tuple[Document, str]] = {}
    sources = ((item, f"/paths/{escape(path)}"), (item[method], f"/paths/{escape(path)}/{method}"))
    for owner, owner_ptr in sources:
        for index, raw in enumerate(owner.get("parameters") or ()):
            param, pointer = resolve(document, raw, f"{owner_ptr}/parameters/{index}")
            where, name = str(param.get("in")), str(param.get("name"))
            if where == "header":
                name = name.lower()
            elif where == "path":
                name = positions.get(name, name)
            found[(where, name)] = (param, pointer)
    return found
