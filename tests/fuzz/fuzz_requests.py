#!/usr/bin/env python3
"""An atheris fuzz target for Bocadillo's request path: routing, parameters, bodies, forms.

Each input is turned into one HTTP request (an app, a method, a path, a query
string, headers, a body cut into chunks) and sent straight to the ASGI app,
the way a server would: no socket, the app's lifespan started once before
fuzzing. What comes back is checked; a *finding* is

- an exception escaping the app,
- a 5xx response,
- a 4xx response that is not ``application/problem+json`` (or whose problem
  body does not parse, or names another status),
- a response that is not complete and well formed: no ``http.response.start``
  (or two), a body that never ends, messages after its end, a
  ``Content-Length`` that is not the length of the body, a body for ``HEAD``,
  a traceback in a body,
- an app that has not answered within ``--timeout`` seconds (10 by default).

Run it (libFuzzer's options pass through; see ``README.md`` beside this file)::

    .venv/bin/python tests/fuzz/fuzz_requests.py -runs=100000
    .venv/bin/python tests/fuzz/fuzz_requests.py -max_total_time=60
    .venv/bin/python tests/fuzz/fuzz_requests.py --findings=/tmp/findings -max_total_time=300
    .venv/bin/python tests/fuzz/fuzz_requests.py --describe crash-0123abcd

An input is read in one of two formats. An input starting with ``L`` is a
*literal* request, every field spelt out (``encode_literal`` writes one: the
seeds and the tests use it). Any other input is read through the *grammar*:
its bytes choose a route of the app's route table and fill it in, with
parameter names, media types, property names and enum values taken from the
app's OpenAPI document, values from a list of troublesome ones (huge
integers, ``NaN``, ``1e309``, deep nesting, lone surrogates, bad UTF-8, bad
multipart framing...) or from the input's own bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import traceback
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import itsdangerous
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _entry in (str(HERE), str(ROOT)):
    if _entry not in sys.path:
        sys.path.insert(0, _entry)

try:
    import atheris
except ImportError:  # the one-input function still runs, on the pure-Python provider
    atheris = None

# Coverage-guided on the framework and on the code it drives for a request.
INSTRUMENTED = [
    "bocadillo",
    "starlette",
    "python_multipart",
    "typesystem",
    "examples",
    "fuzz_app",
]
# Only when fuzzing: not when imported (by the tests), nor to describe or write inputs.
_FUZZING = (
    atheris is not None
    and __name__ == "__main__"
    and not any(a.startswith(("--describe", "--write-seeds")) for a in sys.argv)
)
_instrumenting = (
    atheris.instrument_imports(include=INSTRUMENTED) if _FUZZING else contextlib.nullcontext()
)
with _instrumenting:
    from bocadillo import App

Message = dict[str, Any]
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

PROBLEM_JSON = "application/problem+json"
DEFAULT_TIMEOUT = 10.0
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]")
LITERAL = ord("L")

# Values that have broken parsers and validators before.
INTERESTING: list[str] = [
    "",
    "0",
    "1",
    "-1",
    "42",
    "-0",
    "1.5",
    "0.1",
    "-1.5",
    "1e3",
    "1e309",
    "-1e309",
    "1e-400",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "true",
    "false",
    "yes",
    "off",
    "null",
    "None",
    "9" * 30,
    "-" + "9" * 30,
    "1" * 4301,
    "0x1f",
    "1_000",
    " 7 ",
    "\uff17",  # a fullwidth digit seven
    "\u0663",  # an Arabic-Indic digit three
    "\x00",
    "a\x00b",
    "\u00e9",
    "\U0001f600",
    "\u202e",
    "2026-11-25",
    "2026-02-30",
    "2026-11-25T12:00:00Z",
    "2026-11-25T25:61:61+99:99",
    "9999-12-31T23:59:59.999999-23:59",
    "0000-00-00",
    "00000000-0000-0000-0000-000000000000",
    "urn:uuid:12345678-1234-5678-1234-567812345678",
    "{12345678-1234-5678-1234-567812345678}",
    "12345678123456781234567812345678",
    "1.0000000000000000000001",
    "1E+2",
    "12.345",
    "-0.00",
    "[]",
    "{}",
    "a=b",
    "a&b",
    "%",
    "%zz",
    "%00",
    "%ff",
    "..",
    "../../etc/passwd",
    "a" * 300,
    "k-ada",
    "ada",
    "light",
    "dark",
    "public",
    "ABC",
    "Bearer ",
    "Bearer abc",
    "Basic YWRhOnB3",
    "Basic !!!",
    "Basic " + "YWRh",
    "Basic OnB3",
    "bytes=0-1",
]
FLOATS = ["1.5", "-0.0", "0.1e1", "1e309", "-1e309", "1e-400", "NaN", "Infinity", "-Infinity"]
MEDIA_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/merge-patch+json",
    "Application/JSON",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary="fuzz-b"',
    "multipart/mixed; boundary=fuzz-b",
    "text/plain",
    "application/octet-stream",
    "application/",
    ";;",
]
COMMON_HEADERS = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "cookie",
    "authorization",
    "host",
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
    "accept",
    "accept-encoding",
    "range",
    "if-none-match",
    "if-modified-since",
    "last-event-id",
    "x-forwarded-proto",
    "user-agent",
    "x-refuse",  # fuzz_app.stacked's hook refuses a request that says "yes"
]


def _session_signer() -> itsdangerous.TimestampSigner:
    """What signs the fuzzed apps' session cookies, so that their data is read (imported
    here, once ``default_apps`` has imported ``fuzz_app`` under instrumentation)."""
    from fuzz_app import SESSION_SECRET

    return itsdangerous.TimestampSigner(SESSION_SECRET)


# -- reading the input -----------------------------------------------------------


class ByteSource:
    """The part of ``atheris.FuzzedDataProvider`` the target uses, in pure Python.

    It consumes an input exactly as atheris does (byte strings from the front,
    integers from the back), so an input means the same request with or
    without atheris installed.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._start = 0
        self._end = len(data)

    def ConsumeBytes(self, count: int) -> bytes:
        count = max(0, min(count, self._end - self._start))
        chunk = self._data[self._start : self._start + count]
        self._start += count
        return chunk

    def ConsumeIntInRange(self, low: int, high: int) -> int:
        span = high - low
        result = 0
        offset = 0
        while offset < 64 and span >> offset > 0 and self._end > self._start:
            self._end -= 1
            result = (result << 8) | self._data[self._end]
            offset += 8
        if span != (1 << 64) - 1:
            result %= span + 1
        return low + result

    def remaining_bytes(self) -> int:
        return self._end - self._start


