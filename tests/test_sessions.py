"""Signed cookie sessions under hostile or careless use: cookies signed right whose data
cannot be read, and sessions too large for a cookie."""

from __future__ import annotations

import logging
from base64 import b64encode

import itsdangerous
import pytest
from test_server_limits import Conn

from bocadillo import App, Request, Sessions
from bocadillo.testing import LiveServer, create_client

SECRET = "k" * 32


def make_app() -> App:
    app = App(sessions=Sessions(secret_key=SECRET))

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, object]:
        return dict(request.session)

    @app.post("/login")
    async def login(request: Request, name: str) -> str:
        request.session["name"] = name
        return "ok"

    @app.post("/stuff")
    async def stuff(request: Request, size: int) -> str:
        request.session["stuff"] = "x" * size
        return "ok"

    return app


def signed(payload: bytes) -> str:
    """A cookie value signed with the app's key, around ``payload`` (base64'd as the
    app does), whatever the payload holds."""
    return itsdangerous.TimestampSigner(SECRET).sign(b64encode(payload)).decode()


UNREADABLE = {
    "a list": b"[1, 2]",
    "not json": b"not json",
    "not utf-8": b"\xff\xfe",
    "a number": b"3",
    "null": b"null",
}


@pytest.mark.parametrize("payload", UNREADABLE)
def test_a_signed_cookie_without_a_session_is_no_session(
    payload: str, caplog: pytest.LogCaptureFixture
) -> None:
    with create_client(make_app()) as client:
        client.cookies.set("session", signed(UNREADABLE[payload]))
        with caplog.at_level(logging.WARNING, logger="bocadillo"):
            first = client.get("/whoami")
            second = client.get("/whoami")
        assert (first.status_code, first.json()) == (200, {})
        assert (second.status_code, second.json()) == (200, {})
        assert client.post("/login?name=ada").status_code == 200  # a new session replaces it
        assert client.get("/whoami").json() == {"name": "ada"}
    warnings = [r for r in caplog.records if "valid signature but no session" in r.message]
    assert len(warnings) == 1  # logged once, not on every request


def test_a_badly_signed_cookie_is_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with create_client(make_app()) as client:
        client.cookies.set("session", "garbage.value.sig")
        with caplog.at_level(logging.WARNING, logger="bocadillo"):
            assert client.get("/whoami").json() == {}
    assert not caplog.records


def test_a_session_too_large_for_a_cookie_is_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    with create_client(make_app()) as client:
        assert client.post("/login?name=ada").status_code == 200
        with caplog.at_level(logging.ERROR, logger="bocadillo"):
            response = client.post("/stuff?size=20000")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert client.get("/whoami").json() == {"name": "ada"}  # the last session it could keep
        small = client.post("/stuff?size=1000")
        assert "set-cookie" in small.headers
    (error,) = [r for r in caplog.records if "was not saved" in r.message]
    assert "POST /stuff" in error.message and "browsers drop a cookie over 4096" in error.message


def test_a_cookie_just_under_the_limit_is_sent() -> None:
    with create_client(make_app()) as client:
        sizes = [
            len(r.headers.get("set-cookie", "").split(";")[0])
            for r in (client.post(f"/stuff?size={n}") for n in range(2900, 3100, 10))
        ]
    sent = [s for s in sizes if s]
    assert sent and max(sent) <= 4096


def test_on_a_real_server_the_odd_cookies_are_answered() -> None:
    with LiveServer(make_app()) as server:
        for payload in UNREADABLE.values():
            with Conn(server.port) as conn:
                conn.send(
                    b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: session="
                    + signed(payload).encode()
                    + b"\r\n\r\n"
                )
                response = conn.response()
            assert (response.status, response.body) == (200, b"{}")
