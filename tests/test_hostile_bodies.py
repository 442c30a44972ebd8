"""Hostile bodies and parameters (issue #11): size limits while streaming, numbers JSON
has no room for, nesting, bad encodings, duplicate keys, and query strings and headers
no client should send. Every answer is a 4xx problem+json (or the value, exactly), never
a 500, for the pydantic and the typesystem backends alike.
"""

import asyncio
import decimal
import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
import typesystem
from conftest import _call_asgi
from pydantic import BaseModel, ConfigDict
from starlette.testclient import TestClient

from bocadillo import App, Body, Form, Header, JSONResponse, Path, Query, Request, WebSocket

PROBLEM_JSON = "application/problem+json"
JSON = {"content-type": "application/json"}


# -- the apps ------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float
    count: int = 0
    tags: list[str] = []
    extra: dict[str, Any] = {}


TsItem = typesystem.Schema(
    fields={
        "name": typesystem.String(),
        "price": typesystem.Float(),
        "count": typesystem.Integer(default=0),
        "tags": typesystem.Array(items=typesystem.String(), default=list),
        "extra": typesystem.Object(default=dict),
    }
)


class Numbers(BaseModel):
    values: list[float]


class Whole(BaseModel):
    n: int


class Money(BaseModel):
    amount: decimal.Decimal