def provider_for(data: bytes) -> Any:
    """atheris's ``FuzzedDataProvider`` when atheris is installed, else ``ByteSource``."""
    if atheris is not None:
        return atheris.FuzzedDataProvider(data)
    return ByteSource(data)


@dataclasses.dataclass
class FuzzRequest:
    """One request, as sent to the app."""

    app: str
    method: str
    path: str
    query_string: bytes = b""
    headers: list[tuple[bytes, bytes]] = dataclasses.field(default_factory=list)
    chunks: list[bytes] = dataclasses.field(default_factory=lambda: [b""])
    route: str = "?"  # the route template it was made from, for grouping findings

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def describe(self, limit: int = 2000) -> str:
        """The request, readable: enough to reproduce it by hand."""
        target = quote(self.path, safe="/:@!$&'()*+,;=-._~")
        if self.query_string:
            target += "?" + _shown(self.query_string)
        lines = [f"app {self.app}: {self.method} {target}"]
        lines += [f"  {_shown(k)}: {_shown(v)}" for k, v in self.headers]
        body = self.body
        if body:
            shown = repr(body[:limit]) + (f" ... ({len(body)} bytes)" if len(body) > limit else "")
            lines.append(f"  body in {len(self.chunks)} chunk(s): {shown}")
        return "\n".join(lines)


