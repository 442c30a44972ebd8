"""A scheme word other than Bearer (``HTTPBearer(scheme="Token")``), and schemes of
one's own (``SecurityScheme`` subclasses, as docs/security.md writes them)."""

import dataclasses
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient, WebSocketDenialResponse
from test_asyncapi import assert_valid_asyncapi

from bocadillo import (
    App,
    ConfigurationError,
    HTMLResponse,
    HTTPBearer,
    OAuth2PasswordBearer,
    WebSocket,
)
from bocadillo.security import SecurityScheme
from bocadillo.testing import LiveServer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def token_app() -> App:
    app = App(title="Conduit", version="1")

    @app.get("/user")
    async def current_user(
        token: Annotated[str, HTTPBearer(scheme="Token", bearer_format="JWT")],
    ) -> dict[str, str]:
        return {"token": token}

    return app


@pytest.mark.parametrize("header", ["Token abc.def", "token abc.def", "TOKEN   abc.def "])
def test_the_scheme_word_is_read_in_any_case(header: str) -> None:
    response = TestClient(token_app()).get("/user", headers={"Authorization": header})

    assert response.status_code == 200
    assert response.json() == {"token": "abc.def"}


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer abc"}, {"Authorization": "Token"}, {"Authorization": ""}, {}],
    ids=["bearer", "no-token", "empty", "missing"],
)
def test_another_word_or_no_token_is_a_401_challenging_with_the_word(
    headers: dict[str, str],
) -> None:
    response = TestClient(token_app()).get("/user", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Token"
    problem = response.json()
    assert problem["status"] == 401
    assert "Authorization: Token" in problem["detail"]


def test_the_document_describes_the_header_value_to_send() -> None:
    document = token_app().openapi()
    validate(document)

    assert document["components"]["securitySchemes"] == {
        "token": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Send `Authorization: Token <JWT>`. In Swagger UI's Authorize box, "
                "enter the whole value, the word included: `Token <JWT>`."
            ),
        }
    }
    operation = document["paths"]["/user"]["get"]
    assert operation["security"] == [{"token": []}]
    assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["example"] == "Token"


def test_a_description_and_a_scheme_name_are_kept() -> None:
    app = App()

    @app.get("/user")
    async def user(
        token: Annotated[
            str, HTTPBearer(scheme="Token", scheme_name="conduit", description="From /login.")
        ],
    ) -> str:
        return token

    scheme = app.openapi()["components"]["securitySchemes"]["conduit"]
    assert scheme["description"] == (
        "Send `Authorization: Token <token>`. In Swagger UI's Authorize box, enter the "
        "whole value, the word included: `Token <token>`.\n\nFrom /login."
    )


