"""``App(https_redirect=True)`` on odd paths: the ``Location`` is the target as sent,
percent-encoded, never a decoded byte in a header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_server_limits import Conn

from bocadillo import App
from bocadillo.cli.server import HeaderLimits, server_protocol
from bocadillo.testing import LiveServer, create_client


def make_app() -> App:
    app = App(https_redirect=True)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


TARGETS = [
    "/%E2%98%83",  # a snowman
    "/%00",
    "/%01x",
    "/%7F",
    "/%C3%A9",
    "/%0d%0aSet-Cookie:%20x=1",
    "/a%2Fb?q=%0d%0a&x=%FF",
    "/hello?next=/a b",  # httpx sends the space encoded
]


@pytest.mark.parametrize("target", TARGETS)
def test_the_location_keeps_the_target_as_sent(target: str) -> None:
    with create_client(make_app(), base_url="http://example.com", follow_redirects=False) as client:
        response = client.get(target)
    assert response.status_code == 308
    location = response.headers["location"]
    assert location.startswith("https://example.com/")
    assert location.isascii() and location.isprintable() and " " not in location
    sent = target.replace(" ", "%20")
    assert location == "https://example.com" + sent


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with LiveServer(make_app(), http=server_protocol(request.param, HeaderLimits())) as live:
        yield live


RAW_TARGETS = [
    (b"/%E2%98%83", "/%E2%98%83"),
    (b"/%00", "/%00"),
    (b"/%01x", "/%01x"),
    (b"/%7F", "/%7F"),
    (b"/%C3%A9", "/%C3%A9"),
    (b"/%0d%0aSet-Cookie:%20x=1", "/%0d%0aSet-Cookie:%20x=1"),
    (b"/caf\xc3\xa9", "/caf%C3%A9"),  # raw UTF-8 in the target: encoded
    (b"/x?a=\xfb&b=%0d", "/x?a=%FB&b=%0d"),  # a raw byte in the query, not even UTF-8
]


@pytest.mark.parametrize(("target", "location"), RAW_TARGETS)
def test_on_a_real_server_every_odd_path_gets_its_redirect(
    server: LiveServer, target: bytes, location: str
) -> None:
    with Conn(server.port) as conn:
        conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
        response = conn.response()
    if response.status == 400:  # a parser that refuses raw UTF-8 in the target: fine
        assert target.isascii() is False
    else:
        assert response.status == 308
        assert response.headers["location"] == "https://example.com" + location
        assert "set-cookie" not in response.headers
    with Conn(server.port) as conn:  # the server still serves
        conn.send(b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert conn.response().headers["location"] == "https://example.com/hello"