def _shown(data: bytes) -> str:
    """Bytes as text, anything but printable ASCII escaped (``\\xb3``)."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02x}" for b in data)


def _clean_header(name: bytes, value: bytes) -> tuple[bytes, bytes] | None:
    """A header as a server passes it on: a lower-case token name, a value without
    control characters (``h11`` and ``httptools`` refuse those), trimmed."""
    name = b"".join(TOKEN.findall(name)).lower()
    value = bytes(b for b in value if b == 9 or 32 <= b <= 126 or b >= 128).strip(b" \t")
    if not name:
        return None
    return name, value


def _clean_method(raw: bytes) -> str:
    method = b"".join(TOKEN.findall(raw)).decode("ascii")
    return method or "GET"


# -- the literal format ------------------------------------------------------------


def encode_literal(
    app: int,
    method: str,
    path: str,
    query_string: bytes = b"",
    headers: Sequence[tuple[str | bytes, str | bytes]] = (),
    chunks: Sequence[bytes] = (b"",),
) -> bytes:
    """An input the target reads as exactly this request (``app`` indexes the apps)."""

    def blob(data: bytes, width: int) -> bytes:
        return len(data).to_bytes(width, "big") + data

    def as_bytes(text: str | bytes) -> bytes:
        return text.encode("latin-1") if isinstance(text, str) else text

    out = bytes([LITERAL, app])
    out += blob(method.encode("ascii"), 1)
    out += blob(path.encode("utf-8"), 2)
    out += blob(query_string, 2)
    out += bytes([len(headers)])
    for name, value in headers:
        out += blob(as_bytes(name), 1) + blob(as_bytes(value), 2)
    out += bytes([len(chunks)])
    for chunk in chunks:
        out += blob(chunk, 3)
    return out


def _decode_literal(src: Any, apps: Sequence[AppInfo]) -> FuzzRequest:
    def number(width: int) -> int:
        return int.from_bytes(src.ConsumeBytes(width), "big")

    def blob(width: int) -> bytes:
        data: bytes = src.ConsumeBytes(number(width))
        return data

    app = apps[number(1) % len(apps)]
    method = _clean_method(blob(1))
    path = blob(2).decode("utf-8", "replace")
    query = blob(2)
    headers = []
    for _ in range(number(1)):
        header = _clean_header(blob(1), blob(2))
        if header is not None:
            headers.append(header)
    chunks = [blob(3) for _ in range(number(1))] or [b""]
    return FuzzRequest(app.name, method, path, query, headers, chunks, route=path[:60])


# -- the grammar ---------------------------------------------------------------------


@dataclasses.dataclass
class RouteInfo:
    method: str
    template: str
    query: list[str]
    headers: list[str]
    cookies: list[str]
    media_types: list[str]


@dataclasses.dataclass
class AppInfo:
    """What the grammar knows of an app: its routes and the words its document uses."""

    name: str
    app: ASGIApp
    routes: list[RouteInfo]
    properties: list[str]
    enums: list[str]

    @classmethod
    def of(cls, name: str, app: App) -> AppInfo:
        document = app.openapi()
        schemes = document.get("components", {}).get("securitySchemes", {})
        routes = []
        for route in app.iter_routes():
            if route.method == "WEBSOCKET":
                continue
            operation = document["paths"].get(route.path, {}).get(route.method.lower(), {})
            params = operation.get("parameters", [])

            def names(where: str, params: list[dict[str, Any]] = params) -> list[str]:
                return [p["name"] for p in params if p.get("in") == where]

            query, headers, cookies = names("query"), names("header"), names("cookie")
            for requirement in operation.get("security", []):
                for scheme_name in requirement:
                    scheme = schemes.get(scheme_name, {})
                    if scheme.get("type") == "apiKey":
                        where = {"query": query, "header": headers, "cookie": cookies}
                        where[scheme["in"]].append(scheme["name"])
                    elif scheme.get("type") in ("http", "oauth2"):
                        headers.append("authorization")
            media_types = list(operation.get("requestBody", {}).get("content", {}))
            routes.append(RouteInfo(route.method, route.path, query, headers, cookies, media_types))
        for mount in app.iter_mounts():
            routes.append(RouteInfo("GET", mount.path + "/{rest:path}", [], [], [], []))
        properties: set[str] = set()
        enums: set[str] = set()
        for node in _walk(document):
            if isinstance(node.get("properties"), dict):
                properties.update(node["properties"])
            for value in node.get("enum", []):
                enums.add(value if isinstance(value, str) else json.dumps(value))
            if "const" in node:
                const = node["const"]
                enums.add(const if isinstance(const, str) else json.dumps(const))
        return cls(name, app, routes, sorted(properties), sorted(enums))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


class _Grammar:
    """Reads a request out of a provider, choice by choice."""

    def __init__(self, src: Any, app: AppInfo) -> None:
        self.src = src
        self.app = app

    def choose(self, low: int, high: int) -> int:
        value: int = self.src.ConsumeIntInRange(low, high)
        return value

    def take(self, most: int) -> bytes:
        data: bytes = self.src.ConsumeBytes(self.choose(0, most))
        return data

    def pick(self, options: Sequence[str]) -> str:
        return options[self.choose(0, len(options) - 1)] if options else ""

    def word(self, known: Sequence[str]) -> str:
        """A name: one the app knows (most often), or made of the input's bytes."""
        if known and self.choose(0, 3) != 0:
            return self.pick(known)
        return self.take(24).decode("utf-8", "replace")

    def scalar(self) -> str:
        """A parameter's text: a troublesome value, an enum value, or the input's bytes."""
        choice = self.choose(0, 5)
        if choice <= 1:
            return self.pick(INTERESTING)
        if choice == 2 and self.app.enums:
            return self.pick(self.app.enums)
        if choice == 3:
            return str(self.choose(-(2**40), 2**40))
        return self.take(64).decode("utf-8", "replace")

    def json(self, depth: int = 0) -> str:
        kind = self.choose(0, 13)
        if depth >= 5 and kind in (7, 8, 9):
            kind = 0
        if kind == 0:
            return "null"
        if kind == 1:
            return self.pick(["true", "false"])
        if kind == 2:
            return str(self.choose(-1000, 1000))
        if kind == 3:  # an integer of up to 5000 digits
            return self.pick(["", "-"]) + "9" * self.choose(1, 5000)
        if kind == 4:
            return self.pick(FLOATS)
        if kind == 5:
            return json.dumps(self.word(self.app.properties + self.app.enums), ensure_ascii=False)
        if kind == 6:
            return json.dumps(self.scalar(), ensure_ascii=self.choose(0, 1) == 1)
        if kind == 7:
            items = [self.json(depth + 1) for _ in range(self.choose(0, 4))]
            return "[" + ",".join(items) + "]"
        if kind == 8:
            entries = [
                json.dumps(self.word(self.app.properties)) + ":" + self.json(depth + 1)
                for _ in range(self.choose(0, 5))
            ]
            return "{" + ",".join(entries) + "}"
        if kind == 9:  # deep nesting
            levels = self.choose(1, 3000)
            if self.choose(0, 1):
                return "[" * levels + "]" * levels
            return '{"a":' * levels + "1" + "}" * levels
        if kind == 10:  # escapes: lone surrogates, a NUL, an escaped quote
            return self.pick(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"a\\"b"', '"\\x"'])
        if kind == 11:  # a fragment of the input, most likely not JSON
            return self.take(32).decode("latin-1")
        if kind == 12:
            return self.pick(["-0", "1E400", "0.0000001e-999", "01", "1.", ".5", "--1", "+1"])
        return json.dumps(self.pick(INTERESTING))

    def pairs(self, known: Sequence[str], most: int) -> bytes:
        """``key=value&...``, quoted as a client would, or raw."""
        parts = []
        for _ in range(self.choose(0, most)):
            key, value = self.word(known), self.scalar()
            style = self.choose(0, 3)
            if style == 0:
                parts.append(key.encode("utf-8", "replace"))  # a key without "="
            elif style == 1:
                raw = key + "=" + value
                parts.append(raw.encode("utf-8", "replace"))
            else:
                parts.append(f"{quote_plus(key)}={quote_plus(value)}".encode("ascii"))
        return b"&".join(parts)

    def multipart(self, boundary: bytes, fields: Sequence[str]) -> bytes:
        out = b""
        for _ in range(self.choose(0, 4)):
            name = self.word(fields).encode("utf-8", "replace")
            disposition = b'form-data; name="' + name + b'"'
            shape = self.choose(0, 5)
            if shape >= 3:
                filename = self.pick(["a.txt", "", "../x", 'a"b', "\u00e9.png", "x" * 300])
                disposition += b'; filename="' + filename.encode("utf-8") + b'"'
            if shape == 5:
                disposition = self.take(40)  # a header that is not a disposition
            head = b"Content-Disposition: " + disposition
            if self.choose(0, 2) == 0:
                head += b"\r\nContent-Type: " + self.pick(MEDIA_TYPES).encode("latin-1")
            if self.choose(0, 3) == 0:
                content = self.scalar().encode("utf-8", "replace")
            else:
                content = self.take(256)
            out += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n"
        ending = self.choose(0, 3)
        if ending <= 1:
            out += b"--" + boundary + b"--\r\n"
        elif ending == 2:
            out += self.take(32)
        return out

    def request(self) -> FuzzRequest:
        app = self.app
        index = self.choose(0, len(app.routes))
        route = app.routes[index] if index < len(app.routes) else None

        # The route's own method half of the time, else one of the others, or any token.
        choice = self.choose(0, 2 * len(METHODS) + 1)
        if choice < len(METHODS):
            method = route.method if route is not None else "GET"
        elif choice < 2 * len(METHODS):
            method = METHODS[choice - len(METHODS)]
        else:
            method = _clean_method(self.take(12))

        if route is None:
            path = self.take(80).decode("utf-8", "replace")
            if self.choose(0, 3) != 0:
                path = "/" + path.lstrip("/")
            route = RouteInfo(method, "?", [], [], [], [])
        else:
            path = re.sub(r"\{[^}]*\}", lambda _: self._segment(), route.template)
        tail = self.choose(0, 7)  # most often the path as the route declares it
        if tail == 5:
            path = path[:-1] if path.endswith("/") and len(path) > 1 else path + "/"
        elif tail == 6:
            path += "/" + self._segment()
        elif tail == 7:
            path = "/" + path  # "//todos"

        query = self.pairs(route.query, 6)
        if self.choose(0, 7) == 0:
            query += self.take(32)  # bytes a client did not percent-encode

        headers: list[tuple[bytes, bytes]] = []
        for _ in range(self.choose(0, 5)):
            header = self._header(route)
            if header is not None:
                headers.append(header)

        body, media_type = self._body(route)
        media_choice = self.choose(0, len(MEDIA_TYPES) + 2)
        if media_choice == 0 and media_type:
            headers.append((b"content-type", media_type.encode("latin-1")))
        elif media_choice <= len(MEDIA_TYPES):
            chosen = MEDIA_TYPES[media_choice - 1] if media_choice else self.pick(route.media_types)
            if chosen:
                headers.append((b"content-type", chosen.encode("latin-1")))
        # else: no content type at all

        length = self.choose(0, 4)
        if length <= 1 and body:
            headers.append((b"content-length", str(len(body)).encode("ascii")))
        elif length == 2:
            headers.append((b"transfer-encoding", b"chunked"))
        elif length == 3:
            declared = self.pick(["0", "-1", "abc", " 12 ", "1_0", "9" * 30, "1" * 5000, "1e3"])
            headers.append((b"content-length", declared.encode("ascii")))

        cuts = sorted(self.choose(0, len(body)) for _ in range(self.choose(0, 3)))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        return FuzzRequest(app.name, method, path, query, headers, chunks, route=route.template)

    def _segment(self) -> str:
        value = self.scalar()
        if self.choose(0, 7) == 0:
            return value  # as it is, slashes included
        return value.replace("/", "%2F")

    def _header(self, route: RouteInfo) -> tuple[bytes, bytes] | None:
        kind = self.choose(0, 5)
        if kind <= 1 and route.headers:
            name = self.pick(route.headers)
        elif kind == 2 and route.cookies:
            pairs = [
                f"{self.word(route.cookies)}={self.scalar()}" for _ in range(self.choose(1, 3))
            ]
            return _clean_header(b"cookie", "; ".join(pairs).encode("utf-8", "replace"))
        elif kind <= 4:
            name = self.pick(COMMON_HEADERS)
        else:
            name = self.take(16).decode("latin-1")
        if name == "cookie" and self.choose(0, 1):  # a session cookie, signed right
            data = self.take(40) if self.choose(0, 1) else self.json().encode()
            value = "session=" + _session_signer().sign(base64.b64encode(data)).decode()
        elif name == "authorization" and self.choose(0, 1):
            scheme = self.pick(["Bearer", "Basic", "bearer", "Digest", ""])
            value = scheme + " " + self.scalar()
        else:
            value = self.scalar()
        return _clean_header(name.encode("latin-1"), value.encode("utf-8", "replace"))

    def _body(self, route: RouteInfo) -> tuple[bytes, str]:
        """A body and the content type that goes with it."""
        kind = self.choose(0, 5)
        if kind == 0:
            return b"", ""
        if kind == 1:
            return self.take(512), ""
        if kind == 2:
            text = self.json()
            encoding = self.choose(0, 5)
            if encoding == 1:
                return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass"), "application/json"
            if encoding == 2:
                return text.encode("utf-16", "surrogatepass"), "application/json"
            if encoding == 3:
                return text.encode("latin-1", "replace"), "application/json"
            return text.encode("utf-8", "surrogatepass"), "application/json"
        fields = self.app.properties
        if kind == 3:
            return self.pairs(fields, 6), "application/x-www-form-urlencoded"
        boundary = self.pick(["fuzz-b", "b", "x" * 70, "a b", ""]).encode("ascii")
        media_type = "multipart/form-data; boundary=" + boundary.decode("ascii")
        return self.multipart(boundary, fields), media_type


def decode(data: bytes, apps: Sequence[AppInfo]) -> FuzzRequest:
    """The request an input stands for."""
    src = provider_for(data)
    first = src.ConsumeBytes(1)
    if first == bytes([LITERAL]):
        return _decode_literal(src, apps)
    app = apps[src.ConsumeIntInRange(0, len(apps) - 1)]
    return _Grammar(src, app).request()


# -- sending it ----------------------------------------------------------------------


@dataclasses.dataclass
class Exchange:
    """What the app did with one request."""

    messages: list[Message]
    error: BaseException | None = None
    timed_out: bool = False
    logged: list[str] = dataclasses.field(default_factory=list)  # errors the app logged

    @property
    def start(self) -> Message | None:
        return next((m for m in self.messages if m.get("type") == "http.response.start"), None)

    @property
    def status(self) -> int | None:
        start = self.start
        return None if start is None else start.get("status")

    def headers(self) -> dict[str, str]:
        start = self.start or {}
        try:
            return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
        except Exception:
            return {}

    @property
    def body(self) -> bytes:
        """The body as sent (compressed, if it was)."""
        return b"".join(
            m.get("body", b"") for m in self.messages if m.get("type") == "http.response.body"
        )

    def content(self) -> bytes:
        """The body, decompressed if it was sent with ``content-encoding: gzip``;
        ``ValueError`` if it cannot be."""
        body = self.body
        if self.headers().get("content-encoding", "").strip().lower() == "gzip" and body:
            try:
                return gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as error:
                raise ValueError(f"not gzip: {error}") from None
        return body


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


def check(request: FuzzRequest, exchange: Exchange) -> list[str]:
    """The findings in one exchange (an empty list: the app did right)."""
    problems: list[str] = []
    if exchange.error is not None:
        error = exchange.error
        problems.append(f"exception escaped the app: {type(error).__name__}: {error}")
    if exchange.timed_out:
        problems.append("no complete answer in time")
    messages = exchange.messages
    starts = [i for i, m in enumerate(messages) if m.get("type") == "http.response.start"]
    ends = [
        i
        for i, m in enumerate(messages)
        if m.get("type") == "http.response.body" and not m.get("more_body", False)
    ]
    unknown = {
        str(m.get("type"))
        for m in messages
        if m.get("type") not in ("http.response.start", "http.response.body")
    }
    if unknown:
        problems.append(f"unexpected message types: {sorted(unknown)}")
    if not starts:
        if not exchange.timed_out and exchange.error is None:
            problems.append("no http.response.start")
        return problems
    if len(starts) > 1:
        problems.append("http.response.start sent twice")
    if starts[0] != 0:
        problems.append("a body message before http.response.start")
    if not ends:
        problems.append("the response body never ended")
    elif ends[0] != len(messages) - 1:
        problems.append("messages after the end of the response")
    start = messages[starts[0]]
    status = start.get("status")
    raw_headers = start.get("headers", [])
    if not isinstance(status, int) or not 100 <= status <= 599:
        problems.append(f"status is not an HTTP status: {status!r}")
        return problems
    if not all(
        isinstance(h, list | tuple)
        and len(h) == 2
        and isinstance(h[0], bytes)
        and isinstance(h[1], bytes)
        for h in raw_headers
    ):
        problems.append("headers are not pairs of bytes")
        return problems
    headers = exchange.headers()
    body = exchange.body
    try:
        content = exchange.content()
    except ValueError as error:
        problems.append(f"content-encoding gzip, but the body is {error}")
        content = body
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if status >= 500:
        problems.append(f"status {status}")
    elif status >= 400:
        if media_type != PROBLEM_JSON:
            problems.append(f"status {status} answered as {media_type or 'no content type'}")
        elif request.method != "HEAD" and not exchange.timed_out:
            try:
                problem = json.loads(content)
            except ValueError:
                problems.append(f"status {status}: the problem body is not JSON")
            else:
                if not isinstance(problem, dict) or problem.get("status") != status:
                    problems.append(f"status {status}: the problem body says otherwise")
    if request.method == "HEAD" and body:
        problems.append("a body for HEAD")
    length = headers.get("content-length")
    if (
        length is not None
        and request.method != "HEAD"
        and ends
        and (not length.isdigit() or int(length) != len(body))
    ):
        problems.append(f"content-length {length} for a body of {len(body)} bytes")
    if b"Traceback (most recent call last)" in content:
        problems.append("a traceback in the body")
    for name, value in raw_headers:
        if any(c in value for c in b"\r\n\x00"):
            problems.append(f"a raw CR, LF or NUL in the {name.decode('latin-1')} header")
    location = headers.get("location")
    if location is not None and not (location.isascii() and location.isprintable()):
        problems.append(f"a Location that is not printable ASCII: {location[:200]!r}")
    return problems


def _content(exchange: Exchange) -> bytes:
    try:
        return exchange.content()
    except ValueError:
        return exchange.body


class Finding(AssertionError):
    """What the app did wrong with one request."""

    def __init__(self, request: FuzzRequest, exchange: Exchange, problems: list[str]) -> None:
        self.request = request
        self.exchange = exchange
        self.problems = problems
        super().__init__(self.report())

    def key(self) -> str:
        """Findings with the same key are most likely one bug: the same problems, and
        the same place (the line that raised) or the same answer."""
        kinds = sorted(re.sub(r"\d+ bytes|: .*", "", p) for p in self.problems)
        where = ""
        tracebacks = [text for text in self.exchange.logged if "Traceback" in text]
        if self.exchange.error is not None:
            tracebacks.append("".join(traceback.format_exception(self.exchange.error)))
        if tracebacks:
            frames = re.findall(r'File "[^"]*", line \d+, in \w+', tracebacks[0])
            where = frames[-1] if frames else tracebacks[0].splitlines()[-1]
        elif self.exchange.status is not None:
            where = repr(_content(self.exchange)[:30])
        return f"{self.request.app} {kinds} {where}"

    def report(self) -> str:
        lines = ["; ".join(self.problems), self.request.describe()]
        status = self.exchange.status
        if status is not None:
            headers = self.exchange.headers()
            lines.append(f"answer: {status} {headers.get('content-type', '')}")
            lines.append(f"  body: {_content(self.exchange)[:500]!r}")
        if self.exchange.error is not None:
            error = self.exchange.error
            lines.append("".join(traceback.format_exception(error)).rstrip())
        lines += [f"logged: {text.rstrip()}" for text in self.exchange.logged[:3]]
        return "\n".join(lines)


@dataclasses.dataclass
class FuzzApp:
    """An app under fuzz. ``reset`` runs after each input (to keep its data small),
    ``aclose`` when the target closes."""

    name: str
    app: App
    reset: Callable[[], None] | None = None
    aclose: Callable[[], Awaitable[None]] | None = None


class Target:
    """The apps under fuzz, started once, and the function the fuzzer calls."""

    def __init__(
        self,
        apps: Sequence[FuzzApp],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        findings_dir: Path | None = None,
        quiet: bool = False,
    ) -> None:
        self.timeout = timeout
        self.findings_dir = findings_dir
        self.seen: dict[str, int] = {}
        self._apps = list(apps)
        self._recorder = _Recorder()
        logger = logging.getLogger("bocadillo")
        logger.addHandler(self._recorder)
        if quiet:  # the findings carry what was logged
            logger.propagate = False
            # python-multipart warns about every malformed body it meets.
            logging.getLogger("python_multipart").setLevel(logging.ERROR)
        self._loop = asyncio.new_event_loop()
        self._lifespans: list[tuple[asyncio.Task[None], asyncio.Queue[Message]]] = []
        self._states: dict[str, dict[str, Any]] = {}
        for fuzz_app in self._apps:
            self._loop.run_until_complete(self._start(fuzz_app))
        self.apps = [AppInfo.of(f.name, f.app) for f in self._apps]

    async def _start(self, fuzz_app: FuzzApp) -> None:
        to_app: asyncio.Queue[Message] = asyncio.Queue()
        from_app: asyncio.Queue[Message] = asyncio.Queue()
        state: dict[str, Any] = {}
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = state
        task = asyncio.ensure_future(fuzz_app.app(scope, to_app.get, from_app.put))
        await to_app.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(from_app.get(), 60)
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"{fuzz_app.name} did not start: {message}")
        self._lifespans.append((task, to_app))
        self._states[fuzz_app.name] = state

    def close(self) -> None:
        """Shut the apps down (their lifespan), and close the event loop."""

        async def stop() -> None:
            for task, to_app in self._lifespans:
                await to_app.put({"type": "lifespan.shutdown"})
                await asyncio.wait_for(task, 30)
            for fuzz_app in self._apps:
                if fuzz_app.aclose is not None:
                    await fuzz_app.aclose()

        try:
            self._loop.run_until_complete(stop())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
        finally:
            self._loop.close()
            logging.getLogger("bocadillo").removeHandler(self._recorder)

    def run(self, request: FuzzRequest) -> Exchange:
        """Send one request and collect the app's answer."""
        app = next(a for a in self._apps if a.name == request.app)
        self._recorder.records = []
        exchange = self._loop.run_until_complete(self._exchange(app, request))
        exchange.logged = self._recorder.records
        if app.reset is not None:
            app.reset()
        return exchange

    async def _exchange(self, fuzz_app: FuzzApp, request: FuzzRequest) -> Exchange:
        path = request.path
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": path,
            "raw_path": quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii"),
            "root_path": "",
            "query_string": request.query_string,
            "headers": list(request.headers),
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": dict(self._states.get(fuzz_app.name, {})),
        }
        incoming = [
            {"type": "http.request", "body": chunk, "more_body": i < len(request.chunks) - 1}
            for i, chunk in enumerate(request.chunks)
        ]
        messages: list[Message] = []
        finished = asyncio.Event()

        async def receive() -> Message:
            if incoming:
                return incoming.pop(0)
            await finished.wait()  # as a server does: the client leaves once answered
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            messages.append(dict(message))
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                finished.set()

        exchange = Exchange(messages)
        try:
            await asyncio.wait_for(fuzz_app.app(scope, receive, send), self.timeout)
        except TimeoutError:
            exchange.timed_out = True
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            exchange.error = exc
        finished.set()
        await asyncio.sleep(0)  # let tasks the response left behind see it is over
        return exchange

    def one_input(self, data: bytes) -> None:
        """The function the fuzzer calls: raise ``Finding`` if the app got it wrong."""
        request = decode(data, self.apps)
        exchange = self.run(request)
        problems = check(request, exchange)
        if not problems:
            return
        finding = Finding(request, exchange, problems)
        if self.findings_dir is None:
            raise finding
        key = finding.key()
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] == 1:
            name = "finding-" + hashlib.sha1(key.encode()).hexdigest()[:12]
            (self.findings_dir / name).write_bytes(data)
            (self.findings_dir / (name + ".txt")).write_text(finding.report() + "\n")
            print(f"\n== new finding {name}: {key}\n{finding.report()}\n", file=sys.stderr)