def test_bearer_is_still_the_http_bearer_scheme() -> None:
    app = App()

    @app.get("/a")
    async def a(token: Annotated[str, HTTPBearer(bearer_format="JWT")]) -> str:
        return token

    @app.get("/b")
    async def b(token: Annotated[str, OAuth2PasswordBearer(token_url="/login")]) -> str:
        return token

    client = TestClient(app)
    assert client.get("/a", headers={"Authorization": "bearer x"}).json() == "x"
    assert client.get("/b", headers={"Authorization": "Bearer y"}).json() == "y"
    for path in ("/a", "/b"):
        refused = client.get(path, headers={"Authorization": "Token x"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["oauth2"]["type"] == "oauth2"


@pytest.mark.parametrize("word", ["", "My Token", "Token:", "Tökén"])
def test_a_scheme_that_is_not_one_word_is_refused(word: str) -> None:
    with pytest.raises(ConfigurationError, match="RFC 9110 auth-scheme"):
        HTTPBearer(scheme=word)


def test_a_websocket_handshake_reads_the_word_and_asyncapi_describes_it() -> None:
    app = App()

    @app.websocket("/feed")
    async def feed(
        ws: WebSocket[str, str], token: Annotated[str, HTTPBearer(scheme="Token")]
    ) -> None:
        await ws.accept()
        await ws.send(token)
        await ws.close()

    with TestClient(app).websocket_connect("/feed", headers={"Authorization": "Token t1"}) as ws:
        assert ws.receive_text() == "t1"
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        TestClient(app).websocket_connect("/feed", headers={"Authorization": "Bearer t1"}),
    ):
        pass  # pragma: no cover - the handshake is refused
    assert refused.value.status_code == 401
    assert refused.value.headers["www-authenticate"] == "Token"
    document = app.asyncapi()
    scheme = document["components"]["securitySchemes"]["token"]
    assert scheme["type"] == "httpApiKey"
    assert (scheme["in"], scheme["name"]) == ("header", "Authorization")
    assert "Authorization: Token <token>" in scheme["description"]
    assert_valid_asyncapi(document)


# -- Swagger UI's authorize box ---------------------------------------------------------------

_AUTHORIZE_PAGE = """<!doctype html>
<html><body><div id="ui"></div><pre id="answer">waiting</pre>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
const answer = document.getElementById("answer");
const ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", onComplete: () => {
  const system = ui.getSystem();
  const spec = system.specSelectors.specJson().toJS();
  // What the Authorize box does with the value typed in it.
  ui.preauthorizeApiKey("token", "Token abc.def");
  system.fn.execute({
    spec: spec,
    operationId: spec.paths["/user"].get.operationId,
    securities: {authorized: system.authSelectors.authorized().toJS()},
  }).then(
    r => { answer.textContent = "answer " + r.status + " " + r.text; },
    e => { answer.textContent = "answer " + e.status + " " + (e.response || {}).text; },
  );
}});
</script></body></html>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_swagger_ui_sends_the_value_typed_in_the_authorize_box(tmp_path: Path) -> None:
    app = token_app()

    @app.get("/authorize-test", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_AUTHORIZE_PAGE)

    assert CHROMIUM is not None
    with LiveServer(app) as server:
        browser = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                f"--user-data-dir={tmp_path}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                server.url + "/authorize-test",
            ],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert browser.returncode == 0, browser.stderr.decode("utf-8", "replace")[-2000:]
    shown = re.findall(r'<pre id="answer">(.*?)</pre>', browser.stdout.decode(), re.S)
    assert shown == ['answer 200 {"token":"abc.def"}']


# -- schemes of one's own ---------------------------------------------------------------------


def guide_namespace() -> types.ModuleType:
    """The "Writing a scheme of your own" example of docs/security.md, run."""
    text = (ROOT / "docs" / "security.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    (source,) = [block for block in blocks if "class SignedUser(SecurityScheme)" in block]
    module = types.ModuleType("security_guide_example")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, "docs/security.md", "exec", dont_inherit=True), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def test_the_guides_signed_header_scheme() -> None:
    guide = guide_namespace()
    signed = guide.SignedUser(secret=b"k")
    app = App()

    @app.get("/whoami")
    async def whoami(user: Annotated[str, signed]) -> str:
        return user

    @app.get("/maybe")
    async def maybe(user: Annotated[str | None, signed] = None) -> str | None:
        return user

    client = TestClient(app)
    assert client.get("/whoami", headers={"X-Signed-User": signed.sign("ada")}).json() == "ada"
    other_key = guide.SignedUser(secret=b"other").sign("ada")
    for headers in ({"X-Signed-User": other_key}, {"X-Signed-User": "ada"}, {}):
        refused = client.get("/whoami", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Signed header="X-Signed-User"'
        assert "X-Signed-User" in refused.json()["detail"]
    assert client.get("/maybe").json() is None
    document = app.openapi()
    validate(document)
    assert document["components"]["securitySchemes"]["signedUser"]["type"] == "apiKey"
    assert document["paths"]["/maybe"]["get"]["security"] == [{"signedUser": []}, {}]


@dataclasses.dataclass
class Device:
    serial: str


class DeviceCookie(SecurityScheme):
    """A device serial in the ``device`` cookie: ``D-`` and digits."""

    credential_type = Device

    def __init__(self) -> None:
        super().__init__("cookie", "device", scheme_name="device", challenge='Device name="device"')

    def parse(self, raw: str) -> Device | None:
        return Device(raw) if re.fullmatch(r"D-\d+", raw) else None

    def describe(self) -> str:
        return "a device serial in the cookie 'device'"

    def openapi(self) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "device"}


def test_a_scheme_gives_the_type_it_declares() -> None:
    app = App()

    @app.get("/device")
    async def device(device: Annotated[Device, DeviceCookie()]) -> str:
        return device.serial

    client = TestClient(app)
    assert client.get("/device", headers={"Cookie": "device=D-42"}).json() == "D-42"
    refused = client.get("/device", headers={"Cookie": "device=42"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Device name="device"'
    assert refused.json()["detail"] == (
        "The credentials are malformed (a device serial in the cookie 'device')."
    )


def test_a_parameter_of_another_type_than_the_scheme_gives_is_refused_at_start_up() -> None:
    app = App()

    @app.get("/device")
    async def device(device: Annotated[str, DeviceCookie()]) -> str:
        return device

    with pytest.raises(ConfigurationError, match="DeviceCookie gives a Device, not"):
        app.openapi()


def test_a_scheme_reads_only_a_header_a_query_parameter_or_a_cookie() -> None:
    class InTheBody(SecurityScheme):
        def __init__(self) -> None:
            super().__init__("body", "token", scheme_name="body", challenge="Body")

    with pytest.raises(ConfigurationError, match="not from 'body'"):
        InTheBody()