def item_app(limit: int | None = None) -> App:
    """The same routes over both backends, plus a few pydantic-only shapes."""
    app = App() if limit is None else App(max_body_size=limit)

    @app.post("/pydantic")
    async def create(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/typesystem")
    async def create_ts(item: TsItem) -> dict[str, Any]:
        return dict(item)

    @app.post("/any")
    async def anything(data: Any = Body()) -> dict[str, str]:
        return {"repr": repr(data)}

    @app.post("/numbers")
    async def numbers(data: Numbers) -> list[float]:
        return data.values

    @app.post("/whole")
    async def whole(data: Whole) -> dict[str, str]:
        return {"n": str(data.n)}

    @app.post("/money")
    async def money(data: Money) -> dict[str, str]:
        return {"amount": str(data.amount)}

    return app


BACKENDS = ["/pydantic", "/typesystem"]


@pytest.fixture(scope="module")
def items() -> TestClient:
    return TestClient(item_app())


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


def assert_malformed(response: Any) -> str:
    """A 400 for a body that is not JSON; the message the client reads."""
    body = assert_problem(response, 400)
    assert body["detail"] == "The request body is not valid JSON."
    [error] = body["errors"]
    assert error["loc"] == ["body"] and error["type"] == "json_invalid"
    message: str = error["msg"]
    return message


def post(client: TestClient, path: str, content: bytes) -> Any:
    return client.post(path, content=content, headers=JSON)


# -- 1. size limits while streaming ----------------------------------------------------


class Receiver:
    """A ``receive`` that hands out ``chunks`` one message each and counts the reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.messages = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.messages:
            return self.messages.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}


def call(
    app: App, path: str, headers: list[tuple[str, str]], receiver: Receiver
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in [("host", "testserver"), *headers]],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receiver, send), 10))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        body,
    )


def limited_app() -> App:
    """Every way of reading a body, under an app limit of 100 bytes."""
    app = App(max_body_size=100)

    @app.post("/json")
    async def json_body(data: dict[str, str] = Body()) -> int:
        return len(data)

    @app.post("/form")
    async def form(text: str = Form()) -> int:
        return len(text)

    @app.post("/raw")
    async def raw(request: Request) -> int:
        return len(await request.body())

    @app.post("/stream")
    async def stream(request: Request) -> int:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return size

    return app


FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=b"
ROUTES = [
    ("/json", "application/json", b'{"a": "', b'"}'),
    ("/form", FORM, b"text=", b""),
    (
        "/form",
        MULTIPART,
        b"--b\r\nContent-Disposition: form-data; name=text\r\n\r\n",
        b"\r\n--b--\r\n",
    ),
    ("/raw", "application/octet-stream", b"", b""),
    ("/stream", "application/octet-stream", b"", b""),
]
ROUTE_IDS = ["json", "urlencoded", "multipart", "request-body", "request-stream"]


@pytest.mark.parametrize(("path", "content_type", "head", "tail"), ROUTES, ids=ROUTE_IDS)
def test_a_declared_length_over_the_limit_is_refused_before_reading(
    path: str, content_type: str, head: bytes, tail: bytes
) -> None:
    receiver = Receiver([head + b"x" * 500 + tail])
    status, headers, body = call(
        limited_app(),
        path,
        [("content-type", content_type), ("content-length", "1000")],
        receiver,
    )

    assert status == 413 and headers["content-type"] == PROBLEM_JSON, body
    assert b"100 bytes" in body
    assert receiver.reads == 0


@pytest.mark.parametrize(("path", "content_type", "head", "tail"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("declared", [None, "20"], ids=["chunked", "lying"])
def test_a_streamed_body_over_the_limit_is_a_413(
    path: str, content_type: str, head: bytes, tail: bytes, declared: str | None
) -> None:
    """No Content-Length (chunked), or one smaller than what comes: counted as it comes."""
    chunks = [head, *[b"x" * 30] * 20, tail]
    receiver = Receiver(chunks)
    headers = [("content-type", content_type)]
    if declared is not None:
        headers.append(("content-length", declared))

    status, sent_headers, body = call(limited_app(), path, headers, receiver)

    assert status == 413 and sent_headers["content-type"] == PROBLEM_JSON, body
    assert receiver.reads <= 6  # stopped at the first chunk past 100 bytes, not at the end


@pytest.mark.parametrize(("path", "content_type", "head", "tail"), ROUTES, ids=ROUTE_IDS)
def test_a_streamed_body_under_the_limit_is_read_whole(
    path: str, content_type: str, head: bytes, tail: bytes
) -> None:
    chunks = [head, *[b"x" * 6] * 5, tail]
    status, _, body = call(limited_app(), path, [("content-type", content_type)], Receiver(chunks))

    assert status == 200, body
    assert int(body) == (1 if path == "/json" else 30 if path == "/form" else len(b"".join(chunks)))


def test_one_message_larger_than_its_declared_length_is_a_413() -> None:
    receiver = Receiver([b'{"a": "' + b"x" * 300 + b'"}'])
    status, _, _ = call(
        limited_app(),
        "/json",
        [("content-type", "application/json"), ("content-length", "10")],
        receiver,
    )
    assert status == 413


def test_a_route_limit_holds_for_forms_and_raw_bodies() -> None:
    app = App()

    @app.post("/form", max_body_size=50)
    async def form(text: str = Form()) -> int:
        return len(text)

    @app.post("/raw", max_body_size=50)
    async def raw(request: Request) -> int:
        return len(await request.body())

    client = TestClient(app)
    assert client.post("/form", data={"text": "x" * 40}).json() == 40
    assert_problem(client.post("/form", data={"text": "x" * 60}), 413)
    assert client.post("/raw", content=b"x" * 50).json() == 50
    assert_problem(client.post("/raw", content=b"x" * 51), 413)


# -- 2. NaN, Infinity and numbers past a float's range ----------------------------------

NON_FINITE = [
    b'{"name": "a", "price": NaN}',
    b'{"name": "a", "price": Infinity}',
    b'{"name": "a", "price": -Infinity}',
    b'{"name": "a", "price": 1e999}',
    b'{"name": "a", "price": -1e400}',
    b'{"name": "a", "price": 1E+309}',
    b'{"name": "a", "price": 1.5e0309}',
    b'{"name": "a", "price": 2, "extra": {"deep": [1, {"x": NaN}]}}',
    b'{"name": "a", "price": 2, "extra": {"big": 1e309}}',
    b'{"name": "a", "price": 2, "extra": {"long": ' + b"9" * 400 + b".5}}",
    b'{"name": "a", "price": 2, "extra": {"digits": 1' + b"0" * 300 + b"e20}}",
    b'{"name": "a", "price": ' + b"1" * 310 + b"}",
    b'{"name": "NaN", "price": Infinity}',
    '{"name": "café ✓", "price": NaN}'.encode(),
]


@pytest.mark.parametrize("path", BACKENDS)
@pytest.mark.parametrize("content", NON_FINITE, ids=lambda c: c[21:45].decode(errors="replace"))
def test_non_finite_numbers_are_not_json(items: TestClient, path: str, content: bytes) -> None:
    message = assert_malformed(post(items, path, content))
    assert "NaN and Infinity" in message or "too large for a 64-bit float" in message


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/any", b"NaN"),
        ("/any", b"[1, 2, -Infinity]"),
        ("/any", b'{"a": {"b": [1e400]}}'),
        ("/numbers", b'{"values": [1.5, Infinity]}'),
        ("/numbers", b'{"values": [1e309]}'),
        ("/whole", b'{"n": 1e309}'),
        ("/money", b'{"amount": 1e999}'),
        ("/money", b'{"amount": NaN}'),
    ],
)
def test_non_finite_numbers_are_refused_whatever_the_field(
    items: TestClient, path: str, content: bytes
) -> None:
    assert_malformed(post(items, path, content))


@pytest.mark.parametrize("path", BACKENDS)
def test_non_finite_spelled_in_strings_is_text(items: TestClient, path: str) -> None:
    content = (
        b'{"name": "NaN Infinity -Infinity 1e999", "price": 1.5,'
        b' "tags": ["NaN", "550e8400-e29b-41d4-a716-446655440000", "1e400,", "'
        + b"7" * 400
        + b'"], "extra": {"Infinity": "NaN"}}'
    )
    response = post(items, path, content)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "NaN Infinity -Infinity 1e999"
    assert response.json()["tags"][0] == "NaN"
    assert response.json()["extra"] == {"Infinity": "NaN"}


@pytest.mark.parametrize(
    ("number", "value"),
    [
        (b"1e308", 1e308),
        (b"1.7976931348623157e308", 1.7976931348623157e308),
        (b"-1.5E+307", -1.5e307),
        (b"1e-400", 0.0),  # too small: zero, as any JSON reader has it
        (b"0e999", 0.0),
        (b"1e100", 1e100),
        (b"1" + b"0" * 300, 1e300),
    ],
)
@pytest.mark.parametrize("path", BACKENDS)
def test_finite_numbers_near_the_edges_are_read(
    items: TestClient, path: str, number: bytes, value: float
) -> None:
    response = post(items, path, b'{"name": "a", "price": ' + number + b"}")

    assert response.status_code == 200, response.text
    assert response.json()["price"] == value


def test_a_non_finite_websocket_message_is_refused_as_malformed() -> None:
    app = App()

    class Ping(BaseModel):
        n: float

    @app.websocket("/ws", invalid_message="reply")
    async def echo(ws: WebSocket[Ping, Ping]) -> None:
        async for ping in ws:
            await ws.send(ping)

    with TestClient(app).websocket_connect("/ws") as ws:
        for text in ['{"n": NaN}', '{"n": 1e999}', "[" * 10_000]:
            ws.send_text(text)
            error = ws.receive_json()
            assert (error["code"], error["errors"][0]["type"]) == (1007, "json_invalid")
        ws.send_text('{"n": 2.5}')
        assert ws.receive_json() == {"n": 2.5}


# -- 3. depth --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*BACKENDS, "/any", "/numbers"])
@pytest.mark.parametrize(
    "content",
    [b"[" * 10_000, b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000],
    ids=["open", "closed", "objects"],
)
def test_deep_nesting_is_a_400(items: TestClient, path: str, content: bytes) -> None:
    assert_malformed(post(items, path, content))


def test_deep_nesting_of_a_recursive_typesystem_schema_is_a_400_not_a_recursion_error() -> None:
    definitions = typesystem.Definitions()
    node = typesystem.Schema(
        fields={
            "children": typesystem.Array(
                items=typesystem.Reference("Node", definitions=definitions), default=list
            )
        }
    )
    definitions["Node"] = node
    app = App()

    @app.post("/tree")
    async def tree(root: node) -> dict[str, bool]:  # type: ignore[valid-type]
        return {"ok": True}

    client = TestClient(app)

    def nested(levels: int) -> bytes:
        return b'{"children": [' * levels + b"{}" + b"]}" * levels

    assert post(client, "/tree", nested(50)).json() == {"ok": True}  # 100 levels of JSON
    for levels in (150, 300, 400):  # 300 to 800 levels: under orjson's own limit of 1024
        assert "nested" in assert_malformed(post(client, "/tree", nested(levels)))


# -- 4. encodings, empty bodies, null ----------------------------------------------------


@pytest.mark.parametrize("path", BACKENDS)
@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "caf\xe9", "price": 1}',  # Latin-1, not UTF-8
        b'{"name": "\xff\xfe", "price": 1}',
        b'{"name": "\xed\xa0\x80", "price": 1}',  # an encoded surrogate
        b'{"name": "\\ud800", "price": 1}',  # a lone surrogate escape
        b'\xef\xbb\xbf{"name": "a", "price": 1}',  # a UTF-8 byte order mark
        b'{"name": "a", "price": 1}\x00',
        b'{"name": "a", "price": 1} {}',
    ],
    ids=["latin1", "ff-fe", "surrogate", "escaped-surrogate", "bom", "nul", "two-documents"],
)
def test_bytes_that_are_not_utf8_json_are_a_400(
    items: TestClient, path: str, content: bytes
) -> None:
    assert_malformed(post(items, path, content))


@pytest.mark.parametrize("path", BACKENDS)
def test_an_empty_body_for_a_required_body_is_a_422_missing(items: TestClient, path: str) -> None:
    body = assert_problem(post(items, path, b""), 422)
    assert body["errors"] == [{"loc": ["body"], "msg": "Field required", "type": "missing"}]


@pytest.mark.parametrize("path", BACKENDS)
@pytest.mark.parametrize("content", [b"null", b"[]", b'"item"', b"1"])
def test_json_that_is_not_an_object_is_a_422(items: TestClient, path: str, content: bytes) -> None:
    body = assert_problem(post(items, path, content), 422)
    assert body["errors"][0]["loc"] == ["body"]


def test_a_body_in_another_charset_is_a_415(items: TestClient) -> None:
    response = items.post(
        "/pydantic",
        content='{"name": "café", "price": 1}'.encode("latin-1"),
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert_problem(response, 415)


# -- 5. huge numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("digits", [4_000, 5_000])
@pytest.mark.parametrize("path", ["/whole", "/typesystem", "/any"])
def test_a_huge_integer_in_a_body_is_a_400(items: TestClient, path: str, digits: int) -> None:
    field = b'"n"' if path == "/whole" else b'"count"'
    content = b"{" + field + b": " + b"7" * digits + b', "name": "a", "price": 1}'
    assert "too large" in assert_malformed(post(items, path, content))


def test_a_big_integer_within_a_floats_range_is_read_exactly_by_pydantic(
    items: TestClient,
) -> None:
    number = "9" * 300
    assert post(items, "/whole", f'{{"n": {number}}}'.encode()).json() == {"n": number}


def test_typesystem_refuses_an_integer_past_64_bits_rather_than_rounding_it(
    items: TestClient,
) -> None:
    # orjson reads it as a float; typesystem would store 123456789012345677877719597056.
    content = b'{"name": "a", "price": 1, "count": 123456789012345678901234567890}'
    body = assert_problem(post(items, "/typesystem", content), 422)
    assert body["errors"] == [
        {
            "loc": ["body", "count"],
            "msg": "Must be an integer within 64 bits.",
            "type": "integer_size",
        }
    ]
    within = b'{"name": "a", "price": 1, "count": 18446744073709551615}'
    assert post(items, "/typesystem", within).json()["count"] == 18446744073709551615


def params_app() -> App:
    app = App()

    @app.get("/int/{n}")
    async def path_int(n: int, q: int = 0) -> dict[str, str]:
        return {"n": str(n), "q": str(q)}

    @app.get("/echo/{n}")
    async def echo(n: int):  # type: ignore[no-untyped-def]  # an untyped answer, by orjson
        return {"n": n}

    @app.get("/float/{x}")
    async def path_float(
        x: float, q: float = 0.0, h: float = Header(0.0), many: list[float] = Query([])
    ) -> list[float]:
        return [x, q, h, *many]

    @app.post("/form")
    async def form(x: float = Form(), name: str = Form()) -> list[Any]:
        return [x, name]

    @app.get("/ts")
    async def ts(
        n: typesystem.Integer() = 0,  # type: ignore[valid-type]
        x: typesystem.Float() = 0.0,  # type: ignore[valid-type]
    ) -> list[Any]:
        return [n, x]

    @app.get("/text")
    async def text(
        q: str = Query(""), n: int = Query(0), tags: list[str] = Query([]), h: str = Header("")
    ) -> dict[str, Any]:
        return {"q": q, "n": n, "tags": len(tags), "h": h}

    @app.get("/id/{name}")
    async def by_name(name: str = Path()) -> str:
        return name

    return app


@pytest.fixture(scope="module")
def params() -> TestClient:
    return TestClient(params_app())


@pytest.mark.parametrize("where", ["path", "query"])
def test_a_huge_integer_parameter_under_pythons_limit_is_read_exactly(
    params: TestClient, where: str
) -> None:
    number = "7" * 4_000
    url = f"/int/{number}" if where == "path" else f"/int/1?q={number}"

    response = params.get(url)

    assert response.status_code == 200
    assert response.json()["n" if where == "path" else "q"] == number


@pytest.mark.parametrize("where", ["path", "query"])
def test_an_integer_parameter_over_pythons_limit_is_a_422(params: TestClient, where: str) -> None:
    number = "7" * 5_000
    url = f"/int/{number}" if where == "path" else f"/int/1?q={number}"

    body = assert_problem(params.get(url), 422)

    assert body["errors"][0]["loc"] == ([where, "n"] if where == "path" else ["query", "q"])
    assert body["errors"][0]["type"] == "int_parsing_size"


def test_an_integer_past_64_bits_is_echoed_in_an_untyped_answer(params: TestClient) -> None:
    for number in ("18446744073709551616", "9" * 400, "-" + "9" * 30):
        response = params.get(f"/echo/{number}")
        assert response.status_code == 200, response.text
        assert response.content == b'{"n":' + number.encode() + b"}"


@pytest.mark.parametrize("value", ["1e999", "-1e400", "nan", "NaN", "inf", "-Infinity", "1" * 400])
def test_a_non_finite_float_parameter_is_a_422(params: TestClient, value: str) -> None:
    cases = {
        ("path", "x"): params.get(f"/float/{value}"),
        ("query", "q"): params.get("/float/1", params={"q": value}),
        ("header", "h"): params.get("/float/1", headers={"h": value}),
        ("query", "many", 1): params.get("/float/1", params={"many": ["2", value]}),
        ("form", "x"): params.post("/form", data={"x": value, "name": "a"}),
    }
    for loc, response in cases.items():
        body = assert_problem(response, 422)
        assert body["errors"] == [
            {"loc": list(loc), "msg": "Input should be a finite number", "type": "finite_number"}
        ]
    assert params.get("/float/1e308", params={"q": "-1e-400"}).json() == [1e308, -0.0, 0.0]


@pytest.mark.parametrize("value", ["1e999", "nan", "-inf"])
def test_a_non_finite_typesystem_parameter_is_a_422(params: TestClient, value: str) -> None:
    body = assert_problem(params.get("/ts", params={"x": value}), 422)
    assert body["errors"][0]["loc"] == ["query", "x"]


@pytest.mark.parametrize("digits", [400, 5_000])
def test_a_huge_typesystem_integer_parameter_is_a_422(params: TestClient, digits: int) -> None:
    body = assert_problem(params.get("/ts", params={"n": "7" * digits}), 422)
    assert body["errors"] == [{"loc": ["query", "n"], "msg": "Must be finite.", "type": "finite"}]


def test_a_text_field_may_say_nan(params: TestClient) -> None:
    assert params.post("/form", data={"x": "1.5", "name": "NaN"}).json() == [1.5, "NaN"]
    assert params.get("/text", params={"q": "Infinity"}).json()["q"] == "Infinity"


def test_a_form_model_float_is_finite_unless_the_model_allows_inf() -> None:
    class Order(BaseModel):
        name: str
        price: float
        ceiling: float = math.inf  # a default of inf is the model's own business

    class Loose(BaseModel):
        model_config = ConfigDict(allow_inf_nan=True)
        price: float

    app = App()

    @app.post("/order")
    async def order(data: Order = Form()) -> list[Any]:
        return [data.name, data.price, str(data.ceiling)]

    @app.post("/loose")
    async def loose(data: Loose = Form()) -> str:
        return str(data.price)

    client = TestClient(app)
    assert client.post("/order", data={"name": "NaN", "price": "2"}).json() == ["NaN", 2.0, "inf"]
    body = assert_problem(client.post("/order", data={"name": "a", "price": "1e999"}), 422)
    assert body["errors"] == [
        {
            "loc": ["form", "price"],
            "msg": "Input should be a finite number",
            "type": "finite_number",
        }
    ]
    assert client.post("/loose", data={"price": "-inf"}).json() == "-inf"


# -- 6. duplicate keys: the last one wins ---------------------------------------------------


@pytest.mark.parametrize("path", BACKENDS)
def test_a_duplicate_key_takes_its_last_value(items: TestClient, path: str) -> None:
    content = (
        b'{"name": "first", "price": 1, "name": "last",'
        b' "extra": {"k": 1, "k": {"deep": 1, "deep": 2}}, "price": 3}'
    )
    response = post(items, path, content)

    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["name"], data["price"], data["extra"]) == ("last", 3, {"k": {"deep": 2}})


@pytest.mark.parametrize("path", BACKENDS)
def test_an_invalid_first_value_of_a_duplicate_key_is_forgotten(
    items: TestClient, path: str
) -> None:
    content = b'{"name": "a", "price": "not a number", "price": 2}'
    assert post(items, path, content).json()["price"] == 2


def test_a_repeated_form_field_takes_its_last_value(params: TestClient) -> None:
    response = params.post(
        "/form", content=b"x=1&name=a&x=2&name=b", headers={"content-type": FORM}
    )
    assert response.json() == [2.0, "b"]


def test_a_repeated_single_query_parameter_is_a_422(params: TestClient) -> None:
    body = assert_problem(params.get("/text?n=1&n=2"), 422)
    assert body["errors"] == [
        {"loc": ["query", "n"], "msg": "Expected one value, got several.", "type": "repeated"}
    ]


# -- 7. hostile query strings and headers ----------------------------------------------------


def test_invalid_percent_encoding_is_replaced_not_an_error(params: TestClient) -> None:
    response = params.get("/text?q=%ff%fe%zz%")
    assert response.json()["q"] == "\ufffd\ufffd%zz%"
    body = assert_problem(params.get("/text?n=%ff"), 422)
    assert body["errors"][0]["loc"] == ["query", "n"]
    assert params.get("/id/%ff").status_code in (200, 404)


def test_a_nul_byte_reaches_a_text_parameter_as_text(params: TestClient) -> None:
    assert params.get("/text?q=a%00b").json()["q"] == "a\x00b"
    assert_problem(params.get("/text?n=1%00"), 422)


def test_a_nul_byte_in_a_raw_query_string_or_header_is_not_a_500(
    call_asgi: Callable[..., Any],
) -> None:
    app = params_app()
    response = call_asgi(
        app,
        "GET",
        "/text",
        query_string=b"q=a\x00b&n=\x00",
        headers=[("host", "x"), ("h", "a\x00")],
    )
    assert response.status == 422
    response = call_asgi(app, "GET", "/text", query_string=b"q=a\x00b", headers=[("h", "a\x00")])
    assert response.status == 200
    assert response.body == b'{"q":"a\\u0000b","n":0,"tags":0,"h":"a\\u0000"}'


def raw_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = json.loads(response.body)
    return body


@pytest.fixture(scope="module")
def params_asgi() -> Callable[..., Any]:
    """``call_asgi`` on one params app: query strings longer than a client would send."""
    app = params_app()

    def get(path: str, query: bytes) -> Any:
        return _call_asgi(app, "GET", path, query_string=query, headers=[("host", "x")])

    return get


@pytest.mark.parametrize("key", ["n", "q"])
def test_200_000_repeats_of_a_single_key_are_one_422_in_seconds(
    params_asgi: Callable[..., Any], key: str
) -> None:
    # Each repeat once copied the list of the ones before: about 20 s here, now 0.1 s.
    query = b"&".join([f"{key}=1".encode()] * 200_000)
    started = time.monotonic()

    body = raw_problem(params_asgi("/text", query), 422)

    assert time.monotonic() - started < 5
    assert body["errors"] == [
        {"loc": ["query", key], "msg": "Expected one value, got several.", "type": "repeated"}
    ]


def test_ten_thousand_values_of_a_list_parameter_are_read(params_asgi: Callable[..., Any]) -> None:
    query = b"&".join([b"tags=x"] * 10_000 + [b"whatever=y"] * 10_000)
    started = time.monotonic()

    response = params_asgi("/text", query)

    assert time.monotonic() - started < 5
    assert json.loads(response.body)["tags"] == 10_000


def test_a_one_megabyte_query_string_is_answered_in_seconds(
    params_asgi: Callable[..., Any],
) -> None:
    started = time.monotonic()

    one_value = params_asgi("/text", b"q=" + b"x" * 1_000_000)
    pairs = params_asgi("/text", b"&".join([b"a=b"] * 250_000))
    encoded = params_asgi("/text", b"q=" + b"%41" * 350_000)
    bad_int = params_asgi("/text", b"n=" + b"1" * 1_000_000)

    assert time.monotonic() - started < 10
    assert len(json.loads(one_value.body)["q"]) == 1_000_000
    assert json.loads(pairs.body) == {"q": "", "n": 0, "tags": 0, "h": ""}
    assert json.loads(encoded.body)["q"] == "A" * 350_000
    assert raw_problem(bad_int, 422)["errors"][0]["loc"] == ["query", "n"]


def test_an_integer_past_64_bits_is_written_exactly_by_json_response() -> None:
    # orjson writes 64-bit integers at most; Bocadillo's JSONResponse and an
    # undeclared return type fall back to pydantic instead of answering 500.
    app = App()

    @app.get("/response/{i}")
    async def response(i: int) -> JSONResponse:
        return JSONResponse({"i": i, "list": [i]})

    @app.get("/untyped/{i}")
    async def untyped(i: int):  # type: ignore[no-untyped-def]
        return {"i": i}

    client = TestClient(app)
    big = "9" * 30
    answer = client.get(f"/response/{big}")
    assert answer.status_code == 200
    assert answer.content == b'{"i":%s,"list":[%s]}' % (big.encode(), big.encode())
    assert client.get(f"/untyped/{big}").content == b'{"i":%s}' % big.encode()