# -- the apps under fuzz -----------------------------------------------------------------


def default_apps() -> list[FuzzApp]:
    """The examples (todos, jobs, chat) and ``fuzz_app``'s three apps (every parameter and
    body kind; every middleware setting and a hook; https_redirect and sessions).

    The todos and jobs apps get their stores from overrides held here, emptied
    when they grow, so that a long run does not slow down as they fill up.
    """
    with _instrumenting_again():
        import fuzz_app

        from bocadillo.sqlalchemy import Database
        from examples.chat.app import app as chat
        from examples.jobs.app import create_app
        from examples.jobs.runner import JobRunner
        from examples.todos.app import app as todos

    # The todos app on a SQLite database of its own, in a temporary folder.
    folder = tempfile.mkdtemp(prefix="fuzz-todos-")
    database = os.path.join(folder, "todos.db")
    todos_db = Database(f"sqlite+aiosqlite:///{database}", env=None)

    async def engine() -> AsyncIterator[AsyncEngine]:
        made = todos_db.create_engine()
        yield made
        await made.dispose()

    todos.check()
    engine_override = todos.override_provider("engine", engine)

    def trim_todos() -> None:
        if not os.path.exists(database):
            return
        with contextlib.closing(sqlite3.connect(database, timeout=5)) as connection, connection:
            (count,) = connection.execute("SELECT count(*) FROM todos").fetchone()
            if count > 200:
                for table in ("notes", "todo_tags", "todos"):
                    connection.execute(f"DELETE FROM {table}")

    async def undo_todos() -> None:
        engine_override.undo()
        shutil.rmtree(folder, ignore_errors=True)

    jobs = create_app(step_seconds=0.0)
    runner = JobRunner(0.0)
    jobs.override_provider("runner", runner)

    def trim_jobs() -> None:
        if len(runner.feeds) > 200:
            for job_id, feed in list(runner.feeds.items()):
                if feed.closed:
                    del runner.feeds[job_id]

    return [
        FuzzApp("todos", todos, reset=trim_todos, aclose=undo_todos),
        FuzzApp("kinds", fuzz_app.app),
        FuzzApp("jobs", jobs, reset=trim_jobs, aclose=runner.close),
        FuzzApp("chat", chat),
        FuzzApp("stacked", fuzz_app.stacked),
        FuzzApp("redirected", fuzz_app.redirected),
    ]


