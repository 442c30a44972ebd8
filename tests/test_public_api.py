"""The names ``bocadillo`` exports: pinned, importable, documented."""

import importlib

import pytest

import bocadillo

PUBLIC_NAMES = [
    "CORS",
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "App",
    "BackgroundTasks",
    "BasicCredentials",
    "Body",
    "BroadcastUnavailable",
    "Channel",
    "ConfigurationError",
    "Cookie",
    "Event",
    "File",
    "Form",
    "GZip",
    "HTMLResponse",
    "HTTPBasic",
    "HTTPBearer",
    "HTTPError",
    "Header",
    "JSONResponse",
    "MalformedInput",
    "OAuth2PasswordBearer",
    "Path",
    "PlainTextResponse",
    "Query",
    "Redirect",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Router",
    "SchemaAdapter",
    "SchemaValidationError",
    "Sessions",
    "SlowSubscriber",
    "StreamingResponse",
    "Subscription",
    "Templates",
    "UndeclaredEvent",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "discover_providers",
    "provider",
    "register_backend",
]


def test_all_lists_exactly_the_public_names():
    assert bocadillo.__all__ == PUBLIC_NAMES


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_is_importable_from_the_package(name):
    namespace: dict[str, object] = {}
    exec(f"from bocadillo import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module("bocadillo"), name)


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_has_its_own_docstring(name):
    # __doc__ itself, not inspect.getdoc: a class must not borrow its base's text.
    doc = getattr(bocadillo, name).__doc__
    assert doc is not None
    assert doc.strip()
