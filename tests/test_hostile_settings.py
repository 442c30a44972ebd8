"""Hostile input at the settings the examples leave off: ``https_redirect`` on odd
paths, cookie sessions with odd cookies, and WebSocket handshakes with odd ``Origin``
headers. Each property holds for every input hypothesis makes: never a 5xx, never a
traceback, never a header a server could not send, and the answer the guide promises.
"""

from __future__ import annotations

import json
import string
from base64 import b64encode
from collections.abc import Iterator
from urllib.parse import urlsplit

import itsdangerous
import pytest
from hostile import Caller, check_answer, header_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bocadillo import App, Request, Sessions, WebSocket
from bocadillo.testing import create_client

SECRET = "h" * 32
HOSTILE = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# What may stand in a Location header's URL as it is.
URL_CHARACTERS = set(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


def make_app() -> App:
    app = App(sessions=Sessions(secret_key=SECRET))

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, object]:
        return dict(request.session)

    @app.websocket("/live")
    async def live(ws: WebSocket[str, str]) -> None:
        await ws.send("in")

    return app


@pytest.fixture(scope="module")
def caller() -> Iterator[Caller]:
    with create_client(make_app()) as client:
        yield Caller(client)


@pytest.fixture(scope="module")
def redirecting() -> Iterator[Caller]:
    with create_client(App(https_redirect=True)) as client:
        yield Caller(client)


# -- https_redirect: odd paths and queries ---------------------------------------------------

ESCAPES = ["%00", "%01", "%0d%0a", "%0D%0A", "%7F", "%E2%98%83", "%C3%A9", "%FF", "%2F", "%25"]
LOOSE = "".join(sorted(URL_CHARACTERS - {"%", "?", "#"})) + '\\"<>^`{|} '


def raw_targets() -> st.SearchStrategy[tuple[bytes, bytes]]:
    piece = st.one_of(st.sampled_from([*ESCAPES, "%", "%G1", "//", "/..", "\\"]), st.text(LOOSE))
    path = st.lists(piece, max_size=8).map(lambda parts: ("/" + "".join(parts)).encode())
    query_piece = st.one_of(
        st.sampled_from(ESCAPES).map(str.encode),
        st.text(LOOSE + "?").map(str.encode),
        st.binary(max_size=6),  # bytes a client did not encode, not even UTF-8
    )
    return st.tuples(path, st.lists(query_piece, max_size=4).map(b"".join))


@HOSTILE
@given(target=raw_targets())
def test_https_redirect_sends_any_path_to_the_same_site(
    redirecting: Caller, target: tuple[bytes, bytes]
) -> None:
    raw_path, query = target
    response = redirecting.http("GET", raw_path, query=query)
    assert response.status == 308, response
    location = response.header("location")
    assert location is not None
    assert set(location) <= URL_CHARACTERS, location  # nothing raw, no CR or LF
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("https", "testserver"), location
    assert location.startswith("https://testserver/"), location


# -- sessions: odd cookies --------------------------------------------------------------------


def cookie_values() -> st.SearchStrategy[str]:
    signer = itsdangerous.TimestampSigner(SECRET)
    signed = st.binary(max_size=200).map(lambda data: signer.sign(b64encode(data)).decode())
    json_signed = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ).map(lambda value: signer.sign(b64encode(json.dumps(value).encode())).decode())
    return st.one_of(signed, json_signed, header_values())


@HOSTILE
@given(value=cookie_values())
def test_any_session_cookie_is_a_session_or_none(caller: Caller, value: str) -> None:
    headers = [(b"host", b"testserver"), (b"cookie", b"session=" + value.encode("latin-1"))]
    response = caller.http("GET", b"/whoami", headers=headers)
    check_answer("GET", response, repr(value))
    assert response.status == 200, response
    assert isinstance(json.loads(response.body), dict)


# -- WebSocket handshakes: odd origins ---------------------------------------------------------


def origins() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "null",
                "https://evil.example",
                "http://testserver",
                "https://testserver",
                "http://testserver:80",
                "http://testserver.evil.example",
                "http://evil.example/testserver",
                "http://user@testserver",
                "file://",
                "",
            ]
        ),
        header_values(),
    )


@HOSTILE
@given(origin=origins(), extension=st.booleans())
def test_a_handshake_from_another_origin_is_refused(
    caller: Caller, origin: str, extension: bool
) -> None:
    headers = [
        (b"host", b"testserver"),
        (b"origin", origin.encode("latin-1")),
        (b"cookie", b"session=x"),
    ]
    transcript = caller.websocket(b"/live", headers=headers, extension=extension)
    same_site = origin.strip().lower().rstrip("/") in (
        "http://testserver",
        "https://testserver",
        "http://testserver:80",
    )
    if same_site:
        assert transcript.accepted, transcript
        return
    assert not transcript.accepted, (origin, transcript)
    if extension:
        assert transcript.refusal is not None
        check_answer("GET", transcript.refusal, repr(origin))
        assert transcript.refusal.status == 403
    else:
        assert transcript.close_code == 1008