def _instrumenting_again() -> contextlib.AbstractContextManager[Any]:
    if _FUZZING:
        return atheris.instrument_imports(include=INSTRUMENTED)
    return contextlib.nullcontext()


# -- seeds ------------------------------------------------------------------------------

TODOS, KINDS, JOBS, CHAT, STACKED, REDIRECTED = range(6)
JSON = ("content-type", "application/json")
FORM = ("content-type", "application/x-www-form-urlencoded")


def _multipart(fields: Sequence[tuple[str, str | None, bytes]]) -> tuple[tuple[str, str], bytes]:
    body = b""
    for name, filename, content in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += b"--fuzz-b\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        body += content + b"\r\n"
    return ("content-type", "multipart/form-data; boundary=fuzz-b"), body + b"--fuzz-b--\r\n"


def seeds() -> list[bytes]:
    """Requests every route answers with success, in the literal format, and a few
    grammar inputs: where the fuzzer starts."""
    upload_type, upload = _multipart(
        [
            ("title", None, b"Report"),
            ("count", None, b"2"),
            ("doc", "report.txt", b"hello"),
            ("attachments", "a.png", b"1"),
        ]
    )
    raw_type, raw = _multipart([("data", "d.bin", b"\x00\x01"), ("note", None, b"n")])
    signed = _session_signer().sign(base64.b64encode(b"[1, 2]")).decode()
    item = (
        b'{"name":"widget","price":9.5,"quantity":3,"tags":["a"],"colour":"blue","level":2,'
        b'"size":{"width":1,"height":2,"unit":"in"},"released":"2026-11-25",'
        b'"seen_at":"2026-11-25T12:00:00Z","ref":"12345678-1234-5678-1234-567812345678",'
        b'"weight":"1.25","ratio":0.5,"counter":12,"extra":{"a":[1,2]}}'
    )
    literal = [
        encode_literal(TODOS, "GET", "/todos", b"limit=5&offset=0&done=false&tag=a&q=x&sort=-id"),
        encode_literal(TODOS, "POST", "/todos", b"", [JSON], [b'{"title":"Buy bread"}']),
        encode_literal(TODOS, "POST", "/todos", b"", [JSON], [b'{"title":"A", "tags"', b":[]}"]),
        encode_literal(TODOS, "GET", "/todos/1"),
        encode_literal(TODOS, "PUT", "/todos/1", b"", [JSON], [b'{"title":"B","done":true}']),
        encode_literal(TODOS, "PATCH", "/todos/1", b"", [JSON], [b'{"done":false}']),
        encode_literal(TODOS, "POST", "/todos/1/notes", b"", [JSON], [b'{"text":"Note"}']),
        encode_literal(TODOS, "GET", "/todos/1/notes"),
        encode_literal(TODOS, "DELETE", "/todos/1"),
        encode_literal(
            TODOS,
            "OPTIONS",
            "/todos",
            b"",
            [("origin", "http://localhost:5173"), ("access-control-request-method", "POST")],
        ),
        encode_literal(TODOS, "GET", "/openapi.json", b"", [("accept-encoding", "gzip")]),
        encode_literal(KINDS, "GET", "/items/7", b"", [("x-tenant", "acme")]),
        encode_literal(KINDS, "GET", "/prices/1.5"),
        encode_literal(KINDS, "GET", "/orders/12345678-1234-5678-1234-567812345678/lines/2"),
        encode_literal(KINDS, "GET", "/colours/red/2"),
        encode_literal(KINDS, "GET", "/days/2026-11-25"),
        encode_literal(KINDS, "GET", "/notes/3"),
        encode_literal(KINDS, "GET", "/files/a/b.txt"),
        encode_literal(
            KINDS,
            "GET",
            "/search",
            b"q=tea&limit=5&ratio=0.25&page-size=10&tag=a&tag=b&ids=1&ids=2"
            b"&since=2026-11-25T12:00:00Z&flag=yes&mode=slow&colour=blue&code=ABC&price=2.5"
            b"&stars=3",
        ),
        encode_literal(
            KINDS,
            "GET",
            "/whoami",
            b"",
            [
                ("user-agent", "curl/8"),
                ("x-request-id", "12345678-1234-5678-1234-567812345678"),
                ("x-count", "3"),
                ("x-ratio", "0.5"),
                ("accept-language", "en"),
                ("cookie", "session_id=abc; theme=dark; visits=2"),
            ],
        ),
        encode_literal(KINDS, "GET", "/me", b"", [("x-api-key", "k-ada")]),
        encode_literal(KINDS, "GET", "/token", b"", [("authorization", "Bearer abc.def")]),
        encode_literal(KINDS, "GET", "/basic", b"", [("authorization", "Basic YWRhOnB3")]),
        encode_literal(KINDS, "GET", "/sync", b"n=3"),
        encode_literal(KINDS, "POST", "/items", b"", [JSON], [item]),
        encode_literal(KINDS, "PUT", "/items/5", b"dry_run=1", [JSON], [item[:40], item[40:]]),
        encode_literal(KINDS, "POST", "/points", b"", [JSON], [b'[{"x":1,"y":2.5,"label":"p"}]']),
        encode_literal(KINDS, "POST", "/rename", b"", [JSON], [b'{"old":"a","new":"b"}']),
        encode_literal(KINDS, "POST", "/scores", b"", [JSON], [b'{"ada":3,"bob":4}']),
        encode_literal(KINDS, "PATCH", "/settings", b"", [JSON], [b'{"theme":"dark"}']),
        encode_literal(KINDS, "PATCH", "/settings"),
        encode_literal(
            KINDS,
            "POST",
            "/notes",
            b"",
            [JSON],
            [b'{"text":"hi","stars":2,"score":1.5,"tags":["x"],"when":"2026-11-25T12:00:00Z"}'],
        ),
        encode_literal(KINDS, "POST", "/small", b"", [JSON], [b"[1,2,3]"]),
        encode_literal(KINDS, "POST", "/echo", b"", [JSON], [b'{"a":[1,2.5,"x",null,true]}']),
        encode_literal(
            KINDS, "POST", "/people", b"", [FORM], [b"name=Ada&age=36&tags=a&tags=b&score=1.5"]
        ),
        encode_literal(
            KINDS, "POST", "/signup", b"", [FORM], [b"email=a%40b.c&age=30&interests=x"]
        ),
        encode_literal(KINDS, "POST", "/upload", b"", [upload_type], [upload]),
        encode_literal(KINDS, "POST", "/raw", b"", [raw_type], [raw[:20], raw[20:]]),
        encode_literal(JOBS, "POST", "/jobs", b"", [JSON], [b'{"label":"Render","steps":2}']),
        encode_literal(JOBS, "GET", "/jobs"),
        encode_literal(JOBS, "GET", "/jobs/1"),
        encode_literal(JOBS, "GET", "/jobs/1/events", b"", [("last-event-id", "1")]),
        encode_literal(CHAT, "GET", "/rooms"),
        encode_literal(CHAT, "GET", "/"),
        encode_literal(CHAT, "GET", "/static/chat.css"),
        encode_literal(STACKED, "GET", "/cart", b"page=1", [("accept-encoding", "gzip")]),
        encode_literal(
            STACKED, "POST", "/cart", b"", [JSON], [b'{"name":"tea","price":2,"quantity":1}']
        ),
        encode_literal(
            STACKED,
            "OPTIONS",
            "/cart",
            b"",
            [("origin", "https://app.example"), ("access-control-request-method", "POST")],
        ),
        encode_literal(STACKED, "POST", "/feedback", b"", [FORM], [b"text=good&stars=4"]),
        encode_literal(REDIRECTED, "GET", "/session", b"", [("cookie", "session=" + signed)]),
        encode_literal(REDIRECTED, "GET", "/%E2%98%83/%0d%0aSet-Cookie:%20x=1"),
    ]
    rng = random.Random(11)
    grammar = [bytes([i]) + rng.randbytes(rng.randrange(16, 400)) for i in range(24)]
    return literal + [g for g in grammar if g[0] != LITERAL]


def write_seeds(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for seed in seeds():
        (directory / ("seed-" + hashlib.sha1(seed).hexdigest()[:12])).write_bytes(seed)


def cached_seeds() -> Path:
    """The seeds, written once per version of them to the temporary directory."""
    digest = hashlib.sha1(b"".join(hashlib.sha1(s).digest() for s in seeds())).hexdigest()
    directory = Path(tempfile.gettempdir()) / f"bocadillo-fuzz-seeds-{digest[:12]}"
    if not directory.is_dir():
        partial = Path(tempfile.mkdtemp(prefix="bocadillo-fuzz-seeds-partial-"))
        write_seeds(partial)
        try:
            partial.rename(directory)
        except OSError:  # another run wrote it first
            shutil.rmtree(partial, ignore_errors=True)
    return directory


# -- the command ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    own = [a for a in argv[1:] if a.startswith("--")]
    libfuzzer = [a for a in argv[1:] if not a.startswith("--")]
    options = dict(a[2:].partition("=")[::2] for a in own)
    unknown = set(options) - {"findings", "describe", "write-seeds", "timeout", "help"}
    if unknown or "help" in options:
        print(__doc__)
        print("own options: --findings=DIR --describe --write-seeds=DIR --timeout=SECONDS")
        return 0 if not unknown else 2
    if "write-seeds" in options:
        write_seeds(Path(options["write-seeds"]))
        return 0
    timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
    findings_dir = Path(options["findings"]) if options.get("findings") else None
    if findings_dir is not None:
        findings_dir.mkdir(parents=True, exist_ok=True)
    target = Target(
        default_apps(), timeout=timeout, findings_dir=findings_dir, quiet="describe" not in options
    )

    if "describe" in options:  # print and replay inputs: the reproduction of a finding
        status = 0
        for name in libfuzzer:
            data = Path(name).read_bytes()
            request = decode(data, target.apps)
            exchange = target.run(request)
            problems = check(request, exchange)
            print(f"== {name}")
            print(request.describe())
            print(f"answer: {exchange.status} {exchange.headers().get('content-type', '')}")
            print(f"  body: {_content(exchange)[:500]!r}")
            print("findings: " + ("; ".join(problems) or "none"))
            status = status or (1 if problems else 0)
        target.close()
        return status

    if atheris is None:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    positional = [a for a in libfuzzer if not a.startswith("-")]
    if all(Path(p).is_dir() for p in positional):
        # Start from the seeds. With corpus directories, they are one more, read-only
        # (libFuzzer writes new inputs to the first directory only); without, they
        # are seed inputs, and what the run finds is not written anywhere.
        seed_dir = cached_seeds()
        if positional:
            libfuzzer.append(str(seed_dir))
        elif not any(a.startswith("-seed_inputs=") for a in libfuzzer):
            files = ",".join(str(p) for p in sorted(seed_dir.iterdir()))
            libfuzzer.append(f"-seed_inputs={files}")
    atheris.Setup([argv[0], *libfuzzer], target.one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
